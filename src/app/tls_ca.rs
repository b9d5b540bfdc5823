//! The local CA: made once per data folder with its name constraints ([`super::tls_scope`]),
//! loaded back and checked against its key, and signing the leaves the resolver serves. Also
//! the checks a partner's client would make (webpki, trusting only ca.pem).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;

use super::tls_scope::Scope;

const DAY: u64 = 24 * 60 * 60;
const CA_DAYS: u64 = 3650;
/// Leaves live in memory only and are made again at each start; a year stays under the 398 days
/// browsers accept.
const LEAF_DAYS: u64 = 365;
/// Names a probe leaf checks the CA with: always within its scope.
pub(super) const PROBE_NAME: &str = "localhost";

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
pub(super) fn verify(
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
pub(super) fn fingerprint(der: &[CertificateDer<'static>]) -> String {
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
/// parameters (rcgen encodes them identically) to sign with; [`LocalCa::load`] catches a ca.pem
/// not made this way. The unit, taken from the key, tells CAs of different data
/// folders apart (in trust stores, and to clients that match by subject).
pub(super) fn ca_params(key: &rcgen::KeyPair) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let dn = &mut params.distinguished_name;
    dn.push(rcgen::DnType::CommonName, "benecafe-sim local CA");
    dn.push(rcgen::DnType::OrganizationName, "benecafe-sim");
    dn.push(
        rcgen::DnType::OrganizationalUnitName,
        format!("key {}", key_id(key)),
    );
    // Path length 0: it signs leaves only.
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    use rcgen::KeyUsagePurpose::{CrlSign, KeyCertSign};
    params.key_usages = vec![KeyCertSign, CrlSign];
    params
}

/// The first bytes of the SHA-256 of the CA's public key, in hex: its name in trust stores.
pub(super) fn key_id(key: &rcgen::KeyPair) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key_raw());
    let bytes = digest.as_ref().iter().take(4);
    bytes.map(|b| format!("{b:02x}")).collect()
}

/// Valid from a day ago (partners' clocks drift) to `days` from now. The dates are made by
/// adding to rcgen's own date value, so that the `time` crate need not be a direct dependency.
pub(super) fn set_validity(params: &mut rcgen::CertificateParams, days: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(Duration::from_secs(DAY));
    params.not_after = epoch + now + Duration::from_secs(days * DAY);
}

/// What to do when ca.pem does not verify what its key signs.
pub(super) fn not_a_pair(ca_path: &Path, key_path: &Path) -> String {
    let (ca, key) = (ca_path.display(), key_path.display());
    format!(
        "{ca} does not verify certificates signed with {key}: they are not a pair made by \
         benecafe-sim, or the CA has expired. Move both away and start again to make a new CA \
         (partners will then have to trust the new {ca})"
    )
}

pub(super) struct LocalCa {
    pub(super) cert: CertificateDer<'static>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// What it may sign; `None`: anything (a CA of an earlier version, never kept).
    pub(super) scope: Option<Scope>,
    /// Its key's short id, as its subject names it.
    pub(super) id: String,
}

impl LocalCa {
    /// Makes a CA that may sign within `scope`, replacing any ca.pem and key there.
    pub(super) fn create(
        dir: &Path,
        ca_path: &Path,
        key_path: &Path,
        scope: Scope,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
        let key = rcgen::KeyPair::generate()?;
        let id = key_id(&key);
        let mut params = ca_params(&key);
        params.name_constraints = Some(scope.constraints());
        set_validity(&mut params, CA_DAYS);
        let cert = params.self_signed(&key)?;
        // The key first: ca.pem appears only once its key is safely on disk.
        crate::store::files::write_private(key_path, key.serialize_pem().as_bytes())?;
        crate::store::files::write_replacing(ca_path, cert.pem().as_bytes(), 0o644)?;
        let (cert, issuer) = (cert.der().clone(), rcgen::Issuer::new(params, key));
        let scope = Some(scope);
        Ok(LocalCa {
            cert,
            issuer,
            scope,
            id,
        })
    }

    /// Loads a CA and checks that ca.pem verifies what its key signs, before anything relies on
    /// it or replaces it (a pair not made by benecafe-sim is left alone).
    pub(super) fn load(ca_path: &Path, key_path: &Path) -> anyhow::Result<Self> {
        let (ca, key) = (ca_path.display(), key_path.display());
        let move_away = "move ca.pem and ca-key.pem away to make a new CA";
        let cert = CertificateDer::from_pem_file(ca_path)
            .with_context(|| format!("{ca} is not a PEM certificate ({move_away})"))?;
        let scope = Scope::of_ca(&cert).with_context(|| format!("{ca} ({move_away})"))?;
        let pem =
            std::fs::read_to_string(key_path).with_context(|| format!("cannot read {key}"))?;
        let signing_key = rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("{key} is not a PEM private key ({move_away})"))?;
        let id = key_id(&signing_key);
        let issuer = rcgen::Issuer::new(ca_params(&signing_key), signing_key);
        let local = LocalCa {
            cert,
            issuer,
            scope,
            id,
        };
        let probe = local.issue(&[PROBE_NAME.to_owned()])?;
        verify(std::slice::from_ref(&local.cert), &probe, PROBE_NAME)
            .with_context(|| not_a_pair(ca_path, key_path))?;
        Ok(local)
    }

    /// A leaf for `names` (the first one is its common name), with a key of its own.
    pub(super) fn issue(&self, names: &[String]) -> anyhow::Result<Arc<CertifiedKey>> {
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
