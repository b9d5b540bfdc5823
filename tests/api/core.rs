//! The bugs found while giving the code one protocol core and one storage seam: each test
//! failed on the code before that change.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, SimProcess};

/// The inactive member of the shipped fixtures.
const INACTIVE: &str = "J01A00038747";

#[actix_web::test]
async fn bulk_issuing_refuses_an_inactive_member_as_a_gate_does() {
    let app = spawn_app().await;
    let body = json!({"cmpyCd": "J01", "custId": INACTIVE, "vndrNo": "VR000216", "count": 2});
    let r = app.post_json("/_sim/api/tokens/bulk", &body).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let gate = app
        .gate(json!({"cmpyCd": "J01", "custId": INACTIVE, "vndrNo": "VR000216"}))
        .await;
    assert_eq!(gate.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"], gate.json()["error"]);
    assert_eq!(app.live_tokens().await, 0);
}

#[actix_web::test]
async fn a_used_token_answers_404_even_once_it_has_expired() {
    let app = spawn_app().await;
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
    let r = app
        .post_json(&format!("/_sim/api/tokens/{token}/expire"), &json!({}))
        .await;
    assert_eq!(r.json()["state"], "used");
    let again = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(
        again.result_code(),
        "404",
        "{:?}",
        again.header("x-sim-reason")
    );
}

/// The tokens a state file holds.
/// A test of the saved tokens.
type Saved = dyn Fn(&[(String, u64)]) -> bool;

/// The saved tokens, each with its expiry.
fn saved_tokens(path: &std::path::Path) -> Vec<(String, u64)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let file: Value = serde_json::from_str(&text).unwrap();
    file["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let token = t["otpToken"].as_str().unwrap().to_owned();
            (token, t["expiresMs"].as_u64().unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn bulk_issued_and_hand_expired_tokens_reach_the_next_save_and_answer_as_before_after_a_restart(
) {
    let data = tempfile::tempdir().unwrap();
    let state = data.path().join("state.json");
    let mut sim = SimProcess::start(
        data.path(),
        &[
            "--state",
            state.to_str().unwrap(),
            "--state-interval-seconds",
            "1",
        ],
    )
    .await
    .unwrap();
    let client = awc::Client::default();
    let issued: Value = client
        .post(format!("{}/_sim/api/tokens/bulk", sim.http))
        .send_json(
            &json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "count": 3}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens: Vec<String> = serde_json::from_value(issued["tokens"].clone()).unwrap();
    let wait_for = |done: Box<Saved>| {
        let state = state.clone();
        async move {
            for _ in 0..50 {
                if done(&saved_tokens(&state)) {
                    return true;
                }
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    assert!(
        wait_for(Box::new(|saved| saved.len() == 3)).await,
        "the bulk tokens were saved"
    );
    client
        .post(format!("{}/_sim/api/tokens/{}/expire", sim.http, tokens[0]))
        .send()
        .await
        .unwrap();
    let expired = tokens[0].clone();
    let now = benecafe_sim::domain::clock::now_ms();
    assert!(
        wait_for(Box::new(move |saved| saved
            .iter()
            .any(|(t, expires)| *t == expired && *expires <= now + 1000)))
        .await,
        "the expired token's new expiry reached the saved state"
    );
    assert_eq!(
        saved_tokens(&state).len(),
        3,
        "an expired token is kept for its retention"
    );
    // After a restart the expired token still answers 401 (not 404), the others OK.
    assert!(sim.terminate());
    let sim = SimProcess::start(data.path(), &["--state", state.to_str().unwrap()])
        .await
        .unwrap();
    let https = sim.client(data.path());
    let cert = |token: &str| {
        https
            .get(format!(
                "{}/sso/vendorUserCertTonken?otpTokenp={token}",
                sim.https
            ))
            .send()
    };
    let expired: Value = cert(&tokens[0]).await.unwrap().json().await.unwrap();
    assert_eq!(expired["resultCode"], "401", "{expired}");
    let live: Value = cert(&tokens[1]).await.unwrap().json().await.unwrap();
    assert_eq!(live["resultCode"], "OK", "{live}");
}

#[actix_web::test]
async fn a_delayed_answer_uses_the_token_even_when_the_client_gives_up_first() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.post_json(
        "/_sim/api/faults",
        &json!({"endpoint": "cert", "count": 1, "kind": "delay", "delayMs": 1500}),
    )
    .await;
    let impatient = {
        let client = app.client();
        let url = format!("{}/sso/vendorUserCertTonken?otpTokenp={token}", app.https);
        client
            .get(url)
            .timeout(Duration::from_millis(300))
            .send()
            .await
    };
    assert!(impatient.is_err(), "the client gave up before the answer");
    actix_web::rt::time::sleep(Duration::from_millis(1600)).await;
    // A partner's retry after its timeout meets what the mall would say: already used.
    let retry = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(retry.result_code(), "404");
    let events: Vec<Value> = app
        .journal_events()
        .await
        .iter()
        .map(|e| serde_json::to_value(&**e).unwrap())
        .filter(|e| e["type"] == "cert")
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["resultCode"], "OK");
    assert!(events[0]["fault"]
        .as_str()
        .unwrap()
        .contains("closed the connection"));
}

#[actix_web::test]
async fn every_protocol_call_leaves_one_info_line_with_the_token_masked() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = sim.client(data.path());
    let gate: Value = client
        .post(format!("{}/_sim/api/gate", sim.http))
        .send_json(&json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = gate["otpToken"].as_str().unwrap();
    client
        .get(format!(
            "{}/sso/vendorUserCertTonken?otpTokenp={token}",
            sim.https
        ))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/sso/vendorUserCheck?cmpyCd=J01", sim.https))
        .send()
        .await
        .unwrap();
    let log = sim.flushed_log(None).await;
    let cert: Vec<&str> = log.lines().filter(|l| l.contains("cert call")).collect();
    assert_eq!(cert.len(), 1, "{log}");
    assert!(cert[0].contains("OK") && cert[0].contains(&token[token.len() - 7..]));
    assert!(!log.contains(token), "the full token is never logged");
    assert_eq!(
        log.lines().filter(|l| l.contains("CHECKURL call")).count(),
        1,
        "{log}"
    );
}

#[actix_web::test]
async fn checkurl_events_name_peer_tls_and_vendor_and_conflicting_values_answer_n() {
    let app = spawn_app().await;
    let name = "%EC%B0%A8%EC%84%B8%EB%8C%80%ED%85%8C";
    let r = app
        .get(&format!(
            "/sso/vendorUserCheck?cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName={name}&userName=x"
        ))
        .await;
    assert_eq!(r.text(), "N", "two different names are not a match");
    let events: Vec<Value> = app
        .journal_events()
        .await
        .iter()
        .map(|e| serde_json::to_value(&**e).unwrap())
        .collect();
    let check = events.iter().find(|e| e["type"] == "check").unwrap();
    assert_eq!(check["tls"], true);
    assert_eq!(check["peer"], "127.0.0.1");
    assert!(check.as_object().unwrap().contains_key("vndrNo"), "{check}");
}

/// A client's CR/LF cannot forge a log line: a CHECKURL `userName` in EUC-KR, whose diagnosis
/// quotes it, carries a line break and a fake line; the log shows them escaped.
#[actix_web::test]
async fn a_client_value_with_a_line_break_cannot_forge_a_log_line() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = sim.client(data.path());
    // "차" in EUC-KR, then CR LF and what would look like a line of the simulator's own.
    let forged =
        "%C2%F7%0D%0A2020-01-01T00:00:00.000000Z%20%20INFO%20forged:%20all%20tokens%20valid";
    client
        .get(format!(
            "{}/sso/vendorUserCheck?cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName={forged}",
            sim.https
        ))
        .send()
        .await
        .unwrap();
    let log = sim.flushed_log(None).await;
    let check = log
        .lines()
        .find(|l| l.contains("CHECKURL call"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        check.contains("EUC-KR") && check.contains("\\r\\n"),
        "{check}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2020-01-01")),
        "a forged line: {log}"
    );
}
