//! `GET /_sim/api/tokens/{token}` and `POST /_sim/api/tokens/{token}/expire`: what became of a
//! token, and time under control for tests of the 401 path.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::domain::clock;
use crate::domain::event::{Event, EventKind};
use crate::domain::grant::TokenView;
use crate::domain::{OtpToken, TokenFormatError};
use crate::protocol::cert::{expired_reason, used_reason};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// A token as the control API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    otp_token: String,
    /// `issued` (usable), `used` or `expired`.
    state: &'static str,
    cmpy_cd: String,
    cust_id: String,
    vndr_no: String,
    issued_at: String,
    expires_at: String,
    used_at: Option<String>,
    used_by: Option<String>,
    /// Why the cert endpoint would answer as it does, in words.
    reason: String,
    /// Every cert call made with this token still in the journal, oldest first.
    calls: Vec<std::sync::Arc<Event>>,
}

fn parse(token: &str) -> Result<OtpToken, ApiError> {
    OtpToken::parse(token).map_err(|e| {
        ApiError::BadRequest(match e {
            TokenFormatError::Blank => "the token is empty".into(),
            TokenFormatError::Malformed => {
                format!("{token:?} is not a token of this simulator (64 lowercase hex characters)")
            }
        })
    })
}

async fn answer(
    state: &AppState,
    token: &OtpToken,
    view: TokenView,
) -> Result<TokenAnswer, ApiError> {
    let now = clock::now_ms();
    let text = token.to_string();
    // A used token is used, expired or not: the cert endpoint answers it 404 always.
    let (status, reason) = if view.used.is_some() {
        ("used", used_reason(&view))
    } else if now >= view.expires_ms {
        ("expired", expired_reason(&view, now))
    } else {
        (
            "issued",
            format!(
                "usable: expires in {:.1} s",
                (view.expires_ms - now) as f64 / 1000.0
            ),
        )
    };
    let calls = state
        .store
        .journal()
        .await?
        .into_iter()
        .filter(|e| matches!(&e.kind, EventKind::Cert { otp_token: Some(t), .. } if *t == text))
        .collect();
    Ok(TokenAnswer {
        otp_token: text,
        state: status,
        cmpy_cd: view.grant.company.to_string(),
        cust_id: view.grant.customer_id.to_string(),
        vndr_no: view.grant.vendor.to_string(),
        issued_at: clock::rfc3339(view.issued_ms),
        expires_at: clock::rfc3339(view.expires_ms),
        used_at: view.used.as_ref().map(|u| clock::rfc3339(u.at_ms)),
        used_by: view.used.as_ref().map(|u| u.by.to_string()),
        reason,
        calls,
    })
}

fn unknown(token: &OtpToken) -> ApiError {
    ApiError::NotFound(format!(
        "no such token {}: never issued by this simulator, or forgotten (used and expired tokens are forgotten --token-retention-seconds after their expiry)",
        token.masked()
    ))
}

pub async fn get(state: Sandboxed, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = parse(&path)?;
    let view = state
        .store
        .peek(&token)
        .await?
        .ok_or_else(|| unknown(&token))?;
    Ok(HttpResponse::Ok().json(answer(&state, &token, view).await?))
}

pub async fn expire(state: Sandboxed, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = parse(&path)?;
    if !state.store.expire(&token, clock::now_ms()).await? {
        return Err(unknown(&token));
    }
    let view = state
        .store
        .peek(&token)
        .await?
        .ok_or_else(|| unknown(&token))?;
    Ok(HttpResponse::Ok().json(answer(&state, &token, view).await?))
}
