//! Redis stalls and losses in the middle of a call, as a shared QA environment meets them: two
//! simulator processes on one real `redis-server`, which the test pauses (SIGSTOP) while a call
//! waits on it, or restarts empty. A call answered 503 changes nothing (the token and the fault
//! are still there for the retry, through either replica), the journal holds the 503 call, and
//! the log holds the outage's start, its end and the tokens an empty Redis lost. A proxy that
//! holds Redis's replies shows the rarer case: a redemption run in time whose answer was lost is
//! taken back by the replica that answered 503.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{RedisServer, SimProcess};
use crate::replicas::{call, cert, gate, replicas};

/// Waits until `sim`'s log holds `needle`, for ten seconds at most.
async fn log_holds(sim: &SimProcess, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = sim.log_text();
        if log.contains(needle) || Instant::now() > deadline {
            return log;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Calls each replica's cert endpoint 16 times at once, so that every worker thread of each
/// holds its connection to Redis (made at its first call): a call while Redis is held then
/// sends its script, which Redis runs late, rather than failing to connect.
async fn warm(client: &awc::Client, sims: [&SimProcess; 2]) {
    let calls = (0..32).map(|i| {
        let sim = sims[i % 2];
        async move {
            let r = cert(client, sim, &"0".repeat(64)).await;
            assert_eq!(r.result_code(), "404", "{}", r.body);
        }
    });
    futures_util::future::join_all(calls).await;
}

/// The cert events of `token` in the journal read through `sim`, once there are `count` (five
/// seconds at most: another replica's events arrive when its writer reaches Redis).
async fn cert_events(
    client: &awc::Client,
    sim: &SimProcess,
    token: &str,
    count: usize,
) -> Vec<Value> {
    let url = format!("{}/_sim/api/journal?endpoint=cert", sim.http);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = call(client, "GET", &url, None).await.json();
        let events: Vec<Value> = events
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["otpToken"] == token)
            .cloned()
            .collect();
        if events.len() >= count || Instant::now() > deadline {
            return events;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How the test holds Redis while calls wait on it.
#[derive(Clone, Copy)]
enum Hold {
    /// SIGSTOP, then SIGCONT.
    Pause,
    /// Busy with a script for three seconds.
    Stall,
}

struct Held(Option<std::process::Child>);

impl Hold {
    fn start(self, redis: &RedisServer) -> Held {
        match self {
            Hold::Pause => {
                redis.pause();
                Held(None)
            }
            Hold::Stall => Held(Some(redis.stall(3000))),
        }
    }
}

impl Held {
    fn end(self, redis: &RedisServer) {
        match self.0 {
            None => redis.resume(),
            Some(mut stall) => {
                stall.wait().expect("the stalling script ends");
            }
        }
    }
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_cert_call_answered_503_while_redis_is_paused_leaves_the_token_for_the_retry() {
    answered_503_leaves_the_token(Hold::Pause).await;
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_cert_call_answered_503_while_redis_is_stalled_leaves_the_token_for_the_retry() {
    answered_503_leaves_the_token(Hold::Stall).await;
}

async fn answered_503_leaves_the_token(hold: Hold) {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    let token = gate(&client, &a).await;
    let others: Vec<String> = [gate(&client, &a).await, gate(&client, &b).await].into();

    warm(&client, [&a, &b]).await;
    // Held while calls wait on it: Redis runs their scripts when it resumes, after the
    // replicas gave up on them.
    let held = hold.start(&redis);
    let during = others.iter().enumerate().map(|(i, t)| {
        let (client, sim) = (&client, if i % 2 == 0 { &a } else { &b });
        async move { cert(client, sim, t).await.status }
    });
    let (first, during) = tokio::join!(
        cert(&client, &a, &token),
        futures_util::future::join_all(during)
    );
    held.end(&redis);
    assert_eq!(
        first.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        first.body
    );
    assert_eq!(first.result_code(), "503");
    assert!(during.iter().all(|s| *s == StatusCode::SERVICE_UNAVAILABLE));

    // The retry, through the other replica: OK exactly once, then 404 through either. The
    // tokens of the other paused calls too, each with many tries at once over both replicas.
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
    assert_eq!(cert(&client, &a, &token).await.result_code(), "404");
    assert_eq!(cert(&client, &b, &token).await.result_code(), "404");
    for t in &others {
        let tries = (0..20).map(|i| {
            let (client, sim) = (&client, if i % 2 == 0 { &a } else { &b });
            async move { cert(client, sim, t).await.result_code() }
        });
        let codes = futures_util::future::join_all(tries).await;
        assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 1, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| *c == "404").count(), 19);
    }

    // On record: the 503 call in the journal (held by replica a while Redis was out, written
    // when it was back), with its reason, before the retry's OK; the outage in a's log.
    let mut of_token = cert_events(&client, &b, &token, 4).await;
    // By when they happened: a held event is numbered when it is written.
    of_token.sort_by_key(|e| e["atMs"].as_u64());
    let codes: Vec<&str> = of_token
        .iter()
        .map(|e| e["resultCode"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(codes, ["503", "OK", "404", "404"], "{of_token:#?}");
    assert_eq!(of_token[0]["httpStatus"], 503);
    let reason = of_token[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("Redis") && reason.contains("not used"),
        "{reason}"
    );
    let log = log_holds(&a, "store back").await;
    assert!(log.contains("store unreachable"), "{log}");
    assert!(log.contains("store back"), "{log}");
    assert_eq!(log.matches("store unreachable").count(), 1, "{log}");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_fault_met_by_a_call_answered_503_is_still_there_for_the_retry() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    let token = gate(&client, &a).await;
    warm(&client, [&a, &b]).await;
    let fault = json!({"endpoint": "cert", "count": 1, "kind": "resultCode", "resultCode": "403"});
    let r = call(
        &client,
        "POST",
        &format!("{}/_sim/api/faults", a.http),
        Some(fault),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    redis.pause();
    let paused = cert(&client, &a, &token).await;
    redis.resume();
    assert_eq!(
        paused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        paused.body
    );

    // The fault for the next call is met by the next call answered: the retry.
    assert_eq!(cert(&client, &b, &token).await.result_code(), "403");
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
    assert_eq!(cert(&client, &a, &token).await.result_code(), "404");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn redis_back_empty_is_a_warning_naming_the_live_tokens_lost() {
    let mut redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    for sim in [&a, &b, &a] {
        gate(&client, sim).await;
    }
    // Health reads the live count from Redis: each replica has counted all three.
    for sim in [&a, &b] {
        let health = call(&client, "GET", &format!("{}/_sim/healthz", sim.http), None).await;
        assert_eq!(health.json()["liveTokens"], 3, "{}", health.body);
    }
    redis.stop();
    redis.restart().await; // no persistence: empty
    let token = gate(&client, &b).await;
    assert_eq!(cert(&client, &a, &token).await.result_code(), "OK");
    // One replica found it empty and seeded it: it names the tokens lost; the other does not
    // say it again.
    let (la, lb) = (
        log_holds(&a, "came back empty").await,
        log_holds(&b, "came back empty").await,
    );
    let warnings: Vec<&str> = la
        .lines()
        .chain(lb.lines())
        .filter(|l| l.contains("came back empty"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("3 live tokens lost"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
}

/// A TCP proxy in front of Redis that can hold Redis's replies (and only them): a command goes
/// through and runs, its answer waits, as when the way back is slow or the connection hangs.
struct ReplyHold {
    port: u16,
    hold: tokio::sync::watch::Sender<bool>,
}

impl ReplyHold {
    fn start(redis_port: u16) -> ReplyHold {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (hold, held) = tokio::sync::watch::channel(false);
        actix_web::rt::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((client, _)) = listener.accept().await {
                let upstream = tokio::net::TcpStream::connect(("127.0.0.1", redis_port))
                    .await
                    .unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                actix_web::rt::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut uw).await;
                });
                let mut held = held.clone();
                actix_web::rt::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let Ok(n) = ur.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        // Held: the bytes wait until the hold is lifted.
                        while *held.borrow_and_update() {
                            if held.changed().await.is_err() {
                                return;
                            }
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        ReplyHold { port, hold }
    }

    fn set(&self, on: bool) {
        self.hold.send_replace(on);
    }
}

/// Redis runs `a`'s redemption of `token` (its keys under `prefix`) in time, but the proxy holds
/// the answer: `a` answers 503. Once a hears from Redis again, it takes the redemption back.
async fn lose_and_take_back(
    client: &awc::Client,
    a: &SimProcess,
    proxy: &ReplyHold,
    redis: &RedisServer,
    token: &str,
    prefix: &str,
) {
    proxy.set(true);
    let lost = cert(client, a, token).await;
    assert_eq!(
        lost.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        lost.body
    );
    let used_at = || redis.cli(&["HGET", &format!("{prefix}t:{token}"), "u"]);
    assert!(!used_at().is_empty(), "Redis ran the redemption");
    proxy.set(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !used_at().is_empty() && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(used_at(), "", "the redemption was taken back");
}

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_redemption_whose_answer_was_lost_is_taken_back_by_its_replica() {
    let redis = RedisServer::start(false).await;
    let proxy = ReplyHold::start(redis.port);
    let data = tempfile::tempdir().unwrap();
    // Replica a reaches Redis through the proxy, b directly.
    let through = format!("redis://127.0.0.1:{}/0", proxy.port);
    let a = SimProcess::start(data.path(), &["--store", &through])
        .await
        .unwrap();
    let b = SimProcess::start(data.path(), &["--store", &redis.url()])
        .await
        .unwrap();
    let client = a.client(data.path());
    let token = gate(&client, &a).await;
    warm(&client, [&a, &b]).await;

    // Redis runs a's script in time and uses the token; its answer never reaches a in time,
    // and a takes the redemption back once it hears from Redis again.
    lose_and_take_back(&client, &a, &proxy, &redis, &token, "bsim:").await;
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
    assert_eq!(cert(&client, &a, &token).await.result_code(), "404");
    let log = log_holds(&a, "taken back").await;
    assert!(log.contains("taken back"), "{log}");

    // The same for a sandbox's token: the replica's housekeeping takes back a sandbox's
    // redemptions too (each names its sandbox's keys).
    let made = call(
        &client,
        "POST",
        &format!("{}/_sim/api/sandboxes", a.http),
        None,
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.json()["id"].as_str().unwrap().to_owned();
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    let mut res = client
        .post(format!("{}/_sim/api/gate", a.http))
        .insert_header(("X-Sim-Sandbox", id.as_str()))
        .send_json(&ask)
        .await
        .unwrap();
    let gate: Value = res.json().await.unwrap();
    let token = gate["otpToken"].as_str().unwrap().to_owned();
    let prefix = format!("bsim:sb:{id}:");
    lose_and_take_back(&client, &a, &proxy, &redis, &token, &prefix).await;
    assert_eq!(cert(&client, &b, &token).await.result_code(), "OK");
}
