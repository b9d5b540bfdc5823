//! CHECKURL (`/sso/vendorUserCheck`): the partner asks whether a member exists. Plain `Y`/`N`.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::client_ip;
use crate::clock;
use crate::faults::{Endpoint, FaultKind};
use crate::journal::EventKind;
use crate::routes::cert::{is_form, DroppedConnection};
use crate::state::AppState;

pub const PATH: &str = "/sso/vendorUserCheck";

/// GET and POST: `cmpyCd`/`cmpy_cd`, `CFM_CUS_ID`, `userName`/`USER_NAME`, in the query or a form.
pub async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let mut company = None;
    let mut customer = None;
    let mut name = None;
    let mut take = |bytes: &[u8]| {
        for (k, v) in form_urlencoded::parse(bytes) {
            let slot = match k.as_ref() {
                "cmpyCd" | "cmpy_cd" => &mut company,
                "CFM_CUS_ID" => &mut customer,
                "userName" | "USER_NAME" => &mut name,
                _ => continue,
            };
            slot.get_or_insert(v.into_owned());
        }
    };
    take(req.query_string().as_bytes());
    if is_form(&req) {
        take(&body);
    }
    let caller = client_ip::caller(
        &req,
        &state.config.trusted_proxies,
        state.config.forwarded_header,
    );
    let fault = state.faults.take(Endpoint::Check, None);
    let (mut answer, mut reason) = decide(
        &state,
        company.as_deref(),
        customer.as_deref(),
        name.as_deref(),
    );
    let mut response = None;
    if let Some(kind) = &fault {
        match kind {
            FaultKind::Delay { delay_ms } => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(*delay_ms)).await;
            }
            FaultKind::Http500 => {
                response = Some(
                    HttpResponse::InternalServerError()
                        .content_type("text/plain;charset=UTF-8")
                        .body("Internal Server Error"),
                );
            }
            FaultKind::Drop => response = Some(HttpResponse::Ok().body(DroppedConnection)),
            FaultKind::Malformed => {
                response = Some(
                    HttpResponse::Ok()
                        .content_type("text/plain;charset=UTF-8")
                        .body("?"),
                );
            }
            // Refused when the fault is added: CHECKURL has no resultCode.
            FaultKind::ResultCode { .. } => {}
        }
        if response.is_some() {
            answer = "-";
        }
        reason = format!("{reason} (injected fault: {})", kind.describe());
    }
    state.journal.record(
        clock::now_ms(),
        EventKind::Check {
            endpoint: "check".into(),
            method: crate::journal::method_text(req.method()),
            ip: caller.ip,
            cmpy_cd: company,
            cust_id: customer,
            user_name: name,
            answer: answer.into(),
            reason: reason.clone(),
            fault: fault.map(|f| f.describe()),
        },
    );
    if let Some(response) = response {
        return response;
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain;charset=UTF-8"))
        .insert_header((
            crate::routes::cert::REASON_HEADER,
            if crate::access::may_see_detail(&req, &state) {
                crate::routes::cert::header_safe(&reason)
            } else {
                actix_web::http::header::HeaderValue::from_static(
                    crate::routes::cert::ANONYMOUS_REASON,
                )
            },
        ))
        .body(answer)
}

fn decide(
    state: &AppState,
    company: Option<&str>,
    customer: Option<&str>,
    name: Option<&str>,
) -> (&'static str, String) {
    let (Some(company), Some(customer), Some(name)) = (company, customer, name) else {
        return (
            "N",
            "cmpyCd, CFM_CUS_ID and userName are all required".into(),
        );
    };
    let dir = state.directory();
    let Some((_, member)) = dir.member(customer) else {
        return ("N", format!("no member {customer}"));
    };
    if member.company != company {
        return (
            "N",
            format!("member {customer} is not in company {company}"),
        );
    }
    if !member.active {
        return ("N", format!("member {customer} is inactive"));
    }
    if member.name != name {
        return ("N", format!("member {customer}'s name does not match"));
    }
    (
        "Y",
        format!("active member {customer} of {company}, name matches"),
    )
}
