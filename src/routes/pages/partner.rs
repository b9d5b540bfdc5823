//! `/_sim/partner/gate`: the built-in test partner. It receives the GATE form as a partner's
//! GATE page does, shows every field, and then calls the cert endpoint server to server, over
//! HTTPS, as a partner's server does, and shows the answer. Partner developers compare their
//! own implementation with it.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use askama::Template;
use base64::Engine;

use super::render;
use crate::routes::cert;
use crate::state::AppState;

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

/// POST: the GATE form arrives.
pub async fn gate(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
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
    let cert = match &token {
        Some(t) => Some(call_cert(&state, t).await),
        None => None,
    };
    render(&PartnerPage {
        fields,
        point_name_decoded,
        token,
        cert,
        foreign_cus_url,
        recheck: false,
    })
}

#[derive(serde::Deserialize)]
pub struct Recheck {
    token: String,
}

/// POST: call the cert endpoint again with the same token (shows the 404 of a used token).
pub async fn recheck(state: web::Data<AppState>, form: web::Form<Recheck>) -> HttpResponse {
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
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("otpTokenp", token)
        .finish();
    let url = format!("{}{}?{}", state.config.public_url, cert::PATH, query);
    let failed = |url: &str, why: String| CertResult {
        url: url.to_owned(),
        status: "연결 실패".into(),
        result_code: "-".into(),
        reason: why,
        body: String::new(),
        ok: false,
    };
    let tls = match crate::tls::client_config(&state.config.tls_chain) {
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
        .get(cert::REASON_HEADER)
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
        url: url.replace(token, &crate::gate::mask(token)),
        status: status.to_string(),
        ok: result_code == "OK",
        result_code,
        reason,
        body,
    }
}
