//! Who may use the control API. It can change everything, so it is open only while the
//! simulator listens on loopback alone; as soon as either listener is bound to another address,
//! every call under `/_sim/api/` needs `Authorization: Bearer <control token>`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// The prefix the rule guards.
pub const CONTROL_PREFIX: &str = "/_sim/api/";

/// Middleware: refuses control-API calls without the bearer token when one is required.
pub async fn require_control_token(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let required = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.config.control_token.clone());
    if let Some(expected) = required {
        if req.path().starts_with(CONTROL_PREFIX) {
            let given = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()));
            if !ok {
                let message = if given.is_some() {
                    "the bearer token is not the control token"
                } else {
                    "the control API needs `Authorization: Bearer <control token>` when the simulator listens beyond loopback; the token is printed at start-up or set with --control-token"
                };
                let res = HttpResponse::Unauthorized()
                    .insert_header((
                        "WWW-Authenticate",
                        "Bearer realm=\"benecafe-sim control API\"",
                    ))
                    .json(serde_json::json!({ "error": message }));
                return Ok(req.into_response(res).map_into_right_body());
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
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
