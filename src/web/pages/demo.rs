//! `/_sim/demo`: every GATE field set by hand. A partner developer points the GATE URL at their
//! own app (`http://localhost:3000/gate`); submitting issues a real token and posts.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate_error, gate_post, message, render};
use crate::domain::records::ReceiptYn;
use crate::protocol::gate::{self, ConsentChoice, Edits, GateError, GateRequest, Source};

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    members: Vec<Choice>,
    vendors: Vec<Choice>,
    /// The sandboxes this browser may work in (the base first, value ''), and the one it is in.
    sandboxes: Vec<Choice>,
    current: String,
}

/// `?sandbox=<id>` puts this browser in a sandbox (`sandbox=` back in the base), as the login
/// page's does: the picker at the top of the page.
#[derive(Deserialize)]
pub struct DemoQuery {
    sandbox: Option<String>,
}

pub async fn form(
    req: actix_web::HttpRequest,
    state: web::Data<crate::web::state::AppState>,
    query: web::Query<DemoQuery>,
) -> HttpResponse {
    let (state, chosen) = match super::sandbox::chosen(&req, &state, query.sandbox.as_deref()).await
    {
        Ok(chosen) => chosen,
        Err(page) => return page,
    };
    let dir = match super::directory(&state).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let mut sandboxes = vec![Choice {
        value: String::new(),
        label: "기본 (base)".into(),
    }];
    let listed = state
        .shared_store()
        .sandboxes(crate::domain::clock::now_ms())
        .await
        .unwrap_or_default();
    sandboxes.extend(listed.into_iter().map(|s| Choice {
        value: s.id.to_string(),
        label: match s.name {
            Some(name) => format!("{name} ({})", s.id),
            None => s.id.to_string(),
        },
    }));
    let current = state
        .store
        .sandbox_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let members = dir
        .members()
        .filter(|m| m.active)
        .map(|m| Choice {
            value: format!("{}|{}", m.company, m.customer_id),
            label: format!("{} · {} ({})", m.company, m.name, m.customer_id),
        })
        .collect();
    let vendors = dir
        .vendors()
        .map(|v| Choice {
            value: v.vendor.vendor_no.clone(),
            label: format!(
                "{} · {} → {}",
                v.vendor.vendor_no, v.vendor.name, v.vendor.gate_url
            ),
        })
        .collect();
    let mut res = render(&DemoPage {
        members,
        vendors,
        sandboxes,
        current,
    });
    if let Some(cookie) = chosen {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// The demo form as posted. Empty fields mean "as the mall would send it".
#[derive(Deserialize)]
pub struct DemoForm {
    /// `cmpyCd|custId`.
    member: String,
    #[serde(rename = "vndrNo")]
    vendor: String,
    #[serde(rename = "gateUrl", default)]
    gate_url: String,
    #[serde(rename = "DirectFlag", default)]
    direct_flag: String,
    #[serde(rename = "DirectURL", default)]
    direct_url: String,
    #[serde(rename = "BaroItem", default)]
    baro_item: String,
    #[serde(rename = "ReceiptYN", default)]
    receipt_yn: String,
    #[serde(default)]
    pointname: String,
    #[serde(default)]
    pointnamecode: String,
    #[serde(rename = "CUS_URL", default)]
    cus_url: String,
    #[serde(default)]
    consent: String,
    #[serde(rename = "forceMemberFields", default)]
    force_member_fields: Option<String>,
    #[serde(default)]
    hold: Option<String>,
}

pub async fn submit(
    state: super::sandbox::BrowserState,
    form: web::Form<DemoForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let bad = |text: &str| message(StatusCode::BAD_REQUEST, "입력 오류", text);
    let Some((company, member)) = f.member.split_once('|') else {
        return bad("회원을 고르세요. (choose a member)");
    };
    let consent = match f.consent.as_str() {
        "" | "keep" => ConsentChoice::Keep,
        "agree" => ConsentChoice::Agree,
        "decline" => ConsentChoice::Decline,
        _ => return bad("동의 선택이 잘못되었습니다. (consent must be keep, agree or decline)"),
    };
    let gate_url = f.gate_url.trim();
    let usable = gate_url.is_empty()
        || gate_url.starts_with("http://")
        || gate_url.starts_with("https://")
        || gate_url.starts_with('/');
    if !usable {
        return bad("GATE URL은 http(s) 주소여야 합니다. (the GATE URL must be an http(s) URL)");
    }
    let direct = f.direct_flag == "Y" || (f.direct_flag.is_empty() && !f.direct_url.is_empty());
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    // Empty: the member's default; otherwise the letter the mall would send.
    let receipt_yn = match f.receipt_yn.as_str() {
        "" => None,
        r => match r.parse::<ReceiptYn>() {
            Ok(r) => Some(r),
            Err(problem) => {
                let e = GateError::Invalid {
                    field: "receiptYn",
                    problem,
                };
                return gate_error(e, "입력 오류");
            }
        },
    };
    let issued = gate::issue(
        &state.issuer(),
        GateRequest {
            company: company.to_owned(),
            customer_id: member.to_owned(),
            vendor: f.vendor.clone(),
            direct_url: direct
                .then(|| f.direct_url.clone())
                .filter(|d| !d.is_empty()),
            baro_item: some(&f.baro_item),
            receipt_yn,
            ttl_seconds: None,
            force_member_fields: f.force_member_fields.is_some(),
            consent,
            source: Source::Demo,
            // The hand edits replace what the mall would have sent, before encoding.
            edits: Edits {
                direct_flag: f.direct_flag == "Y",
                point_name: some(&f.pointname),
                point_name_code: some(&f.pointnamecode),
                cus_url: some(&f.cus_url),
            },
        },
    )
    .await;
    let g = match issued {
        Ok(g) => g,
        Err(e) => return gate_error(e, "입력 오류"),
    };
    let action = if gate_url.is_empty() {
        g.form_action.clone()
    } else {
        gate_url.to_owned()
    };
    gate_post(&g, &action, f.hold.is_some())
}
