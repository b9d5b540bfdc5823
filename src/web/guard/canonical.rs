//! Before routing: a path with `//`, `/./` or `/../` (percent-encoded dots too) is rewritten to
//! the one it names, so the router matches (and the route's access rule guards) what the client
//! asked for.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;

/// A path with `//`, `.` and `..` segments folded, if it has any. Percent-encoded dots count as
/// dots (the router decodes them), so `/_sim/%2e/api` folds too.
pub fn fold_path(path: &str) -> Option<String> {
    let suspicious =
        path.contains("//") || path.contains("/.") || path.contains("%2e") || path.contains("%2E");
    if !suspicious {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/').skip(1) {
        let dots = segment.replace("%2e", ".").replace("%2E", ".");
        match dots.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(segment),
        }
    }
    let mut folded = format!("/{}", out.join("/"));
    if path.ends_with('/') && folded != "/" {
        folded.push('/');
    }
    (folded != path).then_some(folded)
}

/// Middleware before routing: rewrites a path with `//`, `/./` or `/../` to the one it names, so
/// the router matches (and the route's access rule guards) what the client asked for. A plain
/// `Transform` rather than `from_fn`: it runs on every request and needs no future of its own.
pub struct CanonicalPath;

impl<S, B> actix_web::dev::Transform<S, ServiceRequest> for CanonicalPath
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = CanonicalPathService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(CanonicalPathService { service }))
    }
}

pub struct CanonicalPathService<S> {
    service: S,
}

impl<S, B> actix_web::dev::Service<ServiceRequest> for CanonicalPathService<S>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        if let Some(folded) = fold_path(req.path()) {
            let mut parts = req.head().uri.clone().into_parts();
            let query = req.query_string();
            let pq = if query.is_empty() {
                folded
            } else {
                format!("{folded}?{query}")
            };
            if let Ok(pq) = pq.parse() {
                parts.path_and_query = Some(pq);
                if let Ok(uri) = Uri::from_parts(parts) {
                    req.match_info_mut().get_mut().update(&uri);
                    req.head_mut().uri = uri;
                }
            }
        }
        self.service.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_folded_as_the_client_meant_them() {
        assert_eq!(fold_path("/_sim/api/x"), None);
        assert_eq!(fold_path("//_sim/api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(fold_path("/_sim/./api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(
            fold_path("/_sim/x/../api/x").as_deref(),
            Some("/_sim/api/x")
        );
        assert_eq!(fold_path("/_sim/%2e/api/x").as_deref(), Some("/_sim/api/x"));
        assert_eq!(fold_path("/../../etc").as_deref(), Some("/etc"));
        assert_eq!(fold_path("/a/.b").as_deref(), None);
    }
}
