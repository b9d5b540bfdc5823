//! The path and header rules of the guards (`web/guard/`): for any method, path and `Origin`, the router and the
//! access rule agree. A request reaches a control route exactly when it is refused for want of
//! the control token (401 with `WWW-Authenticate`), and a page with member data never answers
//! 200 without the operator's sign-in, however the path is encoded (`%61`, `%5F`, `//`, `/./`).
#![no_main]

use std::sync::OnceLock;

use actix_web::dev::{ResourceDef, Service, Url};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::{test, web, App};
use benecafe_sim::domain::fixtures::Fixtures;
use benecafe_sim::domain::hosts::{Exposure, ServedHosts};
use benecafe_sim::store::{Store, StoreOptions};
use benecafe_sim::web::guard::Access;
use benecafe_sim::web::state::{AppState, Config};
use libfuzzer_sys::fuzz_target;

fn state() -> AppState {
    let fixtures = Fixtures::load(std::path::Path::new("../fixtures")).expect("shipped fixtures");
    let config = Config {
        endpoints: benecafe_sim::protocol::endpoints::Endpoints::new(
            "https://localhost:8443",
            "http://localhost:8080",
        )
        .unwrap(),
        public_url: "https://localhost:8443".into(),
        public_http_url: "http://localhost:8080".into(),
        token_ttl_ms: 300_000,
        trusted_proxies: Vec::new(),
        allow_plain_http_cert: false,
        cert_status: benecafe_sim::protocol::CertStatus::Always200,
        force_member_fields: false,
        control_token: Some("s3cret".into()),
        exposure: Exposure::Network,
        open_pages: false,
        served_hosts: ServedHosts::new(["localhost"]),
        forwarded_header: benecafe_sim::web::client_ip::ForwardedHeader::Auto,
        body_timeout: std::time::Duration::from_secs(1),
        max_query_bytes: 4096,
        max_body_bytes: 65536,
        tls_chain: Vec::new(),
        replica: "fuzz".into(),
    };
    let store = Store::memory(&fixtures, StoreOptions::default());
    AppState::new(config, fixtures, store, b"fuzzing cookie key material", None)
}

/// The routes of each access level, as the router would match them.
fn routes(level: Access) -> &'static [(Method, ResourceDef)] {
    static ALL: OnceLock<Vec<(Access, Method, ResourceDef)>> = OnceLock::new();
    static BY: OnceLock<[Vec<(Method, ResourceDef)>; 2]> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        benecafe_sim::web::list()
            .into_iter()
            .map(|(a, m, p)| (a, m, ResourceDef::new(p)))
            .collect()
    });
    let by = BY.get_or_init(|| {
        let pick = |l: Access| {
            all.iter()
                .filter(|(a, _, _)| *a == l)
                .map(|(_, m, r)| (m.clone(), r.clone()))
                .collect()
        };
        [pick(Access::Control), pick(Access::Operator)]
    });
    match level {
        Access::Control => &by[0],
        _ => &by[1],
    }
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static RT: actix_web::rt::SystemRunner = actix_web::rt::System::new();
    }
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ][m as usize % 5]
        .clone();
    let text = String::from_utf8_lossy(rest);
    let (path, origin) = text.split_once('\n').unwrap_or((&text, ""));
    if !path.starts_with('/') || actix_web::http::header::HeaderValue::from_str(origin).is_err() {
        return;
    }
    let Ok(uri) = path.parse::<Uri>() else { return };
    // What the router will match: the path folded, then decoded as actix decodes it.
    let folded =
        benecafe_sim::web::guard::fold_path(uri.path()).unwrap_or_else(|| uri.path().to_owned());
    let Ok(folded_uri) = folded.parse::<Uri>() else {
        return;
    };
    let routed = Url::new(folded_uri).path().to_owned();
    let hits = |level| {
        routes(level)
            .iter()
            .any(|(rm, r)| *rm == method && r.is_match(&routed))
    };
    let (control, operator) = (hits(Access::Control), hits(Access::Operator));

    RT.with(|rt| {
        rt.block_on(async {
            thread_local! {
                static STATE: AppState = state();
            }
            let data = STATE.with(|s| web::Data::new(s.clone()));
            let app = test::init_service(
                App::new()
                    .wrap(benecafe_sim::web::guard::CanonicalPath)
                    .app_data(data)
                    .configure(benecafe_sim::web::configure),
            )
            .await;
            let mut req = test::TestRequest::default()
                .method(method.clone())
                .uri(path)
                .insert_header(("host", "localhost:8080"));
            if !origin.is_empty() {
                req = req.insert_header(("origin", origin));
            }
            let Ok(res) = app.call(req.to_request()).await else {
                return;
            };
            let refused_for_token = res.status() == StatusCode::UNAUTHORIZED
                && res.headers().contains_key("www-authenticate");
            if origin.is_empty() || method == Method::GET {
                assert_eq!(
                    control,
                    refused_for_token,
                    "{method} {path} routed as {routed}: {}",
                    res.status()
                );
            } else {
                assert!(!(refused_for_token && !control), "{method} {path}");
            }
            if operator {
                assert_ne!(
                    res.status(),
                    StatusCode::OK,
                    "{method} {path} answered 200 without sign-in"
                );
            }
            assert!(
                !res.status().is_server_error(),
                "{method} {path}: {}",
                res.status()
            );
        })
    });
});
