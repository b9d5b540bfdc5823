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
    assert!(wrong_name(call(addr, &ca, "late.benecafe.co.kr")));
    resolver.add_host("Late.Benecafe.Co.Kr").unwrap();
    resolver.set_allow(|n| n.ends_with(".benecafe.localhost"));
    for name in ["late.benecafe.co.kr", "j99.benecafe.localhost", "localhost"] {
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
    let first = load(dir.path(), &["mall.example"]);
    // Hosts the CA may sign for already, named or not: the same CA.
    let second = load(
        dir.path(),
        &["again.benecafe.localhost", "shop.mall.example"],
    );
    assert!(first.generated && !second.generated);
    assert_eq!(first.fingerprint(), second.fingerprint());
    assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
    assert!(second.notes.is_empty(), "{:?}", second.notes);
    let addr = serve(&second);
    for name in ["again.benecafe.localhost", "shop.mall.example"] {
        assert_eq!(call(addr, &first.trust_anchors(), name).unwrap(), "ok");
    }
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

/// A leaf for `name` signed with the key in `dir` directly, past every check of the resolver:
/// what whoever reads ca-key.pem could make.
fn forged(dir: &Path, name: &str) -> Arc<CertifiedKey> {
    let ca = LocalCa::load(&dir.join("ca.pem"), &dir.join("ca-key.pem")).unwrap();
    ca.issue(&[name.to_owned()]).unwrap()
}

#[test]
fn the_ca_carries_name_constraints_that_clients_enforce() {
    let dir = tempfile::tempdir().unwrap();
    let _ = load(dir.path(), &["mall.example", "10.0.0.7"]);
    let ca = ca_of(dir.path());
    let scope = Scope::of_ca(&ca[0]).unwrap().expect("name constraints");
    assert_eq!(
        scope.to_string(),
        "localhost, *.localhost, benecafe.co.kr, *.benecafe.co.kr, mall.example, 127.0.0.0/8, \
         ::1/128, 10.0.0.7/32"
    );
    // A partner's client (webpki, trusting ca.pem) rejects a name outside, whoever signed it.
    for inside in [
        "localhost",
        "j01.benecafe.localhost",
        "mobis.benecafe.co.kr",
        "shop.mall.example",
        "127.0.0.2",
        "::1",
        "10.0.0.7",
    ] {
        verify(&ca, &forged(dir.path(), inside), inside).unwrap();
    }
    for outside in [
        "www.google.com",
        "com",
        "xn--r8jz45g.jp",
        "mall.example.evil.example",
        "10.0.0.8",
        "2001:db8::1",
    ] {
        let err = verify(&ca, &forged(dir.path(), outside), outside).unwrap_err();
        assert!(
            format!("{err:#}").contains("NameConstraintViolation"),
            "{outside}: {err:#}"
        );
    }
}

#[test]
fn names_outside_the_cas_scope_are_refused_and_get_no_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(dir.path(), &[]);
    let addr = serve(&material);
    let ca = ca_of(dir.path());
    let resolver = material.resolver();
    // Even a rule letting every name in signs nothing outside.
    resolver.set_allow(|_| true);
    let cached = read(&resolver.leaves).len();
    for host in ["www.google.com", "com", "xn--r8jz45g.jp"] {
        let err = resolver.add_host(host).unwrap_err().to_string();
        assert!(err.contains(&format!("--tls-hosts {host}")), "{err}");
        assert!(wrong_name(call(addr, &ca, host)), "{host}");
    }
    assert_eq!(read(&resolver.leaves).len(), cached);
}

#[test]
fn an_unconstrained_ca_is_replaced_once_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    // As an earlier benecafe-sim made it: the same subject, no name constraints.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = crate::app::tls_ca::ca_params(&key);
    crate::app::tls_ca::set_validity(&mut params, 3650);
    let old = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), old.pem()).unwrap();
    std::fs::write(dir.path().join("ca-key.pem"), key.serialize_pem()).unwrap();
    let material = load(dir.path(), &["mall.example"]);
    assert!(material.generated);
    assert_eq!(material.notes.len(), 1, "{:?}", material.notes);
    let note = &material.notes[0];
    for part in [
        "REPLACED",
        "any name",
        "must trust the new",
        &material.fingerprint(),
        &crate::app::tls_ca::key_id(&key),
    ] {
        assert!(note.contains(part), "{part}: {note}");
    }
    let new = ca_of(dir.path());
    assert_ne!(new[0], *old.der());
    let scope = Scope::of_ca(&new[0]).unwrap().expect("name constraints");
    assert!(scope.permits("mall.example") && !scope.permits("www.google.com"));
    // The old key is gone: it signs nothing any more.
    let key_now = std::fs::read_to_string(dir.path().join("ca-key.pem")).unwrap();
    assert_ne!(key_now, key.serialize_pem());
    let addr = serve(&material);
    assert_eq!(call(addr, &new, "mall.example").unwrap(), "ok");
    // Once: the next start keeps the new CA and has nothing to say.
    let again = load(dir.path(), &["mall.example"]);
    assert!(
        !again.generated && again.notes.is_empty(),
        "{:?}",
        again.notes
    );
    assert_eq!(again.fingerprint(), material.fingerprint());
}

#[test]
fn a_ca_that_may_not_sign_for_a_host_named_at_start_is_replaced_keeping_what_it_could() {
    let dir = tempfile::tempdir().unwrap();
    let first = load(dir.path(), &["mall.example"]);
    let second = load(dir.path(), &["other.example", "a.mall.example"]);
    assert!(second.generated);
    assert_ne!(first.fingerprint(), second.fingerprint());
    assert_eq!(second.notes.len(), 1, "{:?}", second.notes);
    let note = &second.notes[0];
    assert!(
        note.contains("REPLACED") && note.contains("other.example"),
        "{note}"
    );
    assert!(!note.contains("a.mall.example,"), "{note}");
    let scope = Scope::of_ca(&ca_of(dir.path())[0]).unwrap().unwrap();
    assert!(scope.permits("mall.example") && scope.permits("other.example"));
    // Back to the first start's hosts: the CA stays.
    let third = load(dir.path(), &["mall.example"]);
    assert!(!third.generated && third.fingerprint() == second.fingerprint());
}

#[test]
fn leaves_signed_at_run_time_stop_at_the_most_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let material = load(dir.path(), &["a.benecafe.localhost"]);
    let addr = serve(&material);
    let ca = ca_of(dir.path());
    let resolver = material.resolver();
    resolver.set_allow(|n| n.ends_with(".rule.localhost"));
    // One by the allow rule, at its first connection; the rest added.
    assert_eq!(call(addr, &ca, "x.rule.localhost").unwrap(), "ok");
    for i in 1..MAX_LEAVES {
        resolver
            .add_host(&format!("r{i}.benecafe.localhost"))
            .unwrap_or_else(|e| panic!("{i}: {e:#}"));
    }
    // The most: neither way signs one more.
    let err = resolver.add_host("late.benecafe.localhost").unwrap_err();
    assert!(
        err.to_string().contains("the most it signs per run"),
        "{err}"
    );
    assert!(wrong_name(call(addr, &ca, "late.benecafe.localhost")));
    assert!(wrong_name(call(addr, &ca, "y.rule.localhost")));
    assert_eq!(read(&resolver.leaves).len(), resolver.at_start + MAX_LEAVES);
    // What is served already still is, and adding it again is no error.
    resolver.add_host("r1.benecafe.localhost").unwrap();
    for name in [
        "a.benecafe.localhost",
        "r1.benecafe.localhost",
        "x.rule.localhost",
    ] {
        assert_eq!(call(addr, &ca, name).unwrap(), "ok", "{name}");
    }
}
