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
    if !crate::web::guard::is_control_token(form.token.trim(), &state) {
        tracing::warn!(peer = ?req.peer_addr(), "operator sign-in with a wrong token");
        let mut res = render(&SignInPage { next, failed: true });
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    }
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
