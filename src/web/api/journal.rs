//! `GET /_sim/api/journal` (filtered) and `DELETE /_sim/api/journal`: the journal of the base, or
//! of the sandbox `X-Sim-Sandbox` names; `?sandbox=*` every journal at once, each event naming
//! its sandbox.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::domain::event::{Event, EventKind};
use crate::web::api::sandboxes::Sandboxed;
use crate::web::error::ApiError;

/// Filters; every one given must match.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filter {
    /// `gate`, `cert` or `check`.
    endpoint: Option<String>,
    vndr_no: Option<String>,
    /// The token (gate and cert events).
    token: Option<String>,
    /// The cert endpoint's resultCode (`OK`, `404`, ...).
    result_code: Option<String>,
    /// Events at or after this time: RFC 3339 or milliseconds since the Unix epoch.
    since: Option<String>,
    /// Events before this time.
    until: Option<String>,
    /// Only the newest N of the matching events.
    limit: Option<usize>,
    /// `*`: the base's and every sandbox's events, each with its `sandbox` (`null`: the base).
    sandbox: Option<String>,
}

fn time(field: &str, value: &Option<String>) -> Result<Option<u64>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(Some(ms));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| Some(t.timestamp_millis().max(0) as u64))
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "{field}: {v:?} is neither RFC 3339 nor milliseconds since the epoch"
            ))
        })
}

fn matches(e: &Event, f: &Filter, since: Option<u64>, until: Option<u64>) -> bool {
    if since.is_some_and(|s| e.at_ms < s) || until.is_some_and(|u| e.at_ms >= u) {
        return false;
    }
    if f.endpoint
        .as_deref()
        .is_some_and(|x| x != e.kind.endpoint())
    {
        return false;
    }
    let (vendor, token, code) = match &e.kind {
        EventKind::Gate {
            vndr_no, otp_token, ..
        } => (Some(vndr_no.as_str()), otp_token.as_deref(), None),
        EventKind::Cert {
            vndr_no,
            otp_token,
            result_code,
            ..
        } => (
            vndr_no.as_deref(),
            otp_token.as_deref(),
            Some(result_code.as_str()),
        ),
        EventKind::Check { vndr_no, .. } => (vndr_no.as_deref(), None, None),
        EventKind::Login { .. } => (None, None, None),
    };
    f.vndr_no.as_deref().is_none_or(|x| Some(x) == vendor)
        && f.token.as_deref().is_none_or(|x| Some(x) == token)
        && f.result_code.as_deref().is_none_or(|x| Some(x) == code)
}

/// The matching events, oldest first.
pub async fn get(state: Sandboxed, filter: web::Query<Filter>) -> Result<HttpResponse, ApiError> {
    let since = time("since", &filter.since)?;
    let until = time("until", &filter.until)?;
    if let Some(e) = &filter.endpoint {
        if !["gate", "cert", "check", "login"].contains(&e.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "endpoint: {e:?} is not one of gate, cert, check, login"
            )));
        }
    }
    match filter.sandbox.as_deref() {
        None => {}
        Some("*") => return all(&state, &filter, since, until).await,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sandbox: {other:?} is not `*` (name one sandbox with the X-Sim-Sandbox header)"
            )))
        }
    }
    let mut events: Vec<_> = state
        .store
        .journal()
        .await?
        .into_iter()
        .filter(|e| matches(e, &filter, since, until))
        .collect();
    newest(&mut events, filter.limit);
    Ok(HttpResponse::Ok().json(events))
}

/// Keeps the newest `limit` events.
fn newest<T>(events: &mut Vec<T>, limit: Option<usize>) {
    if let Some(limit) = limit {
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
    }
}

/// Every journal's matching events (the base's and every sandbox's), oldest first, each with
/// the sandbox it was recorded in. Reading them is no use of a sandbox (its expiry stays).
async fn all(
    state: &Sandboxed,
    filter: &Filter,
    since: Option<u64>,
    until: Option<u64>,
) -> Result<HttpResponse, ApiError> {
    let base = state.shared_store();
    let mut stores = vec![(None, base.clone())];
    for info in base.sandboxes(crate::domain::clock::now_ms()).await? {
        if let Some(view) = base.sandbox_unused(info.id) {
            stores.push((Some(info.id.to_string()), view));
        }
    }
    let mut events = Vec::new();
    for (sandbox, store) in stores {
        for e in store.journal().await? {
            if matches(&e, filter, since, until) {
                let mut shown = serde_json::to_value(&*e).map_err(anyhow::Error::from)?;
                if let Some(o) = shown.as_object_mut() {
                    o.insert("sandbox".into(), sandbox.clone().into());
                }
                events.push((e.at_ms, shown));
            }
        }
    }
    events.sort_by_key(|(at, _)| *at);
    newest(&mut events, filter.limit);
    let shown: Vec<serde_json::Value> = events.into_iter().map(|(_, e)| e).collect();
    Ok(HttpResponse::Ok().json(shown))
}

pub async fn clear(state: Sandboxed) -> Result<HttpResponse, ApiError> {
    state.store.clear_journal().await?;
    Ok(HttpResponse::NoContent().finish())
}
