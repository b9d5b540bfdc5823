//! A shared QA environment: two simulator processes (the real binary) on one real Redis, as two
//! replicas behind a load balancer. One truth: a token is used once through either, and what
//! is changed through one acts on the other; Redis out of reach gives 503 and nothing
//! half-written, and the replicas serve again when it is back, without a restart.
//!
//! The Redis cases start their own `redis-server` (Debian's package) on a free port; a plain
//! `cargo test` lists them as ignored, `.ci/run` runs them with `--include-ignored`.

use std::path::Path;
use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{RedisServer, SimProcess};

/// Two replicas on `redis`, sharing one data folder (one CA, as on a shared volume).
pub(crate) async fn replicas(
    redis: &RedisServer,
    data: &Path,
    extra: &[&str],
) -> (SimProcess, SimProcess) {
    let store = redis.url();
    let mut args = vec!["--store", store.as_str()];
    args.extend_from_slice(extra);
    let a = SimProcess::start(data, &args)
        .await
        .expect("replica a starts");
    let b = SimProcess::start(data, &args)
        .await
        .expect("replica b starts");
    (a, b)
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn result_code(&self) -> String {
        self.json()["resultCode"].as_str().unwrap_or("-").to_owned()
    }
}

pub(crate) async fn call(
    client: &awc::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Answer {
    let req = client.request(method.parse().unwrap(), url);
    let mut res = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let body = res.body().limit(1 << 22).await.unwrap();
    Answer {
        status: res.status(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub(crate) async fn gate(client: &awc::Client, sim: &SimProcess) -> String {
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    let r = call(
        client,
        "POST",
        &format!("{}/_sim/api/gate", sim.http),
        Some(ask),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["otpToken"].as_str().unwrap().to_owned()
}

pub(crate) async fn cert(client: &awc::Client, sim: &SimProcess, token: &str) -> Answer {
    let url = format!("{}/sso/vendorUserCertTonken?otpTokenp={token}", sim.https);
    call(client, "GET", &url, None).await
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_token_issued_through_one_replica_is_used_once_through_any() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());

    let token = gate(&client, &a).await;
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
    assert_eq!(cert(&client, &b, &token).await.result_code(), "404");
    assert_eq!(cert(&client, &a, &token).await.result_code(), "404");

    // 200 concurrent uses of one token, spread over both: exactly one OK.
    let token = gate(&client, &b).await;
    let tries = (0..200).map(|i| {
        let (client, sim, token) = (&client, if i % 2 == 0 { &a } else { &b }, &token);
        async move { cert(client, sim, token).await.result_code() }
    });
    let codes = futures_util::future::join_all(tries).await;
    assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "404").count(),
        199,
        "{codes:?}"
    );

    // The journal read through either replica holds the calls made through both (another
    // replica's events arrive within its writer's round trip).
    let url = format!("{}/_sim/api/journal?endpoint=cert", a.http);
    let mut seen = 0;
    for _ in 0..50 {
        let journal = call(&client, "GET", &url, None).await.json();
        seen = journal.as_array().map_or(0, Vec::len);
        if seen >= 203 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 203);
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn what_is_changed_through_one_replica_acts_on_the_other() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());

    // A member changed through a: b's cert answer carries the new name.
    let r = call(
        &client,
        "PATCH",
        &format!("{}/_sim/api/members/J01A00038745", a.http),
        Some(json!({"mbrNm": "김복지"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = gate(&client, &b).await;
    let user = cert(&client, &a, &token).await.json();
    assert_eq!(user["resultMap"]["user"]["mbrNm"], "김복지");

    // A consent recorded through b is in a's answer (agrDts).
    let r = call(
        &client,
        "PUT",
        &format!("{}/_sim/api/consents/J01A00038745/VR000216", b.http),
        Some(json!({"agrDts": "2026-01-02 03:04:05.0"})),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    let token = gate(&client, &b).await;
    let user = cert(&client, &a, &token).await.json();
    assert_eq!(user["resultMap"]["user"]["agrDts"], "2026-01-02 03:04:05.0");

    // A fault for the next 2 cert calls, set through a: the next two calls through b meet it,
    // the third does not (2 in all, not 2 per replica).
    let fault = json!({"endpoint": "cert", "count": 2, "kind": "resultCode", "resultCode": "401"});
    let r = call(
        &client,
        "POST",
        &format!("{}/_sim/api/faults", a.http),
        Some(fault),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    let token = gate(&client, &a).await;
    assert_eq!(cert(&client, &b, &token).await.result_code(), "401");
    assert_eq!(cert(&client, &a, &token).await.result_code(), "401");
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
    let faults = call(&client, "GET", &format!("{}/_sim/api/faults", b.http), None).await;
    assert_eq!(faults.json(), json!([]));

    // A member logged in through a stays logged in through b (one cookie key).
    let cookie = sign_in(&a).await;
    let (status, page) = mall_page(&b, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("김복지"),
        "b's mall page shows the member: {page}"
    );

    // A reset through b is a reset for a too.
    let r = call(&client, "POST", &format!("{}/_sim/api/reset", b.http), None).await;
    assert!(r.status.is_success(), "{}", r.body);
    let members = call(
        &client,
        "GET",
        &format!("{}/_sim/api/members", a.http),
        None,
    )
    .await;
    assert!(!members.body.contains("김복지"), "{}", members.body);
    let journal = call(
        &client,
        "GET",
        &format!("{}/_sim/api/journal", a.http),
        None,
    )
    .await;
    assert_eq!(journal.json(), json!([]));
}

/// Signs member J01A00038745 in at `sim`'s login page; the session cookie (`name=value`).
async fn sign_in(sim: &SimProcess) -> String {
    let login = awc::Client::builder()
        .disable_redirects()
        .finish()
        .post(format!("{}/member/login", sim.http))
        .send_form(&[("cmpyNo", "J01"), ("custId", "J01A00038745")])
        .await
        .unwrap();
    login
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sim_member="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// `sim`'s mall page with `cookie`: its status and text (no redirect followed).
async fn mall_page(sim: &SimProcess, cookie: &str) -> (StatusCode, String) {
    let mut mall = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(format!("{}/mall", sim.http))
        .insert_header(("Cookie", cookie.to_owned()))
        .send()
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&mall.body().await.unwrap()).into_owned();
    (mall.status(), page)
}

async fn health(client: &awc::Client, sim: &SimProcess) -> StatusCode {
    call(client, "GET", &format!("{}/_sim/healthz", sim.http), None)
        .await
        .status
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn redis_out_of_reach_gives_503_and_the_replicas_recover_by_themselves() {
    let mut redis = RedisServer::start(true).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    let before = gate(&client, &a).await;
    let used = gate(&client, &a).await;
    assert_eq!(cert(&client, &b, &used).await.result_code(), "OK");

    redis.stop();
    let r = cert(&client, &b, &before).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.result_code(), "503");
    assert!(
        r.json()["message"].as_str().unwrap().contains("Redis"),
        "{}",
        r.body
    );
    let api = call(&client, "GET", &format!("{}/_sim/api/faults", a.http), None).await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(api.json()["error"].is_string(), "{}", api.body);
    let issue = call(
        &client,
        "POST",
        &format!("{}/_sim/api/gate", a.http),
        Some(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"})),
    )
    .await;
    assert_eq!(
        issue.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        issue.body
    );
    assert_eq!(health(&client, &a).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health(&client, &b).await, StatusCode::SERVICE_UNAVAILABLE);

    // Back: both serve again without a restart; the token issued before the outage is used
    // exactly once, the one used before stays used.
    redis.restart().await;
    let mut healthy = false;
    for _ in 0..100 {
        if health(&client, &a).await == StatusCode::OK
            && health(&client, &b).await == StatusCode::OK
        {
            healthy = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "both replicas healthy again");
    assert_eq!(cert(&client, &a, &used).await.result_code(), "404");
    assert_eq!(cert(&client, &b, &before).await.result_code(), "OK");
    assert_eq!(cert(&client, &a, &before).await.result_code(), "404");
    let fresh = gate(&client, &b).await;
    assert_eq!(cert(&client, &a, &fresh).await.result_code(), "OK");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_redis_that_comes_back_empty_is_seeded_again() {
    let mut redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    let r = call(
        &client,
        "DELETE",
        &format!("{}/_sim/api/vendors/VR000452", a.http),
        None,
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    redis.stop();
    redis.restart().await; // no persistence: empty
                           // The next call seeds the fixtures again: the vendor is back, tokens work.
    let token = gate(&client, &b).await;
    assert_eq!(cert(&client, &a, &token).await.result_code(), "OK");
    let vendors = call(
        &client,
        "GET",
        &format!("{}/_sim/api/vendors", a.http),
        None,
    )
    .await;
    assert!(vendors.body.contains("VR000452"), "{}", vendors.body);
    assert!(redis.cli(&["EXISTS", "bsim:dir"]) == "1");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_replica_started_while_redis_is_down_waits_and_then_serves() {
    let mut redis = RedisServer::start(false).await;
    redis.stop();
    let data = tempfile::tempdir().unwrap();
    let url = redis.url();
    let args = ["--store", url.as_str()];
    let starting = SimProcess::start(data.path(), &args);
    // Redis comes back once the replica has said it waits (its log is in the data folder).
    let waiting = data.path().to_owned();
    let restart = async {
        let said = || {
            std::fs::read_dir(&waiting).unwrap().flatten().any(|f| {
                std::fs::read_to_string(f.path()).is_ok_and(|l| l.contains("waiting for Redis"))
            })
        };
        for _ in 0..200 {
            if said() {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(said(), "the replica says it waits for Redis");
        redis.restart().await;
    };
    let (sim, ()) = futures_util::future::join(starting, restart).await;
    let sim = sim.expect("the replica serves once Redis is up");
    assert!(
        sim.log_text().contains("waiting for Redis"),
        "{}",
        sim.log_text()
    );
    let client = sim.client(data.path());
    let token = gate(&client, &sim).await;
    assert_eq!(cert(&client, &sim, &token).await.result_code(), "OK");
}

#[actix_web::test]
async fn a_store_that_is_not_redis_nor_memory_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    for (store, said) in [
        ("postgres://db", "not `memory`, nor a redis://"),
        ("redis://127.0.0.1:1/0 --state", "--state"),
    ] {
        let mut args: Vec<&str> = vec!["--store"];
        let mut parts = store.split(' ');
        args.push(parts.next().unwrap());
        let state = data.path().join("state.json");
        let state = state.to_str().unwrap().to_owned();
        if parts.next().is_some() {
            args.extend(["--state", &state]);
        }
        let log = SimProcess::start(data.path(), &args)
            .await
            .err()
            .expect("refused");
        assert!(log.contains(said), "{log}");
    }
}

/// With a control token, the cookie key follows from it: a member signed in through one
/// replica stays signed in through another even when Redis lost its data between their starts.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn with_a_control_token_sessions_survive_redis_losing_its_data() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let store = redis.url();
    let args = [
        "--store",
        store.as_str(),
        "--control-token",
        "shared-qa-token",
    ];
    let a = SimProcess::start(data.path(), &args)
        .await
        .expect("a starts");
    redis.cli(&["FLUSHALL"]);
    let b = SimProcess::start(data.path(), &args)
        .await
        .expect("b starts");
    let cookie = sign_in(&a).await;
    let (status, _) = mall_page(&b, &cookie).await;
    assert_eq!(status, StatusCode::OK, "b accepts a's session cookie");
}

/// The conformance kit through two replicas: a vendor added through one (on the built-in
/// partner's GATE), `conform --against` the other, every case passing: the run sees the
/// run-time vendor and the cert calls the replicas record in Redis.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn conform_against_one_replica_tests_a_vendor_added_through_the_other() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let vendor = json!({"vndrNo": "VRREPL", "vndrItwkInfoNo": "9", "name": "through replica a",
        "gateUrl": "/_sim/partner/gate", "allowedIps": ["127.0.0.1", "::1"]});
    let put = awc::Client::default()
        .put(format!("{}/_sim/api/vendors/VRREPL", a.http))
        .send_json(&vendor)
        .await
        .unwrap();
    assert!(put.status().is_success());
    let out = crate::conform_runs::run_binary(crate::conform_runs::os(&[
        "conform",
        "--against",
        &b.http,
        "--vendor",
        "VRREPL",
        "--timeout-seconds",
        "3",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
}
