//! `/_sim/api/faults`: inject, list and clear faults.

use actix_web::{web, HttpResponse};

use crate::domain::fault::FaultSpec;
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

pub async fn add(
    state: Sandboxed,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let spec: FaultSpec = crate::web::error::from_json(body.into_inner())?;
    if let Some(v) = spec.vndr_no() {
        if state.store.directory().await?.vendor(v).is_none() {
            return Err(ApiError::NotFound(format!("unknown vendor '{v}'")));
        }
    }
    let fault = state.store.add_fault(spec).await?;
    Ok(HttpResponse::Created().json(fault))
}

pub async fn list(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.faults().await?))
}

pub async fn clear(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    state.store.clear_faults().await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn remove(state: Sandboxed, id: web::Path<u64>) -> Result<HttpResponse, ApiError> {
    if state.store.remove_fault(*id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no fault {id}")))
    }
}
