//! `GET /_sim/version`: which build answers, on which store, as which replica. Public, like the
//! health check: a QA engineer behind a load balancer asks it to know what they are testing, and
//! a test helper that connects to a running simulator learns its `CUS_URL` from it.

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use crate::web::state::AppState;

/// What a simulator says about itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct About {
    /// The crate's version.
    pub version: &'static str,
    /// The commit it was built from, when the build knew it.
    pub commit: Option<&'static str>,
    /// `memory` or `redis`.
    pub store: &'static str,
    /// `--replica-id`.
    pub replica: Arc<str>,
    /// The mall's `CUS_URL` as partners are given it (`--public-url`, else the HTTPS listener).
    #[serde(rename = "cusUrl")]
    pub cus_url: String,
    /// The pages' and control API's base URL (`--public-http-url`, else the HTTP listener).
    #[serde(rename = "httpUrl")]
    pub http_url: String,
}

impl About {
    pub fn of(state: &AppState) -> About {
        About {
            version: env!("CARGO_PKG_VERSION"),
            commit: option_env!("SIM_GIT_COMMIT"),
            store: if state.store.is_shared() {
                "redis"
            } else {
                "memory"
            },
            replica: state.config.replica.clone(),
            cus_url: state.config.public_url.clone(),
            http_url: state.config.public_http_url.clone(),
        }
    }
}

/// `GET /_sim/version`.
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(About::of(&state))
}
