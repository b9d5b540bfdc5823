//! `POST /_sim/api/decrypt`: a partner checks its own decryption of an encrypted GATE field
//! against the simulator's, with the vendor's key and the GATE's `ranNum`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::encryption::{decrypt_field, RanNum};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DecryptBody {
    vndr_no: String,
    ran_num: String,
    value: String,
}

pub async fn post(
    state: Sandboxed,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let b: DecryptBody = crate::web::error::from_json(body.into_inner())?;
    let dir = state.store.directory().await?;
    let (_, vendor) = dir
        .vendor(&b.vndr_no)
        .ok_or_else(|| ApiError::NotFound(format!("unknown vendor '{}'", b.vndr_no)))?;
    let cipher = vendor.vendor.param_encryption.cipher().ok_or_else(|| {
        ApiError::BadRequest(format!(
            "vendor '{}' has no parameter encryption: its GATE fields are sent as they are",
            b.vndr_no
        ))
    })?;
    let ran_num =
        RanNum::parse(&b.ran_num).map_err(|e| ApiError::BadRequest(format!("ranNum: {e}")))?;
    let plain = decrypt_field(cipher, &ran_num, &b.value)
        .map_err(|e| ApiError::BadRequest(format!("value: {e}")))?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "plain": plain, "scheme": cipher.scheme().name() })))
}
