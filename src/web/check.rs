//! CHECKURL (`/sso/vendorUserCheck`) at the HTTP edge: the parameters read strictly from the
//! query or a form body, an injected fault applied, [`protocol::check::decide`], then plain
//! `Y`/`N` and one journal event.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};

use super::call::{self, Pending, REASON};
use super::log::printable;
use crate::domain::event::{CallInfo, EventKind};
use crate::domain::fault::Endpoint;
use crate::protocol::check::decide;
use crate::protocol::params::CheckParams;
use crate::protocol::FaultPlan;
use crate::web::state::AppState;

/// GET and POST: `cmpyCd`/`cmpy_cd`, `CFM_CUS_ID`, `userName`/`USER_NAME`, in the query or a form.
pub async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle_in(req, body, state.get_ref().clone()).await
}

/// A sandbox's CHECKURL (`/sb/<id>/sso/vendorUserCheck`): its members, faults and journal (a
/// use of it). A sandbox gone answers 404 naming it.
pub async fn handle_sandbox(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    sandbox: web::Path<String>,
) -> HttpResponse {
    use actix_web::ResponseError;
    let id = match crate::web::api::sandboxes::sandbox_id(&sandbox) {
        Ok(id) => id,
        Err(e) => return e.error_response(),
    };
    match state
        .store
        .sandbox(id, crate::domain::clock::now_ms())
        .await
    {
        Ok((view, _)) => handle_in(req, body, state.in_sandbox(view)).await,
        Err(e) => crate::web::error::ApiError::from(e).error_response(),
    }
}

async fn handle_in(req: HttpRequest, body: web::Bytes, state: AppState) -> HttpResponse {
    let (info, _) = call::call_info(&req, &state);
    let form = call::is_form(&req).then_some(&body[..]);
    let params = CheckParams::read(req.query_string(), form);
    let unavailable = |e: crate::store::StoreError| {
        let reason = format!("answered 503: {e}");
        if crate::web::log::call_line(crate::domain::clock::now_ms()) {
            tracing::info!(ip = %info.ip, answer = "N", "CHECKURL call: {}", printable(&reason));
        }
        state.store.record(
            crate::domain::clock::now_ms(),
            check_event(&info, &params, None, "N", reason, None),
        );
        call::unavailable(Endpoint::Check, &e)
    };
    // The directory first: a fault is taken (used up) only once nothing else can fail.
    let dir = match state.store.directory().await {
        Ok(d) => d,
        Err(e) => return unavailable(e),
    };
    let fault = match call::fault(&state, Endpoint::Check, None).await {
        Ok(f) => f,
        Err(e) => return unavailable(e),
    };
    let vendor = dir.only_vendor_allowing(info.ip).map(str::to_owned);
    let note = fault.as_ref().map(|(kind, _)| kind.describe());
    if let Some((_, FaultPlan::Replace(replacement))) = &fault {
        let reason = format!(
            "forced by an injected fault ({}); the parameters were not looked at",
            note.as_deref().unwrap_or_default()
        );
        if crate::web::log::call_line(crate::domain::clock::now_ms()) {
            tracing::info!(ip = %info.ip, answer = "-", "CHECKURL call: {}", printable(&reason));
        }
        state.store.record(
            crate::domain::clock::now_ms(),
            check_event(&info, &params, vendor, "-", reason, note),
        );
        return call::replacement(*replacement, Endpoint::Check);
    }
    let outcome = decide(&dir, &params);
    if crate::web::log::call_line(crate::domain::clock::now_ms()) {
        tracing::info!(
            ip = %info.ip,
            answer = outcome.answer,
            "CHECKURL call: {}",
            printable(&outcome.reason)
        );
    }
    let res = HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain;charset=UTF-8"))
        .insert_header((REASON, call::reason_header(&req, &state, &outcome.reason)))
        .body(outcome.answer);
    let event = check_event(&info, &params, vendor, outcome.answer, outcome.reason, note);
    let pending = Pending::new(&state, event, crate::domain::clock::now_ms());
    match fault {
        Some((_, FaultPlan::Delay(delay))) => pending.delay(delay).await,
        _ => pending.answered(),
    }
    res
}

/// A CHECKURL call and its answer, as a journal event.
fn check_event(
    call: &CallInfo,
    params: &CheckParams,
    vndr_no: Option<String>,
    answer: &'static str,
    reason: String,
    fault: Option<String>,
) -> EventKind {
    EventKind::Check {
        endpoint: "check".into(),
        method: call.method.clone(),
        ip: call.ip,
        peer: call.peer,
        tls: call.tls,
        vndr_no,
        cmpy_cd: params.company.clone(),
        cust_id: params.customer_id.clone(),
        user_name: params.name.clone(),
        answer: answer.into(),
        reason,
        fault,
    }
}
