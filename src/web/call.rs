//! What the two protocol endpoints (the cert endpoint and CHECKURL) share at the HTTP edge: who
//! is calling, the injected fault's plan, the journal event (written exactly once, even when
//! the client goes away during an injected delay), the info log line, and the answers a fault
//! puts in place of the decided one.

use std::time::Duration;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::event::{CallInfo, EventKind};
use crate::domain::fault::{Endpoint, FaultKind};
use crate::protocol::{FaultPlan, Replacement, JSON_UTF8};
use crate::store::StoreError;
use crate::web::client_ip;
use crate::web::state::AppState;

/// The header that carries the reason sentence; the body stays exactly the mall's.
pub const REASON_HEADER: &str = "x-sim-reason";

/// [`REASON_HEADER`] as a header name, made once (a name given as text is parsed per answer).
pub const REASON: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static(REASON_HEADER);

/// `X-Sim-Reason` beyond loopback for a caller without the control token: the journal keeps
/// the detail (allow-lists, who used a token) for the operator.
pub const ANONYMOUS_REASON: &str =
    "details are in the simulator's journal (or send the control token to see them here)";

/// Who made this call and how.
pub fn call_info(req: &HttpRequest, state: &AppState) -> (CallInfo, client_ip::Caller) {
    let caller = client_ip::caller(
        req,
        &state.config.trusted_proxies,
        state.config.forwarded_header,
    );
    let info = CallInfo {
        method: crate::web::call::method_text(req.method()),
        host: crate::web::guard::authority(req).map(str::to_owned),
        ip: caller.ip,
        peer: caller.peer,
        tls: req.app_config().secure(),
    };
    (info, caller)
}

/// The fault for this call, if one is in force.
pub async fn fault(
    state: &AppState,
    endpoint: Endpoint,
    vendor: Option<&str>,
) -> Result<Option<(FaultKind, FaultPlan)>, StoreError> {
    Ok(state.store.take_fault(endpoint, vendor).await?.map(|kind| {
        let plan = FaultPlan::of(&kind);
        (kind, plan)
    }))
}

/// A journal event recorded when dropped: at once for a normal call, after the injected delay
/// otherwise, and, if the client went away during the delay (the handler is dropped with it),
/// with a note saying so. Every call is in the journal, exactly once.
pub struct Pending {
    state: AppState,
    event: Option<EventKind>,
    /// When the call was decided.
    at_ms: u64,
    answered: bool,
}

impl Pending {
    pub fn new(state: &AppState, event: EventKind, at_ms: u64) -> Self {
        Pending {
            state: state.clone(),
            event: Some(event),
            at_ms,
            answered: false,
        }
    }

    /// Waits `delay` (an injected fault), then lets the event be recorded as answered.
    pub async fn delay(mut self, delay: Duration) {
        actix_web::rt::time::sleep(delay).await;
        self.answered = true;
    }

    /// Records now, as answered.
    pub fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(mut event) = self.event.take() else {
            return;
        };
        if !self.answered {
            let note = "; the client closed the connection before the delayed answer was due";
            match &mut event {
                EventKind::Cert { fault, .. } | EventKind::Check { fault, .. } => {
                    *fault = Some(format!("{}{note}", fault.as_deref().unwrap_or_default()));
                }
                EventKind::Gate { .. } | EventKind::Login { .. } => {}
            }
        }
        self.state.store.record(self.at_ms, event);
    }
}

/// The answer an injected fault puts in place of the decided one.
pub fn replacement(kind: Replacement, endpoint: Endpoint) -> HttpResponse {
    match kind {
        Replacement::Result(code) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
            .body(code.failure_body()),
        Replacement::Http500 => HttpResponse::InternalServerError()
            .content_type("text/plain;charset=UTF-8")
            .body("Internal Server Error"),
        Replacement::Drop => HttpResponse::Ok().body(DroppedConnection),
        Replacement::Malformed => match endpoint {
            Endpoint::Cert => HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
                .body(r#"{"resultCode":"OK","message":"OTP 토큰 인증 되었습니다.","resultMap":{"user":{"mbrNo":"#),
            Endpoint::Check => HttpResponse::Ok()
                .content_type("text/plain;charset=UTF-8")
                .body("?"),
        },
    }
}

/// The reason header: the sentence on loopback or for the operator, a pointer to the journal
/// for anyone else beyond loopback.
pub fn reason_header(req: &HttpRequest, state: &AppState, reason: &str) -> HeaderValue {
    if crate::web::guard::may_see_detail(req, state) {
        header_safe(reason)
    } else {
        HeaderValue::from_static(ANONYMOUS_REASON)
    }
}

/// A body that fails at once: the server closes the connection without sending an answer.
pub struct DroppedConnection;

impl actix_web::body::MessageBody for DroppedConnection {
    type Error = std::io::Error;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Stream
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::other(
            crate::web::log::INJECTED_DROP,
        ))))
    }
}

/// A header value made of visible ASCII only: anything else (CR, LF, non-ASCII) becomes `?`,
/// so nothing a caller sends can split or forge a header.
pub fn header_safe(s: &str) -> HeaderValue {
    // Most reasons are plain ASCII already: one pass to see it, one copy.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        if let Ok(value) = HeaderValue::from_str(s) {
            return value;
        }
    }
    let clean: String = s
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    HeaderValue::from_maybe_shared(web::Bytes::from(clean))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Whether the body is a form (`application/x-www-form-urlencoded`, any parameters).
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The store was out of reach: 503, in the endpoint's shape, nothing changed.
pub fn unavailable(endpoint: Endpoint, e: &StoreError) -> HttpResponse {
    let message = e.to_string();
    let mut res = match endpoint {
        Endpoint::Cert => HttpResponse::ServiceUnavailable()
            .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
            .body(crate::protocol::refusal_body("503", &message)),
        Endpoint::Check => HttpResponse::ServiceUnavailable()
            .content_type("text/plain;charset=UTF-8")
            .body("N"),
    };
    res.headers_mut().insert(REASON, header_safe(&message));
    res
}

/// The request method as journal text, without allocating for the usual ones.
pub fn method_text(m: &actix_web::http::Method) -> crate::domain::event::Text {
    match *m {
        actix_web::http::Method::GET => crate::domain::event::Text::Borrowed("GET"),
        actix_web::http::Method::POST => crate::domain::event::Text::Borrowed("POST"),
        _ => crate::domain::event::Text::Owned(m.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_values_never_carry_line_breaks() {
        let v = super::header_safe("a\r\nSet-Cookie: x=1 한");
        assert_eq!(v.to_str().unwrap(), "a??Set-Cookie: x=1 ?");
        // Plain ASCII (the usual reason) is kept as it is; a tab is replaced as before.
        let plain = "token valid: member J01A00038745 of J01 for vendor VR000216; now used up";
        assert_eq!(super::header_safe(plain).to_str().unwrap(), plain);
        assert_eq!(super::header_safe("a\tb").to_str().unwrap(), "a?b");
    }
}
