//! Building and running the application: binds its own listeners (port 0 works, and the ports
//! got are reported), loads fixtures and the certificate, and starts the sweeper.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::access::{bound_host, url_host, Exposure, ServedHosts};
use crate::fixtures::Fixtures;
use crate::journal::Journal;
use crate::settings::Settings;
use crate::state::{AppState, Config};
use crate::store::{MemoryStore, Store};
use crate::tls::TlsMaterial;
use crate::tokens::MemoryTokenStore;

/// A built, not yet running, simulator.
pub struct Application {
    /// The HTTPS and the plain-HTTP server.
    servers: [Server; 2],
    state: AppState,
    /// Where state is kept, with `--state`, and how often it is saved.
    state_file: Option<(std::path::PathBuf, Duration)>,
    /// What `--state` brought back at start.
    restored: Option<crate::persist::Restored>,
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
}

impl Application {
    /// Loads everything and binds both listeners. Errors say what to fix.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let fixtures_dir = settings.fixtures_dir();
        let fixtures = match &fixtures_dir {
            Some(dir) => Fixtures::load(dir)?,
            None => Fixtures::builtin(),
        };
        // The store first: a replica whose Redis is out of reach waits here, holding no port.
        let store = open_store(&settings, &fixtures).await?;
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
            .filter_map(|u| crate::tls::host_of_url(u))
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
            .filter_map(|u| crate::tls::host_of_url(u))
            .chain(settings.allowed_hosts.iter().cloned())
            .any(|h| !crate::access::is_local_name(&h));
        let exposure = if https_addr.ip().is_loopback()
            && http_addr.ip().is_loopback()
            && settings.trusted_proxies.is_empty()
            && !names_elsewhere
        {
            Exposure::Loopback
        } else {
            Exposure::Network
        };
        let served: Vec<String> = [url_host(&public_url), url_host(&public_http_url)]
            .into_iter()
            .flatten()
            .chain(bound_host(https_addr.ip()))
            .chain(bound_host(http_addr.ip()))
            .chain(settings.allowed_hosts.iter().cloned())
            .collect();
        let endpoints = crate::endpoints::Endpoints::new(&public_url, &public_http_url)
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
        };
        let handles = crate::state::TlsHandles {
            resolver: tls.resolver().clone(),
            server: server_config.clone(),
        };
        let state = AppState::new(config, fixtures, store, Some(handles));
        if state.store.as_redis().is_some() {
            // Mall domains added through another replica get their certificate here too, as
            // soon as this replica has read the directory (it does every second).
            let shared = state.clone();
            tls.resolver().set_allow(move |name| {
                shared.store.last_directory().companies().any(|c| {
                    c.cus_url
                        .as_deref()
                        .and_then(crate::tls::host_of_url)
                        .is_some_and(|h| h.eq_ignore_ascii_case(name))
                })
            });
        }

        let restored = match (&settings.state, state.store.as_memory()) {
            (Some(path), Some(memory)) => crate::persist::load(memory, path)?,
            _ => None,
        };
        // Two servers, each with its own workers and accept loop: TLS handshakes that never
        // finish can hold the HTTPS side's connection slots, and must not stall plain HTTP.
        let https_server = serve(&state, &settings, https, Some(server_config))?;
        let http_server = serve(&state, &settings, http, None)?;

        Ok(Application {
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
            state_file: settings
                .state
                .clone()
                .map(|p| (p, Duration::from_secs(settings.state_interval_seconds))),
            restored,
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

    /// Writes the start-up lines: where it listens, what to trust, what was loaded.
    pub fn announce(&self) {
        let c = &self.state.config;
        let dir = match self.state.store.as_memory() {
            Some(memory) => memory.directory(),
            None => std::sync::Arc::new(crate::directory::Directory::from_fixtures(
                &self.state.loaded(),
            )),
        };
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
        tracing::info!(
            "fixtures from {}: {} companies, {} members, {} vendors",
            self.fixtures_from,
            dir.companies().count(),
            dir.members().count(),
            dir.vendors().count()
        );
        if let Some(token) = &c.control_token {
            tracing::warn!("the control API (/_sim/api/) requires `Authorization: Bearer {token}`");
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
        if let Some((path, _)) = &self.state_file {
            match &self.restored {
                Some(r) => tracing::info!(
                    "state restored from {}: {} live tokens, {} journal events",
                    path.display(),
                    r.tokens,
                    r.events
                ),
                None => tracing::info!("state will be kept in {}", path.display()),
            }
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

    /// Runs until the server stops (SIGTERM or Ctrl-C: requests in flight finish first).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.handle();
        let state = self.state.clone();
        let sweeper = actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Some(memory) = state.store.as_memory() {
                    crate::tokens::TokenStore::sweep(&memory.tokens, crate::clock::now_ms());
                }
            }
        });
        // With Redis: read the directory every second, so that what this replica checks without
        // asking Redis (hosts served, certificates) follows changes made through the others.
        let shared = self.state.clone();
        let refresher = actix_web::rt::spawn(async move {
            if shared.store.as_redis().is_none() {
                return;
            }
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let _ = shared.store.directory().await;
            }
        });
        let noise = actix_web::rt::spawn(crate::telemetry::summarize());
        let calls = actix_web::rt::spawn(crate::telemetry::summarize_calls());
        let watcher = self.watch.clone().map(|dir| {
            actix_web::rt::spawn(crate::watch::run(
                self.state.clone(),
                dir,
                Duration::from_millis(500),
            ))
        });
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            handle.stop(true).await;
        });
        let saver = self.state_file.clone().map(|(path, every)| {
            let state = self.state.clone();
            actix_web::rt::spawn(async move {
                let Some(memory) = state.store.as_memory() else {
                    return;
                };
                let mut last = crate::persist::signature(memory);
                let mut tick = actix_web::rt::time::interval(every);
                loop {
                    tick.tick().await;
                    let now = crate::persist::signature(memory);
                    if now != last {
                        last = now;
                        save_state(&state, &path).await;
                    }
                }
            })
        });
        let [https, http] = self.servers;
        let (a, b) = futures_util::future::join(https, http).await;
        let result = a.and(b);
        sweeper.abort();
        refresher.abort();
        if let Some(redis) = self.state.store.as_redis() {
            // Events still on their way to Redis.
            let flushed = tokio::time::timeout(Duration::from_secs(2), redis.flush()).await;
            if !matches!(flushed, Ok(Ok(()))) {
                tracing::warn!(
                    "journal: events still queued at exit could not be written to Redis"
                );
            }
        }
        noise.abort();
        calls.abort();
        if let Some(s) = saver {
            s.abort();
        }
        if let Some((path, _)) = &self.state_file {
            save_state(&self.state, path).await;
        }
        if let Some(w) = watcher {
            w.abort();
        }
        result
    }
}

/// The hosts of the companies' own mall domains.
pub fn mall_hosts(fixtures: &Fixtures) -> impl Iterator<Item = String> + '_ {
    fixtures
        .companies
        .iter()
        .filter_map(|c| c.cus_url.as_deref().and_then(crate::tls::host_of_url))
}

/// Stops both servers of an [`Application`].
#[derive(Clone)]
pub struct AppHandle([actix_web::dev::ServerHandle; 2]);

impl AppHandle {
    /// Stops accepting connections; with `graceful`, requests in flight finish first.
    pub fn stop(&self, graceful: bool) -> impl std::future::Future<Output = ()> {
        let [a, b] = self.0.clone();
        let (a, b) = (a.stop(graceful), b.stop(graceful));
        async move {
            futures_util::future::join(a, b).await;
        }
    }
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
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(crate::access::CanonicalPath)
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .configure(crate::routes::configure)
    })
    .disable_signals()
    .shutdown_timeout(10)
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
/// mall domain is seen. One worker; stopped by the caller.
pub fn decoy(state: &AppState) -> std::io::Result<(Server, SocketAddr)> {
    let tls = state
        .tls
        .as_ref()
        .map(|t| t.server.clone())
        .ok_or_else(|| std::io::Error::other("no TLS configuration"))?;
    let listener = TcpListener::bind((crate::conform::DECOY_IP, 0))?;
    let addr = listener.local_addr()?;
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .wrap(crate::access::CanonicalPath)
            .app_data(data.clone())
            .configure(crate::routes::configure)
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

/// Saves state off the async threads; a failure is logged (the next save tries again).
async fn save_state(state: &AppState, path: &std::path::Path) {
    let (state, path) = (state.clone(), path.to_owned());
    let shown = path.display().to_string();
    let save = move || match state.store.as_memory() {
        Some(memory) => crate::persist::save(memory, &path),
        None => anyhow::bail!("only the memory store is saved to a file"),
    };
    match actix_web::rt::task::spawn_blocking(save).await {
        Ok(Ok(saved)) => tracing::debug!(
            tokens = saved.tokens,
            events = saved.events,
            bytes = saved.bytes,
            "state saved to {shown}"
        ),
        Ok(Err(e)) => tracing::error!("cannot save state to {shown}: {e:#}"),
        Err(e) => tracing::error!("cannot save state to {shown}: {e}"),
    }
}

/// The store `--store` names: this process's memory, or Redis (waiting for it, seeding it when
/// empty, and taking the cookie key every replica shares).
async fn open_store(settings: &Settings, fixtures: &Fixtures) -> anyhow::Result<Store> {
    let url = settings.store.trim();
    if url.is_empty() || url == "memory" {
        return Ok(Store::memory(MemoryStore::new(
            MemoryTokenStore::new(
                settings.max_live_tokens,
                settings.token_retention_seconds * 1000,
            ),
            fixtures,
            Journal::new(
                settings.journal_capacity as usize,
                settings.journal_max_bytes,
            ),
        )));
    }
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        anyhow::bail!(
            "--store {}: not `memory`, nor a redis:// or rediss:// URL",
            crate::store::redis::shown_url(url)
        );
    }
    if settings.state.is_some() {
        anyhow::bail!(
            "--state saves this process's memory; with --store redis://… the state lives in Redis (give Redis persistence instead): leave --state out"
        );
    }
    let redis = crate::store::RedisStore::connect(
        url,
        fixtures,
        crate::store::redis::Options {
            max_live: settings.max_live_tokens,
            retention_ms: settings.token_retention_seconds * 1000,
            journal_capacity: settings.journal_capacity as usize,
        },
    )
    .await?;
    // The cookie key: derived from the control token when one is set (every replica of an
    // environment has it, whatever happens to Redis), else the first replica's, kept in Redis.
    let key = match settings.control_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => {
            let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.as_bytes());
            let tag = ring::hmac::sign(&derive, b"benecafe-sim cookie key");
            tag.as_ref().to_vec()
        }
        None => redis
            .secret("session", &crate::domain::OtpToken::generate().to_string())
            .await?
            .into_bytes(),
    };
    if !crate::session::share_key(&key) {
        tracing::warn!("this process already signs cookies with its own key: cookies signed by other replicas will not be accepted");
    }
    Ok(Store::redis(redis))
}

/// The control token; a generated one is shared through Redis, so that one token opens every
/// replica.
async fn shared_control_token(
    settings: &Settings,
    exposure: Exposure,
    store: &Store,
) -> anyhow::Result<Option<String>> {
    let token = control_token(settings, exposure);
    let generated = settings.control_token.as_deref().is_none_or(str::is_empty);
    match (token, store.as_redis()) {
        (Some(token), Some(redis)) if generated => Ok(Some(redis.secret("control", &token).await?)),
        (token, _) => Ok(token),
    }
}

/// The control API's bearer token: the configured one, or a generated one when a listener is
/// bound beyond loopback, or none (open on loopback).
fn control_token(settings: &Settings, exposure: Exposure) -> Option<String> {
    if let Some(token) = settings.control_token.clone().filter(|t| !t.is_empty()) {
        return Some(token);
    }
    if exposure == Exposure::Loopback {
        return None;
    }
    Some(crate::domain::OtpToken::generate().to_string())
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

/// `benecafe-sim conform`: starts the simulator, runs every case against the vendor's GATE,
/// writes the reports. Exit 0 when every case passes, 1 when one fails, 2 when it cannot run.
async fn conform(args: crate::cli::ConformArgs) -> std::process::ExitCode {
    let _logs = crate::telemetry::init(&args.settings);
    let could_not = |why: String| {
        eprintln!("benecafe-sim conform: cannot run: {why}");
        std::process::ExitCode::from(2)
    };
    let app = match Application::build(args.settings.clone()).await {
        Ok(app) => app,
        Err(e) => return could_not(format!("{e:#}")),
    };
    let state = app.state().clone();
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let timeout = Duration::from_secs(args.timeout_seconds.max(1));
    let result = crate::conform::run(&state, &args.vendor, args.member.as_deref(), timeout).await;
    handle.stop(true).await;
    let _ = server.await;
    let report = match result {
        Ok(r) => r,
        Err(why) => return could_not(why),
    };
    print!("{}", crate::conform::report::table(&report));
    let write = |path: &Option<std::path::PathBuf>, text: String| match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => Ok(()),
    };
    if let Err(e) = write(&args.junit, crate::conform::report::junit(&report))
        .and_then(|_| write(&args.html, crate::conform::report::html(&report)))
    {
        return could_not(e);
    }
    std::process::ExitCode::from(report.exit_code())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("can listen for SIGTERM");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The whole program: parse settings from `args`, start, serve until stopped.
pub async fn main_with_args(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    use clap::Parser;
    let settings = match crate::cli::Cli::try_parse_from(args) {
        Ok(cli) => match cli.into_command() {
            crate::cli::Command::Serve(settings) => settings,
            crate::cli::Command::Conform(args) => return conform(args).await,
        },
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let _logs = crate::telemetry::init(&settings);
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("benecafe-sim: cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    app.announce();
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benecafe-sim: server error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
