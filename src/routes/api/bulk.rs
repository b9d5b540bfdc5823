//! `POST /_sim/api/tokens/bulk`: many tokens at once for one member and vendor, for load tests
//! and the benchmark. Consent is required as for a GATE; no GATE form is built and nothing is
//! journaled per token (one journal line would be a million).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::clock;
use crate::error::ApiError;
use crate::gate::MAX_TTL_SECONDS;
use crate::state::AppState;
use crate::tokens::Grant;

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
    state: web::Data<AppState>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let b: BulkBody = crate::error::from_json(body.into_inner())?;
    if b.count == 0 || b.count > MAX_COUNT {
        return Err(ApiError::BadRequest(format!(
            "count: must be from 1 to {MAX_COUNT}"
        )));
    }
    if b.ttl_seconds.is_some_and(|t| t == 0 || t > MAX_TTL_SECONDS) {
        return Err(ApiError::BadRequest(format!(
            "ttlSeconds: must be from 1 to {MAX_TTL_SECONDS}"
        )));
    }
    let (grant, ttl_ms) = {
        let dir = state.directory();
        let (company, _) = dir
            .company(&b.cmpy_cd)
            .ok_or_else(|| ApiError::NotFound(format!("unknown company '{}'", b.cmpy_cd)))?;
        let (member, m) = dir
            .member(&b.cust_id)
            .ok_or_else(|| ApiError::NotFound(format!("unknown member '{}'", b.cust_id)))?;
        if m.company != b.cmpy_cd {
            return Err(ApiError::NotFound(format!(
                "member '{}' does not belong to company '{}'",
                b.cust_id, b.cmpy_cd
            )));
        }
        let (vendor, v) = dir
            .vendor(&b.vndr_no)
            .ok_or_else(|| ApiError::NotFound(format!("unknown vendor '{}'", b.vndr_no)))?;
        if dir.consent(&b.cust_id, &b.vndr_no).is_none() {
            return Err(ApiError::Conflict(format!(
                "member '{}' has not agreed to share data with '{}': no token can be issued",
                b.cust_id, b.vndr_no
            )));
        }
        let ttl_ms = b
            .ttl_seconds
            .or(v.vendor.token_ttl_seconds)
            .map(|s| s * 1000)
            .unwrap_or(state.config.token_ttl_ms);
        (
            Grant {
                company: company.clone(),
                customer_id: member.clone(),
                vendor: vendor.clone(),
            },
            ttl_ms,
        )
    };
    let now = clock::now_ms();
    let mut tokens = Vec::with_capacity(if b.return_tokens { b.count } else { 0 });
    for issued in 0..b.count {
        match state.tokens.issue(grant.clone(), now, now + ttl_ms) {
            Ok(t) if b.return_tokens => tokens.push(t.to_string()),
            Ok(_) => {}
            Err(full) => {
                return Err(ApiError::Unavailable(format!(
                    "{full} ({issued} of {} were issued)",
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
