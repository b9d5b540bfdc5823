//! `GET /_sim/api/companies`, `/members`, `/vendors`: the fixtures as they are now.

use actix_web::{web, HttpResponse};

use crate::state::AppState;

pub async fn companies(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<_> = state
        .directory()
        .companies()
        .map(|c| (**c).clone())
        .collect();
    HttpResponse::Ok().json(list)
}

pub async fn members(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<_> = state.directory().members().map(|m| (**m).clone()).collect();
    HttpResponse::Ok().json(list)
}

pub async fn vendors(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<_> = state
        .directory()
        .vendors()
        .map(|v| v.vendor.clone())
        .collect();
    HttpResponse::Ok().json(list)
}
