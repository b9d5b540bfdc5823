//! The signed cookies (the member's session, the operator's sign-in, the token the built-in
//! partner received): a value signed for one purpose never passes for another, an edited value
//! is refused, and so is one signed by a simulator with another key; simulators given the same
//! control token accept each other's.

use awc::http::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with, Reply, TestApp};

const CONTROL: &str = "cookie-test-control-token-0123456789";

/// Bound beyond loopback with `control` as its control token, so that the pages need the
/// operator's sign-in.
async fn spawn_exposed(control: &str) -> TestApp {
    let control = control.to_owned();
    spawn_app_with(move |s| {
        s.http_addr = "0.0.0.0:0".parse().unwrap();
        s.control_token = Some(control);
    })
    .await
}

/// A request on the plain-HTTP listener with one cookie, the control token as bearer when
/// `bearer`, and a form body when `form`.
async fn request(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: Option<(&str, &str)>,
    bearer: bool,
    form: Option<String>,
) -> Reply {
    let client = app.client_without_redirects();
    let mut req = client.request(method.parse().unwrap(), format!("{}{path}", app.http));
    if let Some((name, value)) = cookie {
        req = req.insert_header(("Cookie", format!("{name}={value}")));
    }
    if bearer {
        req = app.operator(req);
    }
    let body = form.map(|f| ("application/x-www-form-urlencoded", f.into_bytes()));
    app.send(req, body).await
}

/// The value of the cookie `name` the reply sets.
fn set_cookie(reply: &Reply, name: &str) -> String {
    reply
        .headers
        .get_all("set-cookie")
        .filter_map(|v| actix_web::cookie::Cookie::parse(v.to_str().ok()?.to_owned()).ok())
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no {name} cookie set ({})", reply.status))
        .value()
        .to_owned()
}

/// What a signed cookie value says: the signed jar's value is the MAC (44 characters of
/// Base64) followed by the value.
fn plain(signed: &str) -> &str {
    &signed[44..]
}

fn form_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The operator's sign-in cookie, signed in with `control`.
async fn operator_cookie(app: &TestApp, control: &str) -> String {
    let r = request(
        app,
        "POST",
        "/_sim/signin",
        None,
        false,
        Some(format!("token={}&next=/", form_value(control))),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    set_cookie(&r, "sim_operator")
}

/// The session cookie of member J01A00038745, logged in at the mall.
async fn member_cookie(app: &TestApp) -> String {
    let form = "cmpyNo=J01&custId=J01A00038745".to_owned();
    let r = request(app, "POST", "/member/login", None, true, Some(form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    set_cookie(&r, "sim_member")
}

/// A token that reached the built-in partner's GATE, and the cookie that says so.
async fn partner_cookie(app: &TestApp) -> (String, String) {
    let token = app.token().await;
    let form = format!("OTP_TOKEN={token}");
    let r = request(app, "POST", "/_sim/partner/gate", None, false, Some(form)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cookie = set_cookie(&r, "sim_partner_token");
    (token, cookie)
}

/// Whether `value`, as the operator's sign-in cookie, opens a page that needs the sign-in.
async fn signs_in(app: &TestApp, value: &str) -> bool {
    let r = request(
        app,
        "GET",
        "/_sim/journal",
        Some(("sim_operator", value)),
        false,
        None,
    )
    .await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => false,
        other => panic!("journal page: {other}"),
    }
}

/// The mall home for `value` as the member's session cookie: the page, or `None` when the
/// browser is sent to the login.
async fn mall_home(app: &TestApp, value: &str) -> Option<String> {
    let r = request(app, "GET", "/mall", Some(("sim_member", value)), true, None).await;
    match r.status {
        StatusCode::OK => Some(r.text()),
        StatusCode::SEE_OTHER => {
            assert_eq!(r.header("location").as_deref(), Some("/member/login"));
            None
        }
        other => panic!("mall home: {other}"),
    }
}

/// Whether the built-in partner calls again with `token` when `value` is its received-token
/// cookie.
async fn partner_rechecks(app: &TestApp, value: &str, token: &str) -> bool {
    let r = request(
        app,
        "POST",
        "/_sim/partner/recheck",
        Some(("sim_partner_token", value)),
        true,
        Some(format!("token={}", form_value(token))),
    )
    .await;
    match r.status {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN => false,
        other => panic!("recheck: {other}: {}", r.text()),
    }
}

#[actix_web::test]
async fn a_cookie_signed_for_one_purpose_is_refused_for_every_other() {
    let app = spawn_exposed(CONTROL).await;
    let operator = operator_cookie(&app, CONTROL).await;
    let member = member_cookie(&app).await;
    let (token, partner) = partner_cookie(&app).await;
    // Each passes for its own purpose.
    assert!(signs_in(&app, &operator).await);
    assert!(mall_home(&app, &member)
        .await
        .is_some_and(|page| page.contains("차세대테")));
    assert!(partner_rechecks(&app, &partner, &token).await);
    // The operator's sign-in is no member session and no received token.
    assert_eq!(mall_home(&app, &operator).await, None);
    assert!(!partner_rechecks(&app, &operator, plain(&operator)).await);
    // The member's session is no sign-in and no received token.
    assert!(!signs_in(&app, &member).await);
    assert!(!partner_rechecks(&app, &member, plain(&member)).await);
    // The received token is neither.
    assert!(!signs_in(&app, &partner).await);
    assert_eq!(mall_home(&app, &partner).await, None);
}

#[actix_web::test]
async fn an_edited_cookie_is_refused() {
    let app = spawn_exposed(CONTROL).await;
    let operator = operator_cookie(&app, CONTROL).await;
    let member = member_cookie(&app).await;
    let (_, partner) = partner_cookie(&app).await;
    let other_token = app.token().await;
    let mac = |signed: &str| signed[..44].to_owned();

    // A sign-in made to last until 2100.
    let later = format!("{}operator|4102444800000", mac(&operator));
    assert!(!signs_in(&app, &later).await);
    // A session pointed at another member of the company.
    assert!(plain(&member).ends_with("J01A00038745"));
    let other = member.replace("J01A00038745", "J01A00038746");
    assert_eq!(mall_home(&app, &other).await, None);
    // Another token in the partner's cookie.
    let swapped = format!("{}{other_token}", mac(&partner));
    assert!(!partner_rechecks(&app, &swapped, &other_token).await);
    // The value kept, its MAC changed.
    let first = operator.as_bytes()[0];
    let changed = if first == b'A' { 'B' } else { 'A' };
    let forged = format!("{changed}{}", &operator[1..]);
    assert!(!signs_in(&app, &forged).await);
    // And the genuine ones still pass.
    assert!(signs_in(&app, &operator).await);
    assert!(mall_home(&app, &member).await.is_some());
}

#[actix_web::test]
async fn a_cookie_signed_by_a_simulator_with_another_key_is_refused() {
    // Other control tokens, other keys.
    let a = spawn_exposed(CONTROL).await;
    let b = spawn_exposed("another-control-token-9876543210").await;
    let operator = operator_cookie(&a, CONTROL).await;
    assert!(signs_in(&a, &operator).await);
    assert!(!signs_in(&b, &operator).await);
    let member = member_cookie(&a).await;
    assert!(mall_home(&a, &member).await.is_some());
    assert_eq!(mall_home(&b, &member).await, None);

    // On loopback without a control token, each memory store draws its own key.
    let (c, d) = (spawn_app().await, spawn_app().await);
    let member = member_cookie(&c).await;
    assert!(mall_home(&c, &member).await.is_some());
    assert_eq!(mall_home(&d, &member).await, None);
}

#[actix_web::test]
async fn simulators_given_the_same_control_token_accept_each_others_cookies() {
    let a = spawn_exposed(CONTROL).await;
    let b = spawn_exposed(CONTROL).await;
    let operator = operator_cookie(&a, CONTROL).await;
    assert!(signs_in(&b, &operator).await);
    let operator = operator_cookie(&b, CONTROL).await;
    assert!(signs_in(&a, &operator).await);
    let member = member_cookie(&a).await;
    assert!(mall_home(&b, &member)
        .await
        .is_some_and(|page| page.contains("차세대테")));
    let (token, partner) = partner_cookie(&a).await;
    assert!(partner_rechecks(&b, &partner, &token).await);
}
