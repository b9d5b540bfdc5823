//! Request-size and time limits: a query string over `--max-query-bytes` gets 414, a body over
//! `--max-body-bytes` 413 (declared or chunked), a body that does not arrive whole within
//! `--body-timeout-seconds` 408 (a body trickled byte by byte must not hold a connection and a
//! task forever). Applied by each route's access middleware (`guard/mod.rs`), which
//! answers in the shape the route's callers read.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage};

use crate::web::state::Config;

/// A refusal: the status and the sentence.
pub type Refusal = (StatusCode, String);

/// The most header bytes an HTTP/2 request may carry, as HTTP/1's parser allows (its whole head
/// must fit 32 KiB): HTTP/2 decodes a larger block before the application sees it, so this at
/// least keeps such a request from going further.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// HTTP/2 streams one connection may have in flight; past them a request is answered 503 at
/// once. (actix-web does not let the server advertise `MAX_CONCURRENT_STREAMS` itself, so the
/// cap is enforced here.)
pub const MAX_STREAMS: usize = 100;

/// One connection's HTTP/2 requests in flight, shared by its streams.
#[derive(Clone, Default)]
pub struct Streams(std::sync::Arc<std::sync::atomic::AtomicUsize>);

/// A stream counted in flight until dropped.
pub struct InFlight(Streams);

impl Drop for InFlight {
    fn drop(&mut self) {
        (self.0)
            .0
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Streams {
    /// Counts a new stream, unless the connection has as many as it may.
    pub fn enter(&self) -> Option<InFlight> {
        let before = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stream = InFlight(self.clone());
        (before < MAX_STREAMS).then_some(stream)
    }
}

/// The refusal for an oversize query string, header block (HTTP/2) or declared body.
pub fn oversize(req: &ServiceRequest, config: &Config) -> Option<Refusal> {
    let (max_query, max_body) = (config.max_query_bytes, config.max_body_bytes);
    if req.version() == actix_web::http::Version::HTTP_2 {
        let bytes: usize = req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        if bytes > MAX_HEADER_BYTES {
            return Some((
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("the headers are {bytes} bytes, more than the {MAX_HEADER_BYTES} accepted"),
            ));
        }
    }
    let query = req.query_string().len();
    if query > max_query {
        return Some((
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
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {declared} bytes, more than the {max_body} accepted"),
        )
    })
}

/// Whether the request announces a body (a length above zero, or chunks).
pub fn has_body(req: &actix_web::HttpRequest) -> bool {
    let headers = req.headers();
    // HTTP/2 frames a body without either header: a method that may carry one counts.
    let h2_body = req.version() == actix_web::http::Version::HTTP_2
        && !matches!(
            *req.method(),
            actix_web::http::Method::GET
                | actix_web::http::Method::HEAD
                | actix_web::http::Method::OPTIONS
        );
    h2_body
        || headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Reads the body whole, within the size and time limits, and puts it back for the handler.
pub async fn read_body(req: &mut ServiceRequest, config: &Config) -> Result<(), Refusal> {
    if !has_body(req.request()) {
        return Ok(());
    }
    let max = config.max_body_bytes;
    let mut payload = req.take_payload();
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = futures_util::StreamExt::next(&mut payload).await {
            let chunk = chunk.map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("the body could not be read: {e}"),
                )
            })?;
            if body.len() + chunk.len() > max {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is more than the {max} bytes accepted"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    match actix_web::rt::time::timeout(config.body_timeout, read).await {
        Ok(Ok(body)) => {
            req.set_payload(body.into());
            Ok(())
        }
        Ok(Err(refusal)) => Err(refusal),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive whole within {} s",
                config.body_timeout.as_secs()
            ),
        )),
    }
}
