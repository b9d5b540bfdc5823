//! The HTTPS listener's certificate: the user's files, or a self-signed one made at first start
//! and kept in the data folder so that a partner trusts it once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate in use and where it came from.
pub struct TlsMaterial {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// Where the certificate file is, so the start-up log can tell partners what to trust.
    pub cert_path: PathBuf,
    /// Whether this start made it.
    pub generated: bool,
}

impl TlsMaterial {
    /// Loads the named files, or the generated pair in `data_dir`, making it if absent.
    pub fn load_or_generate(
        cert: Option<&Path>,
        key: Option<&Path>,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        if let (Some(cert), Some(key)) = (cert, key) {
            return Self::from_files(cert, key, false);
        }
        let cert_path = data_dir.join("cert.pem");
        let key_path = data_dir.join("key.pem");
        if cert_path.exists() && key_path.exists() {
            return Self::from_files(&cert_path, &key_path, false);
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "benecafe-sim local certificate");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "benecafe-sim");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key_pair = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key_pair)?;
        crate::persist::write_private(&key_path, key_pair.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem())
            .with_context(|| format!("cannot write {}", cert_path.display()))?;
        let mut material = Self::from_files(&cert_path, &key_path, true)?;
        material.generated = true;
        Ok(material)
    }

    fn from_files(cert: &Path, key: &Path, generated: bool) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .with_context(|| format!("cannot read the certificate {}", cert.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
        if chain.is_empty() {
            bail!("{} holds no certificate", cert.display());
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .with_context(|| format!("{} is not a PEM private key", key.display()))?;
        Ok(TlsMaterial {
            chain,
            key,
            cert_path: cert.to_owned(),
            generated,
        })
    }

    /// SHA-256 of the leaf certificate, as `AB:CD:...`, the form browsers and keytool show.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.chain[0]);
        digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// A rustls server configuration with rustls' safe defaults and the ring provider.
    pub fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the certificate and key do not make a usable TLS identity")?;
        Ok(config)
    }
}

/// The crypto provider: ring, which is ready at once (aws-lc-rs spends tens of milliseconds
/// gathering entropy before the first handshake can be served).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts exactly the given certificates (the built-in partner and
/// the tests use it to call the cert endpoint as a partner would).
pub fn client_config(trusted: &[CertificateDer<'static>]) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone())?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
