//! `GET /_sim/metrics`: the simulator's metrics in Prometheus' text format (0.0.4), guarded as
//! the control API is (open on loopback, else the bearer token). The recorder is installed once
//! per process, whatever the number of simulators in it (the tests start several): the first
//! install sets it up, the next ones find it there. What is counted, and where, is in
//! [`crate::store::counts`] and [`crate::web::observe`].

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::counts;
use crate::web::observe::{BUCKETS, REQUEST_SECONDS};
use crate::web::state::AppState;

/// The build and this replica, as a gauge of 1 whose labels say them.
pub const BUILD_INFO: &str = "sim_build_info";

/// The installed recorder's handle; `None` when another recorder was installed first.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often the recorder's upkeep runs when nobody scrapes (it bounds what histograms hold).
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the process's recorder, the first time only.
pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /_sim/metrics stays empty");
            return None;
        }
        counts::describe();
        metrics::describe_histogram!(
            REQUEST_SECONDS,
            metrics::Unit::Seconds,
            "Time to answer a request, by endpoint (cert, checkurl, gate, api, pages, health, other) and status class"
        );
        metrics::describe_gauge!(
            BUILD_INFO,
            "Always 1: the version, commit, store and replica of this simulator"
        );
        crate::web::observe::start_recording();
        counts::recorder_installed();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            });
        Some(handle)
    });
}

/// The content type of Prometheus' text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /_sim/metrics`.
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let Some(Some(handle)) = HANDLE.get() else {
        return HttpResponse::NotFound()
            .json(serde_json::json!({"error": "no metrics recorder in this process"}));
    };
    // Read now, from the store every replica shares.
    if let Ok(live) = state.store.live_tokens().await {
        metrics::gauge!(counts::TOKENS_LIVE).set(live as f64);
    }
    let about = crate::web::version::About::of(&state);
    metrics::gauge!(
        BUILD_INFO,
        "version" => about.version,
        "commit" => about.commit.unwrap_or("unknown"),
        "store" => about.store,
        "replica" => about.replica.to_string()
    )
    .set(1.0);
    HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(handle.render())
}
