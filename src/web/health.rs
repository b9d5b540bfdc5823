//! `/_sim/healthz`: 200 when ready to serve, on both listeners; 503 when the store is out of
//! reach, so that a load balancer takes the replica out. It also says how many changed fixture
//! folders `--watch` loaded and refused, so a script can wait for a reload instead of guessing.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};

use crate::web::state::AppState;

/// `GET /_sim/ca.pem`: the certificate partners trust (the local CA's), for a container or a
/// machine that cannot read the simulator's data folder. Public, like the CA file itself.
pub async fn ca_pem(state: web::Data<AppState>) -> HttpResponse {
    match state.tls.as_ref().filter(|t| !t.trust_pem.is_empty()) {
        Some(tls) => HttpResponse::Ok()
            .content_type("application/x-pem-file")
            .insert_header(("content-disposition", "inline; filename=\"ca.pem\""))
            .body(tls.trust_pem.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

pub async fn handle(state: web::Data<AppState>) -> HttpResponse {
    let live = async {
        state.store.ready().await?;
        state.store.live_tokens().await
    };
    match live.await {
        Ok(live) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "replica": state.config.replica,
            "liveTokens": live,
            "fixtureReloads": {
                "loaded": state.fixture_reloads.loaded.load(Ordering::Relaxed),
                "refused": state.fixture_reloads.refused.load(Ordering::Relaxed),
            },
        })),
        Err(e) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "unavailable",
            "error": e.to_string(),
        })),
    }
}
