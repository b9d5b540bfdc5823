//! The browser side: the mock mall (login, home, consent, the self-posting GATE page, the point
//! popup), the demo form, the built-in test partner and the journal page. Korean UI; askama
//! templates in `templates/`, one struct per page beside its route; HTML-escaped throughout.

pub mod demo;
pub mod journal;
pub mod login;
pub mod mall;
pub mod partner;
pub mod sandbox;
pub mod signin;

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::HttpResponse;
use askama::Template;

use crate::domain::event::Omission;
use crate::protocol::gate::Gate;

/// Renders a page; a template failure is logged and answered with a plain 500. Pages are never
/// framed (clickjacking), never sniffed as another type, and send only their origin as referrer
/// to other sites: the mall's URLs carry member keys. (`no-referrer` would also make browsers
/// send `Origin: null` with the mall's own form posts, which the cross-site rule refuses.)
pub fn render<T: Template>(page: &T) -> HttpResponse {
    match page.render() {
        Ok(html) => page_response(html),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("page rendering failed")
        }
    }
}

/// A page rendered elsewhere (the conformance report), with the headers of every page.
pub fn page_response(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("content-security-policy", "frame-ancestors 'none'"))
        .insert_header(("referrer-policy", "strict-origin-when-cross-origin"))
        .body(html)
}

/// A page that says what went wrong, with the status given.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

pub fn message(status: actix_web::http::StatusCode, title: &str, message: &str) -> HttpResponse {
    let mut res = render(&MessagePage { title, message });
    *res.status_mut() = status;
    res
}

/// A GATE that could not be issued, as a page with the control API's status for the same error.
pub fn gate_error(e: crate::protocol::gate::GateError, title: &str) -> HttpResponse {
    let text = format!("GATE를 만들 수 없습니다: {e}");
    let status = actix_web::ResponseError::status_code(&crate::web::error::ApiError::from(e));
    message(status, title, &text)
}

/// The directory, or the page to answer when the store is out of reach (503).
pub async fn directory(
    state: &crate::web::state::AppState,
) -> Result<std::sync::Arc<crate::domain::directory::Directory>, HttpResponse> {
    state.store.directory().await.map_err(|e| {
        message(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "잠시 후 다시 시도하세요",
            &e.to_string(),
        )
    })
}

/// 303 to `to`.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_owned()))
        .finish()
}

/// The self-posting page: a form that POSTs itself to the vendor's GATE URL.
#[derive(Template)]
#[template(path = "gate_post.html")]
pub struct GatePostPage<'a> {
    pub action: &'a str,
    pub fields: &'a [(&'static str, String)],
    pub omitted: &'a [Omission],
    pub vendor_name: &'a str,
    pub member_name: &'a str,
    /// Don't submit on load (a tester wants to look first).
    pub hold: bool,
}

pub fn gate_post(gate: &Gate, action: &str, hold: bool) -> HttpResponse {
    render(&GatePostPage {
        action,
        fields: &gate.fields,
        omitted: &gate.omitted,
        vendor_name: &gate.vendor_name,
        member_name: &gate.member_name,
        hold,
    })
}

/// `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn balances_are_grouped_by_thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(350000), "350,000");
        assert_eq!(super::thousands(1234567), "1,234,567");
        assert_eq!(super::thousands(-1000), "-1,000");
    }
}
