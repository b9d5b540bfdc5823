//! The probes an orchestrator or a load balancer asks, on both listeners and public like
//! `/_sim/healthz`: `/_sim/livez` (the process serves: restart it when not) and `/_sim/readyz`
//! (send it traffic: not while its store is out of reach, nor while it drains before a stop).
//! `/_sim/healthz` stays what it was, for the scripts that read its counts.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};

use crate::web::state::AppState;

/// `GET /_sim/livez`: 200 whenever the process answers, whatever its store; it asks nothing of
/// the store, so that an outage of Redis never gets every replica restarted.
pub async fn livez() -> HttpResponse {
    probe_answer(HttpResponse::Ok()).json(serde_json::json!({ "status": "live" }))
}

/// `GET /_sim/readyz`: 503 `draining` once the process is told to stop, 503 `unavailable`
/// while the store is out of reach, 200 `ready` otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.draining.load(Ordering::Relaxed) {
        return probe_answer(HttpResponse::ServiceUnavailable())
            .json(serde_json::json!({ "status": "draining" }));
    }
    match state.store.ready().await {
        Ok(()) => probe_answer(HttpResponse::Ok()).json(serde_json::json!({ "status": "ready" })),
        Err(e) => probe_answer(HttpResponse::ServiceUnavailable()).json(serde_json::json!({
            "status": "unavailable",
            "error": e.to_string(),
        })),
    }
}

/// A probe's answer is about this moment: never cached.
fn probe_answer(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header(("cache-control", "no-store"));
    builder
}
