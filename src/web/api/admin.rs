//! Fixtures at run time: create, change and delete companies, members, vendors and consents,
//! and reset to the loaded fixtures.
//!
//! Every change is checked by the same rules as the fixture files, for the record changed and
//! what it refers to (its company, its member and vendor), before anything is applied: a refused
//! change (400, the field named) changes nothing. Checking one record, not the whole directory,
//! keeps a change as quick at ten thousand members as at ten.

use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::domain::clock;
use crate::domain::directory::Directory;
use crate::domain::records::{Company, Consent, Member, Vendor};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// A kind of fixture record.
pub trait Record: Serialize + DeserializeOwned + Clone {
    /// The protocol name of its key field.
    const KEY: &'static str;
    /// What it is called in messages.
    const NAME: &'static str;
    /// The record stored under `key`.
    fn get(dir: &Directory, key: &str) -> Option<Self>;
    /// The file's rules for this one record, in the directory it goes into.
    fn check(&self, dir: &Directory) -> Result<(), (&'static str, String)>;
    fn put(self, dir: &mut Directory);
    fn remove(key: &str, dir: &mut Directory) -> Result<(), ApiError>;
    /// What the simulator must do for the record before it is stored (it may run again, if the
    /// store retries the change); a refusal refuses the change.
    fn admit(&self, _state: &AppState) -> Result<(), (&'static str, String)> {
        Ok(())
    }
}

impl Record for Company {
    const KEY: &'static str = "cmpyCd";
    const NAME: &'static str = "company";
    fn get(dir: &Directory, key: &str) -> Option<Self> {
        dir.company(key).map(|(_, c)| (**c).clone())
    }
    fn check(&self, _dir: &Directory) -> Result<(), (&'static str, String)> {
        self.validate()
    }
    fn put(self, dir: &mut Directory) {
        dir.put_company(self)
    }
    /// A new mall domain is served at once, with a certificate from the local CA; one the CA
    /// may not sign for is refused (400) rather than stored and served a certificate partners
    /// reject.
    fn admit(&self, state: &AppState) -> Result<(), (&'static str, String)> {
        match &self.cus_url {
            Some(url) => state.serve_mall_domain(url).map_err(|e| ("cusUrl", e)),
            None => Ok(()),
        }
    }
    fn remove(key: &str, dir: &mut Directory) -> Result<(), ApiError> {
        let members: Vec<String> = dir
            .members()
            .filter(|m| m.company == key)
            .map(|m| m.customer_id.clone())
            .collect();
        if !members.is_empty() {
            return Err(ApiError::Conflict(format!(
                "company '{key}' still has members ({}); delete them first",
                members.join(", ")
            )));
        }
        dir.remove_company(key);
        Ok(())
    }
}

impl Record for Member {
    const KEY: &'static str = "custId";
    const NAME: &'static str = "member";
    fn get(dir: &Directory, key: &str) -> Option<Self> {
        dir.member(key).map(|(_, m)| (**m).clone())
    }
    fn check(&self, dir: &Directory) -> Result<(), (&'static str, String)> {
        self.validate(&dir.company_codes())
    }
    fn put(self, dir: &mut Directory) {
        dir.put_member(self)
    }
    fn remove(key: &str, dir: &mut Directory) -> Result<(), ApiError> {
        dir.remove_member(key);
        Ok(())
    }
}

impl Record for Vendor {
    const KEY: &'static str = "vndrNo";
    const NAME: &'static str = "vendor";
    fn get(dir: &Directory, key: &str) -> Option<Self> {
        dir.vendor(key).map(|(_, v)| v.vendor.clone())
    }
    fn check(&self, _dir: &Directory) -> Result<(), (&'static str, String)> {
        self.validate()
    }
    fn put(self, dir: &mut Directory) {
        dir.put_vendor(self)
    }
    fn remove(key: &str, dir: &mut Directory) -> Result<(), ApiError> {
        dir.remove_vendor(key);
        Ok(())
    }
}

/// `PUT /_sim/api/{kind}/{key}`: create or replace with the whole record.
pub async fn put<R: Record>(
    state: Sandboxed,
    key: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    store::<R>(&state, &key, body.into_inner(), false).await
}

/// `PATCH /_sim/api/{kind}/{key}`: change the given fields of an existing record.
pub async fn patch<R: Record>(
    state: Sandboxed,
    key: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    store::<R>(&state, &key, body.into_inner(), true).await
}

/// `DELETE /_sim/api/{kind}/{key}`.
pub async fn delete<R: Record>(
    state: Sandboxed,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .update_directory(|dir| {
            if R::get(dir, &key).is_none() {
                return Err(ApiError::NotFound(format!("unknown {} '{}'", R::NAME, key)));
            }
            R::remove(&key, dir)
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn store<R: Record>(
    state: &AppState,
    key: &str,
    body: Value,
    merge: bool,
) -> Result<HttpResponse, ApiError> {
    let Value::Object(fields) = body else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    if let Some(given) = fields.get(R::KEY) {
        if given.as_str() != Some(key) {
            return Err(ApiError::BadRequest(format!(
                "{}: {given} in the body differs from '{key}' in the path",
                R::KEY
            )));
        }
    }
    state
        .store
        .update_directory(|dir| change::<R>(state, dir, key, fields.clone(), merge))
        .await?
}

/// Checks the changed record by the fixture files' rules and admits it, and only then applies
/// it.
fn change<R: Record>(
    state: &AppState,
    dir: &mut Directory,
    key: &str,
    fields: serde_json::Map<String, Value>,
    merge: bool,
) -> Result<HttpResponse, ApiError> {
    let existing = R::get(dir, key);
    let mut record = match (merge, &existing) {
        (true, None) => return Err(ApiError::NotFound(format!("unknown {} '{}'", R::NAME, key))),
        (true, Some(r)) => match serde_json::to_value(r) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "record is not an object"
                )))
            }
        },
        (false, _) => serde_json::Map::new(),
    };
    record.extend(fields);
    record.insert(R::KEY.to_owned(), Value::String(key.to_owned()));
    let parsed: R = crate::web::error::from_json(Value::Object(record))?;
    let checked = parsed.check(dir).and_then(|()| parsed.admit(state));
    checked.map_err(|(field, problem)| {
        ApiError::BadRequest(format!(
            "run-time change: {} '{key}': {field}: {problem}",
            R::NAME
        ))
    })?;
    let status = if existing.is_some() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    let answer = HttpResponse::build(status).json(&parsed);
    parsed.put(dir);
    Ok(answer)
}

/// `GET /_sim/api/consents`.
pub async fn consents(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.directory().await?.to_fixtures().consents))
}

/// `PUT /_sim/api/consents/{custId}/{vndrNo}`, body `{"agrDts": "..."}` (optional: now).
pub async fn put_consent(
    state: Sandboxed,
    path: web::Path<(String, String)>,
    body: Option<web::Json<Value>>,
) -> Result<HttpResponse, ApiError> {
    let (member, vendor) = path.into_inner();
    let agreed_at = match body.map(|b| b.into_inner()) {
        None | Some(Value::Null) => clock::agr_dts(clock::now_ms()),
        Some(Value::Object(map)) => {
            if let Some(k) = map.keys().find(|k| k.as_str() != "agrDts") {
                return Err(ApiError::BadRequest(format!(
                    "unknown field `{k}`, expected `agrDts`"
                )));
            }
            match map.get("agrDts") {
                None => clock::agr_dts(clock::now_ms()),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(ApiError::BadRequest(format!(
                        "agrDts: {other} is not a string"
                    )))
                }
            }
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ))
        }
    };
    let consent = Consent {
        customer_id: member,
        vendor_no: vendor,
        agreed_at,
    };
    state
        .store
        .update_directory(|dir| put_consent_in(dir, consent.clone()))
        .await?
}

fn put_consent_in(dir: &mut Directory, consent: Consent) -> Result<HttpResponse, ApiError> {
    if dir.member(&consent.customer_id).is_none() {
        return Err(ApiError::NotFound(format!(
            "unknown member '{}'",
            consent.customer_id
        )));
    }
    if dir.vendor(&consent.vendor_no).is_none() {
        return Err(ApiError::NotFound(format!(
            "unknown vendor '{}'",
            consent.vendor_no
        )));
    }
    let (members, vendors) = (
        [consent.customer_id.as_str()].into(),
        [consent.vendor_no.as_str()].into(),
    );
    consent
        .validate(&members, &vendors)
        .map_err(|(field, problem)| {
            ApiError::BadRequest(format!("run-time change: consent: {field}: {problem}"))
        })?;
    dir.put_consent(&consent);
    Ok(HttpResponse::Ok().json(consent))
}

/// `DELETE /_sim/api/consents/{custId}/{vndrNo}`.
pub async fn delete_consent(
    state: Sandboxed,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (member, vendor) = path.into_inner();
    state
        .store
        .update_directory(|dir| {
            if dir.remove_consent(&member, &vendor) {
                Ok(HttpResponse::NoContent().finish())
            } else {
                Err(ApiError::NotFound(format!(
                    "member '{member}' has no consent for vendor '{vendor}'"
                )))
            }
        })
        .await?
}

/// `POST /_sim/api/reset`: back to the loaded fixtures, no tokens, empty journal, no faults.
pub async fn reset(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    state.reset().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "reset" })))
}
