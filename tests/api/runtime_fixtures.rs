//! Companies, members, vendors and consents changed at run time through the control API:
//! checked by the fixture files' rules, refused with the field named and nothing changed, the
//! member fields sent again after a change, and a reset back to the loaded fixtures.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

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
