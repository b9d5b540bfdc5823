//! `POST /_sim/api/gate` and the read-only lists: the fixed contract for outside test suites.

use awc::http::StatusCode;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn field_names(body: &Value) -> Vec<String> {
    body["fields"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn omitted(body: &Value) -> Vec<(String, String)> {
    body["omitted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["field"].as_str().unwrap().to_owned(),
                o["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_first_gate_carries_every_field_by_its_protocol_name() {
    let app = spawn_app().await;
    let r = app
        .gate(
            json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216",
                     "directUrl": "/goods/123", "baroItem": "G0001", "receiptYn": "Y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["charset"], "UTF-8");
    // The pages (and the built-in partner) are at 127.0.0.1, a different site from a partner
    // on localhost, as the mall is from its partners in production.
    assert_eq!(body["gateUrl"], format!("{}/_sim/partner/gate", app.http));
    let f = &body["fields"];
    let mut expected = [
        "POPUPURL",
        "DirectFlag",
        "DirectURL",
        "CUS_URL",
        "cmpy_cd",
        "CFM_CUS_ID",
        "USER_NAME",
        "ReceiptYN",
        "pointname",
        "pointnameBase64",
        "pointnamecode",
        "BaroItem",
        "CHECKURL",
        "OTP_TOKEN",
    ]
    .map(String::from)
    .to_vec();
    expected.sort();
    let mut names = field_names(&body);
    names.sort();
    assert_eq!(names, expected);
    assert_eq!(f["DirectFlag"], "Y");
    assert_eq!(f["DirectURL"], "/goods/123");
    assert_eq!(f["cmpy_cd"], "J01");
    assert_eq!(f["CFM_CUS_ID"], "J01A00038745");
    assert_eq!(f["USER_NAME"], "차세대테");
    assert_eq!(f["ReceiptYN"], "Y");
    assert_eq!(f["pointname"], "복지포인트");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(f["pointnameBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), "복지포인트");
    assert_eq!(f["pointnamecode"], "P01");
    assert_eq!(f["BaroItem"], "G0001");
    assert!(f["CUS_URL"].as_str().unwrap().starts_with("https://"));
    assert_eq!(
        f["CHECKURL"],
        format!("{}/sso/vendorUserCheck", f["CUS_URL"].as_str().unwrap())
    );
    assert!(f["POPUPURL"].as_str().unwrap().contains("/mall/point"));
    let token = f["OTP_TOKEN"].as_str().unwrap();
    assert_eq!(body["otpToken"], token);
    assert_eq!(token.len(), 64);
    assert!(chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).is_ok());
    assert_eq!(
        omitted(&body)
            .into_iter()
            .map(|(f, _)| f)
            .collect::<Vec<_>>(),
        ["ranNum"]
    );
}

#[actix_web::test]
async fn member_fields_go_only_the_first_time_and_again_when_forced() {
    let app = spawn_app().await;
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    let first = app.gate(ask.clone()).await.json();
    assert!(first["fields"].get("CFM_CUS_ID").is_some());
    let second = app.gate(ask.clone()).await.json();
    for field in ["cmpy_cd", "CFM_CUS_ID", "USER_NAME", "ReceiptYN"] {
        assert!(
            second["fields"].get(field).is_none(),
            "{field} was sent again"
        );
        let (_, reason) = omitted(&second)
            .into_iter()
            .find(|(f, _)| f == field)
            .expect("listed as omitted");
        assert!(reason.contains("already delivered"), "{reason}");
    }
    // The token is still issued: the partner gets the member from the cert call.
    assert!(second["otpToken"].is_string());
    let mut forced = ask.clone();
    forced["forceMemberFields"] = json!(true);
    let third = app.gate(forced).await.json();
    assert_eq!(third["fields"]["CFM_CUS_ID"], "J01A00038745");
}

#[actix_web::test]
async fn the_global_switch_forces_member_fields_every_time() {
    let app = crate::helpers::spawn_app_with(|s| s.force_member_fields = true).await;
    let ask = json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216"});
    app.gate(ask.clone()).await;
    assert_eq!(
        app.gate(ask).await.json()["fields"]["USER_NAME"],
        "차세대테"
    );
}

#[actix_web::test]
async fn without_consent_there_are_no_member_fields_and_no_token() {
    let app = spawn_app().await;
    // 김민지 has not agreed to share data with VR000216.
    let r = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038746", "vndrNo": "VR000216"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    for field in [
        "cmpy_cd",
        "CFM_CUS_ID",
        "USER_NAME",
        "ReceiptYN",
        "OTP_TOKEN",
    ] {
        assert!(
            body["fields"].get(field).is_none(),
            "{field} sent without consent"
        );
        assert!(omitted(&body)
            .iter()
            .any(|(f, r)| f == field && r.contains("동의")));
    }
    assert!(body["otpToken"].is_null());
    assert!(body["expiresAt"].is_null());
    assert!(!body["fields"]["POPUPURL"]
        .as_str()
        .unwrap()
        .contains("custId"));
}

#[actix_web::test]
async fn agreeing_records_consent_and_declining_withdraws_it() {
    let app = spawn_app().await;
    let ask = |consent: &str| json!({"cmpyCd": "J01", "custId": "J01A00038746", "vndrNo": "VR000216", "consent": consent});
    let agreed = app.gate(ask("agree")).await.json();
    let token = agreed["otpToken"].as_str().unwrap().to_owned();
    assert_eq!(agreed["fields"]["USER_NAME"], "김민지");
    let user = app.cert(&format!("otpTokenp={token}")).await.json();
    let agr_dts = user["resultMap"]["user"]["agrDts"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        chrono::NaiveDateTime::parse_from_str(&agr_dts, "%Y-%m-%d %H:%M:%S%.f").is_ok(),
        "{agr_dts}"
    );
    assert!(app.gate(ask("keep")).await.json()["otpToken"].is_string());
    assert!(app.gate(ask("decline")).await.json()["otpToken"].is_null());
    assert!(app.gate(ask("keep")).await.json()["otpToken"].is_null());
}

#[actix_web::test]
async fn a_vendor_with_parameter_encryption_gets_a_numeric_ran_num() {
    let app = spawn_app().await;
    let body = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000301", "directUrl": "/event/7"}))
        .await
        .json();
    let ran = body["fields"]["ranNum"].as_str().unwrap();
    assert!(!ran.is_empty() && ran.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(body["gateUrl"], "http://localhost:3000/gate");
    // The vendor's DirectURL base completes a relative DirectURL.
    assert_eq!(body["fields"]["DirectURL"], "http://localhost:3000/event/7");
}

#[actix_web::test]
async fn unknown_company_member_or_vendor_gives_404_with_an_error() {
    let app = spawn_app().await;
    for (body, word) in [
        (
            json!({"cmpyCd": "ZZZ", "custId": "J01A00038745", "vndrNo": "VR000216"}),
            "company",
        ),
        (
            json!({"cmpyCd": "J01", "custId": "NOPE", "vndrNo": "VR000216"}),
            "member",
        ),
        (
            json!({"cmpyCd": "AA5", "custId": "J01A00038745", "vndrNo": "VR000216"}),
            "company",
        ),
        (
            json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR999999"}),
            "vendor",
        ),
    ] {
        let r = app.gate(body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.json()["error"].as_str().unwrap().contains(word));
    }
    assert_eq!(app.live_tokens().await, 0);
}

#[actix_web::test]
async fn a_malformed_body_gives_400_with_an_error() {
    let app = spawn_app().await;
    let client = app.client();
    for (content_type, body) in [
        ("application/json", "{not json"),
        ("application/json", r#"{"cmpyCd": "J01"}"#),
        (
            "application/json",
            r#"{"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "consent": "maybe"}"#,
        ),
        (
            "application/json",
            r#"{"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "receiptYn": "X"}"#,
        ),
        (
            "application/json",
            r#"{"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "ttlSeconds": 0}"#,
        ),
        (
            "application/json",
            r#"{"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "typo": 1}"#,
        ),
        ("application/x-www-form-urlencoded", "cmpyCd=J01"),
    ] {
        let r = app
            .send(
                client.post(format!("{}/_sim/api/gate", app.https)),
                Some((content_type, body.as_bytes().to_vec())),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(app.live_tokens().await, 0);
}

#[actix_web::test]
async fn an_inactive_member_cannot_get_a_gate() {
    let app = spawn_app().await;
    let r = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038747", "vndrNo": "VR000216", "consent": "agree"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json()["error"].as_str().unwrap().contains("inactive"));
}

#[actix_web::test]
async fn the_lists_show_the_fixtures_with_protocol_names() {
    let app = spawn_app().await;
    let companies = app.get("/_sim/api/companies").await.json();
    assert_eq!(companies.as_array().unwrap().len(), 4);
    assert!(companies
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["cmpyCd"] == "J01" && c["pntNm"] == "복지포인트"));
    let members = app.get("/_sim/api/members").await.json();
    assert!(members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["custId"] == "J01A00038745" && m["mbrId"] == "123456"));
    let vendors = app.get_http("/_sim/api/vendors").await.json();
    let v = vendors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vndrNo"] == "VR000216")
        .unwrap()
        .clone();
    assert_eq!(v["vndrItwkInfoNo"], "302");
    assert_eq!(v["allowedIps"], json!(["127.0.0.1", "::1"]));
    assert_eq!(v["gateUrl"], "/_sim/partner/gate");
}

#[actix_web::test]
async fn health_answers_on_both_listeners() {
    let app = spawn_app().await;
    assert_eq!(app.get("/_sim/healthz").await.status, StatusCode::OK);
    assert_eq!(app.get_http("/_sim/healthz").await.status, StatusCode::OK);
}
