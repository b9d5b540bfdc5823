//! Sandboxes on a shared QA environment: two simulator processes (the real binary) on one real
//! Redis. A sandbox made through one replica is used through the other, its calls in its own
//! journal whichever replica answered them.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::RedisServer;
use crate::replicas::{call, cert, replicas};

#[actix_web::test]
#[ignore = "needs redis-server; .ci/run runs it with --include-ignored"]
async fn a_sandbox_made_through_one_replica_serves_through_the_other() {
    let redis = RedisServer::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let (a, b) = replicas(&redis, data.path(), &[]).await;
    let client = a.client(data.path());
    let made = call(
        &client,
        "POST",
        &format!("{}/_sim/api/sandboxes", a.http),
        Some(json!({"ttlSeconds": 600})),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.json()["id"].as_str().unwrap().to_owned();
    // A GATE in the sandbox through b; its token redeems once at the plain cert URL of a, and
    // the call is in the sandbox's journal read through b, not in the base's.
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    let mut res = client
        .post(format!("{}/_sim/api/gate", b.http))
        .insert_header(("X-Sim-Sandbox", id.as_str()))
        .send_json(&ask)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let gate: Value = res.json().await.unwrap();
    let token = gate["otpToken"].as_str().unwrap();
    assert!(token.starts_with(&id), "{gate}");
    assert_eq!(cert(&client, &a, token).await.result_code(), "OK");
    assert_eq!(cert(&client, &b, token).await.result_code(), "404");
    let journal = |base: &str| {
        client
            .get(format!("{base}/_sim/api/journal?endpoint=cert"))
            .insert_header(("X-Sim-Sandbox", id.as_str()))
            .send()
    };
    let mut seen = 0;
    for _ in 0..100 {
        let events: Value = journal(&b.http).await.unwrap().json().await.unwrap();
        seen = events.as_array().map_or(0, Vec::len);
        if seen >= 2 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, 2);
    let base = call(
        &client,
        "GET",
        &format!("{}/_sim/api/journal?endpoint=cert", a.http),
        None,
    )
    .await;
    assert_eq!(
        base.json().as_array().map(Vec::len),
        Some(0),
        "{}",
        base.body
    );
}
