//! The conformance kit: the built-in partner passes every case; careless partners started here
//! each fail exactly the cases they break, with the reason; the JUnit report parses.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{shipped_fixtures, spawn_app, TestApp};

/// What a careless partner gets wrong.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Flaw {
    /// Calls the cert endpoint over plain HTTP.
    PlainHttp,
    /// Answers 500 when its cert call gets 404.
    FiveHundredOn404,
    /// Never calls the cert endpoint.
    NeverCalls,
    /// Keeps the first member's session on the next GATE.
    KeepsFirstSession,
    /// Calls the cert endpoint twice per GATE.
    CallsTwice,
    /// Calls whatever CUS_URL arrives.
    TrustsAnyCusUrl,
    /// Cannot reach the mall: answers 502 at once, without a cert call.
    CannotReachMall,
    /// Sends OTP_TOKEN to the cert endpoint as it arrived (still encrypted).
    KeepsTokenEncrypted,
    /// Never calls; its whoamiUrl answers 20 KB of noise with terminal escapes.
    NoisyWhoami,
    /// Answers the GATE post with 200 and then one byte a second, for a minute.
    Trickles,
}

type Sessions = Arc<Mutex<HashMap<String, Option<String>>>>;

/// A partner that does everything right but its flaw.
pub(crate) async fn start_partner(
    app: &TestApp,
    flaw: Flaw,
) -> (u16, actix_web::dev::ServerHandle) {
    let sessions: Sessions = Arc::default();
    let (https, http, chain) = (app.https.clone(), app.http.clone(), app.cert_pem.clone());
    let server = actix_web::HttpServer::new(move || {
        let (sessions, who) = (sessions.clone(), sessions.clone());
        let (https, http, chain) = (https.clone(), http.clone(), chain.clone());
        actix_web::App::new()
            .route(
                "/gate",
                actix_web::web::post().to(
                    move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                        let (sessions, https, http, chain) =
                            (sessions.clone(), https.clone(), http.clone(), chain.clone());
                        async move { gate(flaw, req, body, sessions, &https, &http, &chain).await }
                    },
                ),
            )
            .route(
                "/whoami",
                actix_web::web::get().to(move |req: actix_web::HttpRequest| {
                    let who = who.clone();
                    async move {
                        let sid = req.cookie("sid").map(|c| c.value().to_owned());
                        let member = sid
                            .and_then(|s| who.lock().unwrap().get(&s).cloned().flatten())
                            .unwrap_or_default();
                        if flaw == Flaw::NoisyWhoami {
                            let noise = "\u{1b}[2J\u{1b}[31m<&]]>\u{7}\u{0}".repeat(1000);
                            return actix_web::HttpResponse::Ok().body(noise);
                        }
                        actix_web::HttpResponse::Ok().body(member)
                    }
                }),
            )
            .route("/", actix_web::web::get().to(|| async { "home" }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (port, handle)
}

async fn gate(
    flaw: Flaw,
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    sessions: Sessions,
    https: &str,
    http: &str,
    chain: &[u8],
) -> actix_web::HttpResponse {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let old = req.cookie("sid").map(|c| c.value().to_owned());
    let sid = match (flaw, old) {
        (Flaw::KeepsFirstSession, Some(old)) => old,
        _ => format!("s{}", rand_id()),
    };
    let keep = flaw == Flaw::KeepsFirstSession && sessions.lock().unwrap().contains_key(&sid);
    if !keep {
        sessions.lock().unwrap().insert(sid.clone(), None);
    }
    let cookie = format!("sid={sid}; Path=/; HttpOnly");
    let answer = |status: StatusCode| {
        let mut b = actix_web::HttpResponse::build(status);
        if flaw != Flaw::KeepsFirstSession || !keep {
            b.insert_header(("Set-Cookie", cookie.clone()));
        }
        b
    };
    let Some(token) = form.get("OTP_TOKEN").filter(|t| !t.is_empty()) else {
        return answer(StatusCode::SEE_OTHER)
            .insert_header(("Location", "/"))
            .finish();
    };
    let cus_url = form.get("CUS_URL").cloned().unwrap_or_default();
    let trusted = url::Url::parse(&cus_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "127.0.0.1");
    if !trusted && flaw != Flaw::TrustsAnyCusUrl {
        return answer(StatusCode::FORBIDDEN).body("untrusted mall");
    }
    if flaw == Flaw::CannotReachMall {
        return answer(StatusCode::BAD_GATEWAY).body("cannot reach the mall");
    }
    if flaw == Flaw::Trickles {
        let body = futures_util::stream::unfold(0u32, |n| async move {
            if n >= 60 {
                return None;
            }
            actix_web::rt::time::sleep(Duration::from_secs(1)).await;
            Some((
                Ok::<_, actix_web::Error>(actix_web::web::Bytes::from_static(b".")),
                n + 1,
            ))
        });
        return answer(StatusCode::OK).streaming(body);
    }
    if flaw == Flaw::NeverCalls || flaw == Flaw::NoisyWhoami {
        return answer(StatusCode::SEE_OTHER)
            .insert_header(("Location", "/"))
            .finish();
    }
    // The simulator's own addresses stand in for CUS_URL's host (the test's names).
    let base = match flaw {
        Flaw::PlainHttp => http,
        Flaw::TrustsAnyCusUrl => cus_url.trim_end_matches('/'),
        _ => https,
    };
    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let url = format!("{base}/sso/vendorUserCertTonken?otpTokenp={token}");
    let calls = if flaw == Flaw::CallsTwice { 2 } else { 1 };
    let mut result = Value::Null;
    for _ in 0..calls {
        result = cert(&url, chain).await;
    }
    match result["resultCode"].as_str() {
        Some("OK") if result["resultMap"]["user"]["vndrNo"] == "VRCARE" => {
            if !keep {
                let member = result["resultMap"]["user"]["custId"]
                    .as_str()
                    .map(str::to_owned);
                sessions.lock().unwrap().insert(sid, member);
            }
            answer(StatusCode::SEE_OTHER)
                .insert_header(("Location", "/"))
                .finish()
        }
        Some("404") if flaw == Flaw::FiveHundredOn404 => {
            answer(StatusCode::INTERNAL_SERVER_ERROR).body("boom")
        }
        _ => answer(StatusCode::FORBIDDEN).body("not logged in"),
    }
}

async fn cert(url: &str, chain: &[u8]) -> Value {
    use rustls::pki_types::pem::PemObject;
    let roots: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(chain)
        .collect::<Result<_, _>>()
        .unwrap();
    let tls = benecafe_sim::conform::browser::client_config(&roots).unwrap();
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
        .finish();
    match client.get(url).send().await {
        Ok(mut r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) * 7919
}

pub(crate) async fn conform(app: &TestApp, vendor: &str) -> Value {
    let r = app
        .post_json(
            "/_sim/api/conform",
            &json!({"vndrNo": vendor, "timeoutSeconds": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

pub(crate) fn failed(report: &Value) -> BTreeSet<String> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn happened<'a>(report: &'a Value, id: &str) -> &'a str {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["happened"]
        .as_str()
        .unwrap()
}

#[actix_web::test]
async fn careless_partners_fail_exactly_the_cases_they_break() {
    let app = spawn_app().await;
    let cases: [(Flaw, &[&str], &str, &str); 6] = [
        (
            Flaw::PlainHttp,
            &[
                "first-visit",
                "later-visit",
                "double-post",
                "expired-token",
                "session-reset",
            ],
            "first-visit",
            "over plain HTTP",
        ),
        (
            Flaw::FiveHundredOn404,
            &["double-post"],
            "double-post",
            "answered 500",
        ),
        (
            Flaw::NeverCalls,
            &[
                "first-visit",
                "later-visit",
                "expired-token",
                "session-reset",
            ],
            "first-visit",
            "no cert call within 1 s",
        ),
        (
            Flaw::KeepsFirstSession,
            &["session-reset"],
            "session-reset",
            "kept its session",
        ),
        (
            Flaw::TrustsAnyCusUrl,
            &["spoofed-cus-url"],
            "spoofed-cus-url",
            "a CUS_URL that is no mall domain",
        ),
        // Its second call gets 404, so it never logs anyone in: session-reset shows that too.
        (
            Flaw::CallsTwice,
            &["first-visit", "later-visit", "session-reset"],
            "first-visit",
            "2 times",
        ),
    ];
    for (flaw, broken, id, reason) in cases {
        let (port, handle) = start_partner(&app, flaw).await;
        let vendor = json!({"vndrNo": "VRCARE", "vndrItwkInfoNo": "1", "name": "careless",
            "gateUrl": format!("http://127.0.0.1:{port}/gate"),
            "whoamiUrl": format!("http://127.0.0.1:{port}/whoami"),
            "allowedIps": ["127.0.0.1"]});
        let r = app.put_json("/_sim/api/vendors/VRCARE", &vendor).await;
        assert!(r.status.is_success(), "{}", r.text());
        let report = conform(&app, "VRCARE").await;
        handle.stop(false).await;
        let want: BTreeSet<String> = broken.iter().map(|s| s.to_string()).collect();
        assert_eq!(failed(&report), want, "{flaw:?}: {report:#}");
        assert!(
            happened(&report, id).contains(reason),
            "{flaw:?}: {}",
            happened(&report, id)
        );
    }
}

#[actix_web::test]
async fn deliver_posts_the_gate_and_answers_what_the_partner_did() {
    let app = spawn_app().await;
    let r = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "deliver": true}))
        .await;
    let body = r.json();
    let delivery = &body["delivery"];
    assert_eq!(delivery["status"], 200, "{body:#}");
    assert!(delivery["setCookies"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "sim_partner_token"));
    assert_eq!(delivery["certCalls"][0]["resultCode"], "OK");
}

#[actix_web::test]
async fn conform_against_the_built_in_partner_passes_in_under_ten_seconds_with_a_junit_report() {
    let data = tempfile::tempdir().unwrap();
    let junit = data.path().join("junit.xml");
    let html = data.path().join("report.html");
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args([
            "conform",
            "--vendor",
            "VR000216",
            "--https-addr",
            "127.0.0.1:0",
        ])
        .args(["--http-addr", "127.0.0.1:0", "--log", "warn"])
        .arg("--fixtures")
        .arg(shipped_fixtures())
        .arg("--data-dir")
        .arg(data.path())
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
    let suite = doc.root_element();
    assert_eq!(suite.tag_name().name(), "testsuite");
    assert_eq!(suite.attribute("name"), Some("benecafe-conform VR000216"));
    let names: Vec<&str> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(names, benecafe_sim::conform::CASES);
    let skipped = suite
        .children()
        .filter(|n| n.children().any(|c| c.has_tag_name("skipped")))
        .count();
    assert_eq!(suite.attribute("tests"), Some("11"));
    assert_eq!(
        suite.attribute("skipped"),
        Some(skipped.to_string().as_str())
    );
    assert_eq!(suite.attribute("failures"), Some("0"));
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("first-visit"));
}

#[actix_web::test]
async fn conform_says_in_one_line_why_it_cannot_run() {
    let data = tempfile::tempdir().unwrap();
    let run = |vendor: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
            .args(["conform", "--vendor", vendor, "--https-addr", "127.0.0.1:0"])
            .args(["--http-addr", "127.0.0.1:0", "--log", "warn"])
            .arg("--fixtures")
            .arg(shipped_fixtures())
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap()
    };
    let unknown = run("VR999999");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no vendor VR999999"));
    // VR000452's GATE (partner.example.com) is not reachable from here.
    let unreachable = run("VR000452");
    assert_eq!(unreachable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("GATE URL"));
}
