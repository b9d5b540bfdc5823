//! Who may reach what. Every route is registered with an [`Access`] level, and the rule of that
//! level runs as middleware on the route itself, after the router has matched the decoded path:
//! a control path however encoded (`/_sim/%61pi/...`) is still a control route, so the rule
//! cannot be walked around by spelling the path differently. Before routing, [`CanonicalPath`]
//! folds `//`, `/./` and `/../` so that such spellings reach the route they name.
//!
//! The rules, in order: the `Host` must be one the simulator serves (DNS rebinding); a
//! state-changing request must not come from a foreign `Origin` (cross-site forms); then the
//! level's own rule: the control API needs its bearer token whenever one is in force and takes
//! JSON bodies only; pages that show member data or change state need the operator's sign-in
//! while the simulator listens beyond loopback.

mod answer;
mod auth;
mod canonical;
pub mod limits;
mod origin;
pub(crate) mod throttle;

pub use answer::{authority, Access};
pub use auth::{is_control_token, is_operator, may_see_detail, operator_cookie, OPERATOR_COOKIE};
pub use canonical::{fold_path, CanonicalPath};

use std::net::IpAddr;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::http::StatusCode;

use actix_web::{web, HttpRequest, HttpResponse};

use self::answer::{changes_state, refuse};
use self::auth::{control, operator};
use self::origin::cross_site;
use crate::domain::hosts::host_of;

use crate::web::state::AppState;

/// The middleware of one route: the common rules, the size limits, the level's own rule, then
/// the body read whole within its limits. A plain `Transform`: a request that passes and has no
/// body (every GET of the cert endpoint, the hot path) goes straight to the route, with no
/// future of the middleware's own.
#[derive(Clone, Copy)]
pub struct Guard(pub Access);

impl<S> actix_web::dev::Transform<S, ServiceRequest> for Guard
where
    S: actix_web::dev::Service<
            ServiceRequest,
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
        > + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = GuardService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(GuardService {
            service: std::rc::Rc::new(service),
            access: self.0,
        }))
    }
}

pub struct GuardService<S> {
    service: std::rc::Rc<S>,
    access: Access,
}

type Answer = Result<ServiceResponse<BoxBody>, actix_web::Error>;

impl<S> actix_web::dev::Service<ServiceRequest> for GuardService<S>
where
    S: actix_web::dev::Service<
            ServiceRequest,
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
        > + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = futures_util::future::Either<
        S::Future,
        futures_util::future::LocalBoxFuture<'static, Answer>,
    >;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        use futures_util::future::Either;
        let access = self.access;
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return Either::Left(self.service.call(req));
        };
        let host_ok =
            authority(req.request()).is_none_or(|host| state.config.served_hosts.admits(host));
        let refusal = crate::web::guard::limits::oversize(&req, &state.config)
            .map(|(status, why)| refuse(access, status, &why))
            .or_else(|| check(access, req.request(), state));
        let h2 = req.version() == actix_web::http::Version::HTTP_2;
        let plain = host_ok
            && refusal.is_none()
            && !h2
            && !crate::web::guard::limits::has_body(req.request());
        // The control API's answers carry member data: never cached, never sniffed. (Its
        // routes are not the hot path; the protocol's and the pages' keep the fast one.)
        if plain && access != Access::Control {
            return Either::Left(self.service.call(req));
        }
        let state = state.clone();
        let service = self.service.clone();
        // An HTTP/2 stream counts against its connection's cap while it is served.
        let streams = h2
            .then(|| {
                req.conn_data::<crate::web::guard::limits::Streams>()
                    .cloned()
            })
            .flatten();
        Either::Right(Box::pin(async move {
            let _in_flight = match streams.map(|s| s.enter()) {
                Some(None) => {
                    let why = format!(
                        "more than {} requests in flight on one HTTP/2 connection",
                        crate::web::guard::limits::MAX_STREAMS
                    );
                    return Ok(req.into_response(refuse(
                        access,
                        StatusCode::SERVICE_UNAVAILABLE,
                        &why,
                    )));
                }
                Some(in_flight) => in_flight,
                None => None,
            };
            let method = req.method().clone();
            let ip = req.peer_addr().map(|a| a.ip());
            let mut answer = enforce_slowly(access, req, &state, refusal, service).await;
            if let (Access::Control, Ok(res)) = (access, &mut answer) {
                log_refusal(&method, res, ip);
                let headers = res.headers_mut();
                headers.insert(
                    actix_web::http::header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                );
                headers.insert(
                    actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
            }
            answer
        }))
    }
}

/// A control API request refused (401 without the token, 400 for a bad body, …) is on record,
/// under the same limit as the protocol's lines (a client retrying in a loop cannot fill the
/// log). The path is printed escaped and without its query; the body is never printed.
fn log_refusal(method: &actix_web::http::Method, res: &ServiceResponse, ip: Option<IpAddr>) {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || !crate::web::log::call_line(crate::domain::clock::now_ms())
    {
        return;
    }
    // The route's pattern, not the path: a token in the path stays out of the log.
    let path = match res.request().match_pattern() {
        Some(pattern) => pattern,
        None => {
            crate::web::log::printable(&res.request().path().chars().take(80).collect::<String>())
                .into_owned()
        }
    };
    tracing::warn!(
        ip = ?ip,
        status = status.as_u16(),
        "control API refused {method} {path}: {status}"
    );
}

/// The rest of the rules, for a request that needs a look at the directory (a host that may be
/// a company's mall domain), is refused, or has a body to read.
async fn enforce_slowly<S>(
    access: Access,
    mut req: ServiceRequest,
    state: &web::Data<AppState>,
    refusal: Option<HttpResponse>,
    service: std::rc::Rc<S>,
) -> Answer
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
    >,
{
    if let Some(host) = authority(req.request()) {
        if !state.config.served_hosts.admits(host) && !is_mall_domain(state, host).await {
            let why = format!(
                "this simulator does not serve the host '{}'; name it with --allowed-hosts or as a company's cusUrl (a page on another domain that resolves here is refused, against DNS rebinding)",
                host_of(host)
            );
            let res = refuse(access, StatusCode::MISDIRECTED_REQUEST, &why);
            return Ok(req.into_response(res));
        }
    }
    if let Some(res) = refusal {
        return Ok(req.into_response(res));
    }
    if let Err((status, why)) = crate::web::guard::limits::read_body(&mut req, &state.config).await
    {
        let mut res = refuse(access, status, &why);
        if status == StatusCode::REQUEST_TIMEOUT {
            res.headers_mut().insert(
                actix_web::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        return Ok(req.into_response(res));
    }
    service.call(req).await
}

/// Whether `authority` names a company's own mall domain (`cusUrl`), which the simulator
/// serves too, including companies added at run time: first in the directory this replica read
/// last (no wait), then in the store's current one (a company added through another replica).
async fn is_mall_domain(state: &AppState, authority: &str) -> bool {
    let host = host_of(authority).trim_end_matches('.');
    let names = |dir: &crate::domain::directory::Directory| {
        dir.companies().any(|c| {
            c.cus_url
                .as_deref()
                .and_then(crate::domain::hosts::host_of_url)
                .is_some_and(|h| h.eq_ignore_ascii_case(host))
        })
    };
    if names(&state.store.last_directory()) {
        return true;
    }
    match state.store.directory().await {
        Ok(dir) => names(&dir),
        Err(_) => false,
    }
}

/// The refusal a request gets at this level (after the host check), if any.
pub fn check(access: Access, req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let cross_site_allowed = matches!(access, Access::Receiver | Access::Entry);
    if !cross_site_allowed && changes_state(req.method()) {
        if let Some(why) = cross_site(req, state) {
            return Some(refuse(access, StatusCode::FORBIDDEN, &why));
        }
    }
    match access {
        Access::Protocol | Access::Public | Access::Receiver => None,
        Access::Control => control(req, state),
        Access::Operator | Access::Entry => operator(req, state),
    }
}
