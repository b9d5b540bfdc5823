//! What the guards share: the access levels, the host a request names, and a refusal in the
//! shape the route's callers read (the cert endpoint's JSON, the control API's `{"error"}`, or
//! a page).

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The mall's protocol endpoints: partners' servers call them; the IP allow-list is theirs.
    Protocol,
    /// Pages and documents without member data: landing, health, OpenAPI, sign-in.
    Public,
    /// The built-in partner's GATE receiver: a partner's page, which the mall posts to
    /// cross-site, as in production.
    Receiver,
    /// The control API: the bearer token whenever one is in force; JSON bodies only.
    Control,
    /// Pages that show member data or change state: the operator's sign-in beyond loopback.
    Operator,
    /// The company-side entry (`/sso/loginSsoGate`): companies' portals post to it cross-site,
    /// as to the real mall; beyond loopback the operator's sign-in still applies.
    Entry,
}

/// The host a request names: the URI's authority (HTTP/2) or the `Host` header.
pub fn authority(req: &HttpRequest) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })
}

/// Whether a request of this method may change state.
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A refusal in the shape the route's callers read: the cert endpoint's JSON, the control API's
/// `{"error"}`, or a page.
pub(crate) fn refuse(access: Access, status: StatusCode, message: &str) -> HttpResponse {
    match access {
        Access::Protocol => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, crate::protocol::JSON_UTF8))
            .body(crate::protocol::refusal_body(
                &status.as_u16().to_string(),
                message,
            )),
        Access::Control | Access::Public => {
            HttpResponse::build(status).json(serde_json::json!({ "error": message }))
        }
        Access::Receiver | Access::Operator | Access::Entry => {
            crate::web::pages::message(status, "요청 거부 (refused)", message)
        }
    }
}
