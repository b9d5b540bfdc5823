//! Building and running the application: binds its own listeners (port 0 works, and the ports
//! got are reported), opens the store, makes the certificates, and runs the two servers until
//! stopped.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::app::lifecycle::{stop_on_signal, AppHandle, Signals};
use crate::app::secrets::{cookie_key, shared_control_token, MIN_CONTROL_TOKEN_BYTES};
use crate::app::settings::Settings;
use crate::app::tls::TlsMaterial;
use crate::domain::fixtures::Fixtures;
use crate::domain::hosts::{bound_host, host_of_url, Exposure, ServedHosts};
use crate::store::Store;
use crate::web::state::{AppState, Config};

/// A built, not yet running, simulator.
pub struct Application {
    /// The HTTPS and the plain-HTTP server.
    servers: [Server; 2],
    state: AppState,
    /// The fixtures folder to watch, with `--watch`.
    watch: Option<std::path::PathBuf>,
    /// Where the fixtures came from, for the start-up log.
    fixtures_from: String,
    /// What the certificate set-up wants the user to know (an old certificate replaced).
    tls_notes: Vec<String>,
    https_addr: SocketAddr,
    http_addr: SocketAddr,
    cert_path: std::path::PathBuf,
    fingerprint: String,
    generated_cert: bool,
    /// Whether the operator gave the control token (never logged) or it was generated (said
    /// once at start).
    control_token_given: bool,
    /// How long a stop drains (`--drain-seconds`).
    drain: Duration,
    /// `--ready-file`.
    ready_file: Option<std::path::PathBuf>,
}

impl Application {
    /// Loads everything and binds both listeners. Errors say what to fix.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let fixtures_dir = settings.fixtures_dir();
        let fixtures = match &fixtures_dir {
            Some(dir) => Fixtures::load(dir)?,
            None => Fixtures::builtin(),
        };
        crate::web::prometheus::install();
        let replica: std::sync::Arc<str> = settings.replica_id().into();
        // The store first: a replica whose Redis is out of reach waits here, holding no port.
        let store = open_store(&settings, &fixtures, replica.clone()).await?;
        let cookie_key = cookie_key(&settings, &store).await?;
        let https = TcpListener::bind(settings.https_addr)
            .with_context(|| format!("cannot listen on {} (HTTPS)", settings.https_addr))?;
        let http = TcpListener::bind(settings.http_addr)
            .with_context(|| format!("cannot listen on {} (HTTP)", settings.http_addr))?;
        let https_addr = https.local_addr()?;
        let http_addr = http.local_addr()?;

        let public_url = settings
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("https://{}", host_for(https_addr)));
        let public_http_url = settings
            .public_http_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", pages_host_for(http_addr)));
        // Every host partners dial gets a certificate from the local CA: the public URLs', every
        // company's mall domain, and --tls-hosts.
        let tls_hosts: Vec<String> = [&public_url, &public_http_url]
            .into_iter()
            .filter_map(|u| crate::domain::hosts::host_of_url(u))
            .chain(mall_hosts(&fixtures))
            .chain(settings.tls_hosts.iter().cloned())
            // The conformance kit's spoofed mall domain (a loopback address, not a mall's).
            .chain([crate::conform::DECOY_IP.to_owned()])
            .collect();
        let tls = TlsMaterial::load_or_generate(
            settings.tls_cert.as_deref(),
            settings.tls_key.as_deref(),
            &settings.data_dir(),
            &tls_hosts,
        )?;
        let server_config = tls.server_config()?;
        // Beyond loopback when a listener is, and also when a proxy in front or a public name
        // makes the simulator reachable from elsewhere while it binds loopback itself.
        let names_elsewhere = [&public_url, &public_http_url]
            .into_iter()
            .filter_map(|u| crate::domain::hosts::host_of_url(u))
            .chain(settings.allowed_hosts.iter().cloned())
            .any(|h| !crate::domain::hosts::is_local_name(&h));
        let exposure = if https_addr.ip().is_loopback()
            && http_addr.ip().is_loopback()
            && settings.trusted_proxies.is_empty()
            && !names_elsewhere
        {
            Exposure::Loopback
        } else {
            Exposure::Network
        };
        let served: Vec<String> = [host_of_url(&public_url), host_of_url(&public_http_url)]
            .into_iter()
            .flatten()
            .chain(bound_host(https_addr.ip()))
            .chain(bound_host(http_addr.ip()))
            .chain(settings.allowed_hosts.iter().cloned())
            .collect();
        let endpoints = crate::protocol::endpoints::Endpoints::new(&public_url, &public_http_url)
            .context("--public-url and --public-http-url must be absolute URLs")?;
        let config = Config {
            endpoints,
            served_hosts: ServedHosts::new(served.iter().map(String::as_str)),
            public_url,
            public_http_url,
            token_ttl_ms: settings.token_ttl_seconds * 1000,
            trusted_proxies: settings.trusted_proxies.clone(),
            allow_plain_http_cert: settings.allow_plain_http_cert,
            cert_status: settings.cert_status,
            force_member_fields: settings.force_member_fields,
            control_token: shared_control_token(&settings, exposure, &store).await?,
            exposure,
            open_pages: settings.open_pages,
            forwarded_header: settings.forwarded_header,
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
            max_query_bytes: settings.max_query_bytes,
            max_body_bytes: settings.max_body_bytes,
            tls_chain: tls.trust_anchors(),
            replica,
        };
        let handles = crate::web::state::TlsHandles {
            certificates: tls.resolver().clone(),
            server: server_config.clone(),
            decoy,
            trust_pem: std::fs::read(&tls.cert_path).unwrap_or_default(),
        };
        let state = AppState::new(config, fixtures, store, &cookie_key, Some(handles));
        // Mall domains added at run time, through this replica or another, get their
        // certificate as soon as this replica has read the directory (it does every second).
        let store = state.store.clone();
        tls.resolver().set_allow(move |name| {
            store.last_directory().companies().any(|c| {
                c.cus_url
                    .as_deref()
                    .and_then(crate::domain::hosts::host_of_url)
                    .is_some_and(|h| h.eq_ignore_ascii_case(name))
            })
        });
        // Two servers, each with its own workers and accept loop: TLS handshakes that never
        // finish can hold the HTTPS side's connection slots, and must not stall plain HTTP.
        let https_server = serve(&state, &settings, https, Some(server_config))?;
        let http_server = serve(&state, &settings, http, None)?;

        Ok(Application {
            drain: settings.drain(),
            ready_file: settings.ready_file.clone(),
            control_token_given: settings
                .control_token
                .as_deref()
                .is_some_and(|t| !t.is_empty()),
            servers: [https_server, http_server],
            state,
            watch: if settings.watch {
                fixtures_dir.clone()
            } else {
                None
            },
            fixtures_from: fixtures_dir
                .map(|d| format!("the folder {}", d.display()))
                .unwrap_or_else(|| "the built-in set (no --fixtures, no ./fixtures folder)".into()),
            tls_notes: tls.notes.clone(),
            https_addr,
            http_addr,
            cert_path: tls.cert_path.clone(),
            fingerprint: tls.fingerprint(),
            generated_cert: tls.generated,
        })
    }

    pub fn https_port(&self) -> u16 {
        self.https_addr.port()
    }

    pub fn http_port(&self) -> u16 {
        self.http_addr.port()
    }

    /// A handle that stops both servers (tests use it to never leak one).
    pub fn handle(&self) -> AppHandle {
        AppHandle(self.servers.each_ref().map(Server::handle))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Where the HTTPS certificate is (for partners to trust).
    pub fn cert_path(&self) -> &std::path::Path {
        &self.cert_path
    }

    /// Writes `--ready-file`, when given: the last step of a start.
    pub fn write_ready_file(&self) -> anyhow::Result<()> {
        let Some(path) = &self.ready_file else {
            return Ok(());
        };
        let c = &self.state.config;
        let ready = super::ready_file::Ready {
            cus_url: &c.public_url,
            http_url: &c.public_http_url,
            ca_path: &self.cert_path,
            https_addr: self.https_addr,
            http_addr: self.http_addr,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION"),
        };
        super::ready_file::write(path, &ready)
            .with_context(|| format!("cannot write the ready file {}", path.display()))
    }

    /// Writes the start-up lines: where it listens, what to trust, what was loaded.
    pub async fn announce(&self) {
        let c = &self.state.config;
        let held = self.state.store.summary().await;
        tracing::info!(
            "benecafe-sim ready: CUS_URL {} (HTTPS on {}), pages and control API also on {} (HTTP on {})",
            c.public_url,
            self.https_addr,
            c.public_http_url,
            self.http_addr
        );
        tracing::info!(
            "TLS: partners trust {} {}; SHA-256 fingerprint {}",
            self.cert_path.display(),
            if self.generated_cert {
                "(local CA, generated now)"
            } else {
                "(reused)"
            },
            self.fingerprint
        );
        for note in &self.tls_notes {
            tracing::warn!("{note}");
        }
        self.announce_unserved_ports().await;
        tracing::info!(
            "store: {}, holding {} companies, {} members, {} vendors (fixtures from {})",
            held.store,
            held.companies,
            held.members,
            held.vendors,
            self.fixtures_from,
        );
        for note in &held.notes {
            tracing::info!("{note}");
        }
        match (&c.control_token, self.control_token_given) {
            // A generated token is the one thing the operator cannot know otherwise: said once.
            (Some(token), false) => tracing::warn!(
                "the control API (/_sim/api/) requires `Authorization: Bearer {token}` (a generated token; set your own with --control-token)"
            ),
            // The operator's own token is never written to the log.
            (Some(token), true) => {
                tracing::info!(
                    "the control API (/_sim/api/) requires the bearer token given with --control-token"
                );
                if token.len() < MIN_CONTROL_TOKEN_BYTES {
                    tracing::warn!(
                        "--control-token is shorter than {MIN_CONTROL_TOKEN_BYTES} bytes: anyone who can reach the simulator may guess it; use a long random one (e.g. `openssl rand -hex 16`)"
                    );
                }
            }
            (None, _) => {}
        }
        if c.pages_need_sign_in() {
            tracing::warn!(
                "listening beyond loopback: the mall, demo, journal and built-in partner pages need a sign-in with the control token at {}/_sim/signin",
                c.public_http_url
            );
        } else if c.exposure == Exposure::Network {
            tracing::warn!(
                "!!! --open-pages is on and the simulator listens beyond loopback: ANYONE who reaches it can see every member's data and issue tokens through the pages. !!!"
            );
        }
        if let Some(dir) = &self.watch {
            tracing::info!("watching {} for fixture changes", dir.display());
        }

        if c.allow_plain_http_cert {
            tracing::warn!(
                "!!! --allow-plain-http-cert is on: the cert endpoint answers over PLAIN HTTP at {}{}. The real mall accepts HTTPS only; a partner that passes here may fail there. !!!",
                c.public_http_url,
                crate::protocol::CERT_PATH
            );
        }
    }

    /// A company whose `cusUrl` names a port the simulator does not answer on: its partners'
    /// cert calls go nowhere.
    async fn announce_unserved_ports(&self) {
        let Ok(dir) = self.state.store.directory().await else {
            return;
        };
        let endpoints = &self.state.config.endpoints;
        for c in dir.companies() {
            let Some(url) = c.cus_url.as_deref() else {
                continue;
            };
            if let Some(port) = endpoints.unserved_port(url, self.https_addr.port()) {
                tracing::warn!(
                    "company {}: its cusUrl {url} names port {port}, where the simulator does not listen (HTTPS listener {}, CUS_URL {}): partners calling its CUS_URL will not reach the simulator. Leave the port out, and the mall domain follows the listener's port",
                    c.code,
                    self.https_addr,
                    self.state.config.public_url
                );
            }
        }
    }

    /// Runs until the server stops (SIGTERM or Ctrl-C: drained, then requests in flight finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until_signalled(Signals::listen()).await
    }

    /// [`Application::run_until_stopped`], stopped by `signals` (listened for since the start).
    pub async fn run_until_signalled(self, signals: Signals) -> std::io::Result<()> {
        let handle = self.handle();
        let housekeeping = self.state.store.spawn_housekeeping();
        let noise = actix_web::rt::spawn(crate::app::telemetry::summarize());
        let calls = actix_web::rt::spawn(crate::web::log::summarize_calls());
        let watcher = self.watch.clone().map(|dir| {
            actix_web::rt::spawn(crate::app::watch::run(
                self.state.clone(),
                dir,
                Duration::from_millis(500),
            ))
        });
        let (forced, stop_now) = tokio::sync::oneshot::channel();
        let stopping = stop_on_signal(signals, self.state.clone(), handle, self.drain, forced);
        actix_web::rt::spawn(stopping);
        let [https, http] = self.servers;
        let result = tokio::select! {
            (a, b) = futures_util::future::join(https, http) => a.and(b),
            // A second signal: the servers' threads end with the process.
            Ok(()) = stop_now => Ok(()),
        };
        drop(housekeeping);
        self.state.store.shutdown().await;
        noise.abort();
        calls.abort();
        if let Some(w) = watcher {
            w.abort();
        }
        result
    }
}

/// The hosts of the companies' own mall domains.
pub fn mall_hosts(fixtures: &Fixtures) -> impl Iterator<Item = String> + '_ {
    fixtures.companies.iter().filter_map(|c| {
        c.cus_url
            .as_deref()
            .and_then(crate::domain::hosts::host_of_url)
    })
}

/// One HTTP server over the shared state, on one listener (with TLS when a configuration is
/// given): the routes, the middleware in front of every route, and the connection limits.
fn serve(
    state: &AppState,
    settings: &Settings,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let max_body = settings.max_body_bytes;
    let data = web::Data::new(state.clone());
    let observe = crate::web::observe::Observe::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(observe.clone())
            .wrap(crate::web::guard::CanonicalPath)
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .configure(crate::web::configure)
    })
    .disable_signals()
    .shutdown_timeout(10)
    // Each connection counts its HTTP/2 streams in flight (the guard refuses past a cap).
    .on_connect(|_, ext| {
        ext.insert(crate::web::guard::limits::Streams::default());
    })
    // A handshake that has not finished in two seconds is dropped, and many may be under way
    // at once: idle connections to the HTTPS port cannot take every handshake slot.
    .tls_handshake_timeout(Duration::from_secs(2))
    .max_connection_rate(MAX_PENDING_HANDSHAKES);
    if let Some(workers) = settings.workers {
        server = server.workers(workers.max(1));
    }
    Ok(match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?.run(),
        None => server.listen(listener)?.run(),
    })
}

/// The conformance kit's decoy: one more HTTPS listener of this simulator, on the spoofed mall
/// address ([`crate::conform::DECOY_IP`]), so that a partner's call to a CUS_URL that is no
/// mall domain is seen. On `port` (0: any free one); one worker; stopped by the caller.
fn decoy(
    state: &AppState,
    port: u16,
) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
    let tls = state
        .tls
        .as_ref()
        .map(|t| t.server.clone())
        .ok_or_else(|| std::io::Error::other("no TLS configuration"))?;
    let listener = std::net::TcpListener::bind((crate::conform::DECOY_IP, port))?;
    let addr = listener.local_addr()?;
    let data = actix_web::web::Data::new(state.clone());
    let observe = crate::web::observe::Observe::new(state);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(observe.clone())
            .wrap(crate::web::guard::CanonicalPath)
            .app_data(data.clone())
            .configure(crate::web::configure)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen_rustls_0_23(listener, tls)?
    .run();
    Ok((server, addr))
}

/// Handshakes under way at once, per worker (actix's default is 256; an attacker's idle
/// connections then fill them in a moment).
const MAX_PENDING_HANDSHAKES: usize = 16_384;

/// The store `--store` names.
async fn open_store(
    settings: &Settings,
    fixtures: &Fixtures,
    replica: std::sync::Arc<str>,
) -> anyhow::Result<Store> {
    let options = crate::store::StoreOptions {
        max_live_tokens: settings.max_live_tokens,
        retention_ms: settings.token_retention_seconds * 1000,
        journal_capacity: settings.journal_capacity as usize,
        journal_max_bytes: settings.journal_max_bytes,
        state: settings
            .state
            .clone()
            .map(|p| (p, Duration::from_secs(settings.state_interval_seconds))),
        replica,
    };
    let store = Store::open(&settings.store, fixtures, options).await?;
    store.limit_sandboxes(settings.max_sandboxes as usize);
    Ok(store)
}

/// The host part of a base URL for a bound address: `localhost` for loopback and unspecified
/// addresses (the generated certificate names it), the address otherwise.
fn host_for(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// The host part of the pages' base URL: `127.0.0.1` for loopback and unspecified addresses,
/// so that the mall's pages are a different site from a partner on `localhost` (ports do not
/// make sites): the GATE post is then a cross-site top-level POST, as it is in production.
fn pages_host_for(addr: SocketAddr) -> String {
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}
