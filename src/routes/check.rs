//! CHECKURL (`/sso/vendorUserCheck`) at the HTTP edge: the parameters read strictly from the
//! query or a form body, an injected fault applied, [`protocol::check::decide`], then plain
//! `Y`/`N` and one journal event.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};

use super::call::{self, Pending, REASON_HEADER};
use crate::faults::Endpoint;
use crate::journal::EventKind;
use crate::protocol::check::decide;
use crate::protocol::params::CheckParams;
use crate::protocol::FaultPlan;
use crate::state::AppState;

/// GET and POST: `cmpyCd`/`cmpy_cd`, `CFM_CUS_ID`, `userName`/`USER_NAME`, in the query or a form.
pub async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (info, _) = call::call_info(&req, &state);
    let form = call::is_form(&req).then_some(&body[..]);
    let params = CheckParams::read(req.query_string(), form);
    let fault = match call::fault(&state, Endpoint::Check, None).await {
        Ok(f) => f,
        Err(e) => return call::unavailable(Endpoint::Check, &e),
    };
    let dir = match state.store.directory().await {
        Ok(d) => d,
        Err(e) => return call::unavailable(Endpoint::Check, &e),
    };
    let vendor = dir.only_vendor_allowing(info.ip).map(str::to_owned);
    let note = fault.as_ref().map(|(kind, _)| kind.describe());
    if let Some((_, FaultPlan::Replace(replacement))) = &fault {
        let reason = format!(
            "forced by an injected fault ({}); the parameters were not looked at",
            note.as_deref().unwrap_or_default()
        );
        if crate::telemetry::call_line(crate::clock::now_ms()) {
            tracing::info!(ip = %info.ip, answer = "-", "CHECKURL call: {reason}");
        }
        state.store.record(
            crate::clock::now_ms(),
            EventKind::check(&info, &params, vendor, "-", reason, note),
        );
        return call::replacement(*replacement, Endpoint::Check);
    }
    let outcome = decide(&dir, &params);
    if crate::telemetry::call_line(crate::clock::now_ms()) {
        tracing::info!(ip = %info.ip, answer = outcome.answer, "CHECKURL call: {}", outcome.reason);
    }
    let res = HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain;charset=UTF-8"))
        .insert_header((
            REASON_HEADER,
            call::reason_header(&req, &state, &outcome.reason),
        ))
        .body(outcome.answer);
    let event = EventKind::check(&info, &params, vendor, outcome.answer, outcome.reason, note);
    let pending = Pending::new(&state, event, crate::clock::now_ms());
    match fault {
        Some((_, FaultPlan::Delay(delay))) => pending.delay(delay).await,
        _ => pending.answered(),
    }
    res
}
