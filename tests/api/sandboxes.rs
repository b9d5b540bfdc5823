//! Sandboxes through the control API and the partner's endpoints: two sandboxes made from one
//! base never see each other's members, consents, faults, tokens or journal; a partner's
//! unchanged code redeems a sandbox's token at the plain cert URL and asks the sandbox's
//! members at its CHECKURL; a removed or expired sandbox is a 404 naming it, never the base.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp};

/// A control API call, inside `sandbox` when one is named.
async fn call(
    app: &TestApp,
    sandbox: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let client = app.client();
    let mut req =
        app.operator(client.request(method.parse().unwrap(), format!("{}{path}", app.http)));
    if let Some(id) = sandbox {
        req = req.insert_header(("X-Sim-Sandbox", id));
    }
    let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
    app.send(req, body).await
}

async fn make(app: &TestApp, body: Option<Value>) -> String {
    let r = call(app, None, "POST", "/_sim/api/sandboxes", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let j = r.json();
    assert!(j["expiresAt"].is_string(), "{j}");
    j["id"].as_str().unwrap().to_owned()
}

const MEMBER: &str = "J01A00038745";

async fn gate(app: &TestApp, sandbox: &str) -> Value {
    let body =
        json!({"cmpyCd": "J01", "custId": MEMBER, "vndrNo": "VR000216", "forceMemberFields": true});
    let r = call(app, Some(sandbox), "POST", "/_sim/api/gate", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// CHECKURL as a partner calls it: the GATE's CHECKURL with its parameters appended.
async fn check(app: &TestApp, check_url: &str, name: &str) -> String {
    let url = format!(
        "{check_url}?cmpyCd=J01&CFM_CUS_ID={MEMBER}&userName={}",
        enc(name)
    );
    let path = &url[url.find("/sb/").expect("the sandbox in CHECKURL's path")..];
    app.get(path).await.text()
}

#[actix_web::test]
async fn two_sandboxes_from_one_base_never_see_each_other() {
    let app = spawn_app().await;
    let (a, b) = (
        make(&app, None).await,
        make(&app, Some(json!({"name": "team B"}))).await,
    );
    // A member renamed in A keeps its old name in B's GATE.
    let renamed = call(
        &app,
        Some(&a),
        "PATCH",
        &format!("/_sim/api/members/{MEMBER}"),
        Some(json!({"mbrNm": "김에이"})),
    )
    .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
    let (gate_a, gate_b) = (gate(&app, &a).await, gate(&app, &b).await);
    assert_eq!(gate_a["fields"]["USER_NAME"], "김에이");
    assert_eq!(gate_b["fields"]["USER_NAME"], "차세대테");
    // CUS_URL stays the mall's origin; CHECKURL carries the sandbox; each answers for its own.
    let cus = gate_a["fields"]["CUS_URL"].as_str().unwrap();
    assert!(!cus.contains("/sb/"), "{cus}");
    let (check_a, check_b) = (
        gate_a["fields"]["CHECKURL"].as_str().unwrap(),
        gate_b["fields"]["CHECKURL"].as_str().unwrap(),
    );
    assert!(
        check_a.ends_with(&format!("/sb/{a}/sso/vendorUserCheck")),
        "{check_a}"
    );
    assert!(gate_a["fields"]["POPUPURL"]
        .as_str()
        .unwrap()
        .contains(&format!("/sb/{a}/")));
    assert_eq!(check(&app, check_a, "김에이").await, "Y");
    assert_eq!(check(&app, check_b, "김에이").await, "N");
    assert_eq!(check(&app, check_b, "차세대테").await, "Y");
    // A consent declined in A leaves B's GATE carrying a token.
    let declined = call(
        &app,
        Some(&a),
        "DELETE",
        &format!("/_sim/api/consents/{MEMBER}/VR000216"),
        None,
    )
    .await;
    assert!(declined.status.is_success(), "{}", declined.text());
    assert!(gate(&app, &a).await["otpToken"].is_null());
    let b_token = gate(&app, &b).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(b_token.starts_with(&b));
    // Back in A (its consent given again): a fault for the next 2 cert calls hits A's tokens.
    let consent = call(
        &app,
        Some(&a),
        "PUT",
        &format!("/_sim/api/consents/{MEMBER}/VR000216"),
        Some(json!({})),
    )
    .await;
    assert!(consent.status.is_success(), "{}", consent.text());
    let a_token = gate(&app, &a).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let fault = json!({"endpoint": "cert", "vndrNo": "VR000216", "count": 2, "kind": "resultCode", "resultCode": "403"});
    assert_eq!(
        call(&app, Some(&a), "POST", "/_sim/api/faults", Some(fault))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={b_token}"))
            .await
            .result_code(),
        "OK"
    );
    for _ in 0..2 {
        assert_eq!(
            app.cert(&format!("otpTokenp={a_token}"))
                .await
                .result_code(),
            "403"
        );
    }
    // A's token redeems once at the plain cert URL, no sandbox named.
    assert_eq!(
        app.cert(&format!("otpTokenp={a_token}"))
            .await
            .result_code(),
        "OK"
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={a_token}"))
            .await
            .result_code(),
        "404"
    );
    // A's journal holds only A's calls; the base's none of them.
    let journal = |sandbox: Option<&str>, query: &'static str| {
        let sandbox = sandbox.map(str::to_owned);
        let app = &app;
        async move {
            let r = call(
                app,
                sandbox.as_deref(),
                "GET",
                &format!("/_sim/api/journal{query}"),
                None,
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            r.json().as_array().unwrap().clone()
        }
    };
    let in_a = journal(Some(&a), "?endpoint=cert").await;
    assert_eq!(in_a.len(), 4, "{in_a:?}");
    assert!(
        in_a.iter().all(|e| e.to_string().contains(a.as_str())),
        "{in_a:?}"
    );
    let in_b = journal(Some(&b), "?endpoint=cert").await;
    assert_eq!(in_b.len(), 1, "{in_b:?}");
    assert!(journal(None, "?endpoint=cert").await.is_empty());
    let all = journal(None, "?endpoint=cert&sandbox=*").await;
    assert_eq!(all.len(), 5);
    assert_eq!(all.iter().filter(|e| e["sandbox"] == a.as_str()).count(), 4);
    // A reset of A leaves B's tokens redeemable, and A as it was made.
    let b_token = gate(&app, &b).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_token = gate(&app, &a).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(call(&app, Some(&a), "POST", "/_sim/api/reset", None)
        .await
        .status
        .is_success());
    assert_eq!(gate(&app, &a).await["fields"]["USER_NAME"], "차세대테");
    assert_eq!(
        app.cert(&format!("otpTokenp={a_token}"))
            .await
            .result_code(),
        "404"
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={b_token}"))
            .await
            .result_code(),
        "OK"
    );
    // Deleting A makes its tokens unknown and its name a 404, never the base.
    let a_token = gate(&app, &a).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(
            &app,
            None,
            "DELETE",
            &format!("/_sim/api/sandboxes/{a}"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.cert(&format!("otpTokenp={a_token}"))
            .await
            .result_code(),
        "404"
    );
    for r in [
        call(&app, Some(&a), "GET", "/_sim/api/members", None).await,
        call(&app, None, "GET", &format!("/_sim/api/sandboxes/{a}"), None).await,
        call(
            &app,
            None,
            "DELETE",
            &format!("/_sim/api/sandboxes/{a}"),
            None,
        )
        .await,
        app.get(&format!("/sb/{a}/sso/vendorUserCheck?cmpyCd=J01"))
            .await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(
            r.json()["error"].as_str().unwrap().contains(&a),
            "{}",
            r.text()
        );
    }
    let listed = call(&app, None, "GET", "/_sim/api/sandboxes", None)
        .await
        .json();
    let ids: Vec<&str> = listed["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [b.as_str()]);
    assert_eq!(listed["sandboxes"][0]["name"], "team B");
}

#[actix_web::test]
async fn a_sandbox_expires_after_its_lifetime_with_its_tokens() {
    let app = spawn_app().await;
    let too_long = call(
        &app,
        None,
        "POST",
        "/_sim/api/sandboxes",
        Some(json!({"ttlSeconds": 86401})),
    )
    .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    let id = make(&app, Some(json!({"ttlSeconds": 2}))).await;
    let token = gate(&app, &id).await["otpToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = std::time::Instant::now();
    // Listing is no use of it: polled until it is gone.
    loop {
        let listed = call(&app, None, "GET", "/_sim/api/sandboxes", None)
            .await
            .json();
        if !listed.to_string().contains(&id) {
            break;
        }
        assert!(made.elapsed().as_secs() < 5, "still listed after 5 s");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(made.elapsed().as_millis() >= 1500);
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "404"
    );
    assert_eq!(
        call(&app, Some(&id), "GET", "/_sim/api/faults", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn making_one_more_than_max_sandboxes_answers_429() {
    let app = spawn_app_with(|s| s.max_sandboxes = 1).await;
    make(&app, None).await;
    let r = call(&app, None, "POST", "/_sim/api/sandboxes", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("--max-sandboxes"));
}

#[actix_web::test]
async fn the_demo_pages_picker_puts_the_browser_in_a_sandbox_and_back() {
    let app = spawn_app().await;
    let id = make(&app, Some(json!({"name": "qa-team"}))).await;
    // The picker lists the base and the sandbox; picking it sets the browser's cookie.
    let page = app.get(&format!("/_sim/demo?sandbox={id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(html.contains("기본 (base)"), "{html}");
    assert!(
        html.contains(&format!("<option value=\"{id}\" selected>qa-team ({id})")),
        "{html}"
    );
    let set = page
        .headers
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sim_sandbox="))
        .expect("the sandbox cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    // The demo form posted with that cookie issues its GATE inside the sandbox.
    let client = app.client();
    let post = app
        .operator(client.post(format!("{}/_sim/demo", app.https)))
        .insert_header(("cookie", cookie.clone()));
    let form = format!("member=J01%7C{MEMBER}&vndrNo=VR000216&consent=agree");
    let r = app
        .send(
            post,
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let gates = |sandbox: Option<&str>| {
        let sandbox = sandbox.map(str::to_owned);
        let app = &app;
        async move {
            let r = call(
                app,
                sandbox.as_deref(),
                "GET",
                "/_sim/api/journal?endpoint=gate",
                None,
            )
            .await;
            r.json().as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(gates(Some(&id)).await, 1);
    assert_eq!(gates(None).await, 0);
    // `sandbox=` takes it back to the base (the cookie removed); an unknown one is a 404.
    let back = app.get("/_sim/demo?sandbox=").await;
    assert!(back
        .headers
        .get_all("set-cookie")
        .any(|v| v.to_str().unwrap().starts_with("sim_sandbox=;")));
    assert!(back
        .text()
        .contains("<option value=\"\" selected>기본 (base)"));
    let unknown = app.get("/_sim/demo?sandbox=8000000000000000").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
