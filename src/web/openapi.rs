//! `/_sim/openapi.json`: the OpenAPI 3 document of the protocol endpoints and the control API,
//! with this server's base URLs.

use actix_web::{web, HttpResponse};

use crate::web::state::AppState;

/// The document as written, without servers.
pub const DOCUMENT: &str = include_str!("../openapi.json");

pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let mut doc: serde_json::Value =
        serde_json::from_str(DOCUMENT).expect("the OpenAPI document is valid JSON");
    doc["servers"] = serde_json::json!([
        { "url": state.config.public_url, "description": "HTTPS (CUS_URL)" },
        { "url": state.config.public_http_url, "description": "plain HTTP (no cert endpoint)" },
    ]);
    HttpResponse::Ok().json(doc)
}
