//! The Redis store's own cases, beyond the behaviour both stores share (`store.rs`): reads under
//! load, the live-token maximum of 0, a reset of thousands of tokens with no `KEYS`, under a
//! user whose ACL allows only the simulator's keys, faults that cannot be read back, and what a
//! paused Redis runs after the replica gave up (nothing changes).
//!
//! They start their own `redis-server` (Debian's package) on a free port; a plain `cargo test`
//! lists them as ignored, `.ci/run` runs them with `--include-ignored`.

use benecafe_sim::domain::event::EventKind;
use benecafe_sim::store::{Store, StoreError, StoreKind, StoreOptions};

use crate::helpers::RedisServer;
use crate::store::{fixtures, grant, ip, now, options, redis, visit, LOCAL};

/// A journal read while events keep coming answers once its own events are written, not when
/// the stream of events ends.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_journal_read_under_steady_recording_answers_at_once() {
    let server = RedisServer::start(false).await;
    let store = redis(&server).await;
    let recording = async {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(1500);
        while std::time::Instant::now() < until {
            for _ in 0..20 {
                store.record(
                    now(),
                    EventKind::Login {
                        via: "login".into(),
                        cmpy_cd: "J01".into(),
                        mbr_id: "steady".into(),
                        cust_id: None,
                        result: "refused".into(),
                        reason: "load".into(),
                        location: None,
                    },
                );
            }
            tokio::task::yield_now().await;
        }
    };
    let reading = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        let read = tokio::time::timeout(std::time::Duration::from_secs(1), store.journal()).await;
        (
            read.map(|r| r.map(|events| events.len())),
            started.elapsed(),
        )
    };
    let ((), (read, took)) = futures_util::future::join(recording, reading).await;
    let events = read.expect("the read answered within a second").unwrap();
    assert!(
        events > 0,
        "it saw the events recorded before it ({took:?})"
    );
}

/// A live-token maximum of 0 refuses issuing at once (it does not draw token after token).
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_maximum_of_zero_live_tokens_refuses_at_once() {
    let server = RedisServer::start(false).await;
    let options = StoreOptions {
        max_live_tokens: 0,
        ..options()
    };
    let store = Store::open(&StoreKind::Redis(server.url()), &fixtures(), options)
        .await
        .unwrap();
    let g = grant(&store, "VR000216").await;
    let issued = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        store.issue(g, now(), now() + 60_000),
    )
    .await
    .expect("answered");
    assert!(matches!(issued, Err(StoreError::Full(0))), "{issued:?}");
}

/// A reset forgets every token however many there are, without `KEYS` (which blocks every
/// replica and which key-pattern ACLs and Redis Cluster refuse): the reset script starts a new
/// generation, so every older token is unknown at once, and the keys are then found with
/// `SCAN` and removed a few hundred at a time. Run as a user allowed only the simulator's keys
/// and denied `KEYS`; the other replicas see the fresh directory at their next call.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_reset_forgets_thousands_of_tokens_for_every_replica_without_keys() {
    let server = RedisServer::start(false).await;
    server.cli(&[
        "ACL",
        "SETUSER",
        "sim",
        "on",
        ">sim-secret",
        "~bsim:*",
        "&*",
        "+@all",
        "-keys",
    ]);
    let url = format!("redis://sim:sim-secret@127.0.0.1:{}/0", server.port);
    let seed = fixtures();
    let mut stores = Vec::new();
    for _ in 0..2 {
        let options = StoreOptions {
            max_live_tokens: 10_000,
            ..options()
        };
        let kind = StoreKind::Redis(url.clone());
        stores.push(Store::open(&kind, &seed, options).await.unwrap());
    }
    let (a, b) = (&stores[0], &stores[1]);
    let g = grant(a, "VR000216").await;
    let mut tokens = Vec::new();
    for _ in 0..2_500 {
        tokens.push(a.issue(g.clone(), now(), now() + 60_000).await.unwrap());
    }
    b.update_directory(|d| Ok::<_, ()>(d.remove_vendor("VR000452")))
        .await
        .unwrap()
        .unwrap();
    a.reset(&fixtures()).await.unwrap();
    assert_eq!(
        server.cli(&["EVAL", "return #redis.call('KEYS', 'bsim:t:*')", "0"]),
        "0",
        "no token key is left"
    );
    assert!(
        server.cli(&["ACL", "LOG"]).is_empty(),
        "nothing was refused to the simulator's user"
    );
    assert_eq!(b.live_tokens().await.unwrap(), 0);
    assert_eq!(visit(b, &tokens[2_499], LOCAL).await, "unknown");
    let v = b.cert_visit(None, ip(LOCAL), now()).await.unwrap();
    assert!(
        v.dir.vendor("VR000452").is_some(),
        "b reads the reset directory"
    );
}

/// Faults are read in one script, and a fault that does not read back (an endpoint or kind
/// this version does not know, left by another version or written by hand) is an error, never
/// taken for a cert fault.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn faults_that_cannot_be_read_back_are_refused_not_guessed() {
    let server = RedisServer::start(false).await;
    let store = redis(&server).await;
    assert!(store.faults().await.unwrap().is_empty());
    server.cli(&["RPUSH", "bsim:faults", "7"]);
    server.cli(&[
        "HSET",
        "bsim:fault:7",
        "e",
        "checkout",
        "a",
        "0",
        "k",
        r#"{"kind":"http500"}"#,
    ]);
    let read = store.faults().await;
    assert!(
        matches!(&read, Err(StoreError::Unavailable(why)) if why.contains("unknown endpoint")),
        "{read:?}"
    );
    server.cli(&[
        "HSET",
        "bsim:fault:7",
        "e",
        "cert",
        "k",
        r#"{"kind":"teapot"}"#,
    ]);
    let read = store.faults().await;
    assert!(
        matches!(&read, Err(StoreError::Unavailable(why)) if why.contains("kind")),
        "{read:?}"
    );
    server.cli(&["HSET", "bsim:fault:7", "k", r#"{"kind":"http500"}"#]);
    let read = store.faults().await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].id, 7);
}

/// A stored fault is read as typed as one asked for: a resultCode this version does not know
/// (written by hand, or by another version) is an error naming it, not a 401.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_stored_fault_with_an_unknown_result_code_is_refused_not_taken_for_401() {
    let server = RedisServer::start(false).await;
    let store = redis(&server).await;
    server.cli(&["RPUSH", "bsim:faults", "8"]);
    server.cli(&[
        "HSET",
        "bsim:fault:8",
        "e",
        "cert",
        "a",
        "0",
        "k",
        r#"{"kind":"resultCode","resultCode":"999"}"#,
    ]);
    let read = store.faults().await;
    assert!(
        matches!(&read, Err(StoreError::Unavailable(why)) if why.contains("\"999\"")),
        "{read:?}"
    );
    // What this version writes reads back.
    server.cli(&[
        "HSET",
        "bsim:fault:8",
        "k",
        r#"{"kind":"resultCode","resultCode":"403"}"#,
    ]);
    let read = store.faults().await.unwrap();
    assert_eq!(serde_json::to_value(&read[0]).unwrap()["resultCode"], "403");
}

/// Issuing a token and adding a fault while Redis is paused (SIGSTOP) fail after the reply
/// timeout, and Redis, resumed, runs the scripts it received meanwhile: past their deadline,
/// they change nothing. No token nobody was given, no fault nobody was told of.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn what_a_paused_redis_runs_after_the_replica_gave_up_changes_nothing() {
    use benecafe_sim::domain::fault::{Endpoint, FaultKind, FaultSpec};
    let server = RedisServer::start(false).await;
    let store = redis(&server).await;
    let g = grant(&store, "VR000216").await;
    let spec = || {
        FaultSpec::new(
            Endpoint::Cert,
            None,
            std::num::NonZeroU64::new(1),
            FaultKind::Drop {},
        )
        .unwrap()
    };
    // Once each first, so that Redis holds both scripts (else it would refuse the paused ones
    // as unknown, and the test would show nothing) and the connection is made.
    let first = store.issue(g.clone(), now(), now() + 60_000).await.unwrap();
    let fault = store.add_fault(spec()).await.unwrap();
    store.remove_fault(fault.id).await.unwrap();
    server.pause();
    let issued = store.issue(g, now(), now() + 60_000).await;
    let added = store.add_fault(spec()).await;
    server.resume();
    assert!(
        matches!(issued, Err(StoreError::Unavailable(_))),
        "{issued:?}"
    );
    assert!(
        matches!(added, Err(StoreError::Unavailable(_))),
        "{added:?}"
    );
    // Redis has run both scripts by the time it answers these (one connection, in order).
    assert_eq!(store.live_tokens().await.unwrap(), 1);
    assert!(store.faults().await.unwrap().is_empty());
    assert_eq!(server.cli(&["KEYS", "bsim:t:*"]), format!("bsim:t:{first}"));
}

/// More expired tokens than Lua can unpack at once (about 8,000) are swept in chunks: the live
/// count still answers, and says 0.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn ten_thousand_tokens_expiring_at_once_are_swept_and_counted() {
    let server = RedisServer::start(false).await;
    let store = Store::open(
        &StoreKind::Redis(server.url()),
        &fixtures(),
        StoreOptions {
            max_live_tokens: 20_000,
            ..options()
        },
    )
    .await
    .unwrap();
    let g = grant(&store, "VR000216").await;
    let expires = now() + 1_000;
    let issues = (0..10_000).map(|_| store.issue(g.clone(), now(), expires));
    for issued in futures_util::future::join_all(issues).await {
        issued.unwrap();
    }
    while now() <= expires {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.live_tokens().await.unwrap(), 0);
    assert_eq!(server.cli(&["ZCARD", "bsim:live"]), "0");
}
