//! The HTTPS listener's certificates. A partner trusts one thing, once: with `--tls-cert/--tls-key`
//! that is the user's certificate, served for every name; otherwise a local CA kept in the data
//! folder (`ca.pem`, like mkcert's root or Caddy's internal issuer). The CA signs a leaf for each
//! host name the simulator serves, picked per connection by SNI, so names that appear later (a
//! public URL, companies' mall hosts) need no new file to trust, which a lone self-signed
//! certificate (the previous version's `cert.pem`) could not give.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

const DAY: u64 = 24 * 60 * 60;
const CA_DAYS: u64 = 3650;
/// Leaves live in memory only and are made again at each start; a year stays under the 398 days
/// browsers accept.
const LEAF_DAYS: u64 = 365;
/// What a local partner or browser dials; always in the default leaf.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Leaves issued for names let in by the allow rule are kept up to this many, so a rule that is
/// too broad and a client sending random names cannot make the server hold ever more of them.
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
    /// `--tls-hosts`); the default leaf names them all.
    pub fn load_or_generate(
        cert: Option<&Path>,
        key: Option<&Path>,
        data_dir: &Path,
        hosts: &[String],
    ) -> anyhow::Result<Self> {
        if let (Some(cert), Some(key)) = (cert, key) {
            return Self::from_user_files(cert, key);
        }
        let (ca_path, key_path) = (data_dir.join("ca.pem"), data_dir.join("ca-key.pem"));
        let (ca, key) = (ca_path.display(), key_path.display());
        // Without ca.pem nobody can trust the CA yet, so a lone key (a first start that stopped
        // half-way) is replaced; a lone ca.pem may be trusted already, so it is never replaced.
        let (local, generated) = match (ca_path.exists(), key_path.exists()) {
            (true, true) => (LocalCa::load(&ca_path, &key_path)?, false),
            (false, _) => (LocalCa::create(data_dir, &ca_path, &key_path)?, true),
            (true, false) => bail!(
                "{ca} is there but its key {key} is missing: restore the key, or move {ca} away \
                 to make a new CA (partners will then have to trust the new {ca})"
            ),
        };
        let trust = vec![local.cert.clone()];
        let resolver = Arc::new(SniResolver::with_ca(local, hosts)?);
        // A leaf that ca.pem does not verify would fail every partner at run time; say so now.
        verify(&trust, &resolver.default, "localhost").with_context(|| {
            format!(
                "{ca} does not verify certificates signed with {key}: they are not a pair made \
                 by benecafe-sim, or the CA has expired. Move both away and start again to make \
                 a new CA (partners will then have to trust the new {ca})"
            )
        })?;
        let old = data_dir.join("cert.pem");
        let mut notes = Vec::new();
        if old.exists() {
            notes.push(format!(
                "{} (the self-signed certificate of an older benecafe-sim) is no longer served: \
                 partners should trust {ca} instead (SHA-256 {}). The old cert.pem and key.pem \
                 were left in place and can be deleted.",
                old.display(),
                fingerprint(&trust)
            ));
        }
        let cert_path = ca_path.clone();
        Ok(TlsMaterial {
            trust,
            cert_path,
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

/// The crypto provider: ring, which is ready at once (aws-lc-rs spends tens of milliseconds
/// gathering entropy before the first handshake can be served).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(trusted: &[CertificateDer<'static>]) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone())?;
    }
    Ok(roots)
}

/// Checks that a client trusting `trust` accepts `leaf` for `name`, as a partner would.
fn verify(
    trust: &[CertificateDer<'static>],
    leaf: &CertifiedKey,
    name: &str,
) -> anyhow::Result<()> {
    let roots = Arc::new(roots(trust)?);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider()).build()?;
    let (end_entity, intermediates) = leaf.cert.split_first().context("an empty chain")?;
    let name = ServerName::try_from(name.to_owned())?;
    verifier.verify_server_cert(end_entity, intermediates, &name, &[], UnixTime::now())?;
    Ok(())
}

/// SHA-256 of the first of `der`, as `AB:CD:...`, the form browsers and keytool show.
fn fingerprint(der: &[CertificateDer<'static>]) -> String {
    let digest = der
        .first()
        .map(|d| ring::digest::digest(&ring::digest::SHA256, d));
    let hex = digest
        .iter()
        .flat_map(|d| d.as_ref())
        .map(|b| format!("{b:02X}"));
    hex.collect::<Vec<_>>().join(":")
}

/// The CA's subject and usages. Leaves name the CA by this subject, so loading rebuilds the same
/// parameters (rcgen encodes them identically) instead of parsing ca.pem; the check in
/// `load_or_generate` catches a ca.pem not made this way. The unit, taken from the key, tells
/// CAs of different data folders apart (in trust stores, and to clients that match by subject).
fn ca_params(key: &rcgen::KeyPair) -> rcgen::CertificateParams {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key_raw());
    let id: String = digest
        .as_ref()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let dn = &mut params.distinguished_name;
    dn.push(rcgen::DnType::CommonName, "benecafe-sim local CA");
    dn.push(rcgen::DnType::OrganizationName, "benecafe-sim");
    dn.push(rcgen::DnType::OrganizationalUnitName, format!("key {id}"));
    // Path length 0: it signs leaves only.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    use rcgen::KeyUsagePurpose::{CrlSign, KeyCertSign};
    params.key_usages = vec![KeyCertSign, CrlSign];
    params
}

/// Valid from a day ago (partners' clocks drift) to `days` from now. The dates are made by
/// adding to rcgen's own date value, so that the `time` crate need not be a direct dependency.
fn set_validity(params: &mut rcgen::CertificateParams, days: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(Duration::from_secs(DAY));
    params.not_after = epoch + now + Duration::from_secs(days * DAY);
}

struct LocalCa {
    cert: CertificateDer<'static>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl LocalCa {
    fn create(dir: &Path, ca_path: &Path, key_path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
        let key = rcgen::KeyPair::generate()?;
        let mut params = ca_params(&key);
        set_validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key)?;
        // The key first: ca.pem appears only once its key is safely on disk.
        crate::store::files::write_private(key_path, key.serialize_pem().as_bytes())?;
        crate::store::files::write_replacing(ca_path, cert.pem().as_bytes(), 0o644)?;
        let (cert, issuer) = (cert.der().clone(), rcgen::Issuer::new(params, key));
        Ok(LocalCa { cert, issuer })
    }

    fn load(ca_path: &Path, key_path: &Path) -> anyhow::Result<Self> {
        let (ca, key) = (ca_path.display(), key_path.display());
        let move_away = "move ca.pem and ca-key.pem away to make a new CA";
        let cert = CertificateDer::from_pem_file(ca_path)
            .with_context(|| format!("{ca} is not a PEM certificate ({move_away})"))?;
        let pem =
            std::fs::read_to_string(key_path).with_context(|| format!("cannot read {key}"))?;
        let signing_key = rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("{key} is not a PEM private key ({move_away})"))?;
        let issuer = rcgen::Issuer::new(ca_params(&signing_key), signing_key);
        Ok(LocalCa { cert, issuer })
    }

    /// A leaf for `names` (the first one is its common name), with a key of its own.
    fn issue(&self, names: &[String]) -> anyhow::Result<Arc<CertifiedKey>> {
        let mut params = rcgen::CertificateParams::new(names.to_vec())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let common_name = names.first().map_or("benecafe-sim", String::as_str);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, LEAF_DAYS);
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let leaf = CertifiedKey::from_der(vec![cert.der().clone()], der, &provider())?;
        Ok(Arc::new(leaf))
    }
}

/// Picks the certificate for each TLS connection by SNI. With the local CA: the cached leaf for
/// the name, else a new leaf if the name is allowed, else the default leaf. Names not allowed
/// never make the server sign anything; their clients get the default leaf and their hostname
/// check fails, which is the right answer. With the user's certificate: always that.
pub struct SniResolver {
    ca: Option<LocalCa>,
    /// For clients sending no SNI (IP addresses), or a name not allowed.
    default: Arc<CertifiedKey>,
    default_names: Vec<String>,
    allowed: RwLock<HashSet<String>>,
    allow: RwLock<Option<AllowFn>>,
    leaves: RwLock<HashMap<String, Arc<CertifiedKey>>>,
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
        let leaves = dns.map(|n| (n.clone(), leaf.clone())).collect();
        let mut resolver = Self::single(leaf);
        resolver.ca = Some(ca);
        resolver.default_names = names;
        resolver.leaves = RwLock::new(leaves);
        Ok(resolver)
    }

    fn single(default: Arc<CertifiedKey>) -> Self {
        SniResolver {
            ca: None,
            default,
            default_names: Vec::new(),
            allowed: RwLock::default(),
            allow: RwLock::default(),
            leaves: RwLock::default(),
        }
    }

    /// Allows a name from now on; its leaf is signed at its first connection. With the user's
    /// certificate nothing changes (it serves every name as it is).
    pub fn add_host(&self, host: &str) -> anyhow::Result<()> {
        let host = normalize_host(host)?;
        if self.ca.is_some()
            && host.parse::<IpAddr>().is_ok()
            && !self.default_names.contains(&host)
        {
            // Clients send no SNI for an address, so only the default leaf, made at start, can
            // name it.
            bail!("{host} is an IP address: give it at start (--tls-hosts)");
        }
        write(&self.allowed).insert(host);
        Ok(())
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
        let listed = read(&self.allowed).contains(name);
        // Called with no lock held, so that the rule may itself call `add_host` or `set_allow`.
        let rule = read(&self.allow).clone();
        if !listed && !rule.is_some_and(|allow| allow(name)) {
            return Ok(None);
        }
        if !listed && read(&self.leaves).len() >= MAX_LEAVES {
            bail!("{MAX_LEAVES} certificates were issued already");
        }
        let leaf = ca.issue(&[name.to_owned()])?;
        // Two first connections at once may both sign; every later one gets the kept leaf.
        let mut leaves = write(&self.leaves);
        Ok(Some(leaves.entry(name.to_owned()).or_insert(leaf).clone()))
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
            .field("allowed", &*read(&self.allowed))
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
