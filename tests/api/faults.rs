//! Injected faults through the control API: counted and vendor-bound faults hit exactly the
//! calls they name, each kind does what it says, and a fault the API cannot read is refused
//! naming what is wrong, in the same JSON shape it is listed in.

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

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
