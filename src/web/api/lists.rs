//! `GET /_sim/api/companies`, `/members`, `/vendors`: the fixtures as they are now; and
//! `GET /_sim/api/fixtures`: all of them in the fixture files' own format, so that a state built
//! up through the API can be saved as a `--fixtures` folder and loaded back.

use actix_web::HttpResponse;

use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

pub async fn companies(state: Sandboxed) -> Result<HttpResponse, ApiError> {
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

pub async fn members(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    let dir = state.store.directory().await?;
    let list: Vec<_> = dir.members().map(|m| (**m).clone()).collect();
    Ok(HttpResponse::Ok().json(list))
}

pub async fn vendors(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    let dir = state.store.directory().await?;
    let list: Vec<_> = dir.vendors().map(|v| v.vendor.clone()).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// The whole directory as the four fixture files' contents, each list in key order:
/// `{"companies": [...], "members": [...], "vendors": [...], "consents": [...]}`.
pub async fn fixtures(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    let mut fixtures = state.store.directory().await?.to_fixtures();
    fixtures.companies.sort_by(|a, b| a.code.cmp(&b.code));
    fixtures
        .members
        .sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    fixtures
        .vendors
        .sort_by(|a, b| a.vendor_no.cmp(&b.vendor_no));
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(fixtures))
}
