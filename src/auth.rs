//! Who may use the control API. It can change everything, so it is open only while the
//! simulator listens on loopback alone; as soon as either listener is bound to another address,
//! every call under `/_sim/api/` needs `Authorization: Bearer <control token>`.

use actix_web::dev::ServiceRequest;
use actix_web::HttpResponse;

use crate::state::AppState;

/// The prefix the rule guards.
pub const CONTROL_PREFIX: &str = "/_sim/api/";

/// The refusal for a control-API call without the bearer token, when one is required.
pub fn refusal(req: &ServiceRequest, state: &AppState) -> Option<HttpResponse> {
    let expected = state.config.control_token.as_deref()?;
    if !req.path().starts_with(CONTROL_PREFIX) {
        return None;
    }
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
        return None;
    }
    let message = if given.is_some() {
        "the bearer token is not the control token"
    } else {
        "the control API needs `Authorization: Bearer <control token>` when the simulator listens beyond loopback; the token is printed at start-up or set with --control-token"
    };
    Some(
        HttpResponse::Unauthorized()
            .insert_header((
                "WWW-Authenticate",
                "Bearer realm=\"benecafe-sim control API\"",
            ))
            .json(serde_json::json!({ "error": message })),
    )
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_and_only_those_compare_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
