//! A browser in a sandbox: `/member/login?sandbox=<id>` sets a signed cookie naming the
//! sandbox, and every page of that browser (the mall, consent, the GATE, the point popup, the
//! demo form, the journal page, the built-in partner) then acts inside it ([`BrowserState`]).
//! A sandbox gone answers a page saying so, and the cookie is removed.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use crate::domain::sandbox::SandboxId;
use crate::web::session::{CookieKeys, Purpose};
use crate::web::state::AppState;

/// The cookie naming the browser's sandbox (signed).
const COOKIE: &str = "sim_sandbox";

/// The cookie putting this browser in sandbox `id`.
pub fn cookie(keys: &CookieKeys, id: SandboxId, secure: bool) -> Cookie<'static> {
    let cookie = Cookie::build(COOKIE, id.to_string())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    keys.sign(Purpose::Member, cookie)
}

/// A cookie taking the browser out of its sandbox.
pub fn removal() -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "").path("/").finish();
    c.make_removal();
    c
}

/// The page that says a sandbox is gone (the cookie removed).
pub fn gone(id: &str) -> HttpResponse {
    let mut res = super::message(
        actix_web::http::StatusCode::NOT_FOUND,
        "샌드박스가 없습니다 (no such sandbox)",
        &format!(
            "샌드박스 {id}가 없습니다: 삭제되었거나 만료되었습니다. (sandbox {id} was removed or has expired; log in again)"
        ),
    );
    let _ = res.add_cookie(&removal());
    res
}

/// The state a page acts on when it takes `?sandbox=`: the browser's current one (`None`), the
/// base (`""`: the cookie removed) or the sandbox named (the cookie set); a sandbox that does
/// not exist answers the page saying so.
pub async fn chosen(
    req: &HttpRequest,
    state: &AppState,
    asked: Option<&str>,
) -> Result<(AppState, Option<Cookie<'static>>), HttpResponse> {
    match asked.map(str::trim) {
        None => of_request(req).await.map(|state| (state, None)),
        Some("") => Ok((state.clone(), Some(removal()))),
        Some(named) => {
            let now = crate::domain::clock::now_ms();
            let found = match SandboxId::parse(named) {
                Some(id) => state
                    .store
                    .sandbox(id, now)
                    .await
                    .ok()
                    .map(|(v, _)| (id, v)),
                None => None,
            };
            let Some((id, view)) = found else {
                return Err(gone(named));
            };
            let secure = req.app_config().secure();
            let chosen = cookie(&state.cookies, id, secure);
            Ok((state.in_sandbox(view), Some(chosen)))
        }
    }
}

/// The state a page acts on: the base's, or the sandbox the browser's cookie names (used now).
pub struct BrowserState(pub AppState);

impl std::ops::Deref for BrowserState {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// The state the request's browser acts on, or the page to answer instead (its sandbox gone,
/// or the store out of reach).
pub async fn of_request(req: &HttpRequest) -> Result<AppState, HttpResponse> {
    let Some(state) = req
        .app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
    else {
        return Err(HttpResponse::InternalServerError().finish());
    };
    let Some(named) = state.cookies.verified(Purpose::Member, req, COOKIE) else {
        return Ok(state);
    };
    let found = match SandboxId::parse(&named) {
        Some(id) => {
            state
                .store
                .sandbox(id, crate::domain::clock::now_ms())
                .await
        }
        None => Err(crate::store::StoreError::NoSandbox(named.clone())),
    };
    match found {
        Ok((view, _)) => Ok(state.in_sandbox(view)),
        Err(crate::store::StoreError::NoSandbox(_)) => Err(gone(&named)),
        Err(e) => Err(super::message(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "잠시 후 다시 시도하세요",
            &e.to_string(),
        )),
    }
}

impl FromRequest for BrowserState {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            of_request(&req).await.map(BrowserState).map_err(|page| {
                actix_web::error::InternalError::from_response("no page state", page).into()
            })
        })
    }
}
