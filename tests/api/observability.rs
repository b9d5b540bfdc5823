//! What an operator sees of a running simulator: which replica answered (`X-Sim-Replica`, the
//! journal, healthz), which build (`/_sim/version`), the Prometheus metrics and who may read
//! them, the JSON log lines and the request lines sampled under a burst. Metrics and logs are
//! read from real processes: a metrics recorder is one per process, shared by every simulator
//! a test process starts.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, RedisServer, SimProcess};

/// A Prometheus text exposition, parsed strictly enough to catch a malformed one.
struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

impl Scrape {
    /// Every line is a comment (`# HELP`, `# TYPE`) or `name{labels} value`, and every sample's
    /// metric has a `# TYPE` line.
    fn parse(text: &str) -> Result<Scrape, String> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').ok_or(format!("bad TYPE: {line}"))?;
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().map_err(|_| format!("bad value: {line}"))?,
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .ok_or(format!("bad labels: {line}"))?;
                    (name, labels_of(inner).ok_or(format!("bad labels: {line}"))?)
                }
                None => (series, BTreeMap::new()),
            };
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
            if name.is_empty() || !name.chars().all(valid) {
                return Err(format!("bad name: {line}"));
            }
            samples.push((name.to_owned(), labels, value));
        }
        for (name, _, _) in &samples {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|b| types.get(*b).is_some_and(|t| t == "histogram"));
            if !types.contains_key(name) && base.is_none() {
                return Err(format!("no # TYPE line for {name}"));
            }
        }
        Ok(Scrape {
            samples,
            text: text.to_owned(),
        })
    }

    /// The value of the series with exactly these labels (0 when absent: a counter not yet
    /// counted).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map_or(0.0, |(_, _, v)| *v)
    }
}

/// `k="v",k2="v2"` with `\"` and `\\` escapes.
fn labels_of(inner: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => value.push(chars.next()?.1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Some(labels)
}

/// GET `url`: status, headers, body.
async fn get(
    client: &awc::Client,
    url: &str,
) -> (StatusCode, awc::http::header::HeaderMap, String) {
    let mut res = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let body = res.body().limit(1 << 22).await.unwrap();
    (
        res.status(),
        res.headers().clone(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn gate(client: &awc::Client, base: &str) -> String {
    let body = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    let mut res = client
        .post(format!("{base}/_sim/api/gate"))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let gate: Value = res.json().await.unwrap();
    gate["otpToken"].as_str().unwrap().to_owned()
}

async fn cert(client: &awc::Client, sim: &SimProcess, query: &str) -> String {
    let url = format!("{}/sso/vendorUserCertTonken?{query}", sim.https);
    let (_, _, body) = get(client, &url).await;
    serde_json::from_str::<Value>(&body).unwrap()["resultCode"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn scrape(client: &awc::Client, sim: &SimProcess) -> Scrape {
    let (status, headers, body) = get(client, &format!("{}/_sim/metrics", sim.http)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kind = headers.get("content-type").unwrap().to_str().unwrap();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    Scrape::parse(&body).unwrap_or_else(|e| panic!("{e}:\n{body}"))
}

#[actix_web::test]
async fn the_metrics_parse_as_prometheus_text_and_count_the_calls_made() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &["--replica-id", "qa-a"])
        .await
        .unwrap();
    let client = sim.client(data.path());
    let token = gate(&client, &sim.http).await;
    let before = scrape(&client, &sim).await;
    let issued = [("vendor", "VR000216")];
    assert_eq!(
        before.value("sim_tokens_issued_total", &issued),
        1.0,
        "{}",
        before.text
    );
    assert_eq!(before.value("sim_tokens_live", &[]), 1.0, "{}", before.text);

    assert_eq!(
        cert(&client, &sim, &format!("otpTokenp={token}")).await,
        "OK"
    );
    assert_eq!(
        cert(&client, &sim, &format!("otpTokenp={token}")).await,
        "404"
    );
    assert_eq!(cert(&client, &sim, "otpTokenp=").await, "400");
    let after = scrape(&client, &sim).await;
    let answers = |result, vendor| {
        after.value(
            "sim_cert_answers_total",
            &[("result", result), ("vendor", vendor)],
        )
    };
    assert_eq!(answers("OK", "VR000216"), 1.0, "{}", after.text);
    assert_eq!(answers("404", "VR000216"), 1.0, "{}", after.text);
    assert_eq!(answers("400", "none"), 1.0, "{}", after.text);
    assert_eq!(after.value("sim_tokens_live", &[]), 0.0, "{}", after.text);
    let cert_2xx = [("endpoint", "cert"), ("status", "2xx")];
    let timed = after.value("sim_http_request_duration_seconds_count", &cert_2xx);
    assert_eq!(timed, 3.0, "{}", after.text);
    let within = after.value(
        "sim_http_request_duration_seconds_bucket",
        &[("endpoint", "cert"), ("status", "2xx"), ("le", "+Inf")],
    );
    assert_eq!(within, 3.0, "{}", after.text);
    assert!(after.text.contains("sim_build_info{"), "{}", after.text);
    assert!(after.text.contains("replica=\"qa-a\""), "{}", after.text);

    // A GATE: one more token issued, one live; a fault applied is counted by its endpoint.
    gate(&client, &sim.http).await;
    let fault = json!({"endpoint": "check", "count": 1, "kind": "delay", "delayMs": 10});
    let added = client
        .post(format!("{}/_sim/api/faults", sim.http))
        .send_json(&fault)
        .await;
    assert!(added.unwrap().status().is_success());
    get(
        &client,
        &format!("{}/sso/vendorUserCheck?cmpyCd=J01", sim.https),
    )
    .await;
    let last = scrape(&client, &sim).await;
    assert_eq!(
        last.value("sim_tokens_issued_total", &issued),
        2.0,
        "{}",
        last.text
    );
    assert_eq!(last.value("sim_tokens_live", &[]), 1.0, "{}", last.text);
    let faults = last.value("sim_faults_applied_total", &[("endpoint", "check")]);
    assert_eq!(faults, 1.0, "{}", last.text);
    let checks = last.value(
        "sim_checkurl_answers_total",
        &[("result", "N"), ("vendor", "none")],
    );
    assert_eq!(checks, 1.0, "{}", last.text);
}

#[actix_web::test]
async fn beyond_loopback_the_metrics_need_the_control_token() {
    let app = spawn_app_with(|s| {
        s.http_addr = "0.0.0.0:0".parse().unwrap();
        s.control_token = None;
    })
    .await;
    let token = app
        .state
        .config
        .control_token
        .clone()
        .expect("a token is generated");
    let url = format!("{}/_sim/metrics", app.http);
    let bare = app.send(app.client().get(&url), None).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    let wrong = app
        .client()
        .get(&url)
        .insert_header(("authorization", "Bearer nope"));
    assert_eq!(app.send(wrong, None).await.status, StatusCode::UNAUTHORIZED);
    let right = app
        .client()
        .get(&url)
        .insert_header(("authorization", format!("Bearer {token}")));
    let r = app.send(right, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("# TYPE "), "{}", r.text());
    // Version and health stay public.
    let version = app
        .send(app.client().get(format!("{}/_sim/version", app.http)), None)
        .await;
    assert_eq!(version.status, StatusCode::OK);
}

#[actix_web::test]
async fn every_answer_names_its_replica_as_do_healthz_version_and_the_journal() {
    let app = spawn_app_with(|s| s.replica_id = Some("qa-7".into())).await;
    let token = app.token().await;
    let r = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(r.result_code(), "OK");
    for reply in [
        r,
        app.get_http("/no/such/route").await,
        app.get_http("/_sim/healthz").await,
    ] {
        assert_eq!(reply.header("x-sim-replica").as_deref(), Some("qa-7"));
    }
    assert_eq!(
        app.get_http("/_sim/healthz").await.json()["replica"],
        "qa-7"
    );
    let version = app.get_http("/_sim/version").await.json();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["store"], "memory");
    assert_eq!(version["replica"], "qa-7");
    // What a helper connecting to a running simulator learns its URLs from.
    let port = app.https.rsplit(':').next().unwrap();
    assert_eq!(version["cusUrl"], format!("https://localhost:{port}"));
    assert_eq!(version["httpUrl"], app.http);
    assert!(version["commit"].is_null() || version["commit"].as_str().unwrap().len() >= 7);
    let events = app.journal_events().await;
    assert!(events.len() >= 2);
    for e in events {
        assert_eq!(e.replica.as_deref(), Some("qa-7"), "{e:?}");
        let shown = serde_json::to_value(&*e).unwrap();
        assert_eq!(shown["replica"], "qa-7");
        // The journal's times say their offset (KST).
        assert!(shown["at"].as_str().unwrap().ends_with("+09:00"), "{shown}");
    }
    // Without --replica-id: the host's name and a random suffix, different for each.
    let (a, b) = (spawn_app().await, spawn_app().await);
    let (ra, rb) = (&a.state.config.replica, &b.state.config.replica);
    assert_ne!(ra, rb);
    assert!(ra.len() > 5 && ra.as_bytes()[ra.len() - 5] == b'-', "{ra}");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn on_one_redis_the_gate_event_names_the_replica_that_issued_and_the_cert_event_the_one_that_redeemed(
) {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let url = redis.url();
    let a = SimProcess::start(data.path(), &["--store", &url, "--replica-id", "replica-a"])
        .await
        .unwrap();
    let b = SimProcess::start(data.path(), &["--store", &url])
        .await
        .unwrap();
    let client = a.client(data.path());
    let replica_of = |headers: &awc::http::header::HeaderMap| {
        headers
            .get("x-sim-replica")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let (_, via_a, _) = get(&client, &format!("{}/_sim/version", a.http)).await;
    let (_, via_b, version) = get(&client, &format!("{}/_sim/version", b.http)).await;
    assert_eq!(replica_of(&via_a), "replica-a");
    let b_id = replica_of(&via_b);
    assert_ne!(b_id, "replica-a");
    let version: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(
        (version["store"].as_str(), version["replica"].as_str()),
        (Some("redis"), Some(b_id.as_str()))
    );

    let token = gate(&client, &a.http).await;
    assert_eq!(cert(&client, &b, &format!("otpTokenp={token}")).await, "OK");
    // Either replica reads the shared journal, each event with the replica that recorded it.
    // (Another replica's events arrive when its writer's round trip is done.)
    for reader in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (events, body) = loop {
            let (_, _, body) = get(&client, &format!("{}/_sim/api/journal", reader.http)).await;
            let events: Value = serde_json::from_str(&body).unwrap();
            let events = events
                .as_array()
                .cloned()
                .unwrap_or_else(|| panic!("{body}"));
            let both = ["gate", "cert"]
                .iter()
                .all(|k| events.iter().any(|e| e["type"] == *k));
            if both || Instant::now() > deadline {
                break (events, body);
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        };
        let of = |kind: &str| {
            events
                .iter()
                .find(|e| e["type"] == kind)
                .unwrap_or_else(|| panic!("{body}"))
        };
        assert_eq!(of("gate")["replica"], "replica-a", "{body}");
        assert_eq!(of("cert")["replica"], b_id.as_str(), "{body}");
    }
}

#[actix_web::test]
async fn json_log_lines_are_flat_objects_and_each_request_has_a_line() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(
        data.path(),
        &["--log-format", "json", "--replica-id", "qa-j"],
    )
    .await
    .unwrap();
    let client = sim.client(data.path());
    get(
        &client,
        &format!("{}/_sim/version?x=secret-query", sim.http),
    )
    .await;
    let log = sim.flushed_log(None).await;
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for line in &lines {
        let object = line.as_object().unwrap_or_else(|| panic!("{line}"));
        assert!(
            object.values().all(|v| !v.is_object() && !v.is_array()),
            "flat: {line}"
        );
        let ts = line["ts"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert!(ts.ends_with('Z'), "{line}");
        chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        assert!(["info", "warn", "error", "debug"].contains(&line["level"].as_str().unwrap()));
        assert!(line["msg"].is_string(), "{line}");
    }
    assert!(lines
        .iter()
        .any(|l| l["msg"].as_str().unwrap().contains("benecafe-sim ready")));
    let request = lines
        .iter()
        .find(|l| l["path"] == "/_sim/version")
        .unwrap_or_else(|| panic!("no request line: {log}"));
    assert_eq!(request["method"], "GET");
    assert_eq!(request["status"], 200);
    assert_eq!(request["replica"], "qa-j");
    assert!(request["latency_ms"].as_f64().unwrap() >= 0.0, "{request}");
    assert!(!log.contains("secret-query"), "no query in a request line");
}

#[actix_web::test]
async fn under_a_burst_request_lines_are_sampled_and_the_sampling_said() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = awc::Client::default();
    let url = format!("{}/_sim/version", sim.http);
    let requests_line = |log: &str| {
        log.lines()
            .filter(|l| l.contains("request answered"))
            .count()
    };
    let sampled = |log: &str| log.contains("sampled_one_in") || log.contains("without a line");
    let started = Instant::now();
    let mut sent = 0;
    // Bursts of 400 until the sampling shows (past 50 lines in one second).
    while !sampled(&sim.log_text()) && sent < 4000 {
        let burst = (0..400).map(|_| get(&client, &url));
        futures_util::future::join_all(burst).await;
        sent += 400;
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let log = sim.flushed_log(None).await;
    assert!(sampled(&log), "{sent} requests and no sampling said");
    let seconds = started.elapsed().as_secs() + 2;
    let lines = requests_line(&log);
    // 50 a second one by one, then one in 1000 (and a few lines of the test's own).
    let bound = seconds as usize * 50 + sent / 1000 + seconds as usize + 20;
    assert!(
        lines <= bound,
        "{lines} request lines for {sent} requests in {seconds} s"
    );
    assert!(lines < sent, "{lines} request lines for {sent} requests");
}
