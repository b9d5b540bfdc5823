//! Every route, registered in one place.

pub mod api;
pub mod cert;
pub mod check;
pub mod health;

use actix_web::web;

/// Registers the routes on an app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().error_handler(crate::error::json_error))
        .route(cert::PATH, web::get().to(cert::handle))
        .route(cert::PATH, web::post().to(cert::handle))
        .route(check::PATH, web::get().to(check::handle))
        .route(check::PATH, web::post().to(check::handle))
        .route("/_sim/healthz", web::get().to(health::handle))
        .route("/_sim/api/gate", web::post().to(api::gate::post))
        .route("/_sim/api/companies", web::get().to(api::lists::companies))
        .route("/_sim/api/members", web::get().to(api::lists::members))
        .route("/_sim/api/vendors", web::get().to(api::lists::vendors));
}
