//! The few HTTP calls around the load: issuing tokens in bulk, reading the simulator's health,
//! fetching the bodies a reference is to answer. wrk makes the load; these calls only set rows
//! up and check them, so they go through hyper's client on a small tokio runtime of their own,
//! blocking the caller, one connection a call.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long a call may take, answer read: a bulk issue of a million tokens takes seconds.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The runtime the calls run on and the client making them.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
}

fn shared() -> &'static Http {
    static HTTP: OnceLock<Http> = OnceLock::new();
    HTTP.get_or_init(|| Http {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the HTTP client"),
        // No idle connections kept: servers come and go on ports that may be used again.
        client: Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http(),
    })
}

/// One plain-HTTP call to the server on loopback `port`: the status code and body. A `body`
/// that is not empty is sent as JSON.
fn call(port: u16, method: Method, path: &str, body: &str) -> Result<(u16, Bytes), String> {
    call_in(None, port, method, path, body)
}

/// [`call`], inside `sandbox` when one is named (`X-Sim-Sandbox`).
fn call_in(
    sandbox: Option<&str>,
    port: u16,
    method: Method,
    path: &str,
    body: &str,
) -> Result<(u16, Bytes), String> {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    if let Some(id) = sandbox {
        request = request.header("x-sim-sandbox", id);
    }
    if !body.is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|e| describe(&e))?;
    let http = shared();
    http.runtime.block_on(async {
        let answer = async {
            let response = http
                .client
                .request(request)
                .await
                .map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await;
            Ok((status, body.map_err(|e| describe(&e))?.to_bytes()))
        };
        tokio::time::timeout(TIMEOUT, answer)
            .await
            .map_err(|_| format!("no answer in {} s", TIMEOUT.as_secs()))?
    })
}

/// An error with its sources: hyper's client errors say little without them.
fn describe(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A GET on loopback `port`: the status code and body.
pub fn get(port: u16, path: &str) -> Result<(u16, Bytes), String> {
    call(port, Method::GET, path, "")
}

/// The simulator's `/_sim/healthz` as JSON.
pub fn health(port: u16) -> Result<serde_json::Value, String> {
    let (_, body) = get(port, "/_sim/healthz")?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// The simulator's count of live tokens.
pub fn live_tokens(port: u16) -> Result<u64, String> {
    health(port)?["liveTokens"]
        .as_u64()
        .ok_or_else(|| "no liveTokens in /_sim/healthz".to_string())
}

/// Issues `count` tokens valid for `ttl` seconds through `POST /_sim/api/tokens/bulk`; the
/// tokens when `return_tokens`, else none.
pub fn bulk(port: u16, count: usize, ttl: u64, return_tokens: bool) -> Result<Vec<String>, String> {
    bulk_in(None, port, count, ttl, return_tokens)
}

/// [`bulk`], inside `sandbox` when one is named.
pub fn bulk_in(
    sandbox: Option<&str>,
    port: u16,
    count: usize,
    ttl: u64,
    return_tokens: bool,
) -> Result<Vec<String>, String> {
    let body = format!(
        r#"{{"cmpyCd":"J01","custId":"J01A00038745","vndrNo":"VR000216","count":{count},"ttlSeconds":{ttl},"returnTokens":{return_tokens}}}"#
    );
    let (status, body) = call_in(sandbox, port, Method::POST, "/_sim/api/tokens/bulk", &body)?;
    if status != 200 {
        return Err(format!(
            "bulk issue answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(v["tokens"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// Issues one token and saves the bodies the simulator answers for it (OK) and for an unknown
/// token (`path_404`), as `<prefix>ok.json` and `<prefix>404.json`: what a reference answers.
pub fn save_bodies(
    port: u16,
    path_404: &str,
    dir: &Path,
    prefix: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let probe = bulk(port, 1, 300, true)?;
    let path_ok = format!("/sso/vendorUserCertTonken?otpTokenp={}", probe[0]);
    let (_, ok_body) = get(port, &path_ok)?;
    let (_, nf_body) = get(port, path_404)?;
    if !String::from_utf8_lossy(&ok_body).contains("\"OK\"") {
        return Err(format!(
            "the probe token did not give OK ({prefix}simulator)"
        ));
    }
    let (ok, nf) = (
        dir.join(format!("{prefix}ok.json")),
        dir.join(format!("{prefix}404.json")),
    );
    std::fs::write(&ok, &ok_body).map_err(|e| e.to_string())?;
    std::fs::write(&nf, &nf_body).map_err(|e| e.to_string())?;
    Ok((ok, nf))
}

/// Makes a sandbox; its id.
pub fn make_sandbox(port: u16) -> Result<String, String> {
    let (status, body) = call(port, Method::POST, "/_sim/api/sandboxes", "{}")?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    match (status, v["id"].as_str()) {
        (201, Some(id)) => Ok(id.to_owned()),
        _ => Err(format!("making a sandbox answered {status}: {v}")),
    }
}
