//! Request-size limits: a query string over `--max-query-bytes` gets 414 and a body over
//! `--max-body-bytes` gets 413, before any handler runs, with a JSON message. The cert endpoint
//! answers in its own shape (`resultCode`, `message`) so that partner code reading it does not
//! trip over another.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// A refusal for size, in the shape the endpoint's callers read.
pub fn too_large(path: &str, status: StatusCode, message: String) -> HttpResponse {
    let body = if path == crate::routes::cert::PATH {
        serde_json::json!({ "resultCode": status.as_u16().to_string(), "message": message })
    } else {
        serde_json::json!({ "error": message })
    };
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, crate::routes::cert::JSON_UTF8))
        .body(body.to_string())
}

/// The one middleware in front of every route: the control API's bearer-token rule, then the
/// size limits. One pass, no allocation when the request is let through.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refused = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| crate::auth::refusal(&req, state).or_else(|| refusal(&req, state)));
    if let Some(res) = refused {
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The refusal for an oversize query string or declared body.
fn refusal(req: &ServiceRequest, state: &AppState) -> Option<HttpResponse> {
    let (max_query, max_body) = (state.config.max_query_bytes, state.config.max_body_bytes);
    let query = req.query_string().len();
    if query > max_query {
        return Some(too_large(
            req.path(),
            StatusCode::URI_TOO_LONG,
            format!("the query string is {query} bytes, more than the {max_query} accepted"),
        ));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())?;
    (declared > max_body as u64).then(|| {
        too_large(
            req.path(),
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {declared} bytes, more than the {max_body} accepted"),
        )
    })
}

/// Error handler for 413s raised while reading a body without a declared length (chunked): the
/// framework's plain-text answer becomes the JSON one.
pub fn payload_too_large<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let limit = res
        .request()
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.max_body_bytes)
        .unwrap_or_default();
    let path = res.request().path().to_owned();
    let (req, _) = res.into_parts();
    let body = too_large(
        &path,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is more than the {limit} bytes accepted"),
    );
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}
