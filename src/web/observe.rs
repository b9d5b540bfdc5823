//! What every answer carries and leaves behind: the `X-Sim-Replica` header (which replica behind
//! a load balancer answered), the request's latency in the metrics (by a small fixed set of
//! endpoint areas, never the raw path), and one log line per answered request, every one up to
//! `REQUEST_LINES_PER_SECOND` a second and past that one in `SAMPLE_ONE_IN` (the line says
//! so; the rest are summed up once a second, `log.rs`). A plain `Transform` with a future of its
//! own type: the cert endpoint, the hot path, pays two clock reads and a few atomic adds.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use metrics::Histogram;

use crate::protocol::lines::Line;
use crate::web::in_flight::InFlight;
use crate::web::log::REQUEST_LINES;
use crate::web::state::AppState;

/// The header naming the replica that answered.
pub const REPLICA_HEADER: HeaderName = HeaderName::from_static("x-sim-replica");

/// The request latency histogram.
pub const REQUEST_SECONDS: &str = "sim_http_request_duration_seconds";

/// Its buckets, in seconds: a local service answers in well under a millisecond; an injected
/// delay lands in the top ones.
pub const BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// What a request was for, as the metrics label it (in the order of `Area::ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Cert = 0,
    Checkurl,
    /// Issuing a GATE: the control API's, the mall's (`/mall/go`), the demo form's.
    Gate,
    /// The rest of the control API.
    Api,
    /// The browser pages (mall, login, company entry, demo, journal, built-in partner, sign-in).
    Pages,
    /// Health, version and metrics.
    Health,
    /// Anything else (the OpenAPI document, ca.pem, no such route).
    Other,
}

impl Area {
    const ALL: [Area; 7] = [
        Area::Cert,
        Area::Checkurl,
        Area::Gate,
        Area::Api,
        Area::Pages,
        Area::Health,
        Area::Other,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Area::Cert => "cert",
            Area::Checkurl => "checkurl",
            Area::Gate => "gate",
            Area::Api => "api",
            Area::Pages => "pages",
            Area::Health => "health",
            Area::Other => "other",
        }
    }

    /// The area of a request for `path`.
    pub fn of(method: &Method, path: &str) -> Area {
        match path {
            crate::protocol::CERT_PATH => Area::Cert,
            crate::protocol::CHECK_PATH => Area::Checkurl,
            "/_sim/api/gate" | "/mall/go" => Area::Gate,
            "/_sim/demo" if method == Method::POST => Area::Gate,
            "/_sim/healthz" | "/_sim/livez" | "/_sim/readyz" | "/_sim/version"
            | "/_sim/metrics" => Area::Health,
            p if p.starts_with("/_sim/api/") => Area::Api,
            "/" | "/mall" | "/sso/loginSsoGate" | "/_sim/signin" | "/_sim/demo"
            | "/_sim/journal" | "/_sim/conform" => Area::Pages,
            p if p.starts_with("/mall/")
                || p.starts_with("/member/")
                || p.starts_with("/_sim/partner/") =>
            {
                Area::Pages
            }
            _ => Area::Other,
        }
    }
}

/// The status classes a histogram is kept for.
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// One histogram per area and status class, each made at its first request (a scrape shows
/// only those that happened), once the recorder is installed.
static HISTOGRAMS: [OnceLock<Histogram>; Area::ALL.len() * CLASSES.len()] =
    [const { OnceLock::new() }; Area::ALL.len() * CLASSES.len()];

/// Whether the recorder is installed (before, a histogram would record nowhere for good).
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Says that the recorder is installed.
pub(crate) fn start_recording() {
    RECORDING.store(true, Ordering::Relaxed);
}

fn histogram(area: Area, status: u16) -> Option<&'static Histogram> {
    if !RECORDING.load(Ordering::Relaxed) {
        return None;
    }
    let class = match status {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        500..=599 => 3,
        _ => return None,
    };
    let at = area as usize * CLASSES.len() + class;
    Some(HISTOGRAMS[at].get_or_init(|| {
        metrics::histogram!(REQUEST_SECONDS, "endpoint" => area.label(), "status" => CLASSES[class])
    }))
}

/// The middleware, made once per server from the state.
#[derive(Clone)]
pub struct Observe {
    replica: Arc<str>,
    header: HeaderValue,
    in_flight: Arc<InFlight>,
}

impl Observe {
    pub fn new(state: &AppState) -> Self {
        let replica = state.config.replica.clone();
        Observe {
            header: HeaderValue::from_str(&replica).unwrap_or(HeaderValue::from_static("-")),
            replica,
            in_flight: state.in_flight.clone(),
        }
    }
}

/// What each worker's copy of the middleware holds.
struct Worker {
    replica: Arc<str>,
    header: HeaderValue,
    /// This worker's requests being answered.
    busy: Arc<AtomicUsize>,
}

impl<S, B> Transform<S, ServiceRequest> for Observe
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = ObserveService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // Each worker its own copy, shared by its requests without atomic reference counts
        // (the header's bytes too: cloning it per answer touches this worker's memory only).
        let observe = Rc::new(Worker {
            replica: self.replica.clone(),
            header: HeaderValue::from_bytes(self.header.as_bytes()).unwrap_or(self.header.clone()),
            busy: self.in_flight.worker(),
        });
        std::future::ready(Ok(ObserveService { service, observe }))
    }
}

pub struct ObserveService<S> {
    service: S,
    observe: Rc<Worker>,
}

impl<S, B> Service<ServiceRequest> for ObserveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Observed<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let area = Area::of(req.method(), req.path());
        self.observe.busy.fetch_add(1, Ordering::Relaxed);
        Observed {
            inner: self.service.call(req),
            started: Instant::now(),
            area,
            observe: self.observe.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer on its way: stamped, timed and logged when it is ready.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        started: Instant,
        area: Area,
        observe: Rc<Worker>,
    }

    impl<F> PinnedDrop for Observed<F> {
        // Answered, failed or abandoned (the client went away): no longer in flight.
        fn drop(this: Pin<&mut Self>) {
            this.observe.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = match this.inner.poll(cx) {
            Poll::Ready(Ok(res)) => res,
            other => return other,
        };
        let took = this.started.elapsed();
        let status = res.status().as_u16();
        if let Some(h) = histogram(*this.area, status) {
            h.record(took.as_secs_f64());
        }
        res.headers_mut()
            .insert(REPLICA_HEADER, this.observe.header.clone());
        let line = REQUEST_LINES.admit(crate::domain::clock::now_ms());
        if line != Line::Skipped {
            request_line(&res, status, took, &this.observe.replica, line);
        }
        Poll::Ready(Ok(res))
    }
}

/// The request's log line: method, path (no query; a token in a path masked), status, latency
/// and replica; a sampled line says how many requests it stands for.
fn request_line<B>(
    res: &ServiceResponse<B>,
    status: u16,
    took: std::time::Duration,
    replica: &str,
    line: Line,
) {
    let req = res.request();
    let path = shown_path(req.path());
    let path = crate::web::log::printable(&path);
    let latency_ms = (took.as_secs_f64() * 1e6).round() / 1e3;
    match line {
        Line::OneIn(n) => tracing::info!(
            method = %req.method(),
            path = %path,
            status,
            latency_ms,
            replica,
            sampled_one_in = n,
            "request answered (one in {n} logged)"
        ),
        _ => tracing::info!(
            method = %req.method(),
            path = %path,
            status,
            latency_ms,
            replica,
            "request answered"
        ),
    }
}

/// The path as a log line shows it: at most 200 characters, and a token named in the path (the
/// control API's `/_sim/api/tokens/{token}`) masked, as every token in the log is.
fn shown_path(path: &str) -> Cow<'_, str> {
    const TOKENS: &str = "/_sim/api/tokens/";
    if let Some(rest) = path.strip_prefix(TOKENS) {
        let (token, end) = match rest.split_once('/') {
            Some((token, end)) => (token, Some(end)),
            None => (rest, None),
        };
        if !token.is_empty() && token != "bulk" {
            let mut shown = format!("{TOKENS}{}", crate::protocol::form::mask(token));
            if let Some(end) = end {
                shown.push('/');
                shown.push_str(end);
            }
            return Cow::Owned(cut(&shown).into_owned());
        }
    }
    cut(path)
}

/// At most 200 characters, the cut marked.
fn cut(path: &str) -> Cow<'_, str> {
    match path.char_indices().nth(200) {
        Some((at, _)) => Cow::Owned(format!("{}…", &path[..at])),
        None => Cow::Borrowed(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_a_fixed_few_and_never_the_path() {
        let get = Method::GET;
        assert_eq!(Area::of(&get, crate::protocol::CERT_PATH), Area::Cert);
        assert_eq!(Area::of(&get, crate::protocol::CHECK_PATH), Area::Checkurl);
        assert_eq!(Area::of(&Method::POST, "/_sim/api/gate"), Area::Gate);
        assert_eq!(Area::of(&Method::POST, "/_sim/demo"), Area::Gate);
        assert_eq!(Area::of(&get, "/_sim/demo"), Area::Pages);
        assert_eq!(Area::of(&get, "/_sim/api/tokens/abc"), Area::Api);
        assert_eq!(Area::of(&get, "/_sim/metrics"), Area::Health);
        assert_eq!(Area::of(&get, "/mall/consent"), Area::Pages);
        assert_eq!(Area::of(&get, "/_sim/partner/gate"), Area::Pages);
        assert_eq!(Area::of(&get, "/wp-admin/x"), Area::Other);
        // A histogram's slot is its area's number.
        for (i, area) in Area::ALL.iter().enumerate() {
            assert_eq!(*area as usize, i);
        }
    }

    #[test]
    fn a_token_in_a_path_is_masked_and_long_paths_are_cut() {
        let token = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
        let shown = shown_path(&format!("/_sim/api/tokens/{token}/expire")).into_owned();
        assert!(!shown.contains(token), "{shown}");
        assert!(shown.ends_with("/expire"), "{shown}");
        assert_eq!(shown_path("/_sim/api/tokens/bulk"), "/_sim/api/tokens/bulk");
        let long = format!("/{}", "a".repeat(500));
        assert!(shown_path(&long).chars().count() <= 201);
    }
}
