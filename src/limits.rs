//! Request-size limits: a query string over `--max-query-bytes` gets 414 and a body over
//! `--max-body-bytes` gets 413, before any handler runs, with a JSON message. The cert endpoint
//! answers in its own shape (`resultCode`, `message`) so that partner code reading it does not
//! trip over another.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{web, HttpMessage, HttpResponse};

use crate::state::AppState;

/// A refusal for size or time, in the shape the endpoint's callers read.
pub fn refused(path: &str, status: StatusCode, message: String) -> HttpResponse {
    let body = if path == crate::routes::cert::PATH {
        serde_json::json!({ "resultCode": status.as_u16().to_string(), "message": message })
    } else {
        serde_json::json!({ "error": message })
    };
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, crate::routes::cert::JSON_UTF8))
        .body(body.to_string())
}

/// The middleware in front of every route: the size limits, then the body read whole within
/// `--body-timeout-seconds` (a body trickled byte by byte gets 408 instead of holding a
/// connection and a task forever). A request without a body passes with no allocation.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if let Some(res) = refusal(&req, &state) {
        return Ok(req.into_response(res).map_into_right_body());
    }
    if has_body(&req) {
        let max = state.config.max_body_bytes;
        let mut payload = req.take_payload();
        let read = async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
                let chunk = chunk?;
                if body.len() + chunk.len() > max {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, actix_web::error::PayloadError>(Some(body.freeze()))
        };
        match actix_web::rt::time::timeout(state.config.body_timeout, read).await {
            Ok(Ok(Some(body))) => req.set_payload(body.into()),
            Ok(Ok(None)) => {
                let res = refused(
                    req.path(),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is more than the {max} bytes accepted"),
                );
                return Ok(req.into_response(res).map_into_right_body());
            }
            Ok(Err(e)) => {
                let res = refused(
                    req.path(),
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                );
                return Ok(req.into_response(res).map_into_right_body());
            }
            Err(_) => {
                let secs = state.config.body_timeout.as_secs();
                let mut res = refused(
                    req.path(),
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the body did not arrive whole within {secs} s"),
                );
                res.headers_mut().insert(
                    actix_web::http::header::CONNECTION,
                    actix_web::http::header::HeaderValue::from_static("close"),
                );
                return Ok(req.into_response(res).map_into_right_body());
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Whether the request announces a body (a length above zero, or chunks).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// The refusal for an oversize query string or declared body.
fn refusal(req: &ServiceRequest, state: &AppState) -> Option<HttpResponse> {
    let (max_query, max_body) = (state.config.max_query_bytes, state.config.max_body_bytes);
    let query = req.query_string().len();
    if query > max_query {
        return Some(refused(
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
        refused(
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
    let body = refused(
        &path,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is more than the {limit} bytes accepted"),
    );
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}
