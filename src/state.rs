//! The shared state of a running simulator: a cheap `Clone` handle around `Arc<Shared>`.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ipnet::IpNet;

use crate::access::{Exposure, ServedHosts};
use crate::directory::Directory;
use crate::faults::Faults;
use crate::fixtures::Fixtures;
use crate::journal::Journal;
use crate::settings::{CertStatus, ForwardedHeader};
use crate::tokens::TokenStore;

/// What the handlers need of the settings, fixed once the listeners are bound.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CUS_URL`: the public HTTPS base, no trailing slash.
    pub public_url: String,
    /// The public plain-HTTP base, no trailing slash.
    pub public_http_url: String,
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
    /// The bearer token the control API requires, when it is not open (see [`crate::access`]).
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
    /// PEM of the HTTPS certificate, for the built-in partner's client.
    pub tls_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
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
    /// Companies, members, vendors, consents, deliveries. A std `RwLock`: read on the hot path,
    /// written by the control API and by every GATE (delivery memory, consent); never held
    /// across an await.
    directory: RwLock<Directory>,
    /// The fixtures as loaded at start (what a reset goes back to).
    loaded: RwLock<Fixtures>,
    pub tokens: Box<dyn TokenStore>,
    pub journal: Journal,
    /// Faults injected through the control API.
    pub faults: Faults,
    /// Counts changes of the directory, so that saving state can tell whether anything changed.
    generation: AtomicU64,
}

/// The handle the handlers get.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        fixtures: Fixtures,
        tokens: Box<dyn TokenStore>,
        journal: Journal,
    ) -> Self {
        AppState(Arc::new(Shared {
            config,
            directory: RwLock::new(Directory::from_fixtures(&fixtures)),
            loaded: RwLock::new(fixtures),
            tokens,
            journal,
            faults: Faults::default(),
            generation: AtomicU64::new(0),
        }))
    }
}

impl Shared {
    /// Reads the directory. A poisoned lock only means a panic elsewhere mid-read of plain data.
    pub fn directory(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the directory.
    pub fn directory_mut(&self) -> RwLockWriteGuard<'_, Directory> {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.directory.write().unwrap_or_else(|e| e.into_inner())
    }

    /// How many times the directory was opened for change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Replaces the directory with saved fixtures, then lets `fill` add saved deliveries.
    pub fn restore_directory(&self, fixtures: &Fixtures, fill: impl FnOnce(&mut Directory)) {
        let mut fresh = Directory::from_fixtures(fixtures);
        fill(&mut fresh);
        *self.directory_mut() = fresh;
    }

    /// The fixtures loaded at start (or last reloaded).
    pub fn loaded(&self) -> Fixtures {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Back to the loaded fixtures: no run-time changes, consents or deliveries beyond them, no
    /// tokens, an empty journal, no faults.
    pub fn reset(&self) {
        let fresh = Directory::from_fixtures(&self.loaded());
        *self.directory_mut() = fresh;
        self.tokens.clear();
        self.journal.clear();
        self.faults.clear();
    }

    /// Takes newly loaded fixtures (a watched file changed): they replace the directory and
    /// become what a reset goes back to. What was delivered to whom is kept, so an unchanged
    /// member is not sent again.
    pub fn reload(&self, fixtures: Fixtures) {
        let mut fresh = Directory::from_fixtures(&fixtures);
        let mut dir = self.directory_mut();
        fresh.carry_deliveries_from(&dir);
        *dir = fresh;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = fixtures;
    }
}
