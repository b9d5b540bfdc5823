//! Rules that read state and then write it, under requests at once: each is one atomic store
//! update, so concurrency never doubles what the guide says happens once. Every case runs on a
//! multi-threaded runtime with spawned tasks, against the memory store and against two stores
//! on one real Redis (two replicas); the HTTP cases run two real processes on one Redis.
//!
//! The Redis cases start their own `redis-server` (Debian's package) on a free port; a plain
//! `cargo test` lists them as ignored, `.ci/run` runs them with `--include-ignored`.

use std::sync::Arc;

use benecafe_sim::domain::fixtures::Fixtures;
use benecafe_sim::protocol::endpoints::Endpoints;
use benecafe_sim::protocol::gate::{ConsentChoice, GateRequest, Issuer, Source};
use benecafe_sim::store::{Store, StoreKind, StoreOptions};
use serde_json::{json, Value};

use crate::helpers::{shipped_fixtures, RedisServer};

const MEMBER: &str = "J01A00038745";
const VENDOR: &str = "VR000216";
const TRIES: usize = 50;

fn fixtures() -> Fixtures {
    Fixtures::load(&shipped_fixtures()).unwrap()
}

fn endpoints() -> Arc<Endpoints> {
    Arc::new(Endpoints::new("https://localhost:8443", "http://127.0.0.1:8080").unwrap())
}

async fn redis_pair(server: &RedisServer) -> [Store; 2] {
    let (kind, seed) = (StoreKind::Redis(server.url()), fixtures());
    let a = Store::open(&kind, &seed, StoreOptions::default()).await;
    let b = Store::open(&kind, &seed, StoreOptions::default()).await;
    [a.unwrap(), b.unwrap()]
}

fn gate_request() -> GateRequest {
    GateRequest {
        consent: ConsentChoice::Agree,
        ..GateRequest::new("J01", MEMBER, VENDOR, Source::Api)
    }
}

/// `TRIES` GATEs at once for a member whose fields were never delivered, spread over `stores`:
/// how many carried the member fields, and how many carried a token.
async fn concurrent_gates(stores: &[Store]) -> (usize, usize) {
    let endpoints = endpoints();
    let tasks: Vec<_> = (0..TRIES)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let endpoints = endpoints.clone();
            tokio::spawn(async move {
                let issuer = Issuer {
                    store: &store,
                    endpoints: &endpoints,
                    token_ttl_ms: 30_000,
                    force_member_fields: false,
                };
                let gate = benecafe_sim::protocol::gate::issue(&issuer, gate_request())
                    .await
                    .expect("a GATE");
                let member = gate.fields.iter().any(|(name, _)| *name == "CFM_CUS_ID");
                (member, gate.token.is_some())
            })
        })
        .collect();
    let mut carried = (0, 0);
    for task in tasks {
        let (member, token) = task.await.unwrap();
        carried.0 += usize::from(member);
        carried.1 += usize::from(token);
    }
    carried
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_gates_carry_the_member_fields_once_in_memory() {
    let store = Store::memory(&fixtures(), StoreOptions::default());
    let (member, tokens) = concurrent_gates(&[store]).await;
    assert_eq!(member, 1, "the member fields went with {member} GATEs");
    assert_eq!(tokens, TRIES, "every GATE carries a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn concurrent_gates_over_two_replicas_carry_the_member_fields_once() {
    let server = RedisServer::start(false).await;
    let stores = redis_pair(&server).await;
    let (member, tokens) = concurrent_gates(&stores).await;
    assert_eq!(member, 1, "the member fields went with {member} GATEs");
    assert_eq!(tokens, TRIES, "every GATE carries a token");
}

/// `TRIES` entries at once with one new login ID of an auto-joining company, spread over
/// `stores`: how many made a member, and how many members have that login ID afterwards.
async fn concurrent_joins(stores: &[Store]) -> (usize, usize) {
    let tasks: Vec<_> = (0..TRIES)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move {
                benecafe_sim::protocol::join::member_or_join(&store, "Q15", "newcomer", "새회원")
                    .await
                    .expect("a member")
            })
        })
        .collect();
    let mut made = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (member, joined) = task.await.unwrap();
        made += usize::from(joined);
        ids.insert(member.customer_id);
    }
    assert_eq!(ids.len(), 1, "every entry got the same member: {ids:?}");
    let dir = stores[0].directory().await.unwrap();
    let with_id = dir
        .members()
        .filter(|m| m.company == "Q15" && m.login_id == "newcomer")
        .count();
    (made, with_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_auto_joins_make_one_member_in_memory() {
    let store = Store::memory(&fixtures(), StoreOptions::default());
    assert_eq!(concurrent_joins(&[store]).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn concurrent_auto_joins_over_two_replicas_make_one_member() {
    let server = RedisServer::start(false).await;
    let stores = redis_pair(&server).await;
    assert_eq!(concurrent_joins(&stores).await, (1, 1));
}

/// The same through the HTTP edge of two real processes on one Redis: `TRIES` GATEs posted at
/// once, half through each replica, and `TRIES` company-side entries for one new login ID.
#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn two_replicas_deliver_member_fields_once_and_auto_join_once() {
    let server = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = crate::replicas::replicas(&server, data.path(), &[]).await;
    let client = awc::Client::default();
    let gates = (0..TRIES).map(|i| {
        let base = if i % 2 == 0 { &a.http } else { &b.http };
        client.post(format!("{base}/_sim/api/gate")).send_json(
            &json!({"cmpyCd": "J01", "custId": MEMBER, "vndrNo": VENDOR, "consent": "agree"}),
        )
    });
    let mut member = 0;
    for reply in futures_util::future::join_all(gates).await {
        let body: Value = reply.unwrap().json().await.unwrap();
        assert!(body["otpToken"].is_string(), "{body}");
        member += usize::from(body["fields"].get("CFM_CUS_ID").is_some());
    }
    assert_eq!(member, 1, "the member fields went with {member} GATEs");

    let entries = (0..TRIES).map(|i| {
        let base = if i % 2 == 0 { &a.http } else { &b.http };
        client.post(format!("{base}/sso/loginSsoGate")).send_form(&[
            ("memID", "newcomer"),
            ("cmpyNo", "Q15"),
            ("mbrNm", "새회원"),
        ])
    });
    for reply in futures_util::future::join_all(entries).await {
        let status = reply.unwrap().status();
        assert!(status.is_success() || status.is_redirection(), "{status}");
    }
    let members: Value = client
        .get(format!("{}/_sim/api/members", a.http))
        .send()
        .await
        .unwrap()
        .json()
        .limit(16 << 20)
        .await
        .unwrap();
    let joined = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["cmpyCd"] == "Q15" && m["mbrId"] == "newcomer")
        .count();
    assert_eq!(joined, 1, "{joined} members were made for one new login ID");
}
