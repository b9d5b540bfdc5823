//! Real TLS over real sockets: a rustls server thread using `TlsMaterial::server_config`, and
//! rustls clients trusting only what a partner would (ca.pem).

use super::*;
use crate::conform::browser::client_config;
use crate::domain::hosts::host_of_url;
use rustls::{CertificateError, ClientConnection, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// Serves `ok` to every connection that completes a handshake, until the test process ends.
fn serve(material: &TlsMaterial) -> SocketAddr {
    let config = Arc::new(material.server_config().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let conn = ServerConnection::new(config.clone()).unwrap();
            let mut tls = StreamOwned::new(conn, tcp);
            let mut hello = [0u8; 2];
            if tls.read_exact(&mut hello).is_ok() {
                let _ = tls.write_all(b"ok");
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    addr
}

/// Connects to `addr` asking for `name`, trusting only `trusted`.
fn call(
    addr: SocketAddr,
    trusted: &[CertificateDer<'static>],
    name: &str,
) -> Result<String, rustls::Error> {
    let config = Arc::new(client_config(trusted).unwrap());
    let conn =
        ClientConnection::new(config, ServerName::try_from(name.to_owned()).unwrap()).unwrap();
    let mut tls = StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    let mut answer = String::new();
    let result = tls
        .write_all(b"hi")
        .and_then(|()| tls.read_to_string(&mut answer));
    match result {
        Ok(_) => Ok(answer),
        Err(e) => Err(e
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
            .cloned()
            .unwrap_or_else(|| panic!("not a TLS error: {e}"))),
    }
}

fn ca_of(dir: &Path) -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap()]
}

fn load(dir: &Path, hosts: &[&str]) -> TlsMaterial {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    TlsMaterial::load_or_generate(None, None, dir, &hosts).unwrap()
}

fn wrong_name(result: Result<String, rustls::Error>) -> bool {
    matches!(
        result,
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ))
    )
}

#[test]
fn local_names_verify_with_ca_pem_only() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(dir.path(), &[]);
    assert!(material.generated);
    assert!(material.cert_path.ends_with("ca.pem"));
    assert_eq!(material.trust_anchors(), ca_of(dir.path()));
    let addr = serve(&material);
    let ca = ca_of(dir.path());
    for name in ["localhost", "127.0.0.1", "::1"] {
        assert_eq!(call(addr, &ca, name).unwrap(), "ok", "{name}");
    }
}

#[test]
fn names_given_at_start_verify_by_sni() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(
        dir.path(),
        &["j01.benecafe.localhost", "Mall.Example.", "[10.0.0.7]"],
    );
    let addr = serve(&material);
    let ca = ca_of(dir.path());
    for name in ["j01.benecafe.localhost", "mall.example", "10.0.0.7"] {
        assert_eq!(call(addr, &ca, name).unwrap(), "ok", "{name}");
    }
}

#[test]
fn names_added_at_run_time_verify() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(dir.path(), &[]);
    let addr = serve(&material);
    let ca = ca_of(dir.path());
    let resolver = material.resolver();
    assert!(wrong_name(call(addr, &ca, "late.example")));
    resolver.add_host("Late.Example").unwrap();
    resolver.set_allow(|n| n.ends_with(".benecafe.localhost"));
    for name in ["late.example", "j99.benecafe.localhost", "localhost"] {
        assert_eq!(call(addr, &ca, name).unwrap(), "ok", "{name}");
    }
    let evil = "benecafe.localhost.evil.example";
    assert!(wrong_name(call(addr, &ca, evil)));
    // Addresses get no SNI: only the default leaf, made at start, can name them.
    let err = resolver.add_host("192.168.9.9").unwrap_err();
    assert!(err.to_string().contains("--tls-hosts"), "{err}");
    resolver.add_host("::1").unwrap();
    assert!(resolver.add_host("bad name").is_err());
}

#[test]
fn names_not_allowed_get_the_default_leaf_and_nothing_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(dir.path(), &[]);
    let addr = serve(&material);
    let cached = read(&material.resolver().leaves).len();
    assert!(wrong_name(call(
        addr,
        &ca_of(dir.path()),
        "attacker.example"
    )));
    assert_eq!(read(&material.resolver().leaves).len(), cached);
}

#[test]
fn clients_not_trusting_the_ca_fail() {
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let addr = serve(&load(dir.path(), &[]));
    let _ = load(other.path(), &[]);
    for trusted in [vec![], ca_of(other.path())] {
        assert_eq!(
            call(addr, &trusted, "localhost"),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
    }
}

#[test]
fn the_ca_is_made_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = load(dir.path(), &[]);
    let second = load(dir.path(), &["again.example"]);
    assert!(first.generated && !second.generated);
    assert_eq!(first.fingerprint(), second.fingerprint());
    assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
    assert!(second.notes.is_empty(), "{:?}", second.notes);
    let addr = serve(&second);
    assert_eq!(
        call(addr, &first.trust_anchors(), "again.example").unwrap(),
        "ok"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| {
            std::fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_eq!(mode("ca-key.pem") & 0o777, 0o600);
        assert_eq!(mode("ca.pem") & 0o777, 0o644);
    }
}

#[test]
fn an_old_self_signed_pair_is_left_alone_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let old = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), old.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), old.signing_key.serialize_pem()).unwrap();
    let material = load(dir.path(), &[]);
    assert!(material.generated && material.cert_path.ends_with("ca.pem"));
    assert_eq!(material.notes.len(), 1, "{:?}", material.notes);
    assert!(material.notes[0].contains("cert.pem") && material.notes[0].contains("ca.pem"));
    assert!(material.notes[0].contains(&material.fingerprint()));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cert.pem")).unwrap(),
        old.cert.pem()
    );
    let addr = serve(&material);
    assert_eq!(call(addr, &ca_of(dir.path()), "localhost").unwrap(), "ok");
}

#[test]
fn user_files_serve_one_certificate_for_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let user = rcgen::generate_simple_self_signed(vec!["user.example".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("u.pem"), dir.path().join("u-key.pem"));
    std::fs::write(&cert, user.cert.pem()).unwrap();
    std::fs::write(&key, user.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let material = TlsMaterial::load_or_generate(Some(&cert), Some(&key), &data, &[]).unwrap();
    assert!(!material.generated && material.cert_path == cert && !data.exists());
    material.resolver().add_host("other.example").unwrap();
    let addr = serve(&material);
    let trust = material.trust_anchors();
    assert_eq!(call(addr, &trust, "user.example").unwrap(), "ok");
    assert!(wrong_name(call(addr, &trust, "other.example")));
    assert!(wrong_name(call(addr, &trust, "localhost")));
}

#[test]
fn broken_ca_folders_say_what_to_do() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first_a, _) = (load(a.path(), &[]), load(b.path(), &[]));
    // A key from another folder: ca.pem does not verify what it signs.
    std::fs::copy(b.path().join("ca-key.pem"), a.path().join("ca-key.pem")).unwrap();
    let err = TlsMaterial::load_or_generate(None, None, a.path(), &[])
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("Move both away"), "{err:#}");
    // ca.pem without its key: may be trusted already, so it is not replaced.
    std::fs::remove_file(a.path().join("ca-key.pem")).unwrap();
    let err = TlsMaterial::load_or_generate(None, None, a.path(), &[])
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("restore the key"), "{err:#}");
    assert_eq!(ca_of(a.path()), first_a.trust_anchors());
    // A key without ca.pem: nobody trusts it yet, so a new CA is made.
    std::fs::remove_file(b.path().join("ca.pem")).unwrap();
    assert!(load(b.path(), &[]).generated);
    let bad = ["bad host".to_owned()];
    assert!(TlsMaterial::load_or_generate(None, None, b.path(), &bad).is_err());
}

#[test]
fn hosts_of_urls() {
    let host = |u| host_of_url(u);
    assert_eq!(
        host("https://Mall.Example:8443/x?y").as_deref(),
        Some("mall.example")
    );
    assert_eq!(host("https://user@[::1]:8443/").as_deref(), Some("::1"));
    assert_eq!(host("http://10.0.0.7").as_deref(), Some("10.0.0.7"));
    assert_eq!(host("localhost:8443"), None, "a URL needs its scheme");
}
