//! `spawn_app()`: the real server on free ports, with a temporary copy of the shipped fixtures,
//! and a client that talks to it over real HTTPS (trusting the generated certificate) and HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use awc::http::StatusCode;
use benecafe_sim::app::settings::Settings;
use benecafe_sim::app::AppHandle;
use benecafe_sim::app::Application;
use benecafe_sim::web::state::AppState;
use serde_json::{json, Value};

pub use crate::processes::{free_port, get_via, h2_connect, h2_only, RedisServer, SimProcess};

/// A running simulator. Dropping it stops the server.
#[allow(dead_code)] // not every test binary module uses every field
pub struct TestApp {
    /// `https://127.0.0.1:PORT`
    pub https: String,
    /// `http://127.0.0.1:PORT`
    pub http: String,
    pub state: AppState,
    /// The fixtures folder the server loaded (a temporary copy).
    pub fixtures: PathBuf,
    /// The data folder (generated certificate).
    pub data: PathBuf,
    /// PEM of the server's certificate.
    pub cert_pem: Vec<u8>,
    handle: AppHandle,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future only waits.
        drop(self.handle.stop(false));
    }
}

/// The shipped fixtures folder.
pub fn shipped_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Copies a fixtures folder into a new temporary one.
pub fn copy_fixtures(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(from).expect("fixtures folder") {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Starts the simulator on the shipped fixtures with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the simulator with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let fixtures = copy_fixtures(&shipped_fixtures());
    spawn_app_in(fixtures, adjust).await
}

/// Starts the simulator on the given fixtures folder.
pub async fn spawn_app_in(
    fixtures: tempfile::TempDir,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_tests(fixtures.path().to_owned(), data.path().to_owned());
    adjust(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the application builds");
    let https = format!("https://127.0.0.1:{}", app.https_port());
    let http = format!("http://127.0.0.1:{}", app.http_port());
    let state = app.state().clone();
    let handle = app.handle();
    let cert_pem = std::fs::read(app.cert_path()).expect("certificate file");
    // Its own thread and runtime: the server outlives nothing but this TestApp.
    std::thread::spawn(move || actix_web::rt::System::new().block_on(app.run_until_stopped()));
    let test_app = TestApp {
        https,
        http,
        state,
        fixtures: fixtures.path().to_owned(),
        data: data.path().to_owned(),
        cert_pem,
        handle,
        _dirs: (fixtures, data),
    };
    test_app.wait_ready().await;
    test_app
}

/// A response read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }

    /// The cert endpoint's resultCode.
    pub fn result_code(&self) -> String {
        self.json()["resultCode"]
            .as_str()
            .expect("resultCode is a string")
            .to_owned()
    }
}

impl TestApp {
    /// Tokens issued and neither used nor expired.
    pub async fn live_tokens(&self) -> usize {
        self.state.store.live_tokens().await.expect("the store")
    }

    /// The journal, oldest first.
    pub async fn journal_events(&self) -> Vec<std::sync::Arc<benecafe_sim::domain::event::Event>> {
        self.state.store.journal().await.expect("the store")
    }

    /// A client that trusts this server's certificate and nothing else.
    pub fn client(&self) -> awc::Client {
        self.client_with(true)
    }

    /// The same client, but it shows redirects instead of following them.
    #[allow(dead_code)]
    pub fn client_without_redirects(&self) -> awc::Client {
        self.client_with(false)
    }

    fn client_with(&self, follow_redirects: bool) -> awc::Client {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<_, _>>()
            .expect("PEM certificate");
        let config =
            benecafe_sim::conform::browser::client_config(&chain).expect("client TLS config");
        let builder = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
            .timeout(Duration::from_secs(30));
        if follow_redirects {
            builder.finish()
        } else {
            builder.disable_redirects().finish()
        }
    }

    async fn wait_ready(&self) {
        let client = self.client();
        for _ in 0..200 {
            if let Ok(r) = client
                .get(format!("{}/_sim/healthz", self.http))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server did not become ready");
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, req: awc::ClientRequest, body: Option<(&str, Vec<u8>)>) -> Reply {
        let mut res = match body {
            Some((content_type, bytes)) => req
                .insert_header(("content-type", content_type))
                .send_body(bytes)
                .await
                .expect("request sent"),
            None => req.send().await.expect("request sent"),
        };
        let body = res.body().limit(16 * 1024 * 1024).await.expect("body read");
        Reply {
            status: res.status(),
            headers: res.headers().clone(),
            body: body.to_vec(),
        }
    }

    /// GET on the HTTPS listener.
    pub async fn get(&self, path_and_query: &str) -> Reply {
        let client = self.client();
        self.send(
            self.operator(client.get(format!("{}{}", self.https, path_and_query))),
            None,
        )
        .await
    }

    /// GET on the plain-HTTP listener.
    pub async fn get_http(&self, path_and_query: &str) -> Reply {
        let client = self.client();
        self.send(client.get(format!("{}{}", self.http, path_and_query)), None)
            .await
    }

    /// POST a form on the HTTPS listener.
    pub async fn post_form(&self, path: &str, form: &str) -> Reply {
        let client = self.client();
        self.send(
            client.post(format!("{}{}", self.https, path)),
            Some((
                "application/x-www-form-urlencoded",
                form.as_bytes().to_vec(),
            )),
        )
        .await
    }

    /// The control token on a request, when the server requires one (beyond loopback).
    pub fn operator(&self, req: awc::ClientRequest) -> awc::ClientRequest {
        match &self.state.config.control_token {
            Some(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
            None => req,
        }
    }

    /// POST JSON on the HTTPS listener (the control API).
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        let client = self.client();
        self.send(
            self.operator(client.post(format!("{}{}", self.https, path))),
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
    }

    /// `POST /_sim/api/gate`.
    pub async fn gate(&self, body: Value) -> Reply {
        self.post_json("/_sim/api/gate", &body).await
    }

    /// Issues a GATE and returns its token; panics if none was issued.
    pub async fn issue_token(&self, company: &str, member: &str, vendor: &str) -> String {
        let reply = self
            .gate(json!({"cmpyCd": company, "custId": member, "vndrNo": vendor}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "gate: {}", reply.text());
        reply.json()["otpToken"]
            .as_str()
            .expect("a token was issued")
            .to_owned()
    }

    /// A token for the default consented member and the built-in partner vendor.
    pub async fn token(&self) -> String {
        self.issue_token("J01", "J01A00038745", "VR000216").await
    }

    /// GET the cert endpoint over HTTPS with a query string.
    pub async fn cert(&self, query: &str) -> Reply {
        self.get(&format!("/sso/vendorUserCertTonken?{query}"))
            .await
    }
}

impl TestApp {
    /// PUT JSON on the plain-HTTP listener (the control API).
    pub async fn put_json(&self, path: &str, body: &Value) -> Reply {
        let client = self.client();
        self.send(
            self.operator(client.put(format!("{}{}", self.http, path))),
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
    }
}
