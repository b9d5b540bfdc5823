//! What a probe of the simulator found, each closed: flags out of range refused at start, the
//! operator's control token never logged (and a short one warned about), the control API's
//! member data never cached or sniffed.

use std::process::Command;

use awc::http::StatusCode;

use crate::helpers::{spawn_app, SimProcess};

/// Runs the binary with `args` until it exits by itself; (success, stderr).
fn refused_at_start(args: &[&str]) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flags_out_of_range_are_refused_at_start_with_the_flag_named() {
    for (flag, value) in [
        ("--token-retention-seconds", "18446744073709551615"),
        ("--workers", "100000"),
        ("--workers", "0"),
        ("--state-interval-seconds", "0"),
        ("--body-timeout-seconds", "99999"),
    ] {
        let (ok, err) = refused_at_start(&[flag, value]);
        assert!(!ok, "{flag} {value} was accepted");
        assert!(
            err.contains(flag) && !err.contains("panicked"),
            "{flag} {value}: {err}"
        );
    }
}

#[actix_web::test]
async fn the_operators_control_token_is_never_logged_and_a_short_one_is_warned_about() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &["--control-token", "short-secret"])
        .await
        .unwrap();
    let log = sim.log_text();
    assert!(!log.contains("short-secret"), "{log}");
    assert!(log.contains("shorter than 16 bytes"), "{log}");
    // A generated token (beyond loopback) is said once, since nobody could know it otherwise;
    // a long given one is neither logged nor warned about.
    let long = "a-long-enough-control-token-0123456789";
    let other = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(other.path(), &["--control-token", long])
        .await
        .unwrap();
    let log = sim.log_text();
    assert!(
        !log.contains(long) && !log.contains("shorter than"),
        "{log}"
    );
}

#[actix_web::test]
async fn control_api_answers_are_never_cached_or_sniffed() {
    let app = spawn_app().await;
    for path in ["/_sim/api/members", "/_sim/api/journal", "/_sim/api/nope"] {
        let r = app.get_http(path).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::NOT_FOUND,
            "{path}: {}",
            r.status
        );
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// Failed operator sign-ins: an address gets five tries, then a minute's lockout (429 with
/// `Retry-After`, even for the right token); a flood from many addresses writes ten lines a
/// minute, not one a try.
#[actix_web::test]
async fn failed_sign_ins_lock_an_address_out_and_do_not_flood_the_log() {
    let token = "the-right-control-token-0123456789";
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(
        data.path(),
        &["--control-token", token, "--trusted-proxies", "127.0.0.1"],
    )
    .await
    .unwrap();
    let client = awc::Client::builder().disable_redirects().finish();
    let sign_in = |from: String, token: &'static str| {
        client
            .post(format!("{}/_sim/signin", sim.http))
            .insert_header(("x-forwarded-for", from))
            .send_form(&[("token", token), ("next", "/mall")])
    };
    for _ in 0..5 {
        let r = sign_in("192.0.2.7".into(), "wrong").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = sign_in("192.0.2.7".into(), "the-right-control-token-0123456789")
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = locked
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    // Another address is not locked out.
    let other = sign_in("192.0.2.8".into(), "the-right-control-token-0123456789")
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    for i in 0..40 {
        let r = sign_in(format!("198.51.100.{i}"), "wrong").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // One writer writes lines in order: a GATE's line after them means theirs are written.
    client
        .post(format!("{}/_sim/api/gate", sim.http))
        .insert_header(("authorization", format!("Bearer {token}")))
        .send_json(
            &serde_json::json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}),
        )
        .await
        .unwrap();
    let mut log = sim.log_text();
    for _ in 0..100 {
        if log.contains("GATE issued") {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        log = sim.log_text();
    }
    let lines = log.matches("operator sign-in with a wrong token").count();
    assert!(lines <= 10, "{lines} lines for 45 failures: {log}");
    assert!(lines >= 5, "the first failures are logged: {log}");
}
