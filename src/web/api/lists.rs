//! `GET /_sim/api/companies`, `/members`, `/vendors`: the fixtures as they are now.

use actix_web::{web, HttpResponse};

use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn companies(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dir = state.store.directory().await?;
    // Every company with its effective mall domain: its own, or the simulator's.
    let list: Vec<_> = dir
        .companies()
        .map(|c| {
            let mut c = (**c).clone();
            c.cus_url = Some(state.config.endpoints.cus_url(&c));
            c
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

pub async fn members(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dir = state.store.directory().await?;
    let list: Vec<_> = dir.members().map(|m| (**m).clone()).collect();
    Ok(HttpResponse::Ok().json(list))
}

pub async fn vendors(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let dir = state.store.directory().await?;
    let list: Vec<_> = dir.vendors().map(|v| v.vendor.clone()).collect();
    Ok(HttpResponse::Ok().json(list))
}
