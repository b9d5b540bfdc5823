//! Many clients at once, limits, a bounded soak, restarts with saved state, and logs that keep
//! tokens and personal data out.

use std::collections::HashMap;
use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, SimProcess};

async fn json_of(
    mut res: awc::ClientResponse<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    >,
) -> Value {
    serde_json::from_slice(&res.body().limit(1 << 20).await.unwrap()).unwrap()
}

#[actix_web::test]
async fn many_clients_with_valid_used_foreign_and_unknown_tokens_get_exactly_one_ok_per_valid_token(
) {
    let app = spawn_app().await;
    let mut valid = Vec::new();
    for _ in 0..40 {
        valid.push(app.token().await);
    }
    let mut used = Vec::new();
    for _ in 0..10 {
        let t = app.token().await;
        assert_eq!(
            app.cert(&format!("otpTokenp={t}")).await.result_code(),
            "OK"
        );
        used.push(t);
    }
    let mut foreign = Vec::new();
    for _ in 0..10 {
        let r = app
            .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000452", "consent": "agree"}))
            .await;
        foreign.push(r.json()["otpToken"].as_str().unwrap().to_owned());
    }
    let unknown: Vec<String> = (0..10).map(|i| format!("{i:064x}")).collect();

    // Every token 5 times, interleaved, all at once.
    let mut calls = Vec::new();
    for round in 0..5 {
        for (kind, list) in [
            ("valid", &valid),
            ("used", &used),
            ("foreign", &foreign),
            ("unknown", &unknown),
        ] {
            for t in list {
                calls.push((kind, t.clone(), round));
            }
        }
    }
    let client = app.client();
    let futures = calls.iter().map(|(kind, token, _)| {
        let req = client.get(format!(
            "{}/sso/vendorUserCertTonken?otpToken={token}",
            app.https
        ));
        async move {
            let res = req.send().await.expect("sent");
            (
                *kind,
                token.clone(),
                json_of(res).await["resultCode"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        }
    });
    let results = futures_util::future::join_all(futures).await;
    let mut ok_per_token: HashMap<String, usize> = HashMap::new();
    for (kind, token, code) in &results {
        match *kind {
            "valid" => {
                assert!(code == "OK" || code == "404", "{code}");
                if code == "OK" {
                    *ok_per_token.entry(token.clone()).or_default() += 1;
                }
            }
            "used" | "unknown" => assert_eq!(code, "404"),
            "foreign" => assert_eq!(code, "403"),
            _ => unreachable!(),
        }
    }
    assert_eq!(ok_per_token.len(), valid.len());
    assert!(ok_per_token.values().all(|n| *n == 1));
    // The foreign vendor's tokens were never used up by the refused calls.
    for t in &foreign {
        let view = app
            .state
            .store
            .peek(&benecafe_sim::domain::OtpToken::parse(t).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(view.used.is_none());
    }
}

#[actix_web::test]
async fn at_the_live_token_maximum_issuing_gets_503_and_existing_tokens_keep_working() {
    let app = spawn_app_with(|s| s.max_live_tokens = 3).await;
    let tokens = [app.token().await, app.token().await, app.token().await];
    let r = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["error"].as_str().unwrap().contains("maximum"));
    assert_eq!(
        app.cert(&format!("otpTokenp={}", tokens[0]))
            .await
            .result_code(),
        "OK"
    );
    // A place is free again.
    let fresh = app.token().await;
    for t in [&tokens[1], &tokens[2], &fresh] {
        assert_eq!(
            app.cert(&format!("otpTokenp={t}")).await.result_code(),
            "OK"
        );
    }
}

/// `POST /_sim/api/gate` on a running process, the answer as JSON.
async fn gate(client: &awc::Client, sim: &SimProcess, body: &str) -> Value {
    let res = client
        .post(format!("{}/_sim/api/gate", sim.http))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_owned())
        .await
        .expect("gate");
    json_of(res).await
}

/// One round of issue-and-use cycles against a running process.
async fn cycles(sim: &SimProcess, data: &std::path::Path, n: usize) {
    let client = sim.client(data);
    let body =
        json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "ttlSeconds": 1})
            .to_string();
    for _ in 0..n {
        let token = gate(&client, sim, &body).await["otpToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = client
            .get(format!(
                "{}/sso/vendorUserCertTonken?otpTokenp={token}",
                sim.https
            ))
            .send()
            .await
            .expect("cert");
        assert_eq!(json_of(res).await["resultCode"], "OK");
    }
}

/// Waits until the sweeper has found every token of the cycles expired (they live a second).
async fn swept(sim: &SimProcess) {
    for _ in 0..100 {
        if live_tokens(sim).await == 0 {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("tokens still live five seconds after they expired");
}

async fn live_tokens(sim: &SimProcess) -> u64 {
    let res = awc::Client::default()
        .get(format!("{}/_sim/healthz", sim.http))
        .send()
        .await
        .unwrap();
    json_of(res).await["liveTokens"].as_u64().unwrap()
}

#[actix_web::test]
async fn a_bounded_soak_returns_live_tokens_and_memory_to_their_baseline() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(
        data.path(),
        &[
            "--token-retention-seconds",
            "0",
            "--journal-capacity",
            "100",
        ],
    )
    .await
    .expect("starts");
    // The first round warms allocator and caches up; it is the baseline.
    cycles(&sim, data.path(), 1500).await;
    swept(&sim).await;
    let baseline = sim.rss_kib();
    for _ in 0..3 {
        cycles(&sim, data.path(), 1500).await;
    }
    swept(&sim).await;
    let after = sim.rss_kib();
    assert!(
        after <= baseline + 8 * 1024,
        "resident memory grew from {baseline} KiB to {after} KiB over 4500 more cycles"
    );
}

#[actix_web::test]
async fn after_a_sigterm_restart_unused_tokens_work_once_and_used_ones_stay_404() {
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("state.json");
    let state_arg = state.display().to_string();
    let mut sim = SimProcess::start(data.path(), &["--state", &state_arg])
        .await
        .expect("starts");
    let client = sim.client(data.path());
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(
            gate(
                &client,
                &sim,
                r#"{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216"}"#,
            )
            .await["otpToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let cert = |t: &str| {
        client
            .get(format!(
                "{}/sso/vendorUserCertTonken?otpTokenp={t}",
                sim.https
            ))
            .send()
    };
    assert_eq!(
        json_of(cert(&tokens[0]).await.unwrap()).await["resultCode"],
        "OK"
    );
    // A run-time change and a new consent survive too.
    let res = client
        .patch(format!("{}/_sim/api/members/J01A00038746", sim.http))
        .insert_header(("content-type", "application/json"))
        .send_body(r#"{"mbrNm":"김민지2"}"#)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    client
        .put(format!(
            "{}/_sim/api/consents/J01A00038746/VR000216",
            sim.http
        ))
        .send()
        .await
        .unwrap();

    assert!(
        sim.terminate(),
        "a clean exit on SIGTERM: {}",
        sim.log_text()
    );
    let log = sim.log_text();
    assert!(state.exists(), "the state was saved at shutdown: {log}");
    // Info-level logs never carry a full token or a member's personal data.
    for t in &tokens {
        assert!(!log.contains(t.as_str()), "a full token in the log: {log}");
    }
    for personal in ["차세대테", "김민지", "19811130", "0310000000", "남부순환로"] {
        assert!(!log.contains(personal), "{personal} in the log: {log}");
    }
    drop(sim);

    let sim = SimProcess::start(data.path(), &["--state", &state_arg])
        .await
        .expect("restarts");
    assert!(
        sim.log_text().contains("state restored"),
        "{}",
        sim.log_text()
    );
    let client = sim.client(data.path());
    let cert = |t: &str| {
        client
            .get(format!(
                "{}/sso/vendorUserCertTonken?otpTokenp={t}",
                sim.https
            ))
            .send()
    };
    assert_eq!(
        json_of(cert(&tokens[0]).await.unwrap()).await["resultCode"],
        "404"
    );
    for t in &tokens[1..] {
        assert_eq!(json_of(cert(t).await.unwrap()).await["resultCode"], "OK");
        assert_eq!(json_of(cert(t).await.unwrap()).await["resultCode"], "404");
    }
    let members = json_of(
        client
            .get(format!("{}/_sim/api/members", sim.http))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["mbrNm"] == "김민지2"));
    let kept = gate(
        &client,
        &sim,
        r#"{"cmpyCd":"J01","custId":"J01A00038746","vndrNo":"VR000216"}"#,
    )
    .await;
    assert!(kept["otpToken"].is_string(), "the consent was kept: {kept}");
    // The journal came back too: the calls before the restart are still there.
    let journal = json_of(
        client
            .get(format!("{}/_sim/api/journal?endpoint=cert", sim.http))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(journal.as_array().unwrap().len() >= 6);
    // Delivery memory came back: 차세대테's fields were delivered before the restart.
    let again = gate(
        &client,
        &sim,
        r#"{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216"}"#,
    )
    .await;
    assert!(again["fields"].get("USER_NAME").is_none(), "{again}");
}

#[actix_web::test]
async fn a_truncated_state_file_stops_the_start_with_a_clear_error_and_is_left_alone() {
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("state.json");
    let state_arg = state.display().to_string();
    let mut sim = SimProcess::start(data.path(), &["--state", &state_arg])
        .await
        .expect("starts");
    let client = sim.client(data.path());
    gate(
        &client,
        &sim,
        r#"{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216"}"#,
    )
    .await;
    assert!(sim.terminate());
    drop(sim);
    let whole = std::fs::read(&state).unwrap();
    let truncated = &whole[..whole.len() / 2];
    std::fs::write(&state, truncated).unwrap();
    let err = match SimProcess::start(data.path(), &["--state", &state_arg]).await {
        Ok(_) => panic!("started on a truncated state file"),
        Err(log) => log,
    };
    assert!(
        err.contains("state.json") && err.contains("cannot be used"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        truncated,
        "the broken file was touched"
    );
}
