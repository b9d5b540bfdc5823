//! The shared state of a running simulator: the settings handlers need ([`Config`]), the
//! [`Store`] and the cookie keys, behind a cheap `Clone` handle around `Arc<Shared>`. The handle
//! carries the store a request acts on: the base's, or a sandbox's ([`AppState::in_sandbox`]),
//! so a handler acts inside the sandbox its caller named without knowing it.

use std::ops::Deref;
use std::sync::{Arc, RwLock};

use ipnet::IpNet;

use crate::domain::directory::Directory;
use crate::domain::fixtures::Fixtures;
use crate::domain::hosts::{Exposure, ServedHosts};
use crate::protocol::CertStatus;
use crate::store::{Store, StoreError};
use crate::web::client_ip::ForwardedHeader;
use crate::web::session::CookieKeys;

/// What the handlers need of the settings, fixed once the listeners are bound.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CUS_URL`: the public HTTPS base, no trailing slash.
    pub public_url: String,
    /// The public plain-HTTP base, no trailing slash.
    pub public_http_url: String,
    /// Every URL the simulator gives out.
    pub endpoints: crate::protocol::endpoints::Endpoints,
    /// Default token lifetime, in milliseconds.
    pub token_ttl_ms: u64,
    /// Proxies whose forwarding headers count.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether the cert endpoint answers on plain HTTP.
    pub allow_plain_http_cert: bool,
    /// The cert endpoint's HTTP status rule.
    pub cert_status: CertStatus,
    /// Member fields on every GATE.
    pub force_member_fields: bool,
    /// The bearer token the control API requires, when it is not open (see [`crate::web::guard`]).
    pub control_token: Option<String>,
    /// Whether a listener is bound beyond loopback.
    pub exposure: Exposure,
    /// `--open-pages`: the pages stay open beyond loopback.
    pub open_pages: bool,
    /// The host names requests may name (`Host`, `Origin`).
    pub served_hosts: ServedHosts,
    /// The forwarding header trusted proxies set.
    pub forwarded_header: ForwardedHeader,
    /// How long a client may take to send a request body.
    pub body_timeout: std::time::Duration,
    /// Longest query string accepted (414 beyond).
    pub max_query_bytes: usize,
    /// Largest body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// What the built-in partner's HTTPS client trusts (the local CA, or the user's chain).
    pub tls_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// This replica's id (`--replica-id`): the `X-Sim-Replica` header, healthz, version.
    pub replica: Arc<str>,
}

impl Config {
    /// Whether the pages that show member data need the operator's sign-in.
    pub fn pages_need_sign_in(&self) -> bool {
        self.exposure == Exposure::Network && !self.open_pages && self.control_token.is_some()
    }
}

/// Everything shared between requests.
pub struct Shared {
    pub config: Config,
    /// Tokens, directory, faults, journal: the state replicas share (see [`crate::store`]).
    pub store: Store,
    /// What signs the cookies (member session, operator sign-in, the built-in partner's token).
    pub cookies: CookieKeys,
    /// The fixtures as loaded at start (what a reset goes back to). A std `RwLock`, held only to
    /// clone or replace them, never across an await.
    loaded: RwLock<Fixtures>,
    /// Failed operator sign-ins by address (lockouts) and their log lines.
    pub sign_in_failures: crate::web::guard::throttle::SignInFailures,
    /// What `--watch` did with the changes it saw (shown by `/_sim/healthz`).
    pub fixture_reloads: FixtureReloads,
    /// The HTTPS side: the certificate chooser (told about mall domains added at run time) and
    /// the server configuration (for the conformance kit's decoy listener).
    pub tls: Option<TlsHandles>,
    /// The conformance runs under way (at most [`MAX_CONFORM_RUNS`]).
    pub conform_runs: tokio::sync::Semaphore,
    /// Set once the process is told to stop: `/_sim/readyz` then answers 503 "draining" while
    /// requests are still served (see `--drain-seconds`).
    pub draining: std::sync::atomic::AtomicBool,
    /// Requests being answered, which a stop waits for (and for nothing else).
    pub in_flight: Arc<crate::web::in_flight::InFlight>,
}

/// Conformance runs one simulator makes at once (the control API and the page answer 429
/// beyond): each holds a decoy listener and a simulated browser's connections for seconds.
pub const MAX_CONFORM_RUNS: usize = 2;

/// How many changed fixture folders `--watch` loaded, and how many it refused (not valid).
#[derive(Debug, Default)]
pub struct FixtureReloads {
    pub loaded: std::sync::atomic::AtomicU64,
    pub refused: std::sync::atomic::AtomicU64,
}

/// What the running simulator keeps of its TLS set-up.
pub struct TlsHandles {
    /// Makes certificates for hosts named at run time (a company's mall domain).
    pub certificates: Arc<dyn Certificates>,
    /// The HTTPS server's configuration, for the conformance kit's decoy listener.
    pub server: rustls::ServerConfig,
    /// Starts the conformance kit's decoy listener on a port (0: any free one); the process
    /// builds servers, the edge only asks for one.
    pub decoy:
        fn(&AppState, u16) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)>,
    /// What partners trust, as PEM (`GET /_sim/ca.pem`): the local CA's certificate, or the
    /// chain given with `--tls-cert`.
    pub trust_pem: Vec<u8>,
}

/// A certificate authority the edge can ask for a host's certificate at run time; the process
/// (`app/tls.rs`) gives it one.
pub trait Certificates: Send + Sync {
    /// Serves `host` from now on, with a certificate signed by the local CA. Refused, saying what
    /// to do, for a name the CA may not sign for or past the most it signs per run.
    fn add_host(&self, host: &str) -> anyhow::Result<()>;
}

/// The handle the handlers get: a cheap `Clone` around `Arc<Shared>`, and the store this
/// request acts on (`Shared::store` is always the base's).
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
    /// The base's store, or a sandbox's.
    pub store: Store,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

impl AppState {
    /// The state of a simulator whose cookies are signed with keys derived from `cookie_key`
    /// (simulators given the same bytes accept each other's cookies).
    pub fn new(
        config: Config,
        fixtures: Fixtures,
        store: Store,
        cookie_key: &[u8],
        tls: Option<TlsHandles>,
    ) -> Self {
        AppState {
            store: store.clone(),
            shared: Arc::new(Shared {
                config,
                store,
                cookies: CookieKeys::derive(cookie_key),
                loaded: RwLock::new(fixtures),
                fixture_reloads: FixtureReloads::default(),
                sign_in_failures: Default::default(),
                tls,
                conform_runs: tokio::sync::Semaphore::new(MAX_CONFORM_RUNS),
                draining: Default::default(),
                in_flight: Default::default(),
            }),
        }
    }

    /// The same state acting inside a sandbox (`store`: the sandbox's view).
    pub fn in_sandbox(&self, store: Store) -> AppState {
        AppState {
            shared: self.shared.clone(),
            store,
        }
    }

    /// The base's store, whatever sandbox this request acts in (sandboxes are made there).
    pub fn shared_store(&self) -> &Store {
        &self.shared.store
    }

    /// What issuing a GATE needs of this simulator (in this request's sandbox, if any).
    pub fn issuer(&self) -> crate::protocol::gate::Issuer<'_> {
        crate::protocol::gate::Issuer {
            store: &self.store,
            endpoints: &self.config.endpoints,
            token_ttl_ms: self.config.token_ttl_ms,
            force_member_fields: self.config.force_member_fields,
        }
    }

    /// Back to the loaded fixtures: no run-time changes, consents or deliveries beyond them, no
    /// tokens, an empty journal, no faults. In a sandbox: back to what it was made from.
    pub async fn reset(&self) -> Result<(), StoreError> {
        self.store.reset(&self.loaded()).await
    }
}

impl AppState {
    /// Starts the conformance kit's decoy listener: this simulator's routes on the spoofed mall
    /// address, on `port` (0: any free one), stopped by the caller.
    pub fn start_decoy(
        &self,
        port: u16,
    ) -> std::io::Result<(actix_web::dev::Server, std::net::SocketAddr)> {
        match &self.tls {
            Some(tls) => (tls.decoy)(self, port),
            None => Err(std::io::Error::other("no TLS configuration")),
        }
    }
}

impl Shared {
    /// Serves a company's mall domain from now on: a certificate for its host, signed by the
    /// local CA, without a restart and without anything new to trust. `Err`: why it cannot be
    /// (the host is outside what the CA may sign, or the CA signed its most for this run).
    pub fn serve_mall_domain(&self, cus_url: &str) -> Result<(), String> {
        let (Some(tls), Some(host)) = (&self.tls, crate::domain::hosts::host_of_url(cus_url))
        else {
            return Ok(());
        };
        tls.certificates
            .add_host(&host)
            .map_err(|e| format!("{e:#}"))
    }

    /// The fixtures loaded at start (or last reloaded).
    pub fn loaded(&self) -> Fixtures {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes newly loaded fixtures (a watched file changed): they replace the directory and
    /// become what a reset goes back to. What was delivered to whom is kept, so an unchanged
    /// member is not sent again.
    pub async fn reload(&self, fixtures: Fixtures) -> Result<(), StoreError> {
        self.store
            .update_directory(|dir| {
                let mut fresh = Directory::from_fixtures(&fixtures);
                fresh.carry_deliveries_from(dir);
                *dir = fresh;
                Ok::<_, std::convert::Infallible>(())
            })
            .await?
            .unwrap_or_else(|never| match never {});
        for c in &fixtures.companies {
            if let Some(url) = &c.cus_url {
                if let Err(e) = self.serve_mall_domain(url) {
                    tracing::warn!("company {}: no certificate for {url}: {e}", c.code);
                }
            }
        }
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = fixtures;
        Ok(())
    }
}
