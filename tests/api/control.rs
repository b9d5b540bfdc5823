//! The control API: tokens, journal, run-time fixtures, faults, reset, the bearer-token rule,
//! the OpenAPI document and watched fixtures.

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
async fn a_fault_for_the_next_two_cert_calls_of_one_vendor_affects_exactly_those() {
    let app = spawn_app().await;
    let r = app
        .api("POST", "/_sim/api/faults", Some(json!({"endpoint": "cert", "vndrNo": "VR000216", "count": 2, "kind": "resultCode", "resultCode": "403"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Another vendor's token is not affected.
    let other = app.issue_token("J01", "J01A00038745", "VR000301").await;
    assert_eq!(
        app.cert(&format!("otpToken={other}")).await.result_code(),
        "OK"
    );
    let token = app.token().await;
    for _ in 0..2 {
        let r = app.cert(&format!("otpToken={token}")).await;
        assert_eq!(r.result_code(), "403");
        assert_eq!(r.json()["message"], "허용된 아이피가 아닙니다.");
    }
    // The forced answers did not use the token up.
    assert_eq!(
        app.cert(&format!("otpToken={token}")).await.result_code(),
        "OK"
    );
    let faulted: Vec<Value> = app
        .journal("endpoint=cert")
        .await
        .into_iter()
        .filter(|e| e.get("fault").is_some())
        .collect();
    assert_eq!(faulted.len(), 2);
    assert!(faulted.iter().all(|e| e["vndrNo"] == "VR000216"));
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.json(),
        json!([])
    );
}

#[actix_web::test]
async fn http_500_malformed_body_and_dropped_connection_faults_do_what_they_say() {
    let app = spawn_app().await;
    let token = app.token().await;
    for kind in ["http500", "malformed", "drop"] {
        let r = app
            .api(
                "POST",
                "/_sim/api/faults",
                Some(json!({"endpoint": "cert", "count": 1, "kind": kind})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = app.cert(&format!("otpToken={token}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let r = app.cert(&format!("otpToken={token}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        serde_json::from_slice::<Value>(&r.body).is_err(),
        "the body should be broken JSON"
    );
    let client = app.client();
    let dropped = client
        .get(format!(
            "{}/sso/vendorUserCertTonken?otpToken={token}",
            app.https
        ))
        .send()
        .await;
    let failed = match dropped {
        Err(_) => true,
        Ok(mut res) => res.body().await.is_err(),
    };
    assert!(failed, "the connection should have been dropped");
    // None of the three used the token.
    assert_eq!(
        app.cert(&format!("otpToken={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
async fn a_delay_fault_is_marked_in_the_journal_and_the_answer_stays_correct() {
    let app = spawn_app().await;
    app.api(
        "POST",
        "/_sim/api/faults",
        Some(json!({"endpoint": "check", "count": 1, "kind": "delay", "delayMs": 50})),
    )
    .await;
    let r = app
        .get("/sso/vendorUserCheck?cmpyCd=J01&CFM_CUS_ID=J01A00038747&userName=x")
        .await;
    assert_eq!(r.text(), "N");
    let events = app.journal("endpoint=check").await;
    assert_eq!(events[0]["fault"], "delay 50 ms");
}

#[actix_web::test]
async fn invalid_faults_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    for (body, word) in [
        (
            json!({"endpoint": "cert", "kind": "resultCode", "resultCode": "OK"}),
            "resultCode",
        ),
        (
            json!({"endpoint": "cert", "kind": "http500", "count": 0}),
            "count",
        ),
        (
            json!({"endpoint": "nowhere", "kind": "http500"}),
            "endpoint",
        ),
        (json!({"endpoint": "cert", "kind": "explode"}), "explode"),
    ] {
        let r = app.api("POST", "/_sim/api/faults", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.json()["error"].as_str().unwrap().contains(word),
            "{}",
            r.text()
        );
    }
    let r = app
        .api(
            "POST",
            "/_sim/api/faults",
            Some(json!({"endpoint": "cert", "kind": "drop", "vndrNo": "VR404"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.json(),
        json!([])
    );
}

/// A fault's kind and resultCode are read as typed values: an unknown one is a 400 naming it,
/// never taken for another (an unknown code once fell back to 401), and nothing is added.
#[actix_web::test]
async fn an_unknown_fault_kind_or_result_code_is_refused_naming_it() {
    let app = spawn_app().await;
    for (body, words) in [
        (
            json!({"endpoint": "cert", "kind": "resultCode", "resultCode": "999"}),
            &["resultCode", "\"999\""][..],
        ),
        (
            json!({"endpoint": "cert", "kind": "resultCode", "resultCode": 403}),
            &["resultCode", "403"],
        ),
        (json!({"endpoint": "cert", "kind": "teapot"}), &["teapot"]),
        (
            json!({"endpoint": "cert", "kind": "http500", "delayMs": 5}),
            &["delayMs"],
        ),
        (
            json!({"endpoint": "cert", "kind": "delay", "delayMs": 120_001}),
            &["delayMs", "120000"],
        ),
        (
            json!({"endpoint": "check", "kind": "resultCode", "resultCode": "404"}),
            &["resultCode", "CHECKURL"],
        ),
    ] {
        let r = app
            .api("POST", "/_sim/api/faults", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        for w in words {
            assert!(error.contains(w), "{body}: {w} in {error}");
        }
    }
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.json(),
        json!([])
    );
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpToken={token}")).await.result_code(),
        "OK"
    );
}

/// What partners' suites read: a fault as answered and as listed, field for field.
#[actix_web::test]
async fn a_fault_is_answered_and_listed_in_the_same_json_shape() {
    let app = spawn_app().await;
    let mut listed = Vec::new();
    for (asked, answered) in [
        (
            json!({"endpoint": "cert", "vndrNo": "VR000216", "count": 2, "kind": "resultCode", "resultCode": "404"}),
            json!({"endpoint": "cert", "vndrNo": "VR000216", "remaining": 2, "applied": 0, "kind": "resultCode", "resultCode": "404"}),
        ),
        (
            json!({"endpoint": "check", "kind": "delay", "delayMs": 50}),
            json!({"endpoint": "check", "vndrNo": null, "remaining": null, "applied": 0, "kind": "delay", "delayMs": 50}),
        ),
        (
            json!({"endpoint": "cert", "count": 1, "kind": "http500"}),
            json!({"endpoint": "cert", "vndrNo": null, "remaining": 1, "applied": 0, "kind": "http500"}),
        ),
    ] {
        let r = app.api("POST", "/_sim/api/faults", Some(asked)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let mut expected = answered;
        expected["id"] = r.json()["id"].clone();
        assert!(expected["id"].is_u64());
        assert_eq!(r.json(), expected);
        listed.push(expected);
    }
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.json(),
        Value::Array(listed)
    );
}

/// `allowedIps` entries are parsed when a vendor is put: a bad one is refused naming it, and
/// the good ones answer and list as they were written.
#[actix_web::test]
async fn a_vendors_allowed_ips_are_checked_entry_by_entry_and_kept_as_written() {
    let app = spawn_app().await;
    let allowed = json!(["127.0.0.1", "::1", "10.0.0.0/8", "192.0.2.7/24"]);
    let vendor = json!({"vndrItwkInfoNo": "901", "name": "망 제휴사", "gateUrl": "http://localhost:3999/gate", "allowedIps": allowed});
    let r = app
        .api("PUT", "/_sim/api/vendors/VR000901", Some(vendor.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["allowedIps"], allowed);
    let before = app.api("GET", "/_sim/api/vendors", None).await.json();
    let listed = before
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vndrNo"] == "VR000901")
        .unwrap()
        .clone();
    assert_eq!(listed["allowedIps"], allowed);
    let mut bad = vendor;
    bad["allowedIps"] = json!(["127.0.0.1", "10.0.0.0/33"]);
    for (method, body) in [
        ("PUT", bad),
        ("PATCH", json!({"allowedIps": ["localhost"]})),
    ] {
        let r = app
            .api(method, "/_sim/api/vendors/VR000901", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        let entry = body["allowedIps"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap();
        assert!(
            error.starts_with("allowedIps: ") && error.contains(&format!("'{entry}'")),
            "{error}"
        );
    }
    assert_eq!(
        app.api("GET", "/_sim/api/vendors", None).await.json(),
        before
    );
}

#[actix_web::test]
async fn changing_a_member_sends_the_member_fields_again_on_the_next_gate() {
    let app = spawn_app().await;
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    app.gate(ask.clone()).await;
    assert!(app.gate(ask.clone()).await.json()["fields"]
        .get("USER_NAME")
        .is_none());
    let r = app
        .api(
            "PATCH",
            "/_sim/api/members/J01A00038745",
            Some(json!({"mbrNm": "차세대"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["mbrNm"], "차세대");
    let again = app.gate(ask.clone()).await.json();
    assert_eq!(again["fields"]["USER_NAME"], "차세대");
    // And the cert call gives the new data.
    let token = again["otpToken"].as_str().unwrap();
    let user = app.cert(&format!("otpToken={token}")).await.json();
    assert_eq!(user["resultMap"]["user"]["mbrNm"], "차세대");
    assert!(app.gate(ask).await.json()["fields"]
        .get("USER_NAME")
        .is_none());
}

#[actix_web::test]
async fn invalid_fixture_changes_are_refused_with_the_field_named_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.api("GET", "/_sim/api/members", None).await.json();
    for (method, path, body, field) in [
        (
            "PATCH",
            "/_sim/api/members/J01A00038745",
            json!({"dob": "1981-11-30"}),
            "dob",
        ),
        (
            "PATCH",
            "/_sim/api/members/J01A00038745",
            json!({"cmpyCd": "ZZZ"}),
            "cmpyCd",
        ),
        (
            "PATCH",
            "/_sim/api/members/J01A00038745",
            json!({"shoeSize": 270}),
            "shoeSize",
        ),
        (
            "PUT",
            "/_sim/api/members/NEW1",
            json!({"cmpyCd": "J01"}),
            "missing field",
        ),
        (
            "PUT",
            "/_sim/api/members/NEW1",
            json!({"custId": "OTHER"}),
            "custId",
        ),
        (
            "PUT",
            "/_sim/api/vendors/VR9",
            json!({"vndrItwkInfoNo": "1", "name": "x", "gateUrl": "http://x/gate", "allowedIps": ["300.1.1.1"]}),
            "allowedIps",
        ),
        (
            "PUT",
            "/_sim/api/companies/TOOLONG",
            json!({"name": "x", "pntNm": "p", "moblPntNm": "p", "pointNameCode": "P"}),
            "cmpyCd",
        ),
        (
            "PUT",
            "/_sim/api/consents/J01A00038746/VR000216",
            json!({"agrDts": "yesterday"}),
            "agrDts",
        ),
    ] {
        let r = app.api(method, path, Some(body)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {}",
            r.text()
        );
        assert!(
            r.json()["error"].as_str().unwrap().contains(field),
            "{}",
            r.text()
        );
    }
    assert_eq!(
        app.api("GET", "/_sim/api/members", None).await.json(),
        before
    );
    assert_eq!(
        app.api(
            "PATCH",
            "/_sim/api/members/NOBODY",
            Some(json!({"mbrNm": "x"}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn companies_members_vendors_and_consents_can_be_created_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .api("PUT", "/_sim/api/companies/K77", Some(json!({"name": "케이칠칠", "pntNm": "마음포인트", "moblPntNm": "마음", "pointNameCode": "P77"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let member = json!({"cmpyCd": "K77", "mbrNo": "K7700000000001", "mbrId": "hong", "mbrNm": "홍길동", "empen": "1", "dob": "19900101"});
    assert_eq!(
        app.api("PUT", "/_sim/api/members/K77A1", Some(member))
            .await
            .status,
        StatusCode::CREATED
    );
    let vendor = json!({"vndrItwkInfoNo": "900", "name": "새 제휴사", "gateUrl": "http://localhost:3999/gate", "allowedIps": ["127.0.0.1"], "tokenTtlSeconds": 60});
    assert_eq!(
        app.api("PUT", "/_sim/api/vendors/VR000900", Some(vendor))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = app
        .api("PUT", "/_sim/api/consents/K77A1/VR000900", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    let gate = app
        .gate(json!({"cmpyCd": "K77", "custId": "K77A1", "vndrNo": "VR000900"}))
        .await
        .json();
    assert_eq!(gate["fields"]["pointname"], "마음포인트");
    let token = gate["otpToken"].as_str().unwrap();
    let user = app.cert(&format!("otpToken={token}")).await.json();
    assert_eq!(user["resultMap"]["user"]["vndrItwkInfoNo"], "900");

    assert_eq!(
        app.api("DELETE", "/_sim/api/consents/K77A1/VR000900", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(app
        .gate(json!({"cmpyCd": "K77", "custId": "K77A1", "vndrNo": "VR000900"}))
        .await
        .json()["otpToken"]
        .is_null());
    let r = app.api("DELETE", "/_sim/api/companies/K77", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["error"].as_str().unwrap().contains("K77A1"));
    assert_eq!(
        app.api("DELETE", "/_sim/api/members/K77A1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api("DELETE", "/_sim/api/companies/K77", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api("DELETE", "/_sim/api/vendors/VR000900", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.api("DELETE", "/_sim/api/vendors/VR000900", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn reset_goes_back_to_the_loaded_fixtures_with_no_tokens_and_an_empty_journal() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.api(
        "PATCH",
        "/_sim/api/members/J01A00038745",
        Some(json!({"mbrNm": "바뀐이름"})),
    )
    .await;
    app.api(
        "POST",
        "/_sim/api/faults",
        Some(json!({"endpoint": "cert", "kind": "http500"})),
    )
    .await;
    let r = app.api("POST", "/_sim/api/reset", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(app.journal("").await.is_empty());
    assert_eq!(app.live_tokens().await, 0);
    assert_eq!(
        app.api("GET", "/_sim/api/faults", None).await.json(),
        json!([])
    );
    assert_eq!(
        app.cert(&format!("otpToken={token}")).await.result_code(),
        "404"
    );
    let members = app.api("GET", "/_sim/api/members", None).await.json();
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["mbrNm"] == "차세대테"));
    // Delivery memory is gone too: the first GATE after a reset carries the member fields.
    let gate = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"}))
        .await
        .json();
    assert_eq!(gate["fields"]["USER_NAME"], "차세대테");
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
        }
    }
    let mut served: Vec<String> = benecafe_sim::web::list()
        .into_iter()
        .filter(|(_, _, p)| {
            p.starts_with("/sso/")
                || p.starts_with("/_sim/api/")
                || *p == "/_sim/healthz"
                || *p == "/_sim/openapi.json"
                || *p == "/_sim/ca.pem"
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
