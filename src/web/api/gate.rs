//! `POST /_sim/api/gate`: the GATE a browser would post, as JSON (part of the fixed contract).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::clock;
use crate::domain::event::Omission;
use crate::domain::records::ReceiptYn;
use crate::protocol::gate::{self, ConsentChoice, GateRequest, Source};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GateBody {
    pub cmpy_cd: String,
    pub cust_id: String,
    pub vndr_no: String,
    #[serde(default)]
    pub direct_url: Option<String>,
    #[serde(default)]
    pub baro_item: Option<String>,
    #[serde(default)]
    pub receipt_yn: Option<ReceiptYn>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub force_member_fields: Option<bool>,
    #[serde(default)]
    pub consent: Option<ConsentChoice>,
    /// Post the fields to the vendor's GATE URL server-side, as a browser would, and answer
    /// what the partner did.
    #[serde(default)]
    pub deliver: bool,
}

/// The answer: the GATE URL and exactly the form fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateAnswer {
    pub gate_url: String,
    pub method: &'static str,
    pub charset: &'static str,
    #[serde(serialize_with = "fields_as_object")]
    pub fields: Vec<(&'static str, String)>,
    /// The fields before parameter encryption (the same as `fields` without it).
    #[serde(serialize_with = "fields_as_object")]
    pub plain_fields: Vec<(&'static str, String)>,
    /// The `ranNum` of an encrypted GATE.
    pub ran_num: Option<String>,
    pub omitted: Vec<Omission>,
    pub otp_token: Option<String>,
    pub expires_at: Option<String>,
    /// With `"deliver": true`: the partner's answer and its cert calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::conform::Delivered>,
}

/// The fields as a JSON object, in form order.
fn fields_as_object<S: Serializer>(
    fields: &[(&'static str, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(fields.iter().map(|(k, v)| (*k, v)))
}

impl From<gate::Gate> for GateAnswer {
    fn from(g: gate::Gate) -> Self {
        GateAnswer {
            gate_url: g.gate_url,
            method: "POST",
            charset: "UTF-8",
            fields: g.fields,
            plain_fields: g.plain_fields,
            ran_num: g.ran_num,
            omitted: g.omitted,
            otp_token: g.token,
            expires_at: g.expires_ms.map(clock::rfc3339),
            delivery: None,
        }
    }
}

pub async fn post(
    state: Sandboxed,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let b: GateBody = crate::web::error::from_json(body.into_inner())?;
    let deliver = b.deliver;
    let gate = gate::issue(
        &state.issuer(),
        GateRequest {
            company: b.cmpy_cd,
            customer_id: b.cust_id,
            vendor: b.vndr_no,
            direct_url: b.direct_url.filter(|d| !d.is_empty()),
            baro_item: b.baro_item,
            receipt_yn: b.receipt_yn,
            ttl_seconds: b.ttl_seconds,
            force_member_fields: b.force_member_fields.unwrap_or(false),
            consent: b.consent.unwrap_or_default(),
            source: Source::Api,
            edits: Default::default(),
        },
    )
    .await?;
    let delivery = if deliver {
        Some(
            crate::conform::deliver(
                &super::conform::kit(&state),
                &gate,
                std::time::Duration::from_secs(5),
            )
            .await,
        )
    } else {
        None
    };
    let mut answer = GateAnswer::from(gate);
    answer.delivery = delivery;
    Ok(HttpResponse::Ok().json(answer))
}
