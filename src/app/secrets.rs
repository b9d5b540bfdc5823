//! The secrets a simulator starts with: the control API's bearer token (given, generated, or
//! shared by every replica through the store) and the key its cookies are signed with.

use crate::app::settings::Settings;
use crate::domain::hosts::Exposure;
use crate::store::Store;

/// The cookie key every replica of the store shares: derived from the control token when one is
/// set (every replica of an environment has it, whatever happens to the store), else the first
/// replica's, kept in the store.
pub(super) async fn cookie_key(settings: &Settings, store: &Store) -> anyhow::Result<Vec<u8>> {
    let key = match settings.control_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => {
            let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.as_bytes());
            let tag = ring::hmac::sign(&derive, b"benecafe-sim cookie key");
            tag.as_ref().to_vec()
        }
        None => store
            .secret("session", &crate::domain::OtpToken::generate().to_string())
            .await?
            .into_bytes(),
    };
    Ok(key)
}

/// A control token shorter than this is warned about at start.
pub(super) const MIN_CONTROL_TOKEN_BYTES: usize = 16;

/// The control token; a generated one is shared through Redis, so that one token opens every
/// replica.
pub(super) async fn shared_control_token(
    settings: &Settings,
    exposure: Exposure,
    store: &Store,
) -> anyhow::Result<Option<String>> {
    let token = control_token(settings, exposure);
    let generated = settings.control_token.as_deref().is_none_or(str::is_empty);
    match token {
        Some(token) if generated => Ok(Some(store.secret("control", &token).await?)),
        token => Ok(token),
    }
}

/// The control API's bearer token: the configured one, or a generated one when a listener is
/// bound beyond loopback, or none (open on loopback).
fn control_token(settings: &Settings, exposure: Exposure) -> Option<String> {
    if let Some(token) = settings.control_token.clone().filter(|t| !t.is_empty()) {
        return Some(token);
    }
    if exposure == Exposure::Loopback {
        return None;
    }
    Some(crate::domain::OtpToken::generate().to_string())
}
