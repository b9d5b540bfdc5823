//! The control API's error: JSON `{"error": "..."}` with a status per variant.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::protocol::gate::GateError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a field is invalid; nothing was changed.
    #[error("{0}")]
    BadRequest(String),
    /// 404: the company, member, vendor or token named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 429: too many of this kind of request under way at once; retry when one has ended.
    #[error("{0}")]
    TooMany(String),
    /// 503: a limit is reached; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: an unexpected failure; the cause is logged, not shown.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "control API request failed");
        }
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NoSandbox(_) => ApiError::NotFound(e.to_string()),
            StoreError::TooManySandboxes(_) => ApiError::TooMany(e.to_string()),
            _ => ApiError::Unavailable(e.to_string()),
        }
    }
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::UnknownCompany(_)
            | GateError::UnknownMember(_)
            | GateError::MemberNotInCompany { .. }
            | GateError::UnknownVendor(_) => ApiError::NotFound(e.to_string()),
            GateError::InactiveMember(_) => ApiError::Conflict(e.to_string()),
            GateError::Invalid { .. } => ApiError::BadRequest(e.to_string()),
            GateError::Store(_) => ApiError::Unavailable(e.to_string()),
        }
    }
}

/// Turns actix's JSON extractor errors into the API's 400 with the serde message.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let message = match &err {
        JsonPayloadError::ContentType => {
            "the body must be JSON (Content-Type: application/json)".to_owned()
        }
        JsonPayloadError::Deserialize(e) => format!("malformed JSON body: {e}"),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            format!("the JSON body is larger than {limit} bytes")
        }
        other => format!("cannot read the JSON body: {other}"),
    };
    let status = match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    actix_web::error::InternalError::from_response(
        message.clone(),
        HttpResponse::build(status).json(serde_json::json!({ "error": message })),
    )
    .into()
}

/// Query-string extractor errors as the API's 400.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    bad_request(format!("bad query string: {err}"))
}

/// Path extractor errors as the API's 400.
pub fn path_error(
    err: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    bad_request(format!("bad path: {err}"))
}

fn bad_request(message: String) -> actix_web::Error {
    actix_web::error::InternalError::from_response(
        message.clone(),
        HttpResponse::BadRequest().json(serde_json::json!({ "error": message })),
    )
    .into()
}

/// Deserializes a JSON body, naming the field at fault (`endpoint: unknown variant ...`). An
/// error about the body as a whole (`missing field ...`, or one a value read without a path
/// words itself, as a fault's `resultCode: ...`) is given as it is.
pub fn from_json<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ApiError::BadRequest(e.inner().to_string())
        } else {
            ApiError::BadRequest(format!("{path}: {}", e.inner()))
        }
    })
}
