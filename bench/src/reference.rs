//! The reference servers the simulator's rows are measured against: bare actix-web servers with
//! the simulator's listeners (HTTPS and HTTP, one worker), answering the simulator's own bodies
//! and doing nothing else, one of them with one Redis command a call. What a cert call costs at
//! least, on this machine, in this run.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use rustls::pki_types::PrivateKeyDer;

/// What both references start from: their arguments `HTTPS HTTP OK_JSON 404_JSON` read, the
/// listeners bound, a certificate, the bodies to answer.
struct Setup {
    https: std::net::TcpListener,
    http: std::net::TcpListener,
    tls: rustls::ServerConfig,
    ok_body: web::Bytes,
    nf_body: web::Bytes,
}

fn setup(args: &[OsString]) -> Setup {
    let arg = |i: usize| args[i].to_string_lossy().into_owned();
    let body = |i: usize| web::Bytes::from(std::fs::read(arg(i)).expect("body file"));
    Setup {
        https: std::net::TcpListener::bind(arg(0)).expect("bind"),
        http: std::net::TcpListener::bind(arg(1)).expect("bind"),
        tls: tls_config(),
        ok_body: body(2),
        nf_body: body(3),
    }
}

/// A certificate of the kind the simulator serves by default, made here: a leaf for localhost,
/// 127.0.0.1 and ::1 with its own ECDSA P-256 key (rcgen's default, as the simulator's), served
/// alone, through rustls with the ring provider and its safe defaults. The HTTPS rows then
/// weigh the same handshake on both sides.
fn tls_config() -> rustls::ServerConfig {
    let names = ["localhost", "127.0.0.1", "::1"].map(String::from);
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).expect("a certificate");
    let key = PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![cert.der().clone()], key)
        })
        .expect("TLS configuration")
}

/// `body` as the simulator sends its JSON.
fn json(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json;charset=UTF-8")
        .body(body)
}

/// The reference: answering the simulator's own 404 body at the cert path and its OK body at
/// `/ok` + the cert path.
pub fn serve(args: &[OsString]) -> ExitCode {
    let Setup {
        https,
        http,
        tls,
        ok_body,
        nf_body,
    } = setup(args);
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let (ok, nf) = (ok_body.clone(), nf_body.clone());
            App::new()
                .route(
                    "/sso/vendorUserCertTonken",
                    web::get().to(move || {
                        let nf = nf.clone();
                        async move { json(nf) }
                    }),
                )
                .route(
                    "/ok/sso/vendorUserCertTonken",
                    web::get().to(move || {
                        let ok = ok.clone();
                        async move { json(ok) }
                    }),
                )
                .route("/_sim/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(1)
        .listen_rustls_0_23(https, tls)
        .and_then(|s| s.listen(http))
        .expect("listen")
        .run();
        match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}

/// The Redis reference (one more argument, the Redis URL): the listeners and bodies of
/// [`serve`], and at the cert path one GETDEL of `ref:<otpTokenp>` through one connection
/// manager shared by the worker (made before the server, as the simulator makes its own): the
/// OK body when the key was there, else the 404 body. What a cert call through Redis costs at
/// least.
pub fn serve_redis(args: &[OsString]) -> ExitCode {
    let Setup {
        https,
        http,
        tls,
        ok_body,
        nf_body,
    } = setup(args);
    let url = args[4].to_string_lossy().into_owned();
    actix_web::rt::System::new().block_on(async move {
        let client = redis::Client::open(url).expect("Redis URL");
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .expect("Redis connection");
        let server = HttpServer::new(move || {
            let (ok, nf, conn) = (ok_body.clone(), nf_body.clone(), conn.clone());
            App::new()
                .route(
                    "/sso/vendorUserCertTonken",
                    web::get().to(move |req: HttpRequest| {
                        let (ok, nf, mut conn) = (ok.clone(), nf.clone(), conn.clone());
                        async move {
                            let token = form_urlencoded::parse(req.query_string().as_bytes())
                                .find(|(k, _)| k == "otpTokenp")
                                .map(|(_, v)| v.into_owned())
                                .unwrap_or_default();
                            let found: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GETDEL")
                                .arg(format!("ref:{token}"))
                                .query_async(&mut conn)
                                .await;
                            match found {
                                Ok(found) => json(if found.is_some() { ok } else { nf }),
                                Err(e) => HttpResponse::ServiceUnavailable().body(e.to_string()),
                            }
                        }
                    }),
                )
                .route("/_sim/healthz", web::get().to(HttpResponse::Ok))
        })
        .workers(1)
        .listen_rustls_0_23(https, tls)
        .and_then(|s| s.listen(http))
        .expect("listen")
        .run();
        match server.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        }
    })
}
