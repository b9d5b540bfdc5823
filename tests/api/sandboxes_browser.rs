//! A browser in a sandbox, in real headless Chromium: a member logs into a sandbox and the mall,
//! the GATE and the built-in partner all carry that sandbox's data; the base sees none of it.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::browser::Browser;
use crate::helpers::{spawn_app, TestApp};

async fn api(
    app: &TestApp,
    sandbox: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let client = app.client();
    let mut req =
        app.operator(client.request(method.parse().unwrap(), format!("{}{path}", app.http)));
    if let Some(id) = sandbox {
        req = req.insert_header(("X-Sim-Sandbox", id));
    }
    let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
    let r = app.send(req, body).await;
    assert!(r.status.is_success(), "{method} {path}: {}", r.text());
    if r.status == StatusCode::NO_CONTENT {
        return Value::Null;
    }
    r.json()
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn a_member_logged_into_a_sandbox_gets_the_sandboxs_data_in_the_gate() {
    let app = spawn_app().await;
    let id = api(&app, None, "POST", "/_sim/api/sandboxes", None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api(
        &app,
        Some(&id),
        "PATCH",
        "/_sim/api/members/J01A00038746",
        Some(json!({"mbrNm": "박샌드"})),
    )
    .await;
    let b = Browser::start(true).await;
    b.goto(&format!(
        "{}/member/login?sandbox={id}&cmpyNo=J01",
        app.http
    ))
    .await;
    b.click("button[data-cust-id='J01A00038746']").await;
    b.wait_for("#member-name").await;
    assert_eq!(b.text("#member-name").await, "박샌드 님");
    b.click("#tile-VR000216").await;
    b.click("#agree").await;
    assert_eq!(b.text("#result-code").await, "OK");
    let cert = b.text("#cert-json").await;
    assert!(cert.contains("\"mbrNm\": \"박샌드\""), "{cert}");
    let fields = b.text("#fields").await;
    assert!(
        fields.contains(&format!("/sb/{id}/sso/vendorUserCheck")),
        "{fields}"
    );
    // The journal page of this browser is the sandbox's.
    b.goto(&format!("{}/_sim/journal", app.http)).await;
    let page = b.text("body").await;
    assert!(
        page.contains("박샌드") || page.contains("J01A00038746"),
        "{page}"
    );
    b.close().await;
    // The sandbox's journal holds the browser's calls; the base's none, and its member kept
    // the old name.
    let certs = |events: Value| -> usize {
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "cert")
            .count()
    };
    assert_eq!(
        certs(api(&app, Some(&id), "GET", "/_sim/api/journal", None).await),
        1
    );
    assert_eq!(
        certs(api(&app, None, "GET", "/_sim/api/journal", None).await),
        0
    );
    let members = api(&app, None, "GET", "/_sim/api/members", None).await;
    assert!(!members.to_string().contains("박샌드"));
}
