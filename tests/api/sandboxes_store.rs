//! Sandboxes at the storage seam, one suite for both stores: two sandboxes made from one base
//! never see each other's directory changes, faults, tokens or journal; a reset goes back to
//! what a sandbox was made from; the cert visit finds a token's sandbox from the token alone;
//! a removed or expired sandbox takes its tokens with it; the maximum. And every rule of the
//! store's own suite (`store.rs`) holds inside a sandbox.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use benecafe_sim::domain::event::EventKind;
use benecafe_sim::domain::fault::{Endpoint, FaultKind, FaultSpec};
use benecafe_sim::domain::sandbox::{NewSandbox, SandboxId};
use benecafe_sim::domain::OtpToken;
use benecafe_sim::store::{Lookup, Store, StoreError, StoreKind, StoreOptions};

use crate::helpers::RedisServer;
use crate::store::{fixtures, grant, ip, now, options, suite, LOCAL};

async fn make(base: &Store, ttl_s: Option<u64>) -> (Store, SandboxId) {
    let ask = NewSandbox {
        ttl_s,
        ..Default::default()
    };
    let (view, info) = base.make_sandbox(&ask, now()).await.unwrap();
    assert_eq!(view.sandbox_id(), Some(info.id));
    (view, info.id)
}

async fn issue(store: &Store) -> OtpToken {
    let g = grant(store, "VR000216").await;
    let t = now();
    store.issue(g, t, t + 60_000).await.unwrap()
}

/// What the base's cert visit made of a token: the lookup and the sandbox it landed in.
async fn redeem(base: &Store, token: &OtpToken) -> (&'static str, Option<SandboxId>, bool) {
    let v = base
        .cert_visit(Some(token), ip(LOCAL), now())
        .await
        .unwrap();
    let lookup = match v.lookup {
        Lookup::Used(benecafe_sim::domain::grant::Redeem::Redeemed(_)) => "redeemed",
        Lookup::Used(_) => "used",
        Lookup::Unknown => "unknown",
        Lookup::NotAsked => "not asked",
        Lookup::Seen(_) => "seen",
    };
    (lookup, v.sandbox, v.fault.is_some())
}

fn drop_fault(count: u64, vendor: Option<&str>) -> FaultSpec {
    FaultSpec::new(
        Endpoint::Cert,
        vendor.map(String::from),
        NonZeroU64::new(count),
        FaultKind::Drop {},
    )
    .unwrap()
}

async fn name_in(store: &Store) -> String {
    let dir = store.directory().await.unwrap();
    dir.member("J01A00038745").unwrap().1.name.clone()
}

fn login(name: &str) -> EventKind {
    EventKind::Login {
        via: "login".into(),
        cmpy_cd: "J01".into(),
        mbr_id: name.into(),
        cust_id: None,
        result: "refused".into(),
        reason: "test".into(),
        location: None,
    }
}

async fn isolation(base: &Store) {
    let original = name_in(base).await;
    let (a, a_id) = make(base, None).await;
    let (b, b_id) = make(base, None).await;
    assert_ne!(a_id, b_id);
    // A member renamed in A keeps its name in B and the base.
    a.update_directory(|d| {
        let mut m = d.member("J01A00038745").unwrap().1.as_ref().clone();
        m.name = "Renamed in A".into();
        d.put_member(m);
        Ok::<_, ()>(())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(name_in(&a).await, "Renamed in A");
    assert_eq!(name_in(&b).await, original);
    assert_eq!(name_in(base).await, original);
    // A's tokens name A; a fault for A's next 2 calls hits A's tokens only.
    let a1 = issue(&a).await;
    let a2 = issue(&a).await;
    let b1 = issue(&b).await;
    assert!(a1.to_string().starts_with(&a_id.to_string()));
    a.add_fault(drop_fault(2, Some("VR000216"))).await.unwrap();
    assert_eq!(redeem(base, &b1).await, ("redeemed", Some(b_id), false));
    assert_eq!(redeem(base, &a1).await, ("not asked", Some(a_id), true));
    assert_eq!(redeem(base, &a1).await, ("not asked", Some(a_id), true));
    assert!(b.faults().await.unwrap().is_empty());
    assert!(base.faults().await.unwrap().is_empty());
    // Redeemed once through the base's door, with no sandbox named.
    assert_eq!(redeem(base, &a1).await, ("redeemed", Some(a_id), false));
    assert_eq!(redeem(base, &a1).await, ("used", Some(a_id), false));
    // Each journal holds its own events.
    a.record(now(), login("in A"));
    b.record(now(), login("in B"));
    let names = |events: Vec<Arc<benecafe_sim::domain::event::Event>>| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Login { mbr_id, .. } => Some(mbr_id.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(names(a.journal().await.unwrap()), ["in A"]);
    assert_eq!(names(b.journal().await.unwrap()), ["in B"]);
    assert!(names(base.journal().await.unwrap()).is_empty());
    // A reset of A: back to what it was made from, its tokens gone; B's still redeemable.
    let b2 = issue(&b).await;
    a.reset(&fixtures()).await.unwrap();
    assert_eq!(name_in(&a).await, original);
    assert!(a.journal().await.unwrap().is_empty());
    assert_eq!(redeem(base, &a2).await, ("unknown", Some(a_id), false));
    assert_eq!(redeem(base, &b2).await, ("redeemed", Some(b_id), false));
    // A token unknown everywhere meets the base's faults.
    base.add_fault(drop_fault(1, None)).await.unwrap();
    let stranger = OtpToken::generate();
    assert_eq!(redeem(base, &stranger).await, ("not asked", None, true));
    // Removing A: its tokens unknown everywhere, the name refused.
    let a3 = issue(&a).await;
    assert!(base.remove_sandbox(a_id, now()).await.unwrap());
    assert!(!base.remove_sandbox(a_id, now()).await.unwrap());
    assert_eq!(redeem(base, &a3).await, ("unknown", None, false));
    assert!(matches!(
        base.sandbox(a_id, now()).await,
        Err(StoreError::NoSandbox(_))
    ));
    let listed: Vec<SandboxId> = base
        .sandboxes(now())
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [b_id]);
    // A sandbox copied from B holds B's state.
    b.update_directory(|d| Ok::<_, ()>(d.remove_vendor("VR000452")))
        .await
        .unwrap()
        .unwrap();
    let ask = NewSandbox {
        from: Some(b_id),
        ..Default::default()
    };
    let (c, _) = base.make_sandbox(&ask, now()).await.unwrap();
    assert!(c.directory().await.unwrap().vendor("VR000452").is_none());
    assert!(base.directory().await.unwrap().vendor("VR000452").is_some());
}

async fn expiry(base: &Store) {
    let (short, id) = make(base, Some(2)).await;
    let token = issue(&short).await;
    let made = std::time::Instant::now();
    // Listing does not use it (a use would push its expiry back).
    loop {
        let listed = base.sandboxes(now()).await.unwrap();
        if !listed.iter().any(|s| s.id == id) {
            break;
        }
        assert!(
            made.elapsed() < Duration::from_secs(5),
            "still listed after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        made.elapsed() >= Duration::from_millis(1500),
        "gone too early"
    );
    assert!(matches!(
        base.sandbox(id, now()).await,
        Err(StoreError::NoSandbox(_))
    ));
    assert_eq!(redeem(base, &token).await, ("unknown", None, false));
}

async fn maximum(base: &Store) {
    base.limit_sandboxes(2);
    make(base, None).await;
    make(base, None).await;
    let third = base.make_sandbox(&NewSandbox::default(), now()).await;
    assert!(
        matches!(third, Err(StoreError::TooManySandboxes(2))),
        "{:?}",
        third.err()
    );
}

type Open = dyn Fn(StoreOptions) -> futures_util::future::BoxFuture<'static, Store> + Send + Sync;

async fn sandbox_suite(store: Arc<Open>) {
    isolation(&store(options()).await).await;
    expiry(&store(options()).await).await;
    maximum(&store(options()).await).await;
    // The store's own rules, inside a sandbox of a base opened as each case asks.
    suite(move |options| {
        let store = store.clone();
        Box::pin(async move {
            let base: Store = store(options).await;
            base.make_sandbox(&NewSandbox::default(), now())
                .await
                .unwrap()
                .0
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_sandboxes_are_isolated_copies() {
    sandbox_suite(Arc::new(|options| {
        Box::pin(async { Store::memory(&fixtures(), options) })
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn redis_sandboxes_are_isolated_copies() {
    let server = Arc::new(RedisServer::start(false).await);
    sandbox_suite(Arc::new(move |options| {
        let server = server.clone();
        Box::pin(async move {
            server.cli(&["FLUSHALL"]);
            Store::open(&StoreKind::Redis(server.url()), &fixtures(), options)
                .await
                .unwrap()
        })
    }))
    .await;
}

/// Two replicas on one Redis: a sandbox made through one is used through the other, its token
/// redeemed there once (found from the token alone by a replica that never saw the sandbox),
/// and removed through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_redis_sandbox_made_through_one_replica_serves_through_another() {
    let server = RedisServer::start(false).await;
    let (kind, fixtures) = (StoreKind::Redis(server.url()), fixtures());
    let one = Store::open(&kind, &fixtures, options()).await.unwrap();
    let two = Store::open(&kind, &fixtures, options()).await.unwrap();
    let (a, id) = make(&one, None).await;
    let token = issue(&a).await;
    assert_eq!(redeem(&two, &token).await, ("redeemed", Some(id), false));
    assert_eq!(redeem(&one, &token).await, ("used", Some(id), false));
    let (through_two, _) = two.sandbox(id, now()).await.unwrap();
    through_two.record(now(), login("through two"));
    // Another replica's events appear once its writer's round trip is done.
    let waited = std::time::Instant::now();
    while a.journal().await.unwrap().is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(3), "never journaled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.journal().await.unwrap().len(), 1);
    assert!(one.journal().await.unwrap().is_empty());
    assert!(two.remove_sandbox(id, now()).await.unwrap());
    assert!(matches!(
        one.sandbox(id, now()).await,
        Err(StoreError::NoSandbox(_))
    ));
}
