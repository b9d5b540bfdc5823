//! `/_sim/journal`: every token issued and every call, newest first; refreshes itself.

use actix_web::HttpResponse;
use askama::Template;

use super::render;
use crate::domain::event::EventKind;

struct Row {
    /// RFC 3339 in KST, for `<time datetime>`.
    stamp: String,
    /// `HH:MM:SS.mmm KST`, for people.
    at: String,
    kind: &'static str,
    vendor: String,
    ip: String,
    detail: String,
    result: String,
    ok: bool,
    reason: String,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    rows: Vec<Row>,
    total: usize,
    capacity: String,
}

/// How many rows the page shows (the API gives all).
const SHOWN: usize = 300;

pub async fn page(state: super::sandbox::BrowserState) -> HttpResponse {
    let events = match state.store.journal().await {
        Ok(e) => e,
        Err(e) => {
            return super::message(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "저널",
                &e.to_string(),
            )
        }
    };
    let total = events.len();
    let rows = events
        .iter()
        .rev()
        .take(SHOWN)
        .map(|e| {
            let stamp = crate::domain::clock::rfc3339(e.at);
            let at = format!("{} KST", stamp.get(11..23).unwrap_or(&stamp));
            match &e.kind {
                EventKind::Gate {
                    cmpy_cd,
                    cust_id,
                    vndr_no,
                    otp_token,
                    omitted,
                    source,
                    ..
                } => Row {
                    stamp,
                    at,
                    kind: "GATE",
                    vendor: vndr_no.clone(),
                    ip: String::new(),
                    detail: format!(
                        "{source} · {cmpy_cd}/{cust_id} · token {}",
                        otp_token
                            .as_deref()
                            .map(crate::protocol::gate::mask)
                            .unwrap_or_else(|| "없음 (미동의)".into())
                    ),
                    result: if otp_token.is_some() {
                        "발급".into()
                    } else {
                        "토큰 없음".into()
                    },
                    ok: otp_token.is_some(),
                    reason: omitted
                        .iter()
                        .filter(|o| ["CFM_CUS_ID", "OTP_TOKEN"].contains(&o.field.as_ref()))
                        .map(|o| format!("{}: {}", o.field, o.reason))
                        .collect::<Vec<_>>()
                        .join(" / "),
                },
                EventKind::Cert {
                    method,
                    param,
                    param_in,
                    otp_token,
                    ip,
                    vndr_no,
                    result_code,
                    reason,
                    fault,
                    ..
                } => Row {
                    stamp,
                    at,
                    kind: "CERT",
                    vendor: vndr_no.clone().unwrap_or_default(),
                    ip: ip.to_string(),
                    detail: format!(
                        "{method} {}={} ({})",
                        param.as_deref().unwrap_or("-"),
                        otp_token
                            .as_deref()
                            .map(crate::protocol::gate::mask)
                            .unwrap_or_default(),
                        param_in.as_deref().unwrap_or("-")
                    ),
                    result: result_code.clone(),
                    ok: result_code == "OK",
                    reason: match fault {
                        Some(f) => format!("[fault: {f}] {reason}"),
                        None => reason.to_string(),
                    },
                },
                EventKind::Check {
                    method,
                    ip,
                    cmpy_cd,
                    cust_id,
                    answer,
                    reason,
                    vndr_no,
                    ..
                } => Row {
                    stamp,
                    at,
                    kind: "CHECK",
                    vendor: vndr_no.clone().unwrap_or_default(),
                    ip: ip.to_string(),
                    detail: format!(
                        "{method} {}/{}",
                        cmpy_cd.as_deref().unwrap_or("-"),
                        cust_id.as_deref().unwrap_or("-")
                    ),
                    result: answer.to_string(),
                    ok: answer == "Y",
                    reason: reason.clone(),
                },
                EventKind::Login {
                    via,
                    cmpy_cd,
                    mbr_id,
                    cust_id,
                    result,
                    reason,
                    ..
                } => Row {
                    stamp,
                    at,
                    kind: "LOGIN",
                    vendor: String::new(),
                    ip: String::new(),
                    detail: format!(
                        "{via} {cmpy_cd}/{mbr_id} → {}",
                        cust_id.as_deref().unwrap_or("-")
                    ),
                    result: result.to_string(),
                    ok: result != "refused",
                    reason: reason.clone(),
                },
            }
        })
        .collect();
    render(&JournalPage {
        rows,
        total,
        capacity: state.store.journal_capacity().to_string(),
    })
}
