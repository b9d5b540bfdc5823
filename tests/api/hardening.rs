//! What a probe of the simulator found, each closed: flags out of range refused at start, the
//! operator's control token never logged (and a short one warned about), the control API's
//! member data never cached or sniffed, its refusals on record (without the path's token).

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
    let log = sim.flushed_log(Some(token)).await;
    let lines = log.matches("operator sign-in with a wrong token").count();
    assert!(lines <= 10, "{lines} lines for 45 failures: {log}");
    assert!(lines >= 5, "the first failures are logged: {log}");
}

/// HTTP/2 (what the HTTPS listener speaks to a client that offers it) takes no larger header
/// block than HTTP/1's 32 KiB head.
#[actix_web::test]
async fn an_http2_request_with_a_header_block_over_32_kib_is_refused() {
    let app = spawn_app().await;
    let tls = crate::helpers::h2_only(&app.cert_pem);
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(std::sync::Arc::new(tls)))
        .finish();
    let send = |size: usize| {
        client
            .get(format!("{}/sso/vendorUserCheck?cmpyCd=J01", app.https))
            .insert_header(("x-padding", "a".repeat(size)))
            .send()
    };
    let small = send(1024).await.unwrap();
    assert_eq!(
        small.version(),
        awc::http::Version::HTTP_2,
        "the client spoke HTTP/2"
    );
    assert_eq!(small.status(), StatusCode::OK);
    let big = send(40 * 1024).await.unwrap();
    assert_eq!(big.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

/// A connection that sends nothing, or half a request head, is closed after the first-byte
/// timeout, and one left idle after a request after the keep-alive: neither is held forever.
#[test]
fn idle_and_half_sent_plain_http_connections_are_closed() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0"])
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let connect = || {
        for _ in 0..200 {
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(std::time::Duration::from_secs(15)))
                    .unwrap();
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the simulator did not listen");
    };
    // Reads until the server closes; what it sent, or an error if it kept the connection.
    let until_closed = |mut s: std::net::TcpStream| {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Ok(all),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) => return Err(e),
            }
        }
    };
    let silent = connect();
    let half = connect();
    (&half)
        .write_all(b"GET /_sim/healthz HTTP/1.1\r\n")
        .unwrap();
    let used = connect();
    (&used)
        .write_all(b"GET /_sim/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    for (what, s) in [("silent", silent), ("half-sent", half), ("idle", used)] {
        let sent = until_closed(s);
        assert!(
            sent.is_ok(),
            "the {what} connection is still open: {sent:?}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One HTTP/2 connection gets at most 100 requests in flight; more are answered 503 at once,
/// and the connection serves again once they are done. (A raw HTTP/2 client: one connection,
/// 150 streams at once.)
#[actix_web::test]
async fn one_http2_connection_has_at_most_100_requests_in_flight() {
    let app = spawn_app().await;
    // Every cert call waits a second: they stay in flight together.
    let fault = app
        .post_json(
            "/_sim/api/faults",
            &serde_json::json!({"endpoint": "cert", "kind": "delay", "delayMs": 1000}),
        )
        .await;
    assert!(fault.status.is_success(), "{}", fault.text());
    let addr = app.https.trim_start_matches("https://").to_owned();
    let h2 = crate::helpers::h2_connect(&app.https, &app.cert_pem).await;
    let get = |path: String| {
        let (mut h2, addr) = (h2.clone(), addr.clone());
        async move {
            let request = http::Request::get(format!("https://{addr}{path}"))
                .body(())
                .unwrap();
            h2 = h2.ready().await.unwrap();
            let (answer, _) = h2.send_request(request, true).unwrap();
            answer.await.unwrap().status().as_u16()
        }
    };
    let token = "0".repeat(64);
    let calls = (0..150).map(|_| get(format!("/sso/vendorUserCertTonken?otpTokenp={token}")));
    let calls: Vec<_> = calls.collect();
    let statuses = futures_util::future::join_all(calls).await;
    let refused = statuses.iter().filter(|s| **s == 503).count();
    let answered = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(answered + refused, 150, "{statuses:?}");
    assert_eq!(answered, 100, "{answered} answered, {refused} refused");
    assert_eq!(get("/sso/vendorUserCheck?cmpyCd=J01".into()).await, 200);
}

#[actix_web::test]
async fn control_api_refusals_are_logged_without_the_token_in_the_path() {
    const CONTROL: &str = "refusals-logged-control-token-0123";
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &["--control-token", CONTROL])
        .await
        .unwrap();
    let client = awc::Client::default();
    let token = "ab".repeat(32);
    let r = client
        .get(format!("{}/_sim/api/tokens/{token}", sim.http))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client
        .post(format!("{}/_sim/api/faults", sim.http))
        .insert_header(("authorization", format!("Bearer {CONTROL}")))
        .insert_header(("content-type", "application/json"))
        .send_body("{\"endpoint\": 7}")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let log = sim.flushed_log(Some(CONTROL)).await;
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("control API refused"))
        .collect();
    assert_eq!(refusals.len(), 2, "{log}");
    assert!(
        refusals[0].contains("GET /_sim/api/tokens/{token}: 401"),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("POST /_sim/api/faults: 400"),
        "{}",
        refusals[1]
    );
    assert!(!log.contains(&token), "{log}");
}
