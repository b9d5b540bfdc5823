//! Conformance runs as partners and CI servers meet them: `conform --against` a running
//! simulator, the control API's report formats, `conform`'s own free ports, `--skip` and
//! `--decoy-port`, diagnoses that name the cause, and what a partner's answers can and cannot
//! do to a run (noise in the reports, a trickled body, too many runs at once).

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::conform::{conform, failed, happened, start_partner, Flaw};
use crate::helpers::{copy_fixtures, shipped_fixtures, spawn_app, spawn_app_with, TestApp};

/// The careless partner's vendor, pointing at `port`, with `extra` fields.
fn careless_vendor(port: u16, extra: Value) -> Value {
    let mut vendor = json!({"vndrNo": "VRCARE", "vndrItwkInfoNo": "1", "name": "careless",
        "gateUrl": format!("http://127.0.0.1:{port}/gate"),
        "whoamiUrl": format!("http://127.0.0.1:{port}/whoami"),
        "allowedIps": ["127.0.0.1"]});
    for (k, v) in extra.as_object().unwrap() {
        vendor[k] = v.clone();
    }
    vendor
}

/// A careless partner with `flaw` started, and its vendor `VRCARE` (with `extra` fields)
/// registered on `app`: its port and its server's handle.
async fn careless_partner(
    app: &TestApp,
    flaw: Flaw,
    extra: Value,
) -> (u16, actix_web::dev::ServerHandle) {
    let (port, handle) = start_partner(app, flaw).await;
    let r = app
        .put_json("/_sim/api/vendors/VRCARE", &careless_vendor(port, extra))
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    (port, handle)
}

/// Runs the binary with `args` on a blocking thread (the partners live on this one).
pub(crate) async fn run_binary(args: Vec<std::ffi::OsString>) -> std::process::Output {
    actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

pub(crate) fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(Into::into).collect()
}

fn case<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

/// JUnit XML as a CI server reads it: it parses, every testcase has a time, and a passing one
/// says what happened in `system-out`.
fn check_junit(xml: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(xml).expect("JUnit XML parses");
    let suite = doc.root_element();
    assert_eq!(suite.tag_name().name(), "testsuite");
    let mut out = Vec::new();
    for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
        let name = case.attribute("name").unwrap().to_owned();
        let time: f64 = case
            .attribute("time")
            .unwrap_or_else(|| panic!("{name} has no time"))
            .parse()
            .unwrap();
        assert!(time >= 0.0);
        let status = if case.children().any(|c| c.has_tag_name("failure")) {
            "fail"
        } else if case.children().any(|c| c.has_tag_name("skipped")) {
            "skip"
        } else {
            let said = case
                .children()
                .find(|c| c.has_tag_name("system-out"))
                .and_then(|c| c.text())
                .unwrap_or_else(|| panic!("{name} passed without a system-out"));
            assert!(!said.trim().is_empty());
            "pass"
        };
        out.push((name, status.to_owned()));
    }
    out
}

#[actix_web::test]
async fn conform_against_a_running_simulator_tests_its_run_time_vendor_with_its_token() {
    let app = spawn_app_with(|s| s.control_token = Some("ctl-secret-1".into())).await;
    // A vendor that exists only at run time, on the built-in partner's GATE.
    let vendor = json!({"vndrNo": "VRLIVE", "vndrItwkInfoNo": "9", "name": "run-time vendor",
        "gateUrl": "/_sim/partner/gate", "allowedIps": ["127.0.0.1", "::1"]});
    let r = app.put_json("/_sim/api/vendors/VRLIVE", &vendor).await;
    assert!(r.status.is_success(), "{}", r.text());
    let data = tempfile::tempdir().unwrap();
    let junit = data.path().join("junit.xml");
    let html = data.path().join("report.html");
    let mut args = os(&["conform", "--against", &app.http, "--vendor", "VRLIVE"]);
    args.extend(os(&[
        "--control-token",
        "ctl-secret-1",
        "--timeout-seconds",
        "2",
    ]));
    args.extend(["--junit".into(), junit.clone().into_os_string()]);
    args.extend(["--html".into(), html.clone().into_os_string()]);
    let out = run_binary(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("vendor VRLIVE"), "{stdout}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    let cases = check_junit(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(cases.len(), 11);
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("first-visit"));

    // Without the token, or for a vendor it does not have: exit 2, said in one line.
    let out = run_binary(os(&[
        "conform",
        "--against",
        &app.http,
        "--vendor",
        "VRLIVE",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("401"), "{stderr}");
    let mut args = os(&["conform", "--against", &app.http, "--vendor", "VRNONE"]);
    args.extend(os(&["--control-token", "ctl-secret-1"]));
    let out = run_binary(args).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown vendor 'VRNONE'"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[actix_web::test]
async fn the_conform_api_answers_junit_or_html_when_asked_and_json_otherwise() {
    let app = spawn_app().await;
    let body = json!({"vndrNo": "VR000216", "timeoutSeconds": 2});
    let post = |path: &'static str, accept: Option<&'static str>| {
        let client = app.client();
        let mut req = app.operator(client.post(format!("{}{path}", app.https)));
        if let Some(a) = accept {
            req = req.insert_header(("Accept", a));
        }
        app.send(
            req,
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
    };
    for (path, accept) in [
        ("/_sim/api/conform?format=junit", None),
        ("/_sim/api/conform", Some("application/xml")),
    ] {
        let r = post(path, accept).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/xml"),
            "{path}: {:?}",
            r.header("content-type")
        );
        let cases = check_junit(&r.text());
        assert_eq!(cases.len(), 11, "{path}");
    }
    let r = post("/_sim/api/conform?format=html", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().starts_with("<!doctype html>"));
    let r = post("/_sim/api/conform", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["vndrNo"], "VR000216");
    let r = post("/_sim/api/conform?format=yaml", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("junit"));
}

/// Holds a port on 127.0.0.1 if nobody does yet (either way it is in use afterwards).
fn hold(port: u16) -> Option<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port)).ok()
}

#[actix_web::test]
async fn conform_takes_free_ports_skips_cases_on_request_and_pins_the_decoy_port() {
    // The default ports of `serve` in use, as beside a running simulator.
    let _held = (hold(8443), hold(8080));
    let data = tempfile::tempdir().unwrap();
    let junit = data.path().join("junit.xml");
    let decoy_port = std::net::TcpListener::bind("127.0.0.2:0")
        .map(|l| l.local_addr().unwrap().port())
        .ok();
    let mut args = os(&["conform", "--vendor", "VR000216", "--log", "warn"]);
    args.extend(os(&["--skip", "baro-item", "--skip", "direct-url"]));
    if let Some(port) = decoy_port {
        args.extend(os(&["--decoy-port", &port.to_string()]));
    }
    args.extend(["--fixtures".into(), shipped_fixtures().into_os_string()]);
    args.extend(["--data-dir".into(), data.path().as_os_str().to_owned()]);
    args.extend(["--junit".into(), junit.clone().into_os_string()]);
    let out = run_binary(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("skipped on request (--skip)"), "{stdout}");
    if let Some(port) = decoy_port {
        assert!(stdout.contains(&format!("127.0.0.2:{port}")), "{stdout}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    let cases = check_junit(&xml);
    for id in ["baro-item", "direct-url"] {
        assert!(
            cases.contains(&(id.to_owned(), "skip".to_owned())),
            "{cases:?}"
        );
    }
    assert!(xml.contains("skipped on request (--skip)"));
    assert!(cases.contains(&("first-visit".to_owned(), "pass".to_owned())));

    // An unknown case id: exit 2, naming the valid ones.
    let out = run_binary(os(&["conform", "--vendor", "VR000216", "--skip", "nope"])).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("first-visit, later-visit"),
        "{stderr}"
    );
}

#[actix_web::test]
async fn a_partner_that_cannot_reach_the_mall_is_told_so_at_once() {
    let app = spawn_app().await;
    let (_, handle) = careless_partner(&app, Flaw::CannotReachMall, json!({})).await;
    let r = app
        .post_json(
            "/_sim/api/conform",
            &json!({"vndrNo": "VRCARE", "timeoutSeconds": 3}),
        )
        .await;
    handle.stop(false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    let first = case(&report, "first-visit");
    let said = happened(&report, "first-visit");
    assert!(
        said.contains("502") && said.contains("CUS_URL") && said.contains("without a cert call"),
        "{said}"
    );
    assert!(!said.contains("within 3 s"), "{said}");
    // The short grace, not the 3 s timeout.
    assert!(first["seconds"].as_f64().unwrap() < 2.5, "{first:#}");
    let delivery = &first["deliveries"][0];
    assert_eq!(delivery["status"], 502);
    assert!(delivery["ms"].as_u64().unwrap() < 3000, "{delivery:#}");
    assert!(delivery["cusUrl"].as_str().unwrap().starts_with("https://"));
    let double = happened(&report, "double-post");
    assert!(
        double.contains("502") && !double.contains("404"),
        "{double}"
    );

    // A partner that calls with OTP_TOKEN still encrypted hears that, not "no cert call".
    let aes = json!({"paramEncryption": {"scheme": "AES-128-CBC",
        "key": "62656e65636166652d73696d2d6b6579"}});
    let (_, handle) = careless_partner(&app, Flaw::KeepsTokenEncrypted, aes).await;
    let report = conform(&app, "VRCARE").await;
    handle.stop(false).await;
    assert!(failed(&report).contains("first-visit"));
    let said = happened(&report, "first-visit");
    assert!(said.contains("still encrypted"), "{said}");
}

/// A fixtures folder whose vendor VRCARE is the careless partner on `port`.
fn fixtures_with_partner(port: u16) -> tempfile::TempDir {
    let dir = copy_fixtures(&shipped_fixtures());
    let path = dir.path().join("vendors.json");
    let mut vendors: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    vendors
        .as_array_mut()
        .unwrap()
        .push(careless_vendor(port, json!({})));
    std::fs::write(&path, vendors.to_string()).unwrap();
    dir
}

fn no_control_bytes(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[actix_web::test]
async fn a_noisy_whoami_shows_no_more_than_a_few_bytes_and_no_control_bytes_in_any_report() {
    let app = spawn_app().await;
    let (port, handle) = start_partner(&app, Flaw::NoisyWhoami).await;
    let fixtures = fixtures_with_partner(port);
    let data = tempfile::tempdir().unwrap();
    let junit = data.path().join("junit.xml");
    let html = data.path().join("report.html");
    let mut args = os(&["conform", "--vendor", "VRCARE", "--timeout-seconds", "1"]);
    args.extend(os(&[
        "--https-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
    ]));
    args.extend(os(&["--log", "warn"]));
    args.extend(["--fixtures".into(), fixtures.path().as_os_str().to_owned()]);
    args.extend(["--data-dir".into(), data.path().as_os_str().to_owned()]);
    args.extend(["--junit".into(), junit.clone().into_os_string()]);
    args.extend(["--html".into(), html.clone().into_os_string()]);
    let out = run_binary(args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("session-reset"), "{stdout}");
    assert!(no_control_bytes(&stdout), "{stdout:?}");
    assert!(stdout.len() < 8_000, "{} bytes", stdout.len());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(no_control_bytes(&xml));
    assert!(xml.len() < 32_000, "{} bytes", xml.len());
    let cases = check_junit(&xml);
    assert!(cases.contains(&("session-reset".to_owned(), "fail".to_owned())));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(no_control_bytes(&page));
    assert!(page.len() < 32_000, "{} bytes", page.len());

    // The control API's JSON: a few bytes of the answer, not the answer.
    let r = app
        .put_json(
            "/_sim/api/vendors/VRCARE",
            &careless_vendor(port, json!({})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text());
    let report = conform(&app, "VRCARE").await;
    handle.stop(false).await;
    let said = happened(&report, "session-reset");
    assert!(said.len() < 400, "{} bytes: {said:?}", said.len());
    assert!(report.to_string().len() < 32_000);
}

#[actix_web::test]
async fn a_whoami_url_is_checked_like_a_gate_url() {
    let app = spawn_app().await;
    for bad in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "localhost:3000/whoami",
    ] {
        let r = app
            .put_json(
                "/_sim/api/vendors/VRCARE",
                &careless_vendor(3000, json!({"whoamiUrl": bad})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("whoamiUrl"));
    }
    for good in ["/_sim/partner/gate", "https://partner.example.com/whoami"] {
        let r = app
            .put_json(
                "/_sim/api/vendors/VRCARE",
                &careless_vendor(3000, json!({"whoamiUrl": good})),
            )
            .await;
        assert!(r.status.is_success(), "{good}: {}", r.text());
    }
}

#[actix_web::test]
async fn a_trickled_answer_holds_a_delivery_no_longer_than_its_deadline() {
    let app = spawn_app().await;
    let (_, handle) = careless_partner(&app, Flaw::Trickles, json!({})).await;
    let started = Instant::now();
    let r = app
        .gate(
            json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VRCARE",
            "consent": "agree", "deliver": true}),
        )
        .await;
    let elapsed = started.elapsed();
    handle.stop(false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // One 5 s deadline on the exchange, then no cert call to wait for.
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    let delivery = &r.json()["delivery"];
    assert_eq!(delivery["status"], 200, "{delivery:#}");
    assert!(delivery["error"].as_str().is_some(), "{delivery:#}");
}

#[actix_web::test]
async fn at_most_two_conformance_runs_at_once() {
    let app = spawn_app().await;
    let (_, handle) = careless_partner(&app, Flaw::NeverCalls, json!({})).await;
    let body = json!({"vndrNo": "VRCARE", "timeoutSeconds": 2});
    let run = || app.post_json("/_sim/api/conform", &body);
    let (a, b, c) = futures_util::future::join3(run(), run(), run()).await;
    handle.stop(false).await;
    let mut statuses: Vec<u16> = [&a, &b, &c].iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429]);
    let busy = [a, b, c]
        .into_iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert!(busy.json()["error"].as_str().is_some());
}
