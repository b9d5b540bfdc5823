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

pub mod limits;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use actix_web::http::{Method, StatusCode, Uri};

use crate::domain::hosts::{host_of, Exposure};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::web::state::AppState;

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The mall's protocol endpoints: partners' servers call them; the IP allow-list is theirs.
    Protocol,
    /// Pages and documents without member data: landing, health, OpenAPI, sign-in.
    Public,
    /// The built-in partner's GATE receiver: a partner's page, which the mall posts to
    /// cross-site, as in production.
    Receiver,
    /// The control API: the bearer token whenever one is in force; JSON bodies only.
    Control,
    /// Pages that show member data or change state: the operator's sign-in beyond loopback.
    Operator,
    /// The company-side entry (`/sso/loginSsoGate`): companies' portals post to it cross-site,
    /// as to the real mall; beyond loopback the operator's sign-in still applies.
    Entry,
}

/// The cookie of an operator who signed in with the control token.
pub const OPERATOR_COOKIE: &str = "sim_operator";

/// How long an operator's sign-in lasts, in milliseconds.
const SIGN_IN_MS: u64 = 12 * 3600 * 1000;

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
        if host_ok && refusal.is_none() && !crate::web::guard::limits::has_body(req.request()) {
            return Either::Left(self.service.call(req));
        }
        let state = state.clone();
        let service = self.service.clone();
        Either::Right(Box::pin(async move {
            enforce_slowly(access, req, &state, refusal, service).await
        }))
    }
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

/// The host a request names: the URI's authority (HTTP/2) or the `Host` header.
pub fn authority(req: &HttpRequest) -> Option<&str> {
    req.uri().authority().map(|a| a.as_str()).or_else(|| {
        req.headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a state-changing request looks cross-site: an `Origin` that is not exactly an origin
/// of this simulator (the request's own, its public URLs', a company's mall domain) or is
/// `null`, or, without `Origin`, `Sec-Fetch-Site: cross-site`. Exact means scheme, host and
/// port: another port on localhost is another program.
fn cross_site(req: &HttpRequest, state: &AppState) -> Option<String> {
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
                .and_then(|u| url::Url::parse(u).ok())
                .is_some_and(|u| u.origin() == origin)
        })
}

/// The control API's rule: the bearer token when one is in force, JSON bodies only.
fn control(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if let Some(expected) = state.config.control_token.as_deref() {
        let given = bearer(req);
        if !given.is_some_and(|g| same_secret(g, expected)) {
            let message = if given.is_some() {
                "the bearer token is not the control token"
            } else {
                "the control API needs `Authorization: Bearer <control token>` when the simulator listens beyond loopback; the token is printed at start-up or set with --control-token"
            };
            let mut res = refuse(Access::Control, StatusCode::UNAUTHORIZED, message);
            res.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"benecafe-sim control API\""),
            );
            return Some(res);
        }
    }
    let has_body = crate::web::guard::limits::has_body(req);
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default());
    let json = content_type.is_some_and(|t| {
        let essence = t.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    });
    if (has_body || content_type.is_some()) && changes_state(req.method()) && !json {
        return Some(refuse(
            Access::Control,
            StatusCode::BAD_REQUEST,
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    None
}

/// The pages' rule: beyond loopback, the operator signs in once (or sends the bearer token).
fn operator(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    if !state.config.pages_need_sign_in() || is_operator(req, state) {
        return None;
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let to = format!(
            "/_sim/signin?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        return Some(
            HttpResponse::SeeOther()
                .insert_header((LOCATION, to))
                .finish(),
        );
    }
    Some(crate::web::pages::message(
        StatusCode::UNAUTHORIZED,
        "운영자 로그인 필요",
        "이 시뮬레이터는 네트워크에 열려 있어 먼저 제어 토큰으로 로그인해야 합니다: /_sim/signin (sign in with the control token first)",
    ))
}

/// Whether the request carries the operator's sign-in or the control token.
pub fn is_operator(req: &HttpRequest, state: &AppState) -> bool {
    let Some(expected) = state.config.control_token.as_deref() else {
        return true;
    };
    if bearer(req).is_some_and(|g| same_secret(g, expected)) {
        return true;
    }
    req.cookie(OPERATOR_COOKIE)
        .and_then(|c| {
            crate::web::session::verify(crate::web::session::Purpose::Operator, c.value())
                .map(str::to_owned)
        })
        .and_then(|v| v.strip_prefix("operator|")?.parse::<u64>().ok())
        .is_some_and(|until| until > crate::domain::clock::now_ms())
}

/// Whether a caller may read the simulator's reasons in detail (`X-Sim-Reason`): always on
/// loopback, beyond it only with the control token.
pub fn may_see_detail(req: &HttpRequest, state: &AppState) -> bool {
    state.config.exposure == Exposure::Loopback
        || state
            .config
            .control_token
            .as_deref()
            .is_some_and(|expected| bearer(req).is_some_and(|g| same_secret(g, expected)))
}

/// The operator's sign-in cookie, valid for twelve hours.
pub fn operator_cookie(secure: bool) -> actix_web::cookie::Cookie<'static> {
    let until = crate::domain::clock::now_ms() + SIGN_IN_MS;
    actix_web::cookie::Cookie::build(
        OPERATOR_COOKIE,
        crate::web::session::sign(
            crate::web::session::Purpose::Operator,
            &format!("operator|{until}"),
        ),
    )
    .path("/")
    .http_only(true)
    .secure(secure)
    .same_site(actix_web::cookie::SameSite::Lax)
    .finish()
}

/// Whether a sign-in's token is the control token.
pub fn is_control_token(given: &str, state: &AppState) -> bool {
    state
        .config
        .control_token
        .as_deref()
        .is_some_and(|expected| same_secret(given, expected))
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Compares secrets in time that depends only on their lengths.
fn same_secret(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// A refusal in the shape the route's callers read: the cert endpoint's JSON, the control API's
/// `{"error"}`, or a page.
fn refuse(access: Access, status: StatusCode, message: &str) -> HttpResponse {
    match access {
        Access::Protocol => HttpResponse::build(status)
            .insert_header((CONTENT_TYPE, crate::protocol::JSON_UTF8))
            .body(
                serde_json::json!({"resultCode": status.as_u16().to_string(), "message": message})
                    .to_string(),
            ),
        Access::Control | Access::Public => {
            HttpResponse::build(status).json(serde_json::json!({ "error": message }))
        }
        Access::Receiver | Access::Operator | Access::Entry => {
            crate::web::pages::message(status, "요청 거부 (refused)", message)
        }
    }
}

/// A path with `//`, `.` and `..` segments folded, if it has any. Percent-encoded dots count as
/// dots (the router decodes them), so `/_sim/%2e/api` folds too.
pub fn fold_path(path: &str) -> Option<String> {
    let suspicious =
        path.contains("//") || path.contains("/.") || path.contains("%2e") || path.contains("%2E");
    if !suspicious {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        let dots = segment.replace("%2e", ".").replace("%2E", ".");
        match dots.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    let mut folded = format!("/{}", out.join("/"));
    if path.ends_with('/') && folded != "/" {
        folded.push('/');
    }
    (folded != path).then_some(folded)
}

/// Middleware before routing: rewrites a path with `//`, `/./` or `/../` to the one it names, so
/// the router matches (and the route's access rule guards) what the client asked for. A plain
/// `Transform` rather than `from_fn`: it runs on every request and needs no future of its own.
pub struct CanonicalPath;

impl<S, B> actix_web::dev::Transform<S, ServiceRequest> for CanonicalPath
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = CanonicalPathService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(CanonicalPathService { service }))
    }
}

pub struct CanonicalPathService<S> {
    service: S,
}

impl<S, B> actix_web::dev::Service<ServiceRequest> for CanonicalPathService<S>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        if let Some(folded) = fold_path(req.path()) {
            let mut parts = req.head().uri.clone().into_parts();
            let query = req.query_string();
            let pq = if query.is_empty() {
                folded
            } else {
                format!("{folded}?{query}")
            };
            if let Ok(pq) = pq.parse() {
                parts.path_and_query = Some(pq);
                if let Ok(uri) = Uri::from_parts(parts) {
                    req.match_info_mut().get_mut().update(&uri);
                    req.head_mut().uri = uri;
                }
            }
        }
        self.service.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_folded_as_the_client_meant_them() {
        assert_eq!(fold_path("/_sim/api/x"), None);
        assert_eq!(fold_path("//_sim/api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(fold_path("/_sim/./api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(
            fold_path("/_sim/x/../api/x").as_deref(),
            Some("/_sim/api/x")
        );
        assert_eq!(fold_path("/_sim/%2e/api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(fold_path("/../../etc").as_deref(), Some("/etc"));
        assert_eq!(fold_path("/a/.b").as_deref(), None);
    }
}
