//! `/_sim/signin`: the operator signs in once with the control token, so that the pages with
//! member data can be used in a browser while the simulator listens beyond loopback. The cookie
//! it sets is what [`crate::web::guard`] looks for.

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::render;
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    next: &'a str,
    failed: bool,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// GET: the form.
pub async fn form(query: web::Query<Next>) -> HttpResponse {
    render(&SignInPage {
        next: safe_next(&query.next),
        failed: false,
    })
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(default)]
    next: String,
}

/// POST: the control token; 303 to where the operator was going, with the sign-in cookie.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignIn>,
) -> HttpResponse {
    let next = safe_next(&form.next);
    if state.config.control_token.is_none() {
        // Nothing to sign in to: the pages are open.
        return HttpResponse::SeeOther()
            .insert_header((LOCATION, next))
            .finish();
    }
    let caller = crate::web::client_ip::caller(
        &req,
        &state.config.trusted_proxies,
        state.config.forwarded_header,
    )
    .ip;
    let failures = &state.sign_in_failures;
    let now = crate::domain::clock::now_ms();
    if let Some(wait) = failures.locked(caller, now) {
        let mut res = super::message(
            StatusCode::TOO_MANY_REQUESTS,
            "잠시 후 다시 시도하세요",
            &format!("제어 토큰이 여러 번 틀렸습니다. {wait}초 후 다시 시도하세요. (too many wrong tokens from this address: try again in {wait} s)"),
        );
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, wait.into());
        return res;
    }
    if !crate::web::guard::is_control_token(form.token.trim(), &state) {
        let locked = failures.failed(caller, now);
        if failures.line(now) {
            tracing::warn!(
                %caller,
                locked_out = locked,
                "operator sign-in with a wrong token"
            );
        }
        let mut res = render(&SignInPage { next, failed: true });
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    }
    failures.succeeded(caller);
    HttpResponse::SeeOther()
        .cookie(crate::web::guard::operator_cookie(
            &state,
            req.app_config().secure(),
        ))
        .insert_header((LOCATION, next))
        .finish()
}

/// Where to go after signing in: a path on this simulator, never another site (`//host`,
/// `/\host` and absolute URLs go to `/`).
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed() {
        use super::safe_next;
        assert_eq!(safe_next("/mall?x=1"), "/mall?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil",
            "",
            "mall",
            "/a\\b",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
