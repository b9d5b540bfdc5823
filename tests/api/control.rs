//! The control API: tokens, the journal, the bearer-token rule, the OpenAPI document, watched
//! fixtures and unknown routes (faults and run-time fixture changes have files of their own).

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp};

impl TestApp {
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let client = self.client();
        let url = format!("{}{}", self.http, path);
        let req = self.operator(client.request(method.parse().unwrap(), url));
        match body {
            Some(b) => {
                self.send(
                    req,
                    Some(("application/json", serde_json::to_vec(&b).unwrap())),
                )
                .await
            }
            None => self.send(req, None).await,
        }
    }

    pub async fn journal(&self, query: &str) -> Vec<Value> {
        let r = self
            .api("GET", &format!("/_sim/api/journal?{query}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json().as_array().unwrap().clone()
    }
}

#[actix_web::test]
async fn a_token_shows_its_state_times_and_calls() {
    let app = spawn_app().await;
    let token = app.token().await;
    let issued = app
        .api("GET", &format!("/_sim/api/tokens/{token}"), None)
        .await
        .json();
    assert_eq!(issued["state"], "issued");
    assert_eq!(issued["vndrNo"], "VR000216");
    assert_eq!(issued["custId"], "J01A00038745");
    assert_eq!(issued["cmpyCd"], "J01");
    assert!(issued["usedAt"].is_null());
    assert_eq!(issued["calls"], json!([]));

    app.cert(&format!("otpToken={token}")).await;
    app.cert(&format!("otpToken={token}")).await;
    let used = app
        .api("GET", &format!("/_sim/api/tokens/{token}"), None)
        .await
        .json();
    assert_eq!(used["state"], "used");
    assert_eq!(used["usedBy"], "127.0.0.1");
    assert!(used["reason"].as_str().unwrap().contains("used at"));
    let codes: Vec<&str> = used["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resultCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["OK", "404"]);
}

#[actix_web::test]
async fn a_token_expired_on_demand_gives_401_without_waiting() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .api("POST", &format!("/_sim/api/tokens/{token}/expire"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["state"], "expired");
    let cert = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(cert.result_code(), "401");
    assert!(cert.header("x-sim-reason").unwrap().contains("expired"));
}

#[actix_web::test]
async fn unknown_and_malformed_tokens_are_told_apart() {
    let app = spawn_app().await;
    let unknown = "ab".repeat(32);
    assert_eq!(
        app.api("GET", &format!("/_sim/api/tokens/{unknown}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api("POST", &format!("/_sim/api/tokens/{unknown}/expire"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.api("GET", "/_sim/api/tokens/NOT-A-TOKEN", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("64 lowercase hex"));
}

#[actix_web::test]
async fn the_journal_filters_by_vendor_endpoint_token_result_and_time() {
    let app = spawn_app().await;
    let before = benecafe_sim::domain::clock::now_ms();
    let token = app.token().await;
    let other = app.issue_token("J01", "J01A00038745", "VR000301").await;
    app.cert(&format!("otpToken={token}")).await;
    app.cert(&format!("otpToken={token}")).await;
    app.get("/sso/vendorUserCheck?cmpyCd=J01").await;

    let mine = app
        .journal(&format!("endpoint=cert&vndrNo=VR000216&token={token}"))
        .await;
    assert_eq!(mine.len(), 2);
    assert!(mine
        .iter()
        .all(|e| e["ip"] == "127.0.0.1" && e["param"] == "otpToken"));
    assert_eq!(app.journal("endpoint=cert&resultCode=OK").await.len(), 1);
    assert_eq!(app.journal("endpoint=gate").await.len(), 2);
    assert_eq!(app.journal(&format!("token={other}")).await.len(), 1);
    assert_eq!(app.journal("endpoint=check").await.len(), 1);
    assert_eq!(app.journal(&format!("since={before}")).await.len(), 5);
    assert_eq!(app.journal(&format!("until={before}")).await.len(), 0);
    let newest = app.journal("limit=1").await;
    assert_eq!(newest[0]["type"], "check");

    let bad = app
        .api("GET", "/_sim/api/journal?endpoint=nope", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let bad = app
        .api("GET", "/_sim/api/journal?since=yesterday", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    assert_eq!(
        app.api("DELETE", "/_sim/api/journal", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(app.journal("").await.is_empty());
}

#[actix_web::test]
async fn the_journal_is_a_bounded_ring() {
    let app = spawn_app_with(|s| s.journal_capacity = 3).await;
    for _ in 0..5 {
        app.cert("").await;
    }
    let events = app.journal("").await;
    assert_eq!(events.len(), 3);
    assert!(events[0]["id"].as_u64().unwrap() < events[2]["id"].as_u64().unwrap());
}

#[actix_web::test]
async fn off_loopback_the_control_api_needs_the_bearer_token() {
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
    let client = app.client();
    let url = format!("{}/_sim/api/gate", app.http);
    let body = serde_json::to_vec(
        &json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}),
    )
    .unwrap();
    let r = app
        .send(client.post(&url), Some(("application/json", body.clone())))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].as_str().unwrap().contains("Bearer"));
    let r = app
        .send(
            client
                .post(&url)
                .insert_header(("Authorization", "Bearer wrong")),
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.live_tokens().await, 0, "nothing changed");
    let r = app
        .send(
            client
                .post(&url)
                .insert_header(("Authorization", format!("Bearer {token}"))),
            Some(("application/json", body)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Health and the protocol endpoints stay open.
    assert_eq!(app.get_http("/_sim/healthz").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn on_loopback_the_control_api_is_open() {
    let app = spawn_app().await;
    assert!(app.state.config.control_token.is_none());
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_openapi_document_parses_as_openapi_3_and_lists_every_route() {
    let app = spawn_app().await;
    let r = app.get("/_sim/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc: openapiv3::OpenAPI = serde_json::from_slice(&r.body).expect("an OpenAPI 3 document");
    assert!(doc.openapi.starts_with("3."));
    assert!(doc
        .servers
        .iter()
        .any(|s| s.url == app.state.config.public_url));
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in &doc.paths.paths {
        let item = item.as_item().expect("inline path items");
        for (method, op) in item.iter() {
            assert!(
                !op.responses.responses.is_empty(),
                "{method} {path} has no responses"
            );
            documented.push(format!("{} {path}", method.to_uppercase()));
            // Every control API call takes X-Sim-Sandbox.
            if path.starts_with("/_sim/api/") {
                assert!(
                    op.parameters.iter().any(|p| matches!(
                        p,
                        openapiv3::ReferenceOr::Reference { reference }
                            if reference == "#/components/parameters/Sandbox"
                    )),
                    "{method} {path} does not take X-Sim-Sandbox"
                );
            }
        }
    }
    let mut served: Vec<String> = benecafe_sim::web::list()
        .into_iter()
        .filter(|(_, _, p)| {
            p.starts_with("/sso/")
                || (p.starts_with("/sb/") && p.contains("/sso/"))
                || p.starts_with("/_sim/api/")
                || *p == "/_sim/healthz"
                || *p == "/_sim/livez"
                || *p == "/_sim/readyz"
                || *p == "/_sim/openapi.json"
                || *p == "/_sim/ca.pem"
                || *p == "/_sim/version"
                || *p == "/_sim/metrics"
        })
        .map(|(_, m, p)| format!("{m} {p}"))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Every $ref points at a schema that exists.
    let text = String::from_utf8(r.body.clone()).unwrap();
    let schemas = doc.components.unwrap().schemas;
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(schemas.contains_key(name), "missing schema {name}");
    }
}

async fn wait_for(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..60 {
        if check().await {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[actix_web::test]
async fn a_watched_fixture_edit_takes_effect_and_a_broken_edit_keeps_the_old_fixtures() {
    let app = spawn_app_with(|s| s.watch = true).await;
    let path = app.fixtures.join("companies.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Different length too, so that even a coarse modification time sees the change.
    std::fs::write(
        &path,
        text.replace("\"선택복지포인트\"", "\"새선택복지포인트 \""),
    )
    .unwrap();
    let changed = wait_for(async || {
        let companies = app.api("GET", "/_sim/api/companies", None).await.json();
        companies
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["pntNm"] == "새선택복지포인트 ")
    })
    .await;
    assert!(changed, "the edit was not loaded");

    let app = &app;
    let reloads = |which: &'static str| async move {
        let health = app.get_http("/_sim/healthz").await.json();
        health["fixtureReloads"][which].as_u64().unwrap()
    };
    assert_eq!(reloads("loaded").await, 1);
    assert_eq!(reloads("refused").await, 0);
    std::fs::write(&path, "[{\"cmpyCd\": ").unwrap();
    assert!(
        wait_for(async || reloads("refused").await == 1).await,
        "the broken edit was seen"
    );
    assert_eq!(reloads("loaded").await, 1, "and not loaded");
    let companies = app.api("GET", "/_sim/api/companies", None).await.json();
    assert!(companies
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["pntNm"] == "새선택복지포인트 "));
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpToken={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
async fn an_unknown_control_route_answers_404_with_an_error_naming_it() {
    let app = spawn_app().await;
    for (method, path) in [("GET", "/_sim/api/nope"), ("DELETE", "/_sim/api/reset")] {
        let r = app.api(method, path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(
            error.starts_with("no such route:") && error.contains(path),
            "{method} {path}: {}",
            r.text()
        );
    }
    // Elsewhere the 404 stays as it was: no body.
    let page = app.get_http("/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().is_empty());
}
