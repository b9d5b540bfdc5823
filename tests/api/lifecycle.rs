//! The process's life behind a load balancer, on the real binary: `/_sim/livez` answers
//! whatever the store, `/_sim/readyz` follows the store and a stop under way; a stop drains
//! (not ready, still serving) before it stops, a second signal stops at once, and a signal while
//! the store is still awaited ends the start at once.
//!
//! The Redis cases start their own `redis-server` (Debian's package) on a free port; a plain
//! `cargo test` lists them as ignored, `.ci/run` runs them with `--include-ignored`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{free_port, shipped_fixtures, RedisServer, SimProcess};

/// Sends `signal` (`TERM`, `STOP`, `CONT`, …) to `pid`.
fn send(signal: &str, pid: u32) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// `GET path` on the plain-HTTP listener: the status, the JSON body and how long it took.
async fn probe(sim: &SimProcess, path: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut res = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish()
        .get(format!("{}{path}", sim.http))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let body = res.body().await.unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (res.status().as_u16(), json, started.elapsed())
}

/// Polls `path` until its answer satisfies `want` (at most `within`); the last answer.
async fn poll(
    sim: &SimProcess,
    path: &str,
    within: Duration,
    want: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let deadline = Instant::now() + within;
    loop {
        let (status, body, _) = probe(sim, path).await;
        if want(status, &body) || Instant::now() > deadline {
            return (status, body);
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the process to exit, at most `within`: its success and when it exited.
async fn exit_within(sim: &mut SimProcess, within: Duration) -> Option<(bool, Instant)> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = sim.child.try_wait().unwrap() {
            return Some((status.success(), Instant::now()));
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn livez_answers_whatever_the_store_and_readyz_follows_it() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let store = redis.url();
    let sim = SimProcess::start(data.path(), &["--store", &store])
        .await
        .expect("starts");
    let (status, body, _) = probe(&sim, "/_sim/readyz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    let pid = redis.pid().expect("redis runs");

    // Redis frozen: it accepts connections and answers nothing, the worst kind of outage.
    send("STOP", pid);
    let (status, body) = poll(&sim, "/_sim/readyz", Duration::from_secs(20), |s, _| {
        s == 503
    })
    .await;
    let frozen = (status, body["status"].as_str().map(str::to_owned));
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    let (live, live_body, took) = probe(&sim, "/_sim/livez").await;
    let (healthz, _, _) = probe(&sim, "/_sim/healthz").await;
    send("CONT", pid);
    assert_eq!(frozen, (503, Some("unavailable".to_owned())), "{body}");
    assert!(!error.is_empty(), "readyz says why: {body}");
    assert_eq!((live, live_body["status"].as_str()), (200, Some("live")));
    // livez asks nothing of the store: no wait for a Redis that does not answer.
    assert!(took < Duration::from_millis(500), "livez took {took:?}");
    // healthz is what it was: 503 while the store is out of reach.
    assert_eq!(healthz, 503);

    let (status, body) = poll(&sim, "/_sim/readyz", Duration::from_secs(20), |s, _| {
        s == 200
    })
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn sigterm_drains_before_the_stop_and_a_second_one_stops_at_once() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let store = redis.url();
    let mut sim = SimProcess::start(data.path(), &["--store", &store, "--drain-seconds", "3"])
        .await
        .expect("starts");
    let pid = sim.child.id();
    let signalled = Instant::now();
    send("TERM", pid);
    let (status, body) = poll(&sim, "/_sim/readyz", Duration::from_secs(2), |s, _| {
        s == 503
    })
    .await;
    assert_eq!((status, body["status"].as_str()), (503, Some("draining")));
    // Not ready, yet still serving: a request the load balancer sent before it noticed.
    let gate = awc::Client::default()
        .post(format!("{}/_sim/api/gate", sim.http))
        .send_json(&serde_json::json!({
            "cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "consent": "agree"
        }))
        .await
        .expect("served while draining");
    assert!(gate.status().is_success(), "{}", gate.status());
    let (live, _, _) = probe(&sim, "/_sim/livez").await;
    assert_eq!(live, 200, "live while draining");
    let (ok, exited) = exit_within(&mut sim, Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("did not stop: {}", sim.log_text()));
    assert!(ok, "exit status: {}", sim.log_text());
    let drained = exited - signalled;
    assert!(
        drained >= Duration::from_millis(2900),
        "stopped after {drained:?}, before the drain period"
    );
    assert!(sim.log_text().contains("draining for 3 s"));

    // A second signal during a long drain: the process stops at once.
    let mut sim = SimProcess::start(data.path(), &["--store", &store, "--drain-seconds", "60"])
        .await
        .expect("starts again");
    send("TERM", sim.child.id());
    let (status, _) = poll(&sim, "/_sim/readyz", Duration::from_secs(2), |s, _| {
        s == 503
    })
    .await;
    assert_eq!(status, 503);
    let again = Instant::now();
    send("TERM", sim.child.id());
    let (_, exited) = exit_within(&mut sim, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("did not stop: {}", sim.log_text()));
    let took = exited - again;
    assert!(
        took < Duration::from_secs(1),
        "second SIGTERM took {took:?}"
    );
    assert!(sim.log_text().contains("SIGTERM again: stopping at once"));
}

#[actix_web::test]
async fn sigterm_while_waiting_for_an_absent_redis_ends_the_start_at_once() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("sim.log");
    // Nothing listens on this port: the simulator waits for its Redis there.
    let store = format!("redis://127.0.0.1:{}/0", free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--fixtures")
        .arg(shipped_fixtures())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--store", &store])
        .env("SIM_LOG", "info")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut sim = SimProcess {
        child,
        http: String::new(),
        https: String::new(),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.log_text().contains("waiting for Redis") {
        assert!(
            Instant::now() < deadline,
            "never waited: {}",
            sim.log_text()
        );
        assert!(
            sim.child.try_wait().unwrap().is_none(),
            "{}",
            sim.log_text()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    send("TERM", sim.child.id());
    let (ok, exited) = exit_within(&mut sim, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("still waiting: {}", sim.log_text()));
    let took = exited - signalled;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    // Ended by the simulator itself, saying so (not killed by the signal's default action).
    assert!(ok, "exit status: {}", sim.log_text());
    let text = sim.log_text();
    assert!(
        text.contains("SIGTERM while starting: stopped before serving")
            && text.contains(&format!("Redis at {store}")),
        "{text}"
    );
}

/// Starts the binary on port 0 with `--ready-file` and `extra` flags, its standard input
/// `stdin`, and waits for the file: the child and what the file says.
fn start_with_ready_file(
    data: &std::path::Path,
    extra: &[&str],
    stdin: std::process::Stdio,
) -> (std::process::Child, Value) {
    let ready = data.join("ready.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--fixtures")
        .arg(shipped_fixtures())
        .arg("--data-dir")
        .arg(data)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--log", "info"])
        .args(extra)
        .env("SIM_LOG_FORMAT", "text")
        .stdin(stdin)
        .stdout(std::fs::File::create(data.join("sim.log")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready.exists() {
        assert!(child.try_wait().unwrap().is_none(), "exited before ready");
        assert!(started.elapsed() < Duration::from_secs(30), "no ready file");
        std::thread::sleep(Duration::from_millis(10));
    }
    let said = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    (child, said)
}

/// A helper in another language starts the binary on port 0 and waits for `--ready-file`: the
/// file says where both listeners are, the CA to trust, and agrees with `/_sim/version` and
/// `/_sim/ca.pem`. A ready file that cannot be written stops the start with a reason.
#[actix_web::test]
async fn a_start_on_port_zero_says_where_it_listens_in_its_ready_file() {
    let data = tempfile::tempdir().unwrap();
    let (child, said) = start_with_ready_file(data.path(), &[], std::process::Stdio::null());
    let https_addr = said["httpsAddr"].as_str().unwrap();
    let http_addr = said["httpAddr"].as_str().unwrap();
    assert!(
        !https_addr.ends_with(":0") && !http_addr.ends_with(":0"),
        "{said}"
    );
    let port = |addr: &str| addr.rsplit(':').next().unwrap().to_owned();
    assert_eq!(
        said["cusUrl"],
        format!("https://localhost:{}", port(https_addr))
    );
    assert_eq!(
        said["httpUrl"],
        format!("http://127.0.0.1:{}", port(http_addr))
    );
    assert_eq!(said["pid"], child.id());
    assert_eq!(said["version"], env!("CARGO_PKG_VERSION"));
    let sim = SimProcess {
        child,
        http: said["httpUrl"].as_str().unwrap().to_owned(),
        https: format!("https://{https_addr}"),
        log: data.path().join("sim.log"),
    };
    let (status, version, _) = probe(&sim, "/_sim/version").await;
    assert_eq!(status, 200);
    assert_eq!(version["cusUrl"], said["cusUrl"]);
    assert_eq!(version["httpUrl"], said["httpUrl"]);
    let ca = std::fs::read(said["caPath"].as_str().unwrap()).unwrap();
    let mut served = awc::Client::default()
        .get(format!("{}/_sim/ca.pem", sim.http))
        .send()
        .await
        .unwrap();
    assert_eq!(served.body().await.unwrap(), ca);
    // The CUS_URL it names answers over TLS verified against that CA alone.
    let (head, _) = crate::helpers::get_via(https_addr, "localhost", &ca, "/_sim/livez").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let nowhere = data.path().join("no-such-folder").join("ready.json");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--ready-file")
        .arg(&nowhere)
        .args(["--log", "warn"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("cannot write the ready file"), "{said}");
}

/// A stop does not wait for idle connections: an HTTP/2 client (Java's `HttpClient`, a
/// browser) keeps its connection open after its last answer, and a test suite that stops the
/// simulator after each class must not wait out the 10 s shutdown timeout for it. A request in
/// flight at the signal still gets its answer.
#[actix_web::test]
async fn a_stop_finishes_requests_in_flight_without_waiting_for_idle_http2_connections() {
    let data = tempfile::tempdir().unwrap();
    let mut sim = SimProcess::start(data.path(), &[]).await.expect("starts");
    // The next cert call waits 1.5 s: it is in flight when the signal comes.
    let fault = awc::Client::default()
        .post(format!("{}/_sim/api/faults", sim.http))
        .send_json(
            &serde_json::json!({"endpoint": "cert", "count": 1, "kind": "delay", "delayMs": 1500}),
        )
        .await
        .unwrap();
    assert!(fault.status().is_success());
    let ca = std::fs::read(data.path().join("ca.pem")).unwrap();
    let h2 = crate::helpers::h2_connect(&sim.https, &ca).await;
    let get = |path: String| {
        let mut h2 = h2.clone();
        async move {
            let request = http::Request::get(format!("https://localhost{path}"))
                .body(())
                .unwrap();
            h2 = h2.ready().await.map_err(|e| e.to_string())?;
            let (answer, _) = h2.send_request(request, true).map_err(|e| e.to_string())?;
            let answer = answer.await.map_err(|e| e.to_string())?;
            Ok::<u16, String>(answer.status().as_u16())
        }
    };
    // The connection has served a request and stays open, idle.
    assert_eq!(get("/_sim/livez".into()).await, Ok(200));
    let slow = actix_web::rt::spawn(get(format!(
        "/sso/vendorUserCertTonken?otpTokenp={}",
        "0".repeat(64)
    )));
    // Evidence that the slow call is in flight: its fault is taken.
    let mut taken = false;
    for _ in 0..200 {
        let (_, faults, _) = probe(&sim, "/_sim/api/faults").await;
        if faults.as_array().is_some_and(|f| f.is_empty()) {
            taken = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(taken, "the delayed call did not reach the simulator");
    let signalled = Instant::now();
    send("TERM", sim.child.id());
    let (ok, exited) = exit_within(&mut sim, Duration::from_secs(20))
        .await
        .expect("exits");
    assert!(ok, "exit status");
    assert_eq!(
        slow.await.unwrap(),
        Ok(200),
        "the call in flight was answered"
    );
    let took = exited - signalled;
    assert!(
        took < Duration::from_secs(4),
        "the stop waited {took:?} (an idle HTTP/2 connection held it)"
    );
}

/// With `--stop-when-stdin-closes`, the end of standard input stops the simulator as SIGTERM
/// would: a test helper holds the pipe, so a test process that dies (killed, no exit handler
/// run) leaves no simulator behind. Without the flag, a closed standard input changes nothing.
#[actix_web::test]
async fn the_end_of_standard_input_stops_a_simulator_that_asked_for_it() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, said) = start_with_ready_file(
        data.path(),
        &["--stop-when-stdin-closes"],
        std::process::Stdio::piped(),
    );
    let http = said["httpUrl"].as_str().unwrap().to_owned();
    let sim = |child| SimProcess {
        child,
        http: http.clone(),
        https: String::new(),
        log: data.path().join("sim.log"),
    };
    drop(child.stdin.take());
    let mut watched = sim(child);
    let (ok, _) = exit_within(&mut watched, Duration::from_secs(10))
        .await
        .expect("stops when its standard input closes");
    assert!(ok, "exit status");
    assert!(
        watched.log_text().contains("standard input closed"),
        "{}",
        watched.log_text()
    );

    let other = tempfile::tempdir().unwrap();
    let (mut child, said) = start_with_ready_file(other.path(), &[], std::process::Stdio::piped());
    drop(child.stdin.take());
    let unwatched = SimProcess {
        child,
        http: said["httpUrl"].as_str().unwrap().to_owned(),
        https: String::new(),
        log: other.path().join("sim.log"),
    };
    // Evidence it read nothing into the closed input: it still answers, well after the close.
    for _ in 0..20 {
        assert_eq!(probe(&unwatched, "/_sim/livez").await.0, 200);
    }
    let mut unwatched = unwatched;
    assert!(unwatched.child.try_wait().unwrap().is_none());
}
