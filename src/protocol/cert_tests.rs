//! The cert decision and CHECKURL's, with no server: every rule of the book's rule table
//! (`docs/src/protocol/rules.md`), in order.

use std::net::IpAddr;

use super::*;
use crate::domain::fixtures::Fixtures;
use crate::domain::grant::Grant;
use crate::protocol::check;
use crate::protocol::params::{find_token, CheckParams};
use crate::store::{Store, StoreOptions};

fn store() -> Store {
    let fixtures = Fixtures::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures"
    )))
    .unwrap();
    let options = StoreOptions {
        max_live_tokens: 100,
        retention_ms: 60_000,
        journal_capacity: 10,
        journal_max_bytes: 1 << 20,
        state: None,
        replica: "r1".into(),
    };
    Store::memory(&fixtures, options)
}

fn caller(ip: &str) -> Caller {
    let ip: IpAddr = ip.parse().unwrap();
    Caller {
        ip,
        peer: ip,
        unusable: None,
    }
}

async fn issue(store: &Store, vendor: &str, expires_ms: u64) -> String {
    let dir = store.directory().await.unwrap();
    let grant = Grant {
        company: dir.company("J01").unwrap().0.clone(),
        customer_id: dir.member("J01A00038745").unwrap().0.clone(),
        vendor: dir.vendor(vendor).unwrap().0.clone(),
    };
    store
        .issue(grant, 1_000, expires_ms)
        .await
        .unwrap()
        .to_string()
}

fn endpoints() -> Endpoints {
    Endpoints::new("https://localhost:8443", "http://127.0.0.1:8080").unwrap()
}

async fn call(store: &Store, ip: &str, query: &str, now: u64) -> Outcome {
    let param = find_token(query, None);
    let call = CertCall {
        caller: caller(ip),
        param: param.as_ref(),
        host: None,
        now_ms: now,
    };
    let parsed = parse(call.param);
    let found = visit(store, &call, &parsed).await.unwrap();
    decide(found, parsed, &endpoints(), call)
}

#[actix_web::test]
async fn every_row_of_the_table_in_its_order() {
    let store = store();
    let token = issue(&store, "VR000216", 10_000).await;
    let q = format!("otpTokenp={token}");
    // 1. A caller outside the token's vendor's list: 403, and the token is not used.
    let o = call(&store, "203.0.113.10", &q, 2_000).await;
    assert_eq!(o.code, ResultCode::IpNotAllowed);
    assert!(o.reason.contains("VR000216"));
    // Outside every vendor's list with an unknown token: 403 before anything else.
    assert_eq!(
        call(&store, "192.0.2.1", "", 2_000).await.code,
        ResultCode::IpNotAllowed
    );
    // 2. Missing or blank.
    assert_eq!(
        call(&store, "127.0.0.1", "", 2_000).await.code,
        ResultCode::TokenMissing
    );
    assert_eq!(
        call(&store, "127.0.0.1", "otpToken=", 2_000).await.code,
        ResultCode::TokenMissing
    );
    // 3. Not of the format; expired.
    assert_eq!(
        call(&store, "127.0.0.1", "otpTokenp=XYZ", 2_000).await.code,
        ResultCode::TokenInvalid
    );
    let expired = issue(&store, "VR000216", 1_500).await;
    let o = call(&store, "127.0.0.1", &format!("otpToken={expired}"), 2_000).await;
    assert_eq!(o.code, ResultCode::TokenInvalid);
    assert!(o.reason.contains("expired"));
    // 4. Unknown.
    let unknown = "0".repeat(64);
    let o = call(&store, "127.0.0.1", &format!("otpTokenp={unknown}"), 2_000).await;
    assert_eq!(o.code, ResultCode::TokenUsedOrUnknown);
    // 5. OK once, with the member's data; then 404, and still 404 once expired.
    let o = call(&store, "127.0.0.1", &q, 2_000).await;
    assert_eq!(o.code, ResultCode::Ok);
    let body: serde_json::Value = serde_json::from_slice(&o.body).unwrap();
    assert_eq!(body["resultMap"]["user"]["custId"], "J01A00038745");
    assert_eq!(body["resultMap"]["user"]["otpToken"], token.as_str());
    assert_eq!(
        call(&store, "127.0.0.1", &q, 3_000).await.code,
        ResultCode::TokenUsedOrUnknown
    );
    assert_eq!(
        call(&store, "127.0.0.1", &q, 20_000).await.code,
        ResultCode::TokenUsedOrUnknown
    );
}

#[actix_web::test]
async fn a_trusted_proxy_that_names_nobody_gets_403_and_the_token_stays() {
    let store = store();
    let token = issue(&store, "VR000216", 10_000).await;
    let param = find_token(&format!("otpTokenp={token}"), None);
    let mut c = caller("127.0.0.1");
    c.unusable = Some("the forwarding header names no usable client address");
    let proxied = CertCall {
        caller: c,
        param: param.as_ref(),
        host: None,
        now_ms: 2_000,
    };
    let parsed = parse(proxied.param);
    let found = visit(&store, &proxied, &parsed).await.unwrap();
    let o = decide(found, parsed, &endpoints(), proxied);
    assert_eq!(o.code, ResultCode::IpNotAllowed);
    assert_eq!(
        call(&store, "127.0.0.1", &format!("otpTokenp={token}"), 2_000)
            .await
            .code,
        ResultCode::Ok
    );
}

#[test]
fn fault_plans_are_the_same_for_both_endpoints() {
    use crate::domain::fault::{FaultKind, ForcedCode};
    use crate::protocol::{FaultPlan, Replacement};
    assert_eq!(
        FaultPlan::of(&FaultKind::Delay { delay_ms: 1500 }),
        FaultPlan::Delay(std::time::Duration::from_millis(1500))
    );
    assert_eq!(
        FaultPlan::of(&FaultKind::ResultCode {
            result_code: ForcedCode::TokenUsedOrUnknown
        }),
        FaultPlan::Replace(Replacement::Result(ResultCode::TokenUsedOrUnknown))
    );
    assert_eq!(
        FaultPlan::of(&FaultKind::Drop {}),
        FaultPlan::Replace(Replacement::Drop)
    );
    assert_eq!(
        FaultPlan::of(&FaultKind::Http500 {}),
        FaultPlan::Replace(Replacement::Http500)
    );
    assert_eq!(
        FaultPlan::of(&FaultKind::Malformed {}),
        FaultPlan::Replace(Replacement::Malformed)
    );
}

#[actix_web::test]
async fn checkurl_answers_y_only_for_an_active_member_of_that_company_with_that_name() {
    let dir = store().directory().await.unwrap();
    let ask = |q: &str| check::decide(&dir, &CheckParams::read(q, None));
    let name = "%EC%B0%A8%EC%84%B8%EB%8C%80%ED%85%8C"; // 차세대테
    assert_eq!(
        ask(&format!(
            "cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName={name}"
        ))
        .answer,
        "Y"
    );
    assert_eq!(
        ask(&format!(
            "cmpy_cd=J01&CFM_CUS_ID=J01A00038745&USER_NAME={name}"
        ))
        .answer,
        "Y"
    );
    assert_eq!(
        ask(&format!(
            "cmpyCd=AA5&CFM_CUS_ID=J01A00038745&userName={name}"
        ))
        .answer,
        "N"
    );
    assert_eq!(
        ask("cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName=x").answer,
        "N"
    );
    assert_eq!(ask("cmpyCd=J01").answer, "N");
    // Two different values of one parameter: N, whichever comes first.
    let o = ask(&format!(
        "cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName={name}&userName=x"
    ));
    assert_eq!(o.answer, "N");
    assert!(o.reason.contains("more than once"));
    // EUC-KR: N, with the diagnosis.
    let o = ask("cmpyCd=J01&CFM_CUS_ID=J01A00038745&userName=%C2%F7%BC%BC%B4%EB%C5%D7");
    assert_eq!(o.answer, "N");
    assert!(
        o.reason.contains("EUC-KR-encoded '차세대테'"),
        "{}",
        o.reason
    );
}
