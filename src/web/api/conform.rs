//! `POST /_sim/api/conform`: the conformance run on a running simulator, answered as JSON, or
//! as JUnit XML or an HTML page when asked (`?format=junit` or `Accept: application/xml`,
//! `?format=html`); and the page `/_sim/conform`, which runs it for a vendor picked from a
//! list. `conform --against` calls the same endpoint. At most
//! [`MAX_CONFORM_RUNS`](crate::web::state::MAX_CONFORM_RUNS) runs at once in one simulator.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::conform::{Case, Report, RunRequest};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;
use crate::web::state::AppState;

const BUSY: &str =
    "two conformance runs are under way on this simulator already: try again when one has ended";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConformBody {
    pub vndr_no: String,
    #[serde(default)]
    pub cust_id: Option<String>,
    /// How long to wait for a cert call, in seconds (default 5, at most 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Case ids not to run (reported skipped).
    #[serde(default)]
    pub skip: Vec<String>,
    /// The decoy listener's port on 127.0.0.2 (default: a free one).
    #[serde(default)]
    pub decoy_port: Option<u16>,
}

/// `?format=`: `json` (the default), `junit` or `html`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    format: Option<String>,
}

/// How the report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Junit,
    Html,
}

/// `?format=` when given, else JUnit when the `Accept` header names XML, else JSON.
fn format(query: &FormatQuery, req: &HttpRequest) -> Result<Format, ApiError> {
    match query.format.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("junit") => Ok(Format::Junit),
        Some("html") => Ok(Format::Html),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format: {:?} is not one of json, junit, html",
            other.chars().take(40).collect::<String>()
        ))),
        None => {
            let xml = req
                .headers()
                .get_all("accept")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|t| t.split(';').next().unwrap_or_default().trim())
                .any(|t| {
                    t.eq_ignore_ascii_case("application/xml") || t.eq_ignore_ascii_case("text/xml")
                });
            Ok(if xml { Format::Junit } else { Format::Json })
        }
    }
}

pub async fn post(
    state: Sandboxed,
    req: HttpRequest,
    query: web::Query<FormatQuery>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let format = format(&query, &req)?;
    let b: ConformBody = crate::web::error::from_json(body.into_inner())?;
    let timeout = Duration::from_secs(b.timeout_seconds.unwrap_or(5).clamp(1, 60));
    let skip = b
        .skip
        .iter()
        .map(|id| Case::parse(id))
        .collect::<Result<Vec<Case>, String>>()
        .map_err(|e| ApiError::BadRequest(format!("skip: {e}")))?;
    if state.store.directory().await?.vendor(&b.vndr_no).is_none() {
        return Err(ApiError::NotFound(format!(
            "unknown vendor '{}'",
            b.vndr_no
        )));
    }
    let Ok(_running) = state.conform_runs.try_acquire() else {
        return Err(ApiError::TooMany(BUSY.into()));
    };
    let request = RunRequest {
        vndr_no: &b.vndr_no,
        member: b.cust_id.as_deref(),
        timeout,
        skip: &skip,
    };
    let report = run_kit(&state, &request, b.decoy_port)
        .await
        .map_err(ApiError::Conflict)?;
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(report),
        Format::Junit => HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .insert_header(("cache-control", "no-store"))
            .body(crate::conform::report::junit(&report)),
        Format::Html => crate::web::pages::page_response(crate::conform::report::page(&report)),
    })
}

/// Runs the conformance kit on this simulator in a sandbox of its own, copied from the
/// caller's (or the base) and removed afterwards: the run changes nothing outside it (the
/// consents it declines, the vendor it adds, its calls in the journal), two runs never see each
/// other, and a process that dies mid-run leaves a sandbox that expires by itself.
pub async fn run_kit(
    state: &AppState,
    request: &RunRequest<'_>,
    decoy_port: Option<u16>,
) -> Result<Report, String> {
    let base = state.shared_store();
    let ask = crate::domain::sandbox::NewSandbox {
        name: Some(format!("conformance run of {}", request.vndr_no)),
        ttl_s: None,
        from: state.store.sandbox_id(),
    };
    let (view, made) = base
        .make_sandbox(&ask, crate::domain::clock::now_ms())
        .await
        .map_err(|e| format!("no sandbox for the run: {e}"))?;
    let result = run_in(&state.in_sandbox(view), request, decoy_port).await;
    if let Err(e) = base
        .remove_sandbox(made.id, crate::domain::clock::now_ms())
        .await
    {
        tracing::warn!(
            "conformance run: its sandbox {} stays until it expires: {e}",
            made.id
        );
    }
    result
}

/// Runs the kit on `state` (a sandbox's), with the decoy listener for the spoofed case (on
/// `decoy_port` when given; stopped when the run ends). A pinned port that cannot be bound
/// stops the run; without a pin, a loopback without 127.0.0.2 only skips that case.
async fn run_in(
    state: &AppState,
    request: &RunRequest<'_>,
    decoy_port: Option<u16>,
) -> Result<Report, String> {
    let decoy = if request.skip.contains(&Case::SpoofedCusUrl) {
        None
    } else {
        match state.start_decoy(decoy_port.unwrap_or(0)) {
            Ok((server, addr)) => {
                let handle = server.handle();
                actix_web::rt::spawn(server);
                Some((handle, addr))
            }
            Err(e) => match decoy_port {
                Some(port) => {
                    return Err(format!(
                        "cannot listen on {}:{port} (the decoy port) for spoofed-cus-url: {e}",
                        crate::conform::DECOY_IP
                    ))
                }
                // Some systems (macOS) have only 127.0.0.1 on loopback: that case is skipped.
                None => None,
            },
        }
    };
    let mut kit = kit(state);
    kit.decoy = decoy.as_ref().map(|(_, addr)| format!("https://{addr}"));
    let result = crate::conform::run(&kit, request).await;
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
        base: state
            .store
            .sandbox_id()
            .map(|_| state.shared_store().clone()),
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
    let Ok(_running) = state.conform_runs.try_acquire() else {
        return crate::web::pages::message(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "시험이 이미 진행 중입니다 (busy)",
            BUSY,
        );
    };
    let request = RunRequest {
        vndr_no: &form.vndr_no,
        member: None,
        timeout: Duration::from_secs(5),
        skip: &[],
    };
    match run_kit(&state, &request, None).await {
        Ok(report) => crate::web::pages::page_response(crate::conform::report::page(&report)),
        Err(why) => crate::web::pages::message(
            actix_web::http::StatusCode::CONFLICT,
            "시험할 수 없습니다 (cannot run)",
            &why,
        ),
    }
}
