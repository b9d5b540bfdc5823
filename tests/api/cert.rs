//! The cert endpoint: every row of the guide's table, both spellings, GET and POST, query and
//! form body, one-time use, expiry, IP checks, HTTPS only.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const OK_MESSAGE: &str = "OTP 토큰 인증 되었습니다.";
const USED_MESSAGE: &str = "OTP 토큰이 이미 사용되었거나 일치하는 사용자가 없습니다.";

fn assert_protocol_headers(reply: &crate::helpers::Reply) {
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json;charset=UTF-8")
    );
}

#[actix_web::test]
async fn a_valid_token_gives_ok_with_every_user_field_from_the_fixtures() {
    let app = spawn_app().await;
    let token = app.token().await;
    let reply = app.cert(&format!("otpTokenp={token}")).await;
    assert_protocol_headers(&reply);
    let body = reply.json();
    assert_eq!(body["resultCode"], "OK");
    assert_eq!(body["message"], OK_MESSAGE);
    let user = &body["resultMap"]["user"];
    let expected = json!({
        "mbrNo": "J0100000000440",
        "mbrNm": "차세대테",
        "mbrId": "123456",
        "hmeTelNo": "0310000000",
        "postNo": "06270",
        "baseAddr": "서울 강남구 남부순환로365길 58 (도곡동, 성암빌딩)",
        "dtlsAddr": "6층",
        "empen": "123456",
        "dob": "19811130",
        "vndrNo": "VR000216",
        "vndrItwkInfoNo": "302",
        "otpToken": token,
        "custId": "J01A00038745",
        "agrDts": "2017-10-20 17:09:33.0",
        "pntNm": "복지포인트",
        "moblPntNm": "복지포인트"
    });
    assert_eq!(user, &expected);
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[actix_web::test]
async fn a_used_token_gives_404_on_the_second_call() {
    let app = spawn_app().await;
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
    let second = app.cert(&format!("otpTokenp={token}")).await;
    assert_protocol_headers(&second);
    assert_eq!(
        second.json(),
        json!({"resultCode": "404", "message": USED_MESSAGE})
    );
    let reason = second.header("x-sim-reason").unwrap();
    assert!(
        reason.contains("already used at") && reason.contains("127.0.0.1"),
        "{reason}"
    );
}

#[actix_web::test]
async fn both_spellings_work_by_get_and_post_in_the_query_and_in_a_form_body() {
    let app = spawn_app().await;
    for param in ["otpTokenp", "otpToken"] {
        let t = app.token().await;
        let r = app.cert(&format!("{param}={t}")).await;
        assert_eq!(r.result_code(), "OK", "GET query {param}");

        let t = app.token().await;
        let r = app
            .post_form("/sso/vendorUserCertTonken", &format!("{param}={t}"))
            .await;
        assert_eq!(r.result_code(), "OK", "POST form {param}");

        let t = app.token().await;
        let client = app.client();
        let r = app
            .send(
                client.post(format!(
                    "{}/sso/vendorUserCertTonken?{param}={t}",
                    app.https
                )),
                None,
            )
            .await;
        assert_eq!(r.result_code(), "OK", "POST query {param}");
    }
    // The journal records which spelling each call used.
    let params: Vec<String> = app
        .journal_events()
        .await
        .iter()
        .filter_map(|e| serde_json::to_value(&**e).ok())
        .filter(|e| e["type"] == "cert")
        .map(|e| {
            format!(
                "{}/{}",
                e["param"].as_str().unwrap(),
                e["paramIn"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            "otpTokenp/query",
            "otpTokenp/form",
            "otpTokenp/query",
            "otpToken/query",
            "otpToken/form",
            "otpToken/query"
        ]
    );
}

#[actix_web::test]
async fn a_missing_or_blank_token_gives_400() {
    let app = spawn_app().await;
    for query in ["", "other=1", "otpTokenp=", "otpToken=%20%20"] {
        let r = app.cert(query).await;
        assert_protocol_headers(&r);
        assert_eq!(
            r.json(),
            json!({"resultCode": "400", "message": "OTP 토큰이 누락되었습니다."}),
            "query {query:?}"
        );
    }
}

#[actix_web::test]
async fn a_token_not_of_the_simulators_format_gives_401() {
    let app = spawn_app().await;
    let token = app.token().await;
    let upper = token.to_uppercase();
    let short = &token[..63];
    for bad in [upper.as_str(), short, "not-a-token", &format!("{token}0")] {
        let r = app.cert(&format!("otpTokenp={bad}")).await;
        assert_eq!(
            r.json(),
            json!({"resultCode": "401", "message": "OTP 값이 유효하지 않습니다."}),
            "token {bad:?}"
        );
    }
    // None of that used the real token up.
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
async fn an_unknown_well_formed_token_gives_404() {
    let app = spawn_app().await;
    let r = app.cert(&format!("otpTokenp={}", "ab".repeat(32))).await;
    assert_eq!(
        r.json(),
        json!({"resultCode": "404", "message": USED_MESSAGE})
    );
}

#[actix_web::test]
async fn an_expired_token_gives_401_and_stays_401() {
    let app = spawn_app().await;
    let reply = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "ttlSeconds": 1}))
        .await;
    let token = reply.json()["otpToken"].as_str().unwrap().to_owned();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..2 {
        let r = app.cert(&format!("otpTokenp={token}")).await;
        assert_eq!(r.result_code(), "401");
        assert!(r.header("x-sim-reason").unwrap().contains("expired"));
    }
}

#[actix_web::test]
async fn the_global_lifetime_setting_applies_to_new_tokens() {
    let app = spawn_app_with(|s| s.token_ttl_seconds = 1).await;
    let token = app.token().await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "401"
    );
}

/// The vendor VR000452 allows only 203.0.113.10 and 198.51.100.0/24; loopback is a trusted
/// proxy here so that tests can speak for other addresses.
async fn app_behind_a_trusted_proxy() -> TestApp {
    spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

async fn remote_vendor_token(app: &TestApp) -> String {
    let r = app
        .gate(json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000452", "consent": "agree"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["otpToken"].as_str().unwrap().to_owned()
}

async fn cert_from(app: &TestApp, forwarded_for: &str, query: &str) -> crate::helpers::Reply {
    let client = app.client();
    app.send(
        app.operator(
            client
                .get(format!("{}/sso/vendorUserCertTonken?{query}", app.https))
                .insert_header(("X-Forwarded-For", forwarded_for)),
        ),
        None,
    )
    .await
}

#[actix_web::test]
async fn a_caller_outside_the_vendors_list_gets_403_and_the_token_stays_usable() {
    let app = app_behind_a_trusted_proxy().await;
    let token = remote_vendor_token(&app).await;
    // Loopback itself is not in VR000452's list.
    let r = app.cert(&format!("otpTokenp={token}")).await;
    assert_protocol_headers(&r);
    assert_eq!(
        r.json(),
        json!({"resultCode": "403", "message": "허용된 아이피가 아닙니다."})
    );
    let reason = r.header("x-sim-reason").unwrap();
    assert!(
        reason
            .contains("127.0.0.1 is not in VR000452's allowed IPs: 203.0.113.10, 198.51.100.0/24"),
        "{reason}"
    );
    // Loopback is allowed by VR000216, but the token's own vendor decides.
    let r = cert_from(&app, "198.51.100.7", &format!("otpTokenp={token}")).await;
    assert_eq!(r.result_code(), "OK", "{:?}", r.header("x-sim-reason"));
}

#[actix_web::test]
async fn the_ip_check_comes_before_every_other_check() {
    let app = app_behind_a_trusted_proxy().await;
    // 10.9.9.9 is in no vendor's list: missing, malformed and unknown tokens all get 403.
    for query in [
        "",
        "otpTokenp=xyz",
        &format!("otpTokenp={}", "cd".repeat(32)),
    ] {
        let r = cert_from(&app, "10.9.9.9", query).await;
        assert_eq!(r.result_code(), "403", "query {query:?}");
    }
    // An address some vendor allows passes step 1 for an unknown token.
    let r = cert_from(
        &app,
        "203.0.113.10",
        &format!("otpTokenp={}", "cd".repeat(32)),
    )
    .await;
    assert_eq!(r.result_code(), "404");
    // A known token of another vendor: that vendor's list decides (loopback is allowed by it).
    let token = app.token().await;
    let r = cert_from(&app, "203.0.113.10", &format!("otpTokenp={token}")).await;
    assert_eq!(r.result_code(), "403");
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await; // no trusted proxies
    let token = remote_vendor_token(&app).await;
    let r = cert_from(&app, "203.0.113.10", &format!("otpTokenp={token}")).await;
    assert_eq!(r.result_code(), "403");
    let journal = app.journal_events().await;
    let last = serde_json::to_value(&**journal.last().unwrap()).unwrap();
    assert_eq!(last["ip"], "127.0.0.1");
}

#[actix_web::test]
async fn the_forwarded_header_from_a_trusted_proxy_is_used() {
    let app = app_behind_a_trusted_proxy().await;
    let token = remote_vendor_token(&app).await;
    let client = app.client();
    let r = app
        .send(
            client
                .get(format!(
                    "{}/sso/vendorUserCertTonken?otpTokenp={token}",
                    app.https
                ))
                .insert_header(("Forwarded", "for=\"203.0.113.10:4711\";proto=https")),
            None,
        )
        .await;
    assert_eq!(r.result_code(), "OK");
}

#[actix_web::test]
async fn plain_http_is_refused_with_https_required_and_the_token_stays_usable() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .get_http(&format!("/sso/vendorUserCertTonken?otpTokenp={token}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.result_code(), "HTTPS_REQUIRED");
    assert!(r.json()["message"].as_str().unwrap().contains("HTTPS"));
    assert!(
        r.text().starts_with(r#"{"resultCode":"HTTPS_REQUIRED","#),
        "resultCode first, as in every answer: {}",
        r.text()
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
async fn plain_http_works_only_when_explicitly_allowed() {
    let app = spawn_app_with(|s| s.allow_plain_http_cert = true).await;
    let token = app.token().await;
    let r = app
        .get_http(&format!("/sso/vendorUserCertTonken?otpTokenp={token}"))
        .await;
    assert_eq!(r.result_code(), "OK");
}

#[actix_web::test]
async fn the_mirror_switch_puts_the_result_code_in_the_http_status() {
    let app =
        spawn_app_with(|s| s.cert_status = benecafe_sim::app::settings::CertStatus::Mirror).await;
    let token = app.token().await;
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.status,
        StatusCode::OK
    );
    let r = app.cert(&format!("otpTokenp={token}")).await;
    assert_eq!(
        (r.status, r.result_code().as_str()),
        (StatusCode::NOT_FOUND, "404")
    );
    assert_eq!(app.cert("").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.cert("otpTokenp=x").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn of_200_concurrent_calls_with_one_token_exactly_one_gets_ok() {
    let app = spawn_app().await;
    let token = app.token().await;
    let client = app.client();
    let calls = (0..200).map(|_| {
        let req = client.get(format!(
            "{}/sso/vendorUserCertTonken?otpTokenp={token}",
            app.https
        ));
        async move {
            let mut res = req.send().await.expect("sent");
            let body = res.body().await.expect("body");
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["resultCode"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let codes = futures_util::future::join_all(calls).await;
    assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 1);
    assert_eq!(codes.iter().filter(|c| *c == "404").count(), 199);
}
