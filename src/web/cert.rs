//! `/sso/vendorUserCertTonken` at the HTTP edge: HTTPS only, the token parameter read from the
//! query or a form body, an injected fault applied, [`protocol::cert::decide`], then the answer
//! (HTTP 200 with the mall's JSON, or the resultCode mirrored) and one journal event.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::call::{self, Pending, REASON};
use super::log::printable;
use crate::domain::event::{CallInfo, EventKind, TokenSent};
use crate::domain::fault::Endpoint;
use crate::protocol::cert::{self, CertCall, Outcome};
use crate::protocol::params::{find_token, TokenParam};
use crate::protocol::{CertStatus, FaultPlan, CERT_PATH, JSON_UTF8};
use crate::web::state::AppState;

/// GET and POST handler.
pub async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (info, caller) = call::call_info(&req, &state);
    let form = call::is_form(&req).then_some(&body[..]);
    let param = find_token(req.query_string(), form);
    let sent = token_sent(param.as_ref());
    if !info.tls && !state.config.allow_plain_http_cert {
        // Journaled in the token's sandbox when it names one (a use of it).
        let state = match param
            .as_ref()
            .and_then(|p| crate::domain::OtpToken::parse(&p.value).ok())
        {
            Some(t) => token_sandbox(&state, &t).await,
            None => state.get_ref().clone(),
        };
        return https_required(&state, info, sent);
    }

    let now = crate::domain::clock::now_ms();
    let call = CertCall {
        caller,
        param: param.as_ref(),
        host: crate::web::guard::authority(&req),
        now_ms: now,
    };
    // One visit to the store: the fault for this call, the token looked up and used up.
    let parsed = cert::parse(call.param);
    let visit = match cert::visit(&state.store, &call, &parsed).await {
        Ok(v) => v,
        Err(e) => {
            // On record like any answer (the journal holds it until the store is back), and
            // the token as it was: the store changed nothing.
            let reason = format!("answered 503: {e}; the token was not used, retry");
            log_call(&info, &sent, "503", &reason, now);
            state.store.record(
                now,
                EventKind::cert(info, sent, None, "503", 503, reason, None),
            );
            return call::unavailable(Endpoint::Cert, &e);
        }
    };
    // A token of a sandbox: the call is that sandbox's (its journal), the partner named none.
    let state = match visit.sandbox.and_then(|id| state.store.sandbox_unused(id)) {
        Some(view) => state.in_sandbox(view),
        None => state.get_ref().clone(),
    };
    let fault = visit.fault.clone().map(|kind| {
        let plan = FaultPlan::of(&kind);
        (kind, plan)
    });
    if let Some((kind, FaultPlan::Replace(replacement))) = &fault {
        let vendor = visit.vendor.as_ref().map(|v| v.to_string());
        return replaced(&state, info, sent, kind, *replacement, vendor);
    }
    let mut outcome = cert::decide(visit, parsed, &state.config.endpoints, call);
    if param.is_none() && form.is_none() && !body.is_empty() {
        let kind = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        outcome.reason = format!(
            "{}; the body (Content-Type {kind}) was not read: the token goes in the query or an application/x-www-form-urlencoded body",
            outcome.reason
        )
        .into();
    }
    let status = match state.config.cert_status {
        CertStatus::Always200 => StatusCode::OK,
        CertStatus::Mirror => {
            StatusCode::from_u16(outcome.code.mirrored_status()).unwrap_or(StatusCode::OK)
        }
    };
    log_call(&info, &sent, outcome.code.code(), &outcome.reason, now);
    let reason_header = reason_header(&req, &state, &outcome.reason);
    let Outcome {
        code,
        reason,
        vendor,
        body,
    } = outcome;
    let res = HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
        .insert_header((REASON, reason_header))
        .body(match body {
            // The mall's failure bodies are static: no copy.
            std::borrow::Cow::Borrowed(bytes) => web::Bytes::from_static(bytes),
            std::borrow::Cow::Owned(bytes) => web::Bytes::from(bytes),
        });
    let note = fault.as_ref().map(|(kind, _)| kind.describe());
    let event = EventKind::cert(
        info,
        sent,
        vendor,
        code.code(),
        status.as_u16(),
        reason,
        note,
    );
    let pending = Pending::new(&state, event, now);
    match fault {
        Some((_, FaultPlan::Delay(delay))) => pending.delay(delay).await,
        _ => pending.answered(),
    }
    res
}

/// The answer an injected fault puts in place of the decision; the token was not looked at.
fn replaced(
    state: &AppState,
    info: CallInfo,
    sent: TokenSent,
    kind: &crate::domain::fault::FaultKind,
    replacement: crate::protocol::Replacement,
    vendor: Option<String>,
) -> HttpResponse {
    use crate::protocol::Replacement;
    let res = call::replacement(replacement, Endpoint::Cert);
    let note = kind.describe();
    let code = match replacement {
        Replacement::Result(c) => c.code(),
        Replacement::Http500 => "500",
        Replacement::Drop => "-",
        Replacement::Malformed => "OK",
    };
    let reason = format!("forced by an injected fault ({note}); the token was not looked at");
    log_call(&info, &sent, code, &reason, crate::domain::clock::now_ms());
    let status = match replacement {
        Replacement::Drop => 0,
        _ => res.status().as_u16(),
    };
    state.store.record(
        crate::domain::clock::now_ms(),
        EventKind::cert(info, sent, vendor, code, status, reason, Some(note)),
    );
    res
}

/// `X-Sim-Reason`: the fixed sentences are plain ASCII already, the others made header-safe.
fn reason_header(
    req: &HttpRequest,
    state: &AppState,
    reason: &crate::domain::event::Text,
) -> HeaderValue {
    match reason {
        crate::domain::event::Text::Borrowed(s)
            if crate::web::guard::may_see_detail(req, state) =>
        {
            HeaderValue::from_static(s)
        }
        other => call::reason_header(req, state, other),
    }
}

fn token_sent(param: Option<&TokenParam>) -> TokenSent {
    match param {
        None => TokenSent::default(),
        Some(p) => TokenSent {
            param: Some(p.spelling.name().into()),
            place: Some(p.place.into()),
            value: Some(crate::domain::event::truncate(&p.value, 128)),
        },
    }
}

/// One info line per call: the masked token, the result, the reason.
fn log_call(info: &CallInfo, sent: &TokenSent, result: &str, reason: &str, now_ms: u64) {
    if !crate::web::log::call_line(now_ms) {
        return;
    }
    tracing::info!(
        ip = %info.ip,
        token = %printable(&sent.value.as_deref().map(crate::protocol::gate::mask).unwrap_or_default()),
        result,
        "cert call: {}",
        printable(reason)
    );
}

/// The state of the sandbox `token` names, when it names a live one; else the base's.
async fn token_sandbox(state: &AppState, token: &crate::domain::OtpToken) -> AppState {
    let id = crate::domain::sandbox::SandboxId::of_token(token);
    match state
        .store
        .sandbox(id, crate::domain::clock::now_ms())
        .await
    {
        Ok((view, _)) => state.in_sandbox(view),
        Err(_) => state.clone(),
    }
}

fn https_required(state: &AppState, info: CallInfo, sent: TokenSent) -> HttpResponse {
    let url = format!("{}{}", state.config.public_url, CERT_PATH);
    let reason = format!("plain HTTP refused: the cert endpoint accepts HTTPS only ({url})");
    log_call(
        &info,
        &sent,
        "HTTPS_REQUIRED",
        &reason,
        crate::domain::clock::now_ms(),
    );
    state.store.record(
        crate::domain::clock::now_ms(),
        EventKind::cert(
            info,
            sent,
            None,
            "HTTPS_REQUIRED",
            403,
            reason.clone(),
            None,
        ),
    );
    let body = crate::protocol::refusal_body(
        "HTTPS_REQUIRED",
        &format!("HTTPS만 연결 가능합니다. HTTPS required: call {url}"),
    );
    HttpResponse::Forbidden()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)))
        .insert_header((REASON, call::header_safe(&reason)))
        .body(body)
}
