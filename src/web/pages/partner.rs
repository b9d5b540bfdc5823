//! `/_sim/partner/gate`: the built-in test partner. It receives the GATE form as a partner's
//! GATE page does, shows every field, and then calls the cert endpoint server to server, over
//! HTTPS, as a partner's server does, and shows the answer. Partner developers compare their
//! own implementation with it.
//!
//! It calls from loopback, which its vendor's allow-list admits, so it must not become a way
//! around anyone's allow-list: it redeems only tokens of vendors whose GATE it is, and "call
//! again" only the token that reached its GATE in that browser (kept in a signed cookie), never
//! one typed into a form.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use base64::Engine;

use super::{message, render};
use crate::web::session::Purpose;
use crate::web::state::AppState;

/// What the cert call gave.
struct CertResult {
    url: String,
    status: String,
    result_code: String,
    reason: String,
    body: String,
    ok: bool,
}

#[derive(Template)]
#[template(path = "partner.html")]
struct PartnerPage {
    fields: Vec<(String, String)>,
    point_name_decoded: Option<String>,
    token: Option<String>,
    cert: Option<CertResult>,
    /// The CUS_URL received, when it is not this simulator's (the partner calls its own mall).
    foreign_cus_url: Option<String>,
    recheck: bool,
}

/// GET: what this page is.
pub async fn info() -> HttpResponse {
    render(&PartnerPage {
        fields: Vec::new(),
        point_name_decoded: None,
        token: None,
        cert: None,
        foreign_cus_url: None,
        recheck: false,
    })
}

/// The path of the built-in partner's GATE.
pub const GATE_PATH: &str = "/_sim/partner/gate";

/// The cookie holding the token that reached the GATE in this browser (signed).
const RECEIVED_COOKIE: &str = "sim_partner_token";

/// Why the built-in partner will not redeem `token`, if it will not: the token must belong to a
/// vendor whose GATE URL is this page.
async fn not_ours(state: &AppState, token: &str) -> Option<String> {
    let unknown = || {
        Some(
            "이 시뮬레이터가 발급한 토큰이 아닙니다. (not a token this simulator issued)"
                .to_owned(),
        )
    };
    let Ok(parsed) = crate::domain::OtpToken::parse(token) else {
        return unknown();
    };
    // A token of a sandbox is looked up there (its GATE came from it).
    let sandbox = crate::domain::sandbox::SandboxId::of_token(&parsed);
    let state = match state
        .store
        .sandbox(sandbox, crate::domain::clock::now_ms())
        .await
    {
        Ok((view, _)) => state.in_sandbox(view),
        Err(_) => state.clone(),
    };
    let Ok(Some(view)) = state.store.peek(&parsed).await else {
        return unknown();
    };
    let Ok(dir) = state.store.directory().await else {
        return unknown();
    };
    let gate_url = dir
        .vendor(&view.grant.vendor)
        .map(|(_, v)| v.vendor.gate_url.clone())
        .unwrap_or_default();
    let ours = gate_url == GATE_PATH
        || gate_url.strip_suffix(GATE_PATH).is_some_and(|base| {
            base == state.config.public_url || base == state.config.public_http_url
        });
    (!ours).then(|| {
        format!(
            "이 토큰은 제휴사 {}의 것입니다 (GATE {gate_url}). 내장 테스트 제휴사는 자기 GATE로 온 토큰만 인증 요청합니다. (the built-in partner redeems only its own vendors' tokens)",
            view.grant.vendor
        )
    })
}

/// POST: the GATE form arrives.
pub async fn gate(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    body: web::Bytes,
) -> HttpResponse {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let point_name_decoded = get("pointnameBase64").map(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_else(|| "(Base64/UTF-8로 해석할 수 없음)".into())
    });
    // The scanned guide writes the field "OTP TOKEN"; a partner reading both is safe.
    let token = get("OTP_TOKEN")
        .or_else(|| get("OTP TOKEN"))
        .filter(|t| !t.is_empty());
    let foreign_cus_url =
        get("CUS_URL").filter(|u| u.trim_end_matches('/') != state.config.public_url);
    if let Some(t) = token.as_deref() {
        if let Some(why) = not_ours(&state, t).await {
            return message(StatusCode::FORBIDDEN, "테스트 제휴사", &why);
        }
    }
    let cert = match &token {
        Some(t) => Some(call_cert(&state, t).await),
        None => None,
    };
    let mut res = render(&PartnerPage {
        fields,
        point_name_decoded,
        token: token.clone(),
        cert,
        foreign_cus_url,
        recheck: false,
    });
    if let Some(t) = token {
        let cookie = actix_web::cookie::Cookie::build(RECEIVED_COOKIE, t)
            .path("/_sim/partner")
            .http_only(true)
            .secure(req.app_config().secure())
            .same_site(actix_web::cookie::SameSite::Lax)
            .finish();
        let _ = res.add_cookie(&state.cookies.sign(Purpose::PartnerToken, cookie));
    }
    res
}

#[derive(serde::Deserialize)]
pub struct Recheck {
    token: String,
}

/// POST: call the cert endpoint again with the same token (shows the 404 of a used token). Only
/// the token this browser's GATE received, as its cookie says.
pub async fn recheck(
    req: HttpRequest,
    state: super::sandbox::BrowserState,
    form: web::Form<Recheck>,
) -> HttpResponse {
    let received = state
        .cookies
        .verified(Purpose::PartnerToken, &req, RECEIVED_COOKIE);
    if received.as_deref() != Some(form.token.as_str()) {
        return message(
            StatusCode::FORBIDDEN,
            "테스트 제휴사",
            "이 브라우저의 GATE로 받은 토큰만 다시 호출할 수 있습니다. (only the token this browser's GATE received can be sent again)",
        );
    }
    let cert = call_cert(&state, &form.token).await;
    render(&PartnerPage {
        fields: Vec::new(),
        point_name_decoded: None,
        token: Some(form.token.clone()),
        cert: Some(cert),
        foreign_cus_url: None,
        recheck: true,
    })
}

/// Calls `CUS_URL + /sso/vendorUserCertTonken?otpTokenp=TOKEN` the way a partner's server does.
/// It calls this simulator's own CUS_URL, never a URL taken from the form, so the page cannot be
/// used to make the server call elsewhere.
async fn call_cert(state: &AppState, token: &str) -> CertResult {
    let url = state
        .config
        .endpoints
        .cert_url(&state.config.endpoints.public_url(), token);
    let failed = |url: &str, why: String| CertResult {
        url: url.to_owned(),
        status: "연결 실패".into(),
        result_code: "-".into(),
        reason: why,
        body: String::new(),
        ok: false,
    };
    let tls = match crate::conform::browser::client_config(&state.config.tls_chain) {
        Ok(c) => c,
        Err(e) => return failed(&url, format!("TLS set-up failed: {e}")),
    };
    let client = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
        .timeout(Duration::from_secs(15))
        .finish();
    let mut res = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => return failed(&url, e.to_string()),
    };
    let status = res.status();
    let reason = res
        .headers()
        .get(crate::web::call::REASON_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match res.body().limit(1 << 20).await {
        Ok(b) => b,
        Err(e) => return failed(&url, e.to_string()),
    };
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let result_code = parsed
        .as_ref()
        .and_then(|v| v["resultCode"].as_str())
        .unwrap_or("(JSON 아님)")
        .to_owned();
    let body = match &parsed {
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        None => String::from_utf8_lossy(&body).into_owned(),
    };
    CertResult {
        url: url.replace(token, &crate::protocol::gate::mask(token)),
        status: status.to_string(),
        ok: result_code == "OK",
        result_code,
        reason,
        body,
    }
}
