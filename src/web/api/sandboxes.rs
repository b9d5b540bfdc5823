//! `/_sim/api/sandboxes`: make, list, show and remove sandboxes (isolated copies of the mall),
//! and the `X-Sim-Sandbox` header every control API call takes to act inside one
//! ([`Sandboxed`]). An unknown or expired sandbox is a 404 naming it, never the base.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::domain::clock;
use crate::domain::sandbox::{NewSandbox, SandboxId, SandboxInfo};
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// The header naming the sandbox a control API call acts in.
pub const SANDBOX_HEADER: &str = "x-sim-sandbox";

/// The state a control API call acts on: the base's, or, with `X-Sim-Sandbox`, that
/// sandbox's (used now, so its expiry is pushed back).
pub struct Sandboxed(pub AppState);

impl std::ops::Deref for Sandboxed {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// A sandbox named by a caller: 16 lowercase hex characters, or a 404 naming what was sent.
pub fn sandbox_id(text: &str) -> Result<SandboxId, ApiError> {
    SandboxId::parse(text.trim()).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no sandbox {text:?}: a sandbox id is the 16 hex characters POST /_sim/api/sandboxes answered"
        ))
    })
}

impl FromRequest for Sandboxed {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .map(|d| d.get_ref().clone());
        let named = req
            .headers()
            .get(SANDBOX_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| anyhow::anyhow!("the application state is missing"))?;
            let Some(named) = named else {
                return Ok(Sandboxed(state));
            };
            let id = sandbox_id(&named)?;
            let (view, _) = state.store.sandbox(id, clock::now_ms()).await?;
            Ok(Sandboxed(state.in_sandbox(view)))
        })
    }
}

/// `POST /_sim/api/sandboxes`'s body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MakeBody {
    name: Option<String>,
    ttl_seconds: Option<u64>,
}

/// A sandbox as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shown {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    ttl_seconds: u64,
    created_at: String,
    expires_at: String,
    /// The sandbox it was copied from (`null`: the base).
    made_from: Option<String>,
}

impl From<&SandboxInfo> for Shown {
    fn from(i: &SandboxInfo) -> Self {
        Shown {
            id: i.id.to_string(),
            name: i.name.clone(),
            ttl_seconds: i.ttl_s,
            created_at: clock::rfc3339(i.created_ms),
            expires_at: clock::rfc3339(i.expires_ms),
            made_from: i.from.map(|f| f.to_string()),
        }
    }
}

/// Makes a sandbox: a copy of the base as it is now, or, with `X-Sim-Sandbox`, of that sandbox.
pub async fn make(
    state: Sandboxed,
    body: Option<web::Json<serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let b: MakeBody = match body {
        Some(b) => crate::web::error::from_json(b.into_inner())?,
        None => MakeBody::default(),
    };
    let ask = NewSandbox {
        name: b.name,
        ttl_s: b.ttl_seconds,
        from: state.store.sandbox_id(),
    };
    if let Some(why) = ask.refusal() {
        return Err(ApiError::BadRequest(why));
    }
    let (_, info) = state
        .shared_store()
        .make_sandbox(&ask, clock::now_ms())
        .await?;
    Ok(HttpResponse::Created().json(Shown::from(&info)))
}

pub async fn list(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    let all = state.shared_store().sandboxes(clock::now_ms()).await?;
    let shown: Vec<Shown> = all.iter().map(Shown::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sandboxes": shown })))
}

/// Shows one (a use: its expiry is pushed back).
pub async fn get(state: Sandboxed, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = sandbox_id(&id)?;
    let (_, info) = state.shared_store().sandbox(id, clock::now_ms()).await?;
    Ok(HttpResponse::Ok().json(Shown::from(&info)))
}

/// Removes one with everything in it: its tokens are unknown from now on.
pub async fn remove(state: Sandboxed, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = sandbox_id(&id)?;
    if state
        .shared_store()
        .remove_sandbox(id, clock::now_ms())
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(crate::store::StoreError::NoSandbox(id.to_string()).into())
    }
}
