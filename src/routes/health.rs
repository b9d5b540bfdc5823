//! `/_sim/healthz`: 200 when ready to serve, on both listeners.

use actix_web::{web, HttpResponse};

use crate::state::AppState;

pub async fn handle(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "liveTokens": state.tokens.live(),
        "journalEvents": state.journal.len(),
    }))
}
