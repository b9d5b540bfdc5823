//! End-to-end tests in real headless Chromium, driven through chromedriver (WebDriver). They
//! are ignored by a plain `cargo test` (no browser there); `.ci/run` runs them with
//! `--include-ignored`. Without Chromium and chromedriver they fail, they never pass.

use std::sync::{Arc, Mutex};

use fantoccini::Locator;
use serde_json::json;

pub(crate) use crate::chromium::Browser;
use crate::helpers::{spawn_app, TestApp};

pub(crate) async fn log_in(b: &Browser, app: &TestApp, company: &str, member: &str) {
    b.goto(&format!("{}/member/login?cmpyNo={company}", app.http))
        .await;
    b.click(&format!("button[data-cust-id='{member}']")).await;
    b.wait_for("#member-name").await;
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn a_member_logs_in_agrees_and_the_test_partner_gets_the_member_then_a_404() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    // 김민지 has not agreed to share data with VR000216 yet.
    log_in(&b, &app, "J01", "J01A00038746").await;
    assert_eq!(b.text("#member-name").await, "김민지 님");
    assert_eq!(b.text("#balance").await, "128,500 P");
    b.screenshot("mall-home.png").await;
    b.click("#tile-VR000216").await;
    b.click("#agree").await;
    // The self-posting page submits itself; the partner calls the cert endpoint.
    assert_eq!(b.text("#result-code").await, "OK");
    let json = b.text("#cert-json").await;
    assert!(json.contains("\"mbrNm\": \"김민지\""), "{json}");
    assert!(json.contains("\"vndrItwkInfoNo\": \"302\""), "{json}");
    let fields = b.text("#fields").await;
    assert!(
        fields.contains("CFM_CUS_ID") && fields.contains("J01A00038746"),
        "{fields}"
    );
    assert_eq!(b.text("#pointname-decoded").await, "복지포인트");
    b.screenshot("test-partner.png").await;
    b.click("#again").await;
    // The same element ids are on the page before and after the click: wait for the new answer.
    b.wait_for("#recheck").await;
    assert_eq!(b.text("#result-code").await, "404");
    b.close().await;
    // The journal saw the browser's GATE and both cert calls.
    let events = app.journal_events().await;
    let certs: Vec<_> = events
        .iter()
        .filter_map(|e| serde_json::to_value(&**e).ok())
        .filter(|e| e["type"] == "cert")
        .map(|e| e["resultCode"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(certs, ["OK", "404"]);
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn declining_consent_sends_the_partner_no_member_fields_and_no_token() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    log_in(&b, &app, "J01", "J01A00038746").await;
    b.click("#tile-VR000216").await;
    b.click("#decline").await;
    b.wait_for("#no-token").await;
    let fields = b.text("#fields").await;
    for absent in [
        "CFM_CUS_ID",
        "USER_NAME",
        "cmpy_cd",
        "ReceiptYN",
        "OTP_TOKEN",
    ] {
        assert!(!fields.contains(absent), "{absent} arrived: {fields}");
    }
    assert!(fields.contains("pointname") && fields.contains("CHECKURL"));
    b.close().await;
    assert_eq!(app.live_tokens().await, 0);
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn with_javascript_off_the_visible_button_posts_the_gate_form() {
    let app = spawn_app().await;
    let b = Browser::start(false).await;
    // 차세대테 has consented already: the tile leads straight to the self-posting page.
    log_in(&b, &app, "J01", "J01A00038745").await;
    b.click("#tile-VR000216").await;
    let button = b.wait_for("#go").await;
    assert!(button.is_displayed().await.unwrap());
    // Without scripts the page stays until the button is pressed.
    assert!(b
        .c()
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/mall/go"));
    button.click().await.unwrap();
    assert_eq!(b.text("#result-code").await, "OK");
    b.close().await;
}

/// The forms a receiver got, each as its (name, value) pairs.
type Received = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A GATE receiver of the test's own: records every form posted to it.
async fn start_receiver() -> (
    String,
    Arc<Mutex<Vec<Vec<(String, String)>>>>,
    actix_web::dev::ServerHandle,
) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new().route(
            "/gate",
            actix_web::web::post().to(move |body: actix_web::web::Bytes| {
                let sink = sink.clone();
                async move {
                    let form = form_urlencoded::parse(&body).into_owned().collect();
                    sink.lock().unwrap().push(form);
                    actix_web::HttpResponse::Ok()
                        .content_type("text/html")
                        .body("<p id='received'>received</p>")
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/gate"), got, handle)
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn the_demo_form_posts_exactly_the_fields_typed_in_to_the_given_gate_url() {
    let app = spawn_app().await;
    let (receiver, got, handle) = start_receiver().await;
    let b = Browser::start(true).await;
    b.goto(&format!("{}/_sim/demo", app.http)).await;
    b.wait_for("#member")
        .await
        .select_by_value("AA5|AA5A00001201")
        .await
        .unwrap();
    b.wait_for("#vndrNo")
        .await
        .select_by_value("VR000216")
        .await
        .unwrap();
    b.wait_for("#gateUrl")
        .await
        .send_keys(&receiver)
        .await
        .unwrap();
    b.wait_for("#DirectURL")
        .await
        .send_keys("https://shop.example/goods/77")
        .await
        .unwrap();
    b.wait_for("#BaroItem")
        .await
        .send_keys("G000123")
        .await
        .unwrap();
    b.wait_for("#ReceiptYN")
        .await
        .select_by_value("Y")
        .await
        .unwrap();
    b.wait_for("#pointname")
        .await
        .send_keys("테스트포인트")
        .await
        .unwrap();
    b.wait_for("#pointnamecode")
        .await
        .send_keys("PX9")
        .await
        .unwrap();
    b.wait_for("#forceMemberFields")
        .await
        .click()
        .await
        .unwrap();
    b.click("#send").await;
    b.wait_for("#received").await;
    b.close().await;
    handle.stop(false).await;
    let forms = got.lock().unwrap().clone();
    assert_eq!(forms.len(), 1);
    let form: std::collections::HashMap<_, _> = forms[0].iter().cloned().collect();
    assert_eq!(form["DirectFlag"], "Y");
    assert_eq!(form["DirectURL"], "https://shop.example/goods/77");
    assert_eq!(form["BaroItem"], "G000123");
    assert_eq!(form["ReceiptYN"], "Y");
    assert_eq!(form["pointname"], "테스트포인트");
    assert_eq!(form["pointnameBase64"], "7YWM7Iqk7Yq47Y+s7J247Yq4");
    assert_eq!(form["pointnamecode"], "PX9");
    assert_eq!(form["cmpy_cd"], "AA5");
    assert_eq!(form["CFM_CUS_ID"], "AA5A00001201");
    assert_eq!(form["USER_NAME"], "박서연");
    // A real token, usable once.
    let token = form["OTP_TOKEN"].clone();
    assert_eq!(
        app.cert(&format!("otpTokenp={token}")).await.result_code(),
        "OK"
    );
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn a_member_whose_name_holds_html_shows_it_as_text() {
    let app = spawn_app().await;
    let name = "<script>window.hacked=1</script><b>굵게</b>";
    let member = json!({"cmpyCd": "J01", "mbrNo": "J01X1", "mbrId": "x", "mbrNm": name, "empen": "1", "dob": "19900101"});
    let r = app.put_json("/_sim/api/members/J01XSS00001", &member).await;
    assert!(r.status.is_success(), "{}", r.text());
    let b = Browser::start(true).await;
    b.goto(&format!("{}/member/login?cmpyNo=J01", app.http))
        .await;
    assert_eq!(b.text("button[data-cust-id='J01XSS00001']").await, name);
    b.click("button[data-cust-id='J01XSS00001']").await;
    assert_eq!(b.text("#member-name").await, format!("{name} 님"));
    let hacked = b
        .c()
        .execute("return window.hacked === undefined;", vec![])
        .await
        .unwrap();
    assert_eq!(hacked, json!(true));
    assert!(
        b.c().find(Locator::Css("#member-name b")).await.is_err(),
        "markup was rendered"
    );
    b.close().await;
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn the_login_form_takes_id_and_password_and_lc_stays_on_the_simulator() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    let login = |lc: &str| {
        format!(
            "{}/member/login?&cmpyNo=J01&lc={}",
            app.http,
            form_urlencoded::byte_serialize(lc.as_bytes()).collect::<String>()
        )
    };
    // `lc` to a page of the mall: it lands there.
    b.goto(&login("/mall/point")).await;
    b.wait_for("input[placeholder='아이디']")
        .await
        .send_keys("kimminji")
        .await
        .unwrap();
    b.wait_for("input[placeholder='비밀번호']")
        .await
        .send_keys("test1234")
        .await
        .unwrap();
    b.c()
        .find(Locator::XPath("//button[text()='로그인']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#balance").await;
    assert!(b.c().current_url().await.unwrap().path() == "/mall/point");
    // `lc` to another site: the mall home instead.
    b.goto(&format!("{}/member/logout", app.http)).await;
    b.goto(&login("https://evil.example/")).await;
    b.wait_for("input[placeholder='아이디']")
        .await
        .send_keys("kimminji")
        .await
        .unwrap();
    b.wait_for("input[placeholder='비밀번호']")
        .await
        .send_keys("test1234")
        .await
        .unwrap();
    b.click("#login-button").await;
    assert_eq!(b.text("#member-name").await, "김민지 님");
    assert_eq!(b.c().current_url().await.unwrap().path(), "/mall");
    b.close().await;
}

/// A company portal's page that posts the company-side entry form (from another site).
fn portal_page(app: &TestApp, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type='hidden' name='{k}' value='{v}'>"))
        .collect();
    let html = format!(
        "<form id='f' method='post' action='{}/sso/loginSsoGate'>{inputs}<button id='enter'>enter</button></form>",
        app.http
    );
    use base64::Engine;
    format!(
        "data:text/html;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html.as_bytes())
    )
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn a_company_portal_logs_members_in_joins_new_ones_and_a_refused_join_shows_why() {
    let app = spawn_app().await;
    let b = Browser::start(true).await;
    b.goto(&portal_page(
        &app,
        &[
            ("memID", "kimminji"),
            ("cmpyNo", "J01"),
            ("mbrNm", "이지훈"),
            ("email", "l@j.kr"),
        ],
    ))
    .await;
    b.click("#enter").await;
    let name = b.text("#member-name").await;
    assert!(name.ends_with(" 님"), "{name}");
    // Auto-join (Q15) creates the member and logs it in.
    b.goto(&portal_page(
        &app,
        &[
            ("memID", "joiner"),
            ("cmpyNo", "Q15"),
            ("mbrNm", "가입자"),
            ("email", "j@q.kr"),
        ],
    ))
    .await;
    b.click("#enter").await;
    assert_eq!(b.text("#member-name").await, "가입자 님");
    // J01 has no auto-join: a page says so.
    b.goto(&portal_page(
        &app,
        &[
            ("memID", "nobody"),
            ("cmpyNo", "J01"),
            ("mbrNm", "무명"),
            ("email", "n@j.kr"),
        ],
    ))
    .await;
    b.click("#enter").await;
    let message = b.text("#message").await;
    assert!(message.contains("autoJoin"), "{message}");
    b.close().await;
}

/// What a partner on `localhost` received: the `Cookie` header of each GATE post.
type CookiesSeen = Arc<Mutex<Vec<String>>>;

/// A partner on `localhost` (another site than the mall at 127.0.0.1): `/set` sets a
/// `SameSite=Lax` session cookie, `/gate` records the cookies that came with the GATE post.
async fn start_partner_on_localhost() -> (u16, CookiesSeen, actix_web::dev::ServerHandle) {
    let seen: CookiesSeen = Arc::default();
    let sink = seen.clone();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new()
            .route(
                "/set",
                actix_web::web::get().to(|| async {
                    actix_web::HttpResponse::Ok()
                        .insert_header(("Set-Cookie", "partner=1; Path=/; SameSite=Lax"))
                        .content_type("text/html")
                        .body("<p id='set'>set</p>")
                }),
            )
            .route(
                "/gate",
                actix_web::web::post().to(move |req: actix_web::HttpRequest| {
                    let sink = sink.clone();
                    async move {
                        let cookies = req
                            .headers()
                            .get("cookie")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        sink.lock().unwrap().push(cookies);
                        actix_web::HttpResponse::Ok()
                            .content_type("text/html")
                            .body("<p id='received'>received</p>")
                    }
                }),
            )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (port, seen, handle)
}

#[actix_web::test]
#[ignore = "needs chromium and chromedriver; .ci/run runs it with --include-ignored"]
async fn the_gate_post_is_cross_site_as_in_production_and_the_popup_needs_the_mall_session() {
    let app = spawn_app().await;
    let (port, seen, handle) = start_partner_on_localhost().await;
    let vendor = json!({"vndrNo": "VR000999", "vndrItwkInfoNo": "999", "name": "localhost partner",
        "gateUrl": format!("http://localhost:{port}/gate"), "allowedIps": ["127.0.0.1"]});
    let r = app.put_json("/_sim/api/vendors/VR000999", &vendor).await;
    assert!(r.status.is_success(), "{}", r.text());
    let b = Browser::start(true).await;
    // The POPUPURL without the mall's session: the login page.
    b.goto(&format!("{}/mall/point", app.http)).await;
    b.wait_for("input[placeholder='아이디'], a[href^='/member/login?cmpyNo=']")
        .await;
    assert_eq!(b.c().current_url().await.unwrap().path(), "/member/login");
    // The partner's own session cookie, SameSite=Lax, on localhost.
    b.goto(&format!("http://localhost:{port}/set")).await;
    b.wait_for("#set").await;
    // The mall at its default address (127.0.0.1) posts the GATE to the partner.
    log_in(&b, &app, "J01", "J01A00038745").await;
    b.goto(&format!("{}/mall/go?vndrNo=VR000999", app.http))
        .await;
    b.click("#agree").await;
    b.wait_for("#received").await;
    b.close().await;
    handle.stop(false).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        !seen[0].contains("partner=1"),
        "a Lax cookie rode a cross-site POST: {seen:?}"
    );
    assert!(
        !seen[0].contains("sim_member"),
        "the mall's cookie reached the partner: {seen:?}"
    );
}
