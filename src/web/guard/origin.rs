//! The cross-site rule: a state-changing request must not come from a foreign `Origin` (a form
//! on another site posting to the simulator). Exact means scheme, host and port: another port
//! on localhost is another program.

use actix_web::HttpRequest;

use super::answer::authority;
use crate::web::state::AppState;

/// Why a state-changing request looks cross-site: an `Origin` that is not exactly an origin
/// of this simulator (the request's own, its public URLs', a company's mall domain) or is
/// `null`, or, without `Origin`, `Sec-Fetch-Site: cross-site`. Exact means scheme, host and
/// port: another port on localhost is another program.
pub(crate) fn cross_site(req: &HttpRequest, state: &AppState) -> Option<String> {
    let headers = req.headers();
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().unwrap_or("null");
        return (!own_origin(origin, req, state)).then(|| {
            format!("a cross-site request (Origin {origin}) cannot change the simulator's state")
        });
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    (site == Some("cross-site"))
        .then(|| "a cross-site request cannot change the simulator's state".to_owned())
}

/// Whether `origin` is one of the simulator's own origins.
fn own_origin(origin: &str, req: &HttpRequest, state: &AppState) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let origin = origin.origin();
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let own = authority(req).and_then(|a| url::Url::parse(&format!("{scheme}://{a}")).ok());
    let endpoints = &state.config.endpoints;
    own.into_iter()
        .chain(url::Url::parse(&endpoints.public_url()).ok())
        .chain(url::Url::parse(&endpoints.public_http_url()).ok())
        .any(|u| u.origin() == origin)
        || state.store.last_directory().companies().any(|c| {
            c.cus_url
                .as_deref()
                .and_then(|u| endpoints.mall_url(u))
                .is_some_and(|u| u.origin() == origin)
        })
}
