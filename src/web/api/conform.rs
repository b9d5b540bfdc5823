//! `POST /_sim/api/conform`: the conformance run on a running simulator, answered as JSON; and
//! the page `/_sim/conform`, which runs it for a vendor picked from a list.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::web::error::ApiError;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConformBody {
    pub vndr_no: String,
    #[serde(default)]
    pub cust_id: Option<String>,
    /// How long to wait for a cert call, in seconds (default 5, at most 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

pub async fn post(
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let b: ConformBody = crate::web::error::from_json(body.into_inner())?;
    let timeout = Duration::from_secs(b.timeout_seconds.unwrap_or(5).clamp(1, 60));
    if state.store.directory().await?.vendor(&b.vndr_no).is_none() {
        return Err(ApiError::NotFound(format!(
            "unknown vendor '{}'",
            b.vndr_no
        )));
    }
    let report = run_kit(&state, &b.vndr_no, b.cust_id.as_deref(), timeout)
        .await
        .map_err(ApiError::Conflict)?;
    Ok(HttpResponse::Ok().json(report))
}

/// Runs the conformance kit on this simulator, with the decoy listener for the spoofed case
/// (stopped when the run ends).
pub async fn run_kit(
    state: &AppState,
    vndr_no: &str,
    member: Option<&str>,
    timeout: Duration,
) -> Result<crate::conform::Report, String> {
    // Some systems (macOS) have only 127.0.0.1 on loopback: then that one case is skipped.
    let decoy = state.start_decoy().ok().map(|(server, addr)| {
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (handle, addr)
    });
    let mut kit = kit(state);
    kit.decoy = decoy.as_ref().map(|(_, addr)| format!("https://{addr}"));
    let result = crate::conform::run(&kit, vndr_no, member, timeout).await;
    if let Some((handle, _)) = decoy {
        handle.stop(false).await;
    }
    result
}

/// What the conformance kit needs of this simulator (no decoy listener).
pub fn kit(state: &AppState) -> crate::conform::Kit<'_> {
    crate::conform::Kit {
        issuer: state.issuer(),
        trusted: state.config.tls_chain.clone(),
        decoy: None,
    }
}

/// The page's form: a vendor from the list.
#[derive(Debug, Deserialize)]
pub struct PageForm {
    #[serde(rename = "vndrNo")]
    vndr_no: String,
}

/// One vendor in the page's list.
struct VendorOption {
    vendor_no: String,
    name: String,
    gate_url: String,
}

#[derive(Template)]
#[template(path = "conform.html")]
struct ConformPage {
    vendors: Vec<VendorOption>,
}

/// GET `/_sim/conform`: the vendors, each with a button.
pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    let dir = match crate::web::pages::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let vendors = dir
        .vendors()
        .map(|v| VendorOption {
            vendor_no: v.vendor.vendor_no.clone(),
            name: v.vendor.name.clone(),
            gate_url: v.vendor.gate_url.clone(),
        })
        .collect();
    crate::web::pages::render(&ConformPage { vendors })
}

/// POST `/_sim/conform`: runs and shows the report.
pub async fn run_page(state: web::Data<AppState>, form: web::Form<PageForm>) -> HttpResponse {
    match run_kit(&state, &form.vndr_no, None, Duration::from_secs(5)).await {
        Ok(report) => crate::web::pages::page_response(crate::conform::report::page(&report)),
        Err(why) => crate::web::pages::message(
            actix_web::http::StatusCode::CONFLICT,
            "시험할 수 없습니다 (cannot run)",
            &why,
        ),
    }
}
