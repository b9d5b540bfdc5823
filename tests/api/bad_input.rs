//! Every row of the README's bad-input table: the exact answer, and nothing changed (the token
//! still usable once, the fixtures as before, no token issued).

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

/// What must not change when input is refused.
struct Before {
    members: Value,
    live: usize,
}

async fn before(app: &TestApp) -> Before {
    Before {
        members: app.get("/_sim/api/members").await.json(),
        live: app.live_tokens().await,
    }
}

async fn assert_unchanged(app: &TestApp, b: &Before, token: &str) {
    assert_eq!(app.get("/_sim/api/members").await.json(), b.members);
    assert_eq!(app.live_tokens().await, b.live);
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK",
        "the token was spoilt"
    );
}

fn assert_cert(reply: &Reply, code: &str, reason_has: &str) {
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.result_code(), code, "{}", reply.text());
    let reason = reply.header("x-sim-reason").unwrap_or_default();
    assert!(
        reason.contains(reason_has),
        "reason {reason:?} lacks {reason_has:?}"
    );
}

#[actix_web::test]
async fn a_query_over_the_limit_gets_414_in_the_cert_endpoints_shape() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    let r = app
        .cert(&format!("otpTokenp={token}&pad={}", "x".repeat(5000)))
        .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert_eq!(r.json()["resultCode"], "414");
    assert!(r.json()["message"].as_str().unwrap().contains("4096"));
    assert!(
        r.text().starts_with(r#"{"resultCode":"414","message":"#),
        "resultCode first, as in every answer of the cert endpoint: {}",
        r.text()
    );
    let r = app
        .get(&format!("/_sim/api/journal?endpoint={}", "x".repeat(5000)))
        .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert!(r.json()["error"].as_str().unwrap().contains("query string"));
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn a_body_over_the_limit_gets_413_declared_or_chunked() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    let big = format!("otpTokenp={token}&pad={}", "x".repeat(70_000));
    let r = app.post_form("/sso/vendorUserCertTonken", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["resultCode"], "413");
    // Without a declared length the limit holds while reading.
    let client = app.client();
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(actix_web::web::Bytes::from(vec![b'x'; 8192]))),
    );
    let mut res = client
        .post(format!("{}/sso/vendorUserCertTonken", app.https))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_stream(chunks)
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(body["resultCode"], "413");
    let r = app
        .post_json(
            "/_sim/api/gate",
            &json!({"cmpyCd": "J01", "custId": "x".repeat(70_000), "vndrNo": "VR000216"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["error"].is_string());
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn invalid_percent_encoding_or_utf8_in_the_token_gives_401() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    assert_cert(&app.cert("otpTokenp=%zz").await, "401", "percent-encoding");
    assert_cert(
        &app.cert(&format!("otpTokenp={}%4", &token[..63])).await,
        "401",
        "percent-encoding",
    );
    assert_cert(&app.cert("otpToken=%ff%fe").await, "401", "UTF-8");
    assert_cert(
        &app.post_form("/sso/vendorUserCertTonken", "otpTokenp=%e2%28%a1")
            .await,
        "401",
        "UTF-8",
    );
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn a_token_given_twice_with_different_values_gives_401_and_the_same_value_twice_is_fine() {
    let app = spawn_app().await;
    let token = app.token().await;
    let other = app.token().await;
    let b = before(&app).await;
    assert_cert(
        &app.cert(&format!("otpTokenp={token}&otpTokenp={other}"))
            .await,
        "401",
        "more than once",
    );
    assert_cert(
        &app.cert(&format!("otpTokenp={token}&otpToken={other}"))
            .await,
        "401",
        "more than once",
    );
    assert_cert(
        &app.post_form(
            &format!("/sso/vendorUserCertTonken?otpTokenp={token}"),
            &format!("otpTokenp={other}"),
        )
        .await,
        "401",
        "more than once",
    );
    assert_unchanged(&app, &b, &token).await;
    let r = app
        .cert(&format!("otpTokenp={other}&otpToken={other}"))
        .await;
    assert_eq!(r.result_code(), "OK");
}

#[actix_web::test]
async fn a_token_with_spaces_or_in_upper_case_gives_401() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    for bad in [
        format!("%20{token}"),
        format!("{token}+"),
        token.to_uppercase(),
    ] {
        assert_cert(
            &app.cert(&format!("otpTokenp={bad}")).await,
            "401",
            "64 lowercase hex",
        );
    }
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn a_json_body_to_the_cert_endpoint_is_not_read_and_gives_400_saying_so() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    let r = app
        .post_json("/sso/vendorUserCertTonken", &json!({"otpToken": token}))
        .await;
    assert_cert(&r, "400", "application/json) was not read");
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn a_form_where_the_control_api_wants_json_gives_400() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    let r = app
        .post_form(
            "/_sim/api/gate",
            "cmpyCd=J01&custId=J01A00038745&vndrNo=VR000216",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    let r = app.post_form("/_sim/api/faults", "endpoint=cert").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_unchanged(&app, &b, &token).await;
}

/// `receiptYn` is `Y` or `N` wherever it comes in (the GATE API, a member put or patched, the
/// demo form's `ReceiptYN`): anything else is a 400 naming the field and the value.
#[actix_web::test]
async fn a_receipt_yn_other_than_y_or_n_is_refused_naming_field_and_value() {
    let app = spawn_app().await;
    let token = app.token().await;
    let b = before(&app).await;
    let r = app
        .post_json(
            "/_sim/api/gate",
            &json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "receiptYn": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        r#"receiptYn: must be "Y" or "N", not "X""#
    );
    let member = json!({"cmpyCd": "J01", "mbrNo": "J01Y", "mbrId": "y", "mbrNm": "영수증", "empen": "1", "dob": "19900101", "receiptYn": "yes"});
    for r in [
        app.put_json("/_sim/api/members/J01RECEIPT1", &member).await,
        app.api(
            "PATCH",
            "/_sim/api/members/J01A00038745",
            Some(json!({"receiptYn": "n"})),
        )
        .await,
    ] {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.starts_with(r#"receiptYn: must be "Y" or "N", not "#),
            "{error}"
        );
    }
    let r = app
        .post_form(
            "/_sim/demo",
            "member=J01%7CJ01A00038745&vndrNo=VR000216&consent=agree&ReceiptYN=X",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("receiptYn"), "{}", r.text());
    assert_unchanged(&app, &b, &token).await;
}

#[actix_web::test]
async fn markup_in_text_fields_is_stored_as_text_and_escaped_on_pages() {
    let app = spawn_app().await;
    let name = "<script>alert(1)</script>\"'&";
    let member = json!({"cmpyCd": "J01", "mbrNo": "J01X", "mbrId": "<b>", "mbrNm": name, "empen": "1", "dob": "19900101", "baseAddr": "<img src=x onerror=alert(1)>"});
    assert!(app
        .put_json("/_sim/api/members/J01HTML0001", &member)
        .await
        .status
        .is_success());
    let listed = app.get("/_sim/api/members").await.json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["mbrNm"] == name));
    let page = app.get_http("/member/login?cmpyNo=J01").await.text();
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "the name is not escaped"
    );
    // The cert answer carries it as a JSON string.
    let gate = app.gate(json!({"cmpyCd": "J01", "custId": "J01HTML0001", "vndrNo": "VR000216", "consent": "agree"})).await.json();
    let token = gate["otpToken"].as_str().unwrap();
    let user = app.cert(&format!("otpTokenp={token}")).await.json();
    assert_eq!(user["resultMap"]["user"]["mbrNm"], name);
    assert_eq!(
        user["resultMap"]["user"]["baseAddr"],
        "<img src=x onerror=alert(1)>"
    );
}

#[actix_web::test]
async fn nothing_a_caller_sends_can_add_or_split_a_response_header() {
    let app = spawn_app().await;
    let evil = "a%0d%0aSet-Cookie:%20pwned=1%0d%0aX-Evil:%201";
    for path in [
        format!("/sso/vendorUserCheck?cmpyCd=J01&CFM_CUS_ID={evil}&userName=x"),
        format!("/sso/vendorUserCertTonken?otpTokenp={evil}"),
        format!("/_sim/api/tokens/{evil}"),
    ] {
        let r = app.get(&path).await;
        assert!(r.headers.get("set-cookie").is_none(), "{path}");
        assert!(r.headers.get("x-evil").is_none(), "{path}");
        if let Some(reason) = r.header("x-sim-reason") {
            assert!(!reason.contains('\r') && !reason.contains('\n'));
        }
    }
}

#[actix_web::test]
async fn odd_input_never_gives_a_500() {
    let app = spawn_app().await;
    let client = app.client();
    type Body = Option<(&'static str, Vec<u8>)>;
    let cases: Vec<(&str, String, Body)> = vec![
        ("GET", "/sso/vendorUserCertTonken?%".into(), None),
        (
            "GET",
            "/sso/vendorUserCertTonken?=&&=x&otpTokenp".into(),
            None,
        ),
        (
            "POST",
            "/sso/vendorUserCertTonken".into(),
            Some((
                "application/x-www-form-urlencoded",
                vec![0xff, 0xfe, b'=', 0x00],
            )),
        ),
        (
            "POST",
            "/sso/vendorUserCheck".into(),
            Some((
                "application/x-www-form-urlencoded",
                b"cmpyCd=%&CFM_CUS_ID=%ff".to_vec(),
            )),
        ),
        (
            "POST",
            "/_sim/api/gate".into(),
            Some(("application/json", b"[1,2,3]".to_vec())),
        ),
        (
            "POST",
            "/_sim/api/gate".into(),
            Some(("application/json", b"{\"cmpyCd\": 5}".to_vec())),
        ),
        (
            "POST",
            "/_sim/api/gate".into(),
            Some(("application/json", vec![0xff; 10])),
        ),
        (
            "PUT",
            "/_sim/api/members/%ff".into(),
            Some(("application/json", b"{}".to_vec())),
        ),
        (
            "PATCH",
            "/_sim/api/members/J01A00038745".into(),
            Some(("application/json", b"null".to_vec())),
        ),
        (
            "PUT",
            "/_sim/api/consents/J01A00038745/VR000216".into(),
            Some(("application/json", b"\"x\"".to_vec())),
        ),
        ("GET", "/_sim/api/journal?limit=-1".into(), None),
        (
            "GET",
            "/_sim/api/journal?limit=99999999999999999999999".into(),
            None,
        ),
        ("DELETE", "/_sim/api/faults/abc".into(), None),
        ("POST", "/_sim/api/tokens/%00/expire".into(), None),
        (
            "POST",
            "/member/login".into(),
            Some(("application/x-www-form-urlencoded", b"cmpyNo=J01".to_vec())),
        ),
        ("GET", "/mall/go".into(), None),
        ("GET", "/mall/point?cmpyCd=%ff".into(), None),
        (
            "POST",
            "/_sim/demo".into(),
            Some((
                "application/x-www-form-urlencoded",
                b"member=nobody".to_vec(),
            )),
        ),
        (
            "POST",
            "/_sim/partner/gate".into(),
            Some((
                "application/x-www-form-urlencoded",
                b"OTP_TOKEN=%ff&pointnameBase64=!!!".to_vec(),
            )),
        ),
    ];
    for (method, path, body) in cases {
        let req = client.request(method.parse().unwrap(), format!("{}{}", app.http, path));
        let r = app.send(req, body).await;
        assert!(
            r.status.as_u16() < 500,
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    assert_eq!(app.get_http("/_sim/healthz").await.status, StatusCode::OK);
}
