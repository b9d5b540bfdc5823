//! What a hostile client tries when the simulator is reachable from a network: encoded paths
//! around the control token, member data through the built-in pages, symlinks planted for the
//! state file and key, signed values moved between purposes, reasons told to anonymous callers
//! (the connection- and header-level attacks are in `network.rs`). Each test failed on the code
//! before the fix it checks.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp};

/// Settings from command-line words, on top of the test defaults (so a test can use a flag
/// without naming a settings field).
pub(crate) fn with_args<'a>(
    words: &'a [&'a str],
) -> impl FnOnce(&mut benecafe_sim::app::settings::Settings) + 'a {
    move |s| {
        use clap::Parser;
        let mut all = vec!["benecafe-sim"];
        all.extend_from_slice(words);
        let parsed = benecafe_sim::app::settings::Settings::try_parse_from(all)
            .unwrap_or_else(|e| panic!("the flags {words:?} are accepted: {e}"));
        let (fixtures, data) = (s.fixtures.clone(), s.data_dir.clone());
        *s = parsed;
        s.https_addr = "127.0.0.1:0".parse().unwrap();
        s.http_addr = "127.0.0.1:0".parse().unwrap();
        s.fixtures = fixtures;
        s.data_dir = data;
        s.log = "warn".into();
        s.workers = Some(2);
    }
}

impl TestApp {
    /// A request on `base` (the HTTP or HTTPS URL) with extra headers and an optional body.
    pub(crate) async fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> Reply {
        let client = self.client_without_redirects();
        let mut req = client.request(method.parse().unwrap(), url);
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        self.send(req, body.map(|(t, b)| (t, b.as_bytes().to_vec())))
            .await
    }

    /// Whether `token` still redeems (once) from loopback.
    pub(crate) async fn still_redeems(&self, token: &str) -> bool {
        self.cert(&format!("otpTokenp={token}")).await.result_code() == "OK"
    }
}

pub(crate) fn gate_body() -> Value {
    json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"})
}

#[actix_web::test]
async fn every_encoding_of_a_control_path_needs_the_token_on_both_listeners() {
    let app = spawn_app_with(|s| s.control_token = Some("s3cret".into())).await;
    let paths = [
        "/_sim/api/faults",
        "/_sim/%61pi/faults",
        "/%5Fsim/api/faults",
        "/%5fsim/api/faults",
        "/_%73im/api/faults",
        "/_%73im/%61%70%69/faults",
        "//_sim/api/faults",
        "/_sim//api/faults",
        "/_sim/./api/faults",
        "/_sim/x/../api/faults",
        "/_sim/%2e/api/faults",
    ];
    for base in [&app.https, &app.http] {
        for path in paths {
            let r = app.raw("GET", &format!("{base}{path}"), &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "GET {base}{path}");
        }
    }
    // A state change through an encoded path changes nothing.
    let client = app.client();
    let token = {
        let r = app
            .send(
                client
                    .post(format!("{}/_sim/api/gate", app.http))
                    .insert_header(("Authorization", "Bearer s3cret")),
                Some(("application/json", gate_body().to_string().into_bytes())),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["otpToken"].as_str().unwrap().to_owned()
    };
    for path in [
        "/_sim/%61pi/reset",
        "/%5Fsim/api/reset",
        "/_sim/./api/reset",
    ] {
        let r = app
            .raw("POST", &format!("{}{path}", app.http), &[], None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "POST {path}");
    }
    assert_eq!(app.live_tokens().await, 1, "no reset happened");
    assert!(app.still_redeems(&token).await);
}

/// Bound to 0.0.0.0 (called through 127.0.0.1), as a shared QA environment runs it.
pub(crate) async fn spawn_exposed() -> (TestApp, String) {
    let app = spawn_app_with(|s| {
        s.http_addr = "0.0.0.0:0".parse().unwrap();
        s.control_token = None;
    })
    .await;
    let token = app.state.config.control_token.clone().unwrap();
    (app, token)
}

#[actix_web::test]
async fn beyond_loopback_pages_with_member_data_need_the_operator_sign_in() {
    let (app, control) = spawn_exposed().await;
    let member_pages = [
        "/_sim/demo",
        "/_sim/journal",
        "/member/login?cmpyNo=J01",
        "/mall/point?cmpyCd=J01&custId=J01A00038745",
    ];
    for page in member_pages {
        let r = app
            .raw("GET", &format!("{}{page}", app.http), &[], None)
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page} without sign-in");
        assert!(r
            .header("location")
            .unwrap()
            .starts_with("/_sim/signin?next="));
        assert!(
            !String::from_utf8_lossy(&r.body).contains("차세대테"),
            "{page}"
        );
    }
    // The demo form issues nothing, the built-in partner redeems nothing.
    let demo = app
        .raw(
            "POST",
            &format!("{}/_sim/demo", app.http),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                "member=J01%7CJ01A00038745&vndrNo=VR000216&consent=agree",
            )),
        )
        .await;
    assert_ne!(demo.status, StatusCode::OK);
    assert_eq!(app.live_tokens().await, 0);
    let r = app
        .raw(
            "POST",
            &format!("{}/_sim/api/gate", app.http),
            &[("Authorization", &format!("Bearer {control}"))],
            Some(("application/json", &gate_body().to_string())),
        )
        .await;
    let token = r.json()["otpToken"].as_str().unwrap().to_owned();
    let recheck = app
        .raw(
            "POST",
            &format!("{}/_sim/partner/recheck", app.http),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                &format!("token={token}"),
            )),
        )
        .await;
    assert_ne!(recheck.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&recheck.body).contains("0310000000"));

    // Signing in once with the control token opens the pages.
    let wrong = app
        .raw(
            "POST",
            &format!("{}/_sim/signin", app.http),
            &[],
            Some(("application/x-www-form-urlencoded", "token=wrong&next=/")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("set-cookie").is_none());
    let signed = app
        .raw(
            "POST",
            &format!("{}/_sim/signin", app.http),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                &format!("token={control}&next=/_sim/demo"),
            )),
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.header("location").as_deref(), Some("/_sim/demo"));
    let cookie = signed.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let r = app
        .raw(
            "GET",
            &format!("{}/member/login?cmpyNo=J01", app.http),
            &[("Cookie", cookie)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("차세대테"));
    // The token was not used by any of this.
    assert!(app.still_redeems(&token).await);
}

#[actix_web::test]
async fn sign_in_never_redirects_off_the_simulator() {
    let (app, control) = spawn_exposed().await;
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let body = format!(
            "token={control}&next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        let r = app
            .raw(
                "POST",
                &format!("{}/_sim/signin", app.http),
                &[],
                Some(("application/x-www-form-urlencoded", &body)),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.header("location").as_deref(), Some("/"), "next={next}");
    }
}

#[actix_web::test]
async fn the_built_in_partner_redeems_only_tokens_that_reached_its_gate() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .post_form("/_sim/partner/recheck", &format!("token={token}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(app.still_redeems(&token).await, "the token was not used");

    // A token of another vendor posted to its GATE is not redeemed either.
    let foreign = app.issue_token("J01", "J01A00038745", "VR000301").await;
    let r = app
        .post_form("/_sim/partner/gate", &format!("OTP_TOKEN={foreign}"))
        .await;
    assert!(!r.text().contains("0310000000"), "no member data shown");
    assert!(app.still_redeems(&foreign).await);
}

#[cfg(unix)]
#[actix_web::test]
async fn the_state_file_and_key_are_private_and_planted_symlinks_are_not_followed() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "victim").unwrap();

    // A key.pem symlink in a fresh data folder.
    let fixtures = crate::helpers::copy_fixtures(&crate::helpers::shipped_fixtures());
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    symlink(
        &victim,
        state_dir
            .path()
            .join(format!(".state.json.tmp-{}", std::process::id())),
    )
    .unwrap();
    std::fs::write(&state, b"").ok();
    std::fs::remove_file(&state).unwrap();
    let data = tempfile::tempdir().unwrap();
    // The key of the local CA (and the key of the certificate older versions made).
    symlink(&victim, data.path().join("ca-key.pem")).unwrap();
    symlink(&victim, data.path().join("key.pem")).unwrap();
    let data_path = data.path().to_owned();
    let state_path = state.clone();
    let app = crate::helpers::spawn_app_in(fixtures, move |s| {
        s.data_dir = Some(data_path);
        s.state = Some(state_path);
        s.state_interval_seconds = 1;
    })
    .await;
    app.token().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state.exists() && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "victim");
    assert!(state.exists(), "the state was saved");
    assert_eq!(mode(&state), 0o600, "state.json");
    let key = data.path().join("ca-key.pem");
    assert!(!std::fs::symlink_metadata(&key)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(mode(&key), 0o600, "the key");

    // A state file that was readable by all becomes private at the next save.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
    app.token().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while mode(&state) != 0o600 && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mode(&state), 0o600);
}

#[actix_web::test]
async fn a_vendor_token_lifetime_is_bounded() {
    let app = spawn_app().await;
    let mut vendor = app.api("GET", "/_sim/api/vendors", None).await.json()[0].clone();
    vendor["tokenTtlSeconds"] = json!(18_446_744_073_709_551u64);
    let r = app.put_json("/_sim/api/vendors/VR000216", &vendor).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("tokenTtlSeconds"));
}

#[actix_web::test]
async fn pages_forbid_framing_and_sniffing_and_the_session_cookie_is_secure_over_https() {
    let app = spawn_app().await;
    let r = app.get("/member/login?cmpyNo=J01").await;
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(r
        .header("content-security-policy")
        .is_some_and(|v| v.contains("frame-ancestors 'none'")));
    assert!(r.header("referrer-policy").is_some());
    let r = app
        .raw(
            "POST",
            &format!("{}/member/login", app.https),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                "cmpyNo=J01&custId=J01A00038745",
            )),
        )
        .await;
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn beyond_loopback_the_reason_header_tells_an_anonymous_caller_little() {
    let (app, control) = spawn_exposed().await;
    let foreign = {
        let r = app
            .raw(
                "POST",
                &format!("{}/_sim/api/gate", app.http),
                &[("Authorization", &format!("Bearer {control}"))],
                Some((
                    "application/json",
                    &json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000452", "consent": "agree"})
                        .to_string(),
                )),
            )
            .await;
        r.json()["otpToken"].as_str().unwrap().to_owned()
    };
    let url = format!("{}/sso/vendorUserCertTonken?otpTokenp={foreign}", app.https);
    let anonymous = app.raw("GET", &url, &[], None).await;
    assert_eq!(anonymous.result_code(), "403");
    let reason = anonymous.header("x-sim-reason").unwrap_or_default();
    assert!(!reason.contains("203.0.113.10"), "{reason}");
    let operator = app
        .raw(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {control}"))],
            None,
        )
        .await;
    assert!(operator
        .header("x-sim-reason")
        .unwrap()
        .contains("203.0.113.10"));
}

#[actix_web::test]
async fn a_value_signed_for_the_built_in_partner_never_passes_for_an_operator_or_a_member() {
    let (app, _) = spawn_exposed().await;
    for forged in ["operator|4102444800000", "J01|J01A00038745"] {
        let r = app
            .raw(
                "POST",
                &format!("{}/_sim/partner/gate", app.http),
                &[],
                Some((
                    "application/x-www-form-urlencoded",
                    &format!(
                        "OTP_TOKEN={}",
                        form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>()
                    ),
                )),
            )
            .await;
        assert!(
            r.header("set-cookie").is_none(),
            "{forged}: nothing signed for it"
        );
    }
    // Even a genuinely signed partner cookie is no sign-in.
    let token = {
        let client = app.client_without_redirects();
        let r = app
            .send(
                app.operator(client.post(format!("{}/_sim/api/gate", app.http))),
                Some(("application/json", gate_body().to_string().into_bytes())),
            )
            .await;
        r.json()["otpToken"].as_str().unwrap().to_owned()
    };
    let r = app
        .raw(
            "POST",
            &format!("{}/_sim/partner/gate", app.http),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                &format!("OTP_TOKEN={token}"),
            )),
        )
        .await;
    let cookie = r.header("set-cookie").unwrap();
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    for name in ["sim_operator", "sim_member"] {
        let r = app
            .raw(
                "GET",
                &format!("{}/_sim/journal", app.http),
                &[("Cookie", &format!("{name}={value}"))],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{name}");
    }
}
