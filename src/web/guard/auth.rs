//! Who may use the control API and the pages: the bearer token whenever one is in force (JSON
//! bodies only for the control API), and beyond loopback the operator's sign-in for pages that
//! show member data or change state.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

use super::answer::{changes_state, refuse, Access};
use crate::domain::hosts::Exposure;
use crate::web::session::Purpose;
use crate::web::state::AppState;

/// The cookie of an operator who signed in with the control token.
pub const OPERATOR_COOKIE: &str = "sim_operator";

/// How long an operator's sign-in lasts, in milliseconds.
const SIGN_IN_MS: u64 = 12 * 3600 * 1000;

/// The control API's rule: the bearer token when one is in force, JSON bodies only.
pub(crate) fn control(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if let Some(expected) = state.config.control_token.as_deref() {
        let given = bearer(req);
        if !given.is_some_and(|g| same_secret(g, expected)) {
            let message = if given.is_some() {
                "the bearer token is not the control token"
            } else {
                "the control API needs `Authorization: Bearer <control token>` when the simulator listens beyond loopback; the token is printed at start-up or set with --control-token"
            };
            let mut res = refuse(Access::Control, StatusCode::UNAUTHORIZED, message);
            res.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"benecafe-sim control API\""),
            );
            return Some(res);
        }
    }
    let has_body = crate::web::guard::limits::has_body(req);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default());
    let json = content_type.is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    });
    if (has_body || content_type.is_some()) && changes_state(req.method()) && !json {
        return Some(refuse(
            Access::Control,
            StatusCode::BAD_REQUEST,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    None
}

/// The pages' rule: beyond loopback, the operator signs in once (or sends the bearer token).
pub(crate) fn operator(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if !state.config.pages_need_sign_in() || is_operator(req, state) {
        return None;
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let to = format!(
            "/_sim/signin?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        return Some(
            HttpResponse::SeeOther()
                .insert_header((LOCATION, to))
                .finish(),
        );
    }
    Some(crate::web::pages::message(
        StatusCode::UNAUTHORIZED,
        "운영자 로그인 필요",
        "이 시뮬레이터는 네트워크에 열려 있어 먼저 제어 토큰으로 로그인해야 합니다: /_sim/signin (sign in with the control token first)",
    ))
}

/// Whether the request carries the operator's sign-in or the control token.
pub fn is_operator(req: &HttpRequest, state: &AppState) -> bool {
    let Some(expected) = state.config.control_token.as_deref() else {
        return true;
    };
    if bearer(req).is_some_and(|g| same_secret(g, expected)) {
        return true;
    }
    state
        .cookies
        .verified(Purpose::Operator, req, OPERATOR_COOKIE)
        .and_then(|v| v.strip_prefix("operator|")?.parse::<u64>().ok())
        .is_some_and(|until| until > crate::domain::clock::now_ms())
}

/// Whether a caller may read the simulator's reasons in detail (`X-Sim-Reason`): always on
/// loopback, beyond it only with the control token.
pub fn may_see_detail(req: &HttpRequest, state: &AppState) -> bool {
    state.config.exposure == Exposure::Loopback
        || state
            .config
            .control_token
            .as_deref()
            .is_some_and(|expected| bearer(req).is_some_and(|g| same_secret(g, expected)))
}

/// The operator's sign-in cookie, valid for twelve hours.
pub fn operator_cookie(state: &AppState, secure: bool) -> actix_web::cookie::Cookie<'static> {
    let until = crate::domain::clock::now_ms() + SIGN_IN_MS;
    let cookie = actix_web::cookie::Cookie::build(OPERATOR_COOKIE, format!("operator|{until}"))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    state.cookies.sign(Purpose::Operator, cookie)
}

/// Whether a sign-in's token is the control token.
pub fn is_control_token(given: &str, state: &AppState) -> bool {
    state
        .config
        .control_token
        .as_deref()
        .is_some_and(|expected| same_secret(given, expected))
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Compares secrets in time that depends only on their lengths.
fn same_secret(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}
