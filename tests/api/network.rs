//! What a hostile client tries at the connection and header level: stalled TLS handshakes,
//! huge CHECKURL values, cross-site requests and foreign `Host` names, forwarding headers that
//! name nobody or disagree, log floods from malformed requests, bodies trickled byte by byte,
//! and other programs on the same machine. Each test failed on the code before the fix it checks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, SimProcess};
use crate::security::{gate_body, with_args};

#[actix_web::test]
async fn idle_connections_to_the_https_port_stall_neither_listener() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = sim.client(data.path());
    let https_addr = sim.https.trim_start_matches("https://").to_owned();
    let token = {
        let r = client
            .post(format!("{}/_sim/api/gate", sim.http))
            .send_json(&gate_body())
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        r["otpToken"].as_str().unwrap().to_owned()
    };
    // Connections that never send a ClientHello.
    let idle: Vec<TcpStream> = (0..3000)
        .map(|_| TcpStream::connect(&https_addr).expect("connects"))
        .collect();

    let client = sim.client(data.path());
    let started = Instant::now();
    let health = actix_web::rt::time::timeout(
        Duration::from_secs(1),
        client.get(format!("{}/_sim/healthz", sim.http)).send(),
    )
    .await
    .expect("HTTP health answers within a second")
    .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let cert: Value = actix_web::rt::time::timeout(Duration::from_secs(1), async {
        client
            .get(format!(
                "{}/sso/vendorUserCertTonken?otpTokenp={token}",
                sim.https
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
    .await
    .expect("a cert call on a fresh HTTPS connection answers within a second");
    assert_eq!(cert["resultCode"], "OK");
    eprintln!(
        "both answered in {:?} with 3000 idle connections",
        started.elapsed()
    );
    drop(idle);
}

#[actix_web::test]
async fn huge_checkurl_values_do_not_grow_memory() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let url = format!("{}/sso/vendorUserCheck", sim.http);
    let big = "가".repeat(20_000); // 60 kB of UTF-8
    let body = format!("cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName={big}");
    // Warm up, then measure.
    for _ in 0..50 {
        client
            .post(&url)
            .content_type("application/x-www-form-urlencoded")
            .send_body(body.clone())
            .await
            .unwrap();
    }
    let before = sim.rss_kib();
    for _ in 0..2000 {
        let mut r = client
            .post(&url)
            .content_type("application/x-www-form-urlencoded")
            .send_body(body.clone())
            .await
            .unwrap();
        assert_eq!(&r.body().await.unwrap()[..], b"N");
    }
    let grown = sim.rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "resident memory grew by {grown} KiB");
    let journal: Value = client
        .get(format!("{}/_sim/api/journal?limit=1", sim.http))
        .send()
        .await
        .unwrap()
        .json()
        .limit(1 << 20)
        .await
        .unwrap();
    let name = journal[0]["userName"].as_str().unwrap();
    assert!(name.len() <= 512, "the journal keeps {} bytes", name.len());
}

#[actix_web::test]
async fn cross_site_requests_and_foreign_hosts_change_nothing() {
    let app = spawn_app().await;
    let token = app.token().await;
    let evil = [("Origin", "http://evil.example")];
    let r = app
        .raw(
            "POST",
            &format!("{}/_sim/api/reset", app.http),
            &evil,
            Some(("application/x-www-form-urlencoded", "")),
        )
        .await;
    assert!(r.status.is_client_error(), "reset: {}", r.status);
    // A form body is not JSON, whoever sends it.
    let r = app
        .raw(
            "POST",
            &format!("{}/_sim/api/reset", app.http),
            &[],
            Some(("application/x-www-form-urlencoded", "")),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .raw(
            "PUT",
            &format!("{}/_sim/api/consents/J01A00038746/VR000452", app.http),
            &[],
            Some(("application/x-www-form-urlencoded", "agrDts=x")),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let consents = app.api("GET", "/_sim/api/consents", None).await.json();
    assert!(!consents
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["custId"] == "J01A00038746" && c["vndrNo"] == "VR000452"));

    // A cross-site form post to the demo page records no consent and issues no token.
    let demo_body = "member=J01%7CJ01A00038747&vndrNo=VR000216&consent=agree&gateUrl=https%3A%2F%2Fevil.example%2F";
    for headers in [
        &evil[..],
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Origin", "null")][..],
    ] {
        let r = app
            .raw(
                "POST",
                &format!("{}/_sim/demo", app.http),
                headers,
                Some(("application/x-www-form-urlencoded", demo_body)),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert_eq!(app.live_tokens().await, 1);
    // A page of a rebinding domain reads and drives nothing.
    for (method, path) in [("GET", "/_sim/api/companies"), ("POST", "/_sim/api/reset")] {
        let r = app
            .raw(
                method,
                &format!("{}{path}", app.http),
                &[("Host", "rebind.evil.example")],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{method} {path}");
    }
    assert!(app.still_redeems(&token).await, "nothing was reset");
    // The simulator's own pages still post to it.
    let own = app
        .raw(
            "POST",
            &format!("{}/_sim/demo", app.http),
            &[("Origin", &app.http.clone())],
            Some((
                "application/x-www-form-urlencoded",
                "member=J01%7CJ01A00038745&vndrNo=VR000216",
            )),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

#[actix_web::test]
async fn forwarding_headers_without_a_usable_client_address_get_403() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let token = app.token().await;
    let url = format!("{}/sso/vendorUserCertTonken?otpTokenp={token}", app.https);
    let cases: [&[(&str, &str)]; 7] = [
        &[("Forwarded", "for=unknown")],
        &[("Forwarded", "for=\"_hidden\"")],
        &[("Forwarded", "by=127.0.0.1")],
        &[("X-Forwarded-For", "")],
        &[("X-Forwarded-For", "unknown")],
        // The proxy manages one header; a client's own other header disagrees.
        &[
            ("X-Forwarded-For", "203.0.113.9"),
            ("Forwarded", "for=127.0.0.1"),
        ],
        &[
            ("Forwarded", "for=203.0.113.9"),
            ("X-Forwarded-For", "127.0.0.1"),
        ],
    ];
    for headers in cases {
        let r = app.raw("GET", &url, headers, None).await;
        assert_eq!(
            r.result_code(),
            "403",
            "{headers:?}: {:?}",
            r.header("x-sim-reason")
        );
    }
    assert!(app.still_redeems(&token).await);
}

#[actix_web::test]
async fn the_operator_names_the_one_forwarding_header_the_proxy_sets() {
    let app = spawn_app_with(|s| {
        with_args(&[
            "--trusted-proxies",
            "127.0.0.1",
            "--forwarded-header",
            "x-forwarded-for",
        ])(s)
    })
    .await;
    let token = app.token().await;
    let url = format!("{}/sso/vendorUserCertTonken?otpTokenp={token}", app.https);
    // The client's own Forwarded header disagrees with the proxy's X-Forwarded-For.
    let r = app
        .raw(
            "GET",
            &url,
            &[
                ("X-Forwarded-For", "203.0.113.9"),
                ("Forwarded", "for=127.0.0.1"),
            ],
            None,
        )
        .await;
    assert_eq!(r.result_code(), "403");
    // Without the named header, the trusted proxy names nobody.
    let r = app.raw("GET", &url, &[], None).await;
    assert_eq!(r.result_code(), "403");
    let r = app
        .raw("GET", &url, &[("X-Forwarded-For", "127.0.0.1")], None)
        .await;
    assert_eq!(r.result_code(), "OK");
}

#[actix_web::test]
async fn a_thousand_malformed_requests_add_at_most_a_handful_of_log_lines() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let before = sim.log_text().lines().count();
    let addr = sim.http.trim_start_matches("http://").to_owned();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GARBAGE \x01\x02 HTTP/9\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    std::thread::sleep(Duration::from_millis(300));
    let log = sim.log_text();
    let added = log.lines().count() - before;
    assert!(added <= 5, "{added} log lines added:\n{log}");
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");
}

#[actix_web::test]
async fn a_body_trickled_byte_by_byte_is_cut_off() {
    let app = spawn_app_with(with_args(&["--body-timeout-seconds", "1"])).await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    s.write_all(
        b"POST /_sim/api/gate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    for _ in 0..40 {
        if s.write_all(b" ").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        let _ = s.set_nonblocking(true);
        let mut buf = [0u8; 1024];
        if let Ok(n) = s.read(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || !answer.is_empty() {
                break;
            }
        }
        let _ = s.set_nonblocking(false);
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_control_api_needs_the_token_even_on_loopback() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    assert!(app.state.config.control_token.is_some());
    let r = app
        .raw("GET", &format!("{}/_sim/api/members", app.http), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn another_program_on_localhost_cannot_post_to_the_simulator_and_lc_keeps_the_port() {
    let app = spawn_app().await;
    let token = app.token().await;
    for origin in [
        "http://localhost:3000",
        "http://j01.benecafe.localhost:9999",
    ] {
        let r = app
            .raw(
                "POST",
                &format!("{}/_sim/api/reset", app.http),
                &[("Origin", origin)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
    }
    assert!(app.still_redeems(&token).await);
    let lc = format!("http://127.0.0.1:{}/x", crate::helpers::free_port());
    let body = format!(
        "cmpyNo=J01&memID=kimminji&passwd=test1234&lc={}",
        form_urlencoded::byte_serialize(lc.as_bytes()).collect::<String>()
    );
    let r = app
        .raw(
            "POST",
            &format!("{}/member/login", app.http),
            &[],
            Some(("application/x-www-form-urlencoded", &body)),
        )
        .await;
    assert_eq!(r.header("location").as_deref(), Some("/mall"));
}
