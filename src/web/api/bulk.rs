//! `POST /_sim/api/tokens/bulk`: many tokens at once for one member and vendor, for load tests
//! and the benchmark. Consent is required as for a GATE; no GATE form is built and nothing is
//! journaled per token (one journal line would be a million).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::clock;
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

/// The most tokens one call issues.
pub const MAX_COUNT: usize = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BulkBody {
    cmpy_cd: String,
    cust_id: String,
    vndr_no: String,
    count: usize,
    #[serde(default)]
    ttl_seconds: Option<u64>,
    /// Answer the tokens themselves (default) or only how many were issued.
    #[serde(default = "yes")]
    return_tokens: bool,
}

fn yes() -> bool {
    true
}

pub async fn post(
    state: Sandboxed,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let b: BulkBody = crate::web::error::from_json(body.into_inner())?;
    if b.count == 0 || b.count > MAX_COUNT {
        return Err(ApiError::BadRequest(format!(
            "count: must be from 1 to {MAX_COUNT}"
        )));
    }
    // The same checks as a GATE: unknown, foreign or inactive members are refused alike.
    let dir = state.store.directory().await?;
    let resolved = crate::protocol::gate::resolve(
        &dir,
        &b.cmpy_cd,
        &b.cust_id,
        &b.vndr_no,
        b.ttl_seconds,
        state.config.token_ttl_ms,
    )?;
    if dir.consent(&b.cust_id, &b.vndr_no).is_none() {
        return Err(ApiError::Conflict(format!(
            "member '{}' has not agreed to share data with '{}': no token can be issued",
            b.cust_id, b.vndr_no
        )));
    }
    drop(dir);
    let (grant, ttl_ms) = (resolved.grant(), resolved.ttl_ms);
    let now = clock::now_ms();
    let mut tokens = Vec::with_capacity(if b.return_tokens { b.count } else { 0 });
    for issued in 0..b.count {
        match state.store.issue(grant.clone(), now, now + ttl_ms).await {
            Ok(t) if b.return_tokens => tokens.push(t.to_string()),
            Ok(_) => {}
            Err(e) => {
                return Err(ApiError::Unavailable(format!(
                    "{e} ({issued} of {} were issued)",
                    b.count
                )))
            }
        }
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "issued": b.count,
        "expiresAt": clock::rfc3339(now + ttl_ms),
        "tokens": if b.return_tokens { Some(tokens) } else { None },
    })))
}
