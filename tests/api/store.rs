//! The storage seam's behaviour, one suite run against both stores (this process's memory and
//! a real Redis), so that the two cannot drift: one-time use, expiry, admission, the live-token
//! maximum, faults, directory changes, the journal, reset.
//!
//! The Redis cases start their own `redis-server` (Debian's package) on a free port; a plain
//! `cargo test` lists them as ignored, `.ci/run` runs them with `--include-ignored`.

use std::net::IpAddr;
use std::num::NonZeroU64;
use std::sync::Arc;

use benecafe_sim::domain::event::EventKind;
use benecafe_sim::domain::fault::{Endpoint, FaultKind, FaultSpec};
use benecafe_sim::domain::fixtures::Fixtures;
use benecafe_sim::domain::grant::{Grant, Redeem};
use benecafe_sim::domain::records::Consent;
use benecafe_sim::store::{Lookup, Store, StoreError, StoreKind, StoreOptions};

use crate::helpers::{shipped_fixtures, RedisServer};

pub(crate) const MAX_LIVE: usize = 50;

pub(crate) fn fixtures() -> Fixtures {
    Fixtures::load(&shipped_fixtures()).unwrap()
}

pub(crate) fn options() -> StoreOptions {
    StoreOptions {
        max_live_tokens: MAX_LIVE,
        retention_ms: 60_000,
        journal_capacity: 100,
        journal_max_bytes: 1 << 20,
        state: None,
        replica: "store-test".into(),
    }
}

pub(crate) async fn redis(server: &RedisServer) -> Store {
    Store::open(&StoreKind::Redis(server.url()), &fixtures(), options())
        .await
        .unwrap()
}

pub(crate) fn now() -> u64 {
    benecafe_sim::domain::clock::now_ms()
}

pub(crate) const LOCAL: &str = "127.0.0.1";
const STRANGER: &str = "203.0.113.10";

pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

pub(crate) async fn grant(store: &Store, vendor: &str) -> Grant {
    let dir = store.directory().await.unwrap();
    Grant {
        company: dir.company("J01").unwrap().0.clone(),
        customer_id: dir.member("J01A00038745").unwrap().0.clone(),
        vendor: dir.vendor(vendor).unwrap().0.clone(),
    }
}

async fn issue(store: &Store, lifetime_ms: u64) -> benecafe_sim::domain::OtpToken {
    let g = grant(store, "VR000216").await;
    let t = now();
    store.issue(g, t, t + lifetime_ms).await.unwrap()
}

fn used(lookup: &Lookup) -> &'static str {
    match lookup {
        Lookup::NotAsked => "not asked",
        Lookup::Unknown => "unknown",
        Lookup::Seen(_) => "seen",
        Lookup::Used(Redeem::Redeemed(_)) => "redeemed",
        Lookup::Used(Redeem::AlreadyUsed { .. }) => "already used",
        Lookup::Used(Redeem::Expired { .. }) => "expired",
        Lookup::Used(Redeem::Unknown) => "unknown",
    }
}

pub(crate) async fn visit(
    store: &Store,
    token: &benecafe_sim::domain::OtpToken,
    caller: &str,
) -> &'static str {
    let v = store
        .cert_visit(Some(token), ip(caller), now())
        .await
        .unwrap();
    used(&v.lookup)
}

/// One-time use, admission, expiry, unknown tokens, the live count.
async fn tokens(store: &Store) {
    let token = issue(store, 60_000).await;
    assert_eq!(store.live_tokens().await.unwrap(), 1);
    // A caller the vendor does not admit, or an unknown caller, leaves the token as it was.
    assert_eq!(visit(store, &token, STRANGER).await, "seen");
    let unknown_caller = store.cert_visit(Some(&token), None, now()).await.unwrap();
    assert_eq!(used(&unknown_caller.lookup), "seen");
    assert_eq!(unknown_caller.vendor.as_deref(), Some("VR000216"));
    assert!(store.peek(&token).await.unwrap().unwrap().used.is_none());
    // Used once, then "already used", by whom.
    assert_eq!(visit(store, &token, LOCAL).await, "redeemed");
    assert_eq!(visit(store, &token, LOCAL).await, "already used");
    let view = store.peek(&token).await.unwrap().unwrap();
    assert_eq!(view.used.unwrap().by, ip(LOCAL).unwrap());
    assert_eq!(store.live_tokens().await.unwrap(), 0);
    // Expired: 401's path, and still not usable.
    let old = issue(store, 60_000).await;
    assert!(store.expire(&old, now()).await.unwrap());
    assert_eq!(visit(store, &old, LOCAL).await, "expired");
    assert_eq!(visit(store, &old, LOCAL).await, "expired");
    // Unknown, and no token at all.
    let never = benecafe_sim::domain::OtpToken::generate();
    assert_eq!(visit(store, &never, LOCAL).await, "unknown");
    assert!(!store.expire(&never, now()).await.unwrap());
    let none = store.cert_visit(None, ip(LOCAL), now()).await.unwrap();
    assert_eq!(used(&none.lookup), "not asked");
}

/// The live-token maximum refuses issuing, and frees up as tokens are used.
async fn maximum(store: &Store) {
    let mut issued = Vec::new();
    for _ in 0..MAX_LIVE {
        issued.push(issue(store, 60_000).await);
    }
    let g = grant(store, "VR000216").await;
    let refused = store.issue(g.clone(), now(), now() + 60_000).await;
    assert!(
        matches!(refused, Err(StoreError::Full(n)) if n == MAX_LIVE),
        "{refused:?}"
    );
    assert_eq!(visit(store, &issued[0], LOCAL).await, "redeemed");
    store.issue(g, now(), now() + 60_000).await.unwrap();
}

/// Many concurrent uses of one token, each a task of its own on a multi-threaded runtime:
/// exactly one wins.
async fn one_winner(store: &Store) {
    let token = issue(store, 60_000).await;
    let tries: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { visit(&store, &token, LOCAL).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tries {
        results.push(t.await.unwrap());
    }
    assert_eq!(results.iter().filter(|r| **r == "redeemed").count(), 1);
    assert_eq!(
        results.iter().filter(|r| **r == "already used").count(),
        199
    );
}

fn fault(vendor: Option<&str>, count: Option<u64>, kind: FaultKind) -> FaultSpec {
    FaultSpec::new(
        Endpoint::Cert,
        vendor.map(String::from),
        count.and_then(NonZeroU64::new),
        kind,
    )
    .unwrap()
}

/// Faults: counted ones are used up, a vendor's only hits its tokens, a replacing fault leaves
/// the token alone, a delay lets the call through.
async fn faults(store: &Store) {
    let token = issue(store, 60_000).await;
    store
        .add_fault(fault(Some("VR000452"), None, FaultKind::Http500 {}))
        .await
        .unwrap();
    let counted = store
        .add_fault(fault(None, Some(2), FaultKind::Drop {}))
        .await
        .unwrap();
    assert_eq!(store.faults().await.unwrap().len(), 2);
    for _ in 0..2 {
        let v = store
            .cert_visit(Some(&token), ip(LOCAL), now())
            .await
            .unwrap();
        assert_eq!(v.fault, Some(FaultKind::Drop {}));
        assert_eq!(used(&v.lookup), "not asked");
        assert_eq!(v.vendor.as_deref(), Some("VR000216"));
    }
    let left = store.faults().await.unwrap();
    assert_eq!(left.len(), 1, "the counted fault is used up: {left:?}");
    assert!(left.iter().all(|f| f.id != counted.id));
    // The other vendor's fault does not touch this token: it is used normally.
    assert_eq!(visit(store, &token, LOCAL).await, "redeemed");
    // CHECKURL's faults are taken by endpoint and vendor too.
    assert_eq!(store.take_fault(Endpoint::Check, None).await.unwrap(), None);
    assert_eq!(
        store
            .take_fault(Endpoint::Cert, Some("VR000452"))
            .await
            .unwrap(),
        Some(FaultKind::Http500 {})
    );
    store.clear_faults().await.unwrap();
    store
        .add_fault(fault(None, Some(1), FaultKind::Delay { delay_ms: 5 }))
        .await
        .unwrap();
    let fresh = issue(store, 60_000).await;
    let v = store
        .cert_visit(Some(&fresh), ip(LOCAL), now())
        .await
        .unwrap();
    assert_eq!(v.fault, Some(FaultKind::Delay { delay_ms: 5 }));
    assert_eq!(used(&v.lookup), "redeemed");
    assert!(store.faults().await.unwrap().is_empty());
    let first = store
        .add_fault(fault(None, None, FaultKind::Drop {}))
        .await
        .unwrap();
    assert!(store.remove_fault(first.id).await.unwrap());
    assert!(!store.remove_fault(first.id).await.unwrap());
}

/// Directory changes are kept; a refused change keeps nothing.
async fn directory(store: &Store) {
    let consent = Consent {
        customer_id: "J01A00038745".into(),
        vendor_no: "VR000452".into(),
        agreed_at: "20260101120000".into(),
    };
    let put = store
        .update_directory(|d| Ok::<_, ()>(d.put_consent(&consent)))
        .await
        .unwrap();
    assert_eq!(put, Ok(true));
    let refused = store
        .update_directory(|d| {
            d.remove_vendor("VR000216");
            Err::<(), _>("no")
        })
        .await
        .unwrap();
    assert_eq!(refused, Err("no"));
    let dir = store.directory().await.unwrap();
    assert_eq!(
        dir.consent("J01A00038745", "VR000452"),
        Some("20260101120000")
    );
    assert!(dir.vendor("VR000216").is_some());
}

/// The journal keeps events in order, with increasing ids; clearing empties it.
async fn journal(store: &Store) {
    store.clear_journal().await.unwrap();
    for name in ["first", "second", "third"] {
        store.record(
            now(),
            EventKind::Login {
                via: "login".into(),
                cmpy_cd: "J01".into(),
                mbr_id: name.into(),
                cust_id: None,
                result: "refused".into(),
                reason: "test".into(),
                location: None,
            },
        );
    }
    let events = store.journal().await.unwrap();
    let names: Vec<String> = events
        .iter()
        .map(|e| match &e.kind {
            EventKind::Login { mbr_id, .. } => mbr_id.clone(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(names, ["first", "second", "third"]);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    store.clear_journal().await.unwrap();
    assert!(store.journal().await.unwrap().is_empty());
}

/// One lifetime rule for both stores: a token stops counting as live the moment it is used or
/// expired through the API; expiring again keeps the earlier end; used and expired tokens are
/// remembered until their expiry plus the retention (3 s here), then forgotten.
async fn lifetimes(store: &Store) {
    let _housekeeping = store.spawn_housekeeping();
    let expired = issue(store, 60_000).await;
    assert_eq!(store.live_tokens().await.unwrap(), 1);
    assert!(store.expire(&expired, now()).await.unwrap());
    assert_eq!(
        store.live_tokens().await.unwrap(),
        0,
        "an expired token stops counting at once"
    );
    let end = store.peek(&expired).await.unwrap().unwrap().expires_ms;
    assert!(store.expire(&expired, now() + 10_000).await.unwrap());
    assert_eq!(
        store.peek(&expired).await.unwrap().unwrap().expires_ms,
        end,
        "an earlier end is kept"
    );
    let used = issue(store, 300).await;
    assert_eq!(visit(store, &used, LOCAL).await, "redeemed");
    let expires = store.peek(&used).await.unwrap().unwrap().expires_ms;
    // Past its expiry, after the memory store's sweeper has run at least once since.
    tokio::time::sleep(std::time::Duration::from_millis(
        (expires + 1_200).saturating_sub(now()),
    ))
    .await;
    assert_eq!(visit(store, &used, LOCAL).await, "already used");
    assert_eq!(visit(store, &expired, LOCAL).await, "expired");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    while visit(store, &used, LOCAL).await != "unknown" {
        assert!(
            std::time::Instant::now() < deadline,
            "a used token is forgotten after its expiry plus the retention"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        now() >= expires + RETENTION_MS,
        "forgotten only once the retention was over"
    );
}

/// Reset: no tokens, faults, events or run-time changes left.
async fn reset(store: &Store) {
    let token = issue(store, 60_000).await;
    store
        .add_fault(fault(None, None, FaultKind::Drop {}))
        .await
        .unwrap();
    store
        .update_directory(|d| Ok::<_, ()>(d.remove_vendor("VR000452")))
        .await
        .unwrap()
        .unwrap();
    store.reset(&fixtures()).await.unwrap();
    assert!(store.peek(&token).await.unwrap().is_none());
    assert!(store.faults().await.unwrap().is_empty());
    assert_eq!(store.live_tokens().await.unwrap(), 0);
    assert!(store
        .directory()
        .await
        .unwrap()
        .vendor("VR000452")
        .is_some());
    assert!(store.journal().await.unwrap().is_empty());
}

/// How long used and expired tokens are remembered in the lifetime case.
const RETENTION_MS: u64 = 3_000;

pub(crate) async fn suite(
    store: impl Fn(StoreOptions) -> futures_util::future::BoxFuture<'static, Store>,
) {
    tokens(&store(options()).await).await;
    maximum(&store(options()).await).await;
    one_winner(&store(options()).await).await;
    faults(&store(options()).await).await;
    directory(&store(options()).await).await;
    journal(&store(options()).await).await;
    reset(&store(options()).await).await;
    let short = StoreOptions {
        retention_ms: RETENTION_MS,
        ..options()
    };
    lifetimes(&store(short).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_keeps_the_rules() {
    suite(|options| Box::pin(async { Store::memory(&fixtures(), options) })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn the_redis_store_keeps_the_same_rules() {
    let server = Arc::new(RedisServer::start(false).await);
    suite(|options| {
        let server = server.clone();
        Box::pin(async move {
            // Each case starts from an empty Redis, as each memory case from a new store.
            server.cli(&["FLUSHALL"]);
            Store::open(&StoreKind::Redis(server.url()), &fixtures(), options)
                .await
                .unwrap()
        })
    })
    .await;
}

/// Two stores on one Redis (two replicas): a token issued through one is used once through
/// either (200 tasks at once, half through each); a directory change through one is seen by the other's next call; concurrent changes
/// through both are all kept (each retried on the other's write, none lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn two_stores_on_one_redis_share_one_truth() {
    let server = RedisServer::start(false).await;
    let (a, b) = (redis(&server).await, redis(&server).await);
    let token = issue(&a, 60_000).await;
    let tries: Vec<_> = (0..200)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { visit(&store, &token, LOCAL).await })
        })
        .collect();
    let mut redeemed = 0;
    for t in tries {
        redeemed += usize::from(t.await.unwrap() == "redeemed");
    }
    assert_eq!(redeemed, 1);

    // A change through a is seen by b's very next cert call (not a cached copy).
    a.update_directory(|d| Ok::<_, ()>(d.remove_vendor("VR000216")))
        .await
        .unwrap()
        .unwrap();
    let v = b.cert_visit(None, ip(LOCAL), now()).await.unwrap();
    assert!(v.dir.vendor("VR000216").is_none());

    // Concurrent consents through both replicas: every one is kept.
    let members = ["J01A00038745"];
    let vendors = ["VR000452", "VR000301"];
    let mut changes = Vec::new();
    for (i, store) in [&a, &b].into_iter().enumerate() {
        for m in members {
            let consent = Consent {
                customer_id: m.into(),
                vendor_no: vendors[i].into(),
                agreed_at: format!("2026010112000{i}"),
            };
            changes.push(async move {
                store
                    .update_directory(|d| Ok::<_, ()>(d.put_consent(&consent)))
                    .await
                    .unwrap()
                    .unwrap()
            });
        }
    }
    futures_util::future::join_all(changes).await;
    for store in [&a, &b] {
        let dir = store.directory().await.unwrap();
        assert_eq!(
            dir.consent("J01A00038745", "VR000452"),
            Some("20260101120000")
        );
        assert_eq!(
            dir.consent("J01A00038745", "VR000301"),
            Some("20260101120001")
        );
    }
}
