//! `/_sim/demo`: every GATE field set by hand. A partner developer points the GATE URL at their
//! own app (`http://localhost:3000/gate`); submitting issues a real token and posts.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use base64::Engine;
use serde::Deserialize;

use super::{gate_error, gate_post, message, render};
use crate::gate::{self, ConsentChoice, GateRequest, Source};
use crate::state::AppState;

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    members: Vec<Choice>,
    vendors: Vec<Choice>,
}

pub async fn form(state: web::Data<AppState>) -> HttpResponse {
    let dir = state.directory();
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
    render(&DemoPage { members, vendors })
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

pub async fn submit(state: web::Data<AppState>, form: web::Form<DemoForm>) -> HttpResponse {
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
    let issued = gate::issue(
        &state,
        GateRequest {
            company: company.to_owned(),
            customer_id: member.to_owned(),
            vendor: f.vendor.clone(),
            direct_url: direct
                .then(|| f.direct_url.clone())
                .filter(|d| !d.is_empty()),
            baro_item: Some(f.baro_item.clone()).filter(|b| !b.is_empty()),
            receipt_yn: Some(f.receipt_yn.clone()).filter(|r| !r.is_empty()),
            ttl_seconds: None,
            force_member_fields: f.force_member_fields.is_some(),
            consent,
            source: Source::Demo,
        },
    );
    let mut g = match issued {
        Ok(g) => g,
        Err(e) => return gate_error(e, "입력 오류"),
    };
    // The hand edits replace what the mall would have sent.
    let set =
        |fields: &mut Vec<(&'static str, String)>, name: &'static str, value: String| match fields
            .iter_mut()
            .find(|(k, _)| *k == name)
        {
            Some(slot) => slot.1 = value,
            None => fields.push((name, value)),
        };
    if f.direct_flag == "Y" && f.direct_url.is_empty() {
        set(&mut g.fields, "DirectFlag", "Y".into());
    }
    if !f.pointname.is_empty() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(f.pointname.as_bytes());
        set(&mut g.fields, "pointname", f.pointname.clone());
        set(&mut g.fields, "pointnameBase64", encoded);
    }
    if !f.pointnamecode.is_empty() {
        set(&mut g.fields, "pointnamecode", f.pointnamecode.clone());
    }
    if !f.cus_url.is_empty() {
        set(&mut g.fields, "CUS_URL", f.cus_url.clone());
    }
    let action = if gate_url.is_empty() {
        g.form_action.clone()
    } else {
        gate_url.to_owned()
    };
    gate_post(&g, &action, f.hold.is_some())
}
