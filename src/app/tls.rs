//! The HTTPS listener's certificates. A partner trusts one thing, once: with `--tls-cert/--tls-key`
//! that is the user's certificate, served for every name; otherwise a local CA kept in the data
//! folder (`ca.pem`, like mkcert's root or Caddy's internal issuer). The CA signs a leaf for each
//! host name the simulator serves, picked per connection by SNI, so names that appear later (a
//! public URL, companies' mall hosts) need no new file to trust, which a lone self-signed
//! certificate (the previous version's `cert.pem`) could not give. It signs only within its name
//! constraints (`tls_scope.rs`), and only so many leaves per run.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

pub use super::tls_ca::provider;
use super::tls_ca::{fingerprint, not_a_pair, verify, LocalCa, PROBE_NAME};
use super::tls_scope::Scope;

/// What a local partner or browser dials; always in the default leaf.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Leaves signed after start (for hosts added at run time, or let in by the allow rule), at
/// most: a rule that is too broad, a client sending random names or a script adding companies
/// cannot make the server sign and hold ever more of them.
const MAX_LEAVES: usize = 1024;

/// Which SNI names, beyond those given at start or with [`SniResolver::add_host`], get a leaf.
type AllowFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The certificates in use and what clients must trust.
pub struct TlsMaterial {
    /// The local CA's certificate, or the user's chain (leaf first).
    trust: Vec<CertificateDer<'static>>,
    /// The file to give partners: `ca.pem`, or the user's certificate.
    pub cert_path: PathBuf,
    /// Whether this start made the CA.
    pub generated: bool,
    /// Lines for the start-up log (the caller logs them with `tracing::warn!`).
    pub notes: Vec<String>,
    resolver: Arc<SniResolver>,
}

impl TlsMaterial {
    /// Loads the user's files, or the local CA in `data_dir` (making it if absent). `hosts` are
    /// the names served besides localhost, 127.0.0.1 and ::1 (the public URL's host, mall hosts,
    /// `--tls-hosts`); the default leaf names them all, and a CA made now may sign for them.
    /// A CA that may sign for any name (made by an earlier version), or not for all of `hosts`,
    /// is replaced, with a note saying so.
    pub fn load_or_generate(
        cert: Option<&Path>,
        key: Option<&Path>,
        data_dir: &Path,
        hosts: &[String],
    ) -> anyhow::Result<Self> {
        if let (Some(cert), Some(key)) = (cert, key) {
            return Self::from_user_files(cert, key);
        }
        let hosts = hosts
            .iter()
            .map(|h| normalize_host(h))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let wanted = Scope::for_hosts(hosts.iter().map(String::as_str));
        let (ca_path, key_path) = (data_dir.join("ca.pem"), data_dir.join("ca-key.pem"));
        let (ca, key) = (ca_path.display(), key_path.display());
        let mut notes = Vec::new();
        // Without ca.pem nobody can trust the CA yet, so a lone key (a first start that stopped
        // half-way) is replaced; a lone ca.pem may be trusted already, so it is never replaced.
        let (local, generated) = match (ca_path.exists(), key_path.exists()) {
            (true, true) => {
                let old = LocalCa::load(&ca_path, &key_path)?;
                let why = match &old.scope {
                    None => "it could sign a certificate for any name (it has no name constraints)"
                        .to_owned(),
                    Some(scope) => {
                        let outside = scope.outside(hosts.iter().map(String::as_str));
                        if outside.is_empty() {
                            return Self::with_ca(old, false, &hosts, &ca_path, &key_path, notes);
                        }
                        format!(
                            "it may not sign for {}, named at this start",
                            outside.join(", ")
                        )
                    }
                };
                // What a constrained CA could sign stays signable by the new one, so starts
                // with different hosts do not make a new CA each time.
                let mut scope = old.scope.clone().unwrap_or(wanted);
                scope.extend(hosts.iter().map(String::as_str));
                let new = LocalCa::create(data_dir, &ca_path, &key_path, scope)?;
                notes.push(format!(
                    "!!! {ca} was REPLACED by a new local CA: {why}. Partners must trust the \
                     new {ca} (SHA-256 {}) and remove the old \"benecafe-sim local CA\" (key \
                     {}) from their trust stores; its key was overwritten, so it signs nothing \
                     more. The new CA signs only for {}. !!!",
                    fingerprint(std::slice::from_ref(&new.cert)),
                    old.id,
                    new.scope.as_ref().map(Scope::to_string).unwrap_or_default(),
                ));
                (new, true)
            }
            (false, _) => (
                LocalCa::create(data_dir, &ca_path, &key_path, wanted)?,
                true,
            ),
            (true, false) => bail!(
                "{ca} is there but its key {key} is missing: restore the key, or move {ca} away \
                 to make a new CA (partners will then have to trust the new {ca})"
            ),
        };
        Self::with_ca(local, generated, &hosts, &ca_path, &key_path, notes)
    }

    /// The material of the local CA `local`, serving `hosts` with its default leaf.
    fn with_ca(
        local: LocalCa,
        generated: bool,
        hosts: &[String],
        ca_path: &Path,
        key_path: &Path,
        mut notes: Vec<String>,
    ) -> anyhow::Result<Self> {
        let ca = ca_path.display();
        let trust = vec![local.cert.clone()];
        let resolver = Arc::new(SniResolver::with_ca(local, hosts)?);
        // A leaf that ca.pem does not verify would fail every partner at run time; say so now.
        verify(&trust, &resolver.default, PROBE_NAME)
            .with_context(|| not_a_pair(ca_path, key_path))?;
        let old = ca_path.with_file_name("cert.pem");
        if old.exists() {
            notes.push(format!(
                "{} (the self-signed certificate of an older benecafe-sim) is no longer served: \
                 partners should trust {ca} instead (SHA-256 {}). The old cert.pem and key.pem \
                 were left in place and can be deleted.",
                old.display(),
                fingerprint(&trust)
            ));
        }
        Ok(TlsMaterial {
            trust,
            cert_path: ca_path.to_owned(),
            generated,
            notes,
            resolver,
        })
    }

    fn from_user_files(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("cannot read the certificate {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
        if chain.is_empty() {
            bail!("{} holds no certificate", cert.display());
        }
        let der = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("{} is not a PEM private key", key.display()))?;
        let leaf = CertifiedKey::from_der(chain.clone(), der, &provider()).with_context(|| {
            let (cert, key) = (cert.display(), key.display());
            format!("{cert} and {key} do not make a TLS identity (is it that certificate's key?)")
        })?;
        let resolver = Arc::new(SniResolver::single(Arc::new(leaf)));
        let (trust, cert_path, notes) = (chain, cert.to_owned(), Vec::new());
        Ok(TlsMaterial {
            trust,
            cert_path,
            generated: false,
            notes,
            resolver,
        })
    }

    /// The certificates a client must trust: the local CA, or the user's chain.
    pub fn trust_anchors(&self) -> Vec<CertificateDer<'static>> {
        self.trust.clone()
    }

    /// SHA-256 of what partners trust (the CA, or the user's leaf), as `AB:CD:...`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.trust)
    }

    /// The resolver, to add host names at run time.
    pub fn resolver(&self) -> &Arc<SniResolver> {
        &self.resolver
    }

    /// A rustls server configuration with rustls' safe defaults, the ring provider, and the
    /// resolver choosing a certificate per connection.
    pub fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        Ok(rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone()))
    }
}

/// Picks the certificate for each TLS connection by SNI. With the local CA: the cached leaf for
/// the name, else a new leaf if the name is allowed and within the CA's scope, else the default
/// leaf. Other names never make the server sign anything; their clients get the default leaf and
/// their hostname check fails, which is the right answer. With the user's certificate: always
/// that.
pub struct SniResolver {
    ca: Option<LocalCa>,
    /// For clients sending no SNI (IP addresses), or a name not allowed.
    default: Arc<CertifiedKey>,
    default_names: Vec<String>,
    allow: RwLock<Option<AllowFn>>,
    /// The leaf of each name: the default one for the names given at start, then those signed
    /// since.
    leaves: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// How many of `leaves` are the names given at start.
    at_start: usize,
}

/// Why a host gets no certificate of its own.
fn outside_scope(host: &str, scope: &str) -> String {
    format!(
        "the local CA may not sign a certificate for {host}: partners trust ca.pem for {scope} \
         only. To serve it, start the simulator with --tls-hosts {host} (a new ca.pem is made \
         then, which partners must trust)"
    )
}

impl SniResolver {
    fn with_ca(ca: LocalCa, hosts: &[String]) -> anyhow::Result<Self> {
        let mut names: Vec<String> = LOCAL_NAMES.map(String::from).to_vec();
        for host in hosts {
            let host = normalize_host(host)?;
            if !names.contains(&host) {
                names.push(host);
            }
        }
        let leaf = ca
            .issue(&names)
            .context("cannot sign the default certificate")?;
        // Names known at start are served the default leaf, which names them all.
        let dns = names.iter().filter(|n| n.parse::<IpAddr>().is_err());
        let leaves: HashMap<_, _> = dns.map(|n| (n.clone(), leaf.clone())).collect();
        let mut resolver = Self::single(leaf);
        resolver.ca = Some(ca);
        resolver.default_names = names;
        resolver.at_start = leaves.len();
        resolver.leaves = RwLock::new(leaves);
        Ok(resolver)
    }

    fn single(default: Arc<CertifiedKey>) -> Self {
        SniResolver {
            ca: None,
            default,
            default_names: Vec::new(),
            allow: RwLock::default(),
            leaves: RwLock::default(),
            at_start: 0,
        }
    }

    /// Serves a name from now on with a leaf of its own, signed now. Refused, with what to do,
    /// for a name outside the CA's scope, an address not given at start, and past the most
    /// leaves signed per run. With the user's certificate nothing changes (it serves every name
    /// as it is).
    pub fn add_host(&self, host: &str) -> anyhow::Result<()> {
        let host = normalize_host(host)?;
        let Some(ca) = &self.ca else { return Ok(()) };
        if self.default_names.contains(&host) || read(&self.leaves).contains_key(&host) {
            return Ok(());
        }
        if host.parse::<IpAddr>().is_ok() {
            // Clients send no SNI for an address, so only the default leaf, made at start, can
            // name it.
            bail!("{host} is an IP address: give it at start (--tls-hosts)");
        }
        self.sign(ca, &host).map(|_| ())
    }

    /// Also allows every SNI name `allow` accepts (say, every company's mall host, looked up in
    /// the live directory). It must not accept just any name: clients choose SNI freely.
    pub fn set_allow(&self, allow: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *write(&self.allow) = Some(Arc::new(allow));
    }

    /// The leaf for an SNI name, issuing it if the name is allowed; `None`: use the default.
    fn leaf_for(&self, name: &str) -> anyhow::Result<Option<Arc<CertifiedKey>>> {
        if let Some(leaf) = read(&self.leaves).get(name) {
            return Ok(Some(leaf.clone()));
        }
        let Some(ca) = &self.ca else { return Ok(None) };
        // Called with no lock held, so that the rule may itself call `add_host` or `set_allow`.
        let rule = read(&self.allow).clone();
        if !rule.is_some_and(|allow| allow(name)) {
            return Ok(None);
        }
        // A company's host the CA may not sign for (refused when it was added here, but added
        // through another replica or kept in --state) gets the default leaf, without a warning
        // at every connection.
        if !ca.scope.as_ref().is_some_and(|s| s.permits(name)) {
            return Ok(None);
        }
        self.sign(ca, name).map(Some)
    }

    /// Signs a leaf for `name` and keeps it, within the CA's scope and the most per run.
    fn sign(&self, ca: &LocalCa, name: &str) -> anyhow::Result<Arc<CertifiedKey>> {
        let scope = ca.scope.as_ref();
        if !scope.is_some_and(|s| s.permits(name)) {
            let scope = scope.map(Scope::to_string).unwrap_or_default();
            bail!(outside_scope(name, &scope));
        }
        let full = |n: usize| n.saturating_sub(self.at_start) >= MAX_LEAVES;
        let refused = || {
            anyhow::anyhow!(
                "the local CA has signed {MAX_LEAVES} certificates since start, the most it signs \
                 per run: {name} gets none. Name the hosts at start instead (--tls-hosts, or the \
                 companies' cusUrl in the fixtures), which all share one certificate"
            )
        };
        if full(read(&self.leaves).len()) {
            return Err(refused());
        }
        let leaf = ca.issue(&[name.to_owned()])?;
        // Two first connections at once may both sign; every later one gets the kept leaf.
        let mut leaves = write(&self.leaves);
        if let Some(kept) = leaves.get(name) {
            return Ok(kept.clone());
        }
        if full(leaves.len()) {
            return Err(refused());
        }
        leaves.insert(name.to_owned(), leaf.clone());
        Ok(leaf)
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello
            .server_name()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase());
        match name.map(|n| self.leaf_for(&n)) {
            Some(Ok(Some(leaf))) => Some(leaf),
            None | Some(Ok(None)) => Some(self.default.clone()),
            Some(Err(e)) => {
                tracing::warn!("serving the default certificate: cannot issue one: {e:#}");
                Some(self.default.clone())
            }
        }
    }
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver")
            .field("local_ca", &self.ca.is_some())
            .field("default_names", &self.default_names)
            .field("leaves", &read(&self.leaves).len())
            .finish_non_exhaustive()
    }
}

/// A host name or IP address as certificates and SNI carry it: lower case, no brackets or
/// trailing dot.
fn normalize_host(host: &str) -> anyhow::Result<String> {
    let trimmed = host.trim().trim_start_matches('[').trim_end_matches(']');
    let host = trimmed.trim_end_matches('.').to_ascii_lowercase();
    if ServerName::try_from(host.as_str()).is_err() {
        bail!("{host:?} is not a host name or IP address (give it without port or scheme)");
    }
    Ok(host)
}

// A panic elsewhere while holding one of these locks leaves the maps whole (they are only
// inserted into), so a poisoned lock is used as it is rather than failing every handshake.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl crate::web::state::Certificates for SniResolver {
    fn add_host(&self, host: &str) -> anyhow::Result<()> {
        SniResolver::add_host(self, host)
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
