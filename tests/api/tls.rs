//! The local CA as partners meet it: a mall domain on the simulator's own port, answering the
//! cert call there; a CA that signs only within its name constraints, so a company naming
//! someone else's domain is refused; an older CA without constraints replaced, loudly, once; a
//! mall domain on a port nobody listens on, said at start.

use awc::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{copy_fixtures, get_via, shipped_fixtures, spawn_app, SimProcess, TestApp};

fn https_port(app: &TestApp) -> u16 {
    app.https.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[actix_web::test]
async fn a_mall_domain_without_a_port_follows_the_https_listener_and_answers_the_cert_call_there() {
    let app = spawn_app().await;
    let port = https_port(&app);
    let g = app
        .gate(json!({"cmpyCd": "AA5", "custId": "AA5A00001201", "vndrNo": "VR000216", "consent": "agree"}))
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text());
    let g = g.json();
    let mall = format!("https://aa5.benecafe.localhost:{port}");
    assert_eq!(g["fields"]["CUS_URL"], mall);
    assert_eq!(
        g["fields"]["CHECKURL"],
        format!("{mall}/sso/vendorUserCheck")
    );
    assert_eq!(g["fields"]["POPUPURL"], format!("{mall}/mall/point"));
    // The partner calls that CUS_URL (the name resolving to 127.0.0.1), trusting only ca.pem.
    let url = url::Url::parse(g["fields"]["CUS_URL"].as_str().unwrap()).unwrap();
    let token = g["otpToken"].as_str().unwrap();
    let addr = format!("127.0.0.1:{}", url.port().unwrap());
    let path = format!("/sso/vendorUserCertTonken?otpTokenp={token}");
    let (status, body) = get_via(&addr, url.host_str().unwrap(), &app.cert_pem, &path)
        .unwrap_or_else(|e| panic!("the cert call at {url}: {e}"));
    assert!(status.contains(" 200 "), "{status}");
    let answer: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(answer["resultCode"], "OK", "{body}");
    assert_eq!(
        answer["resultMap"]["user"]["custId"], "AA5A00001201",
        "{body}"
    );
}

#[actix_web::test]
async fn a_mall_domain_the_ca_may_not_sign_for_is_refused_naming_tls_hosts_and_gets_no_certificate()
{
    let app = spawn_app().await;
    let addr = app.https.trim_start_matches("https://").to_owned();
    let company = |cus_url: &str| json!({"name": "구글", "pntNm": "포인트", "moblPntNm": "포인트", "pointNameCode": "P99", "cusUrl": cus_url});
    for (url, host) in [
        ("https://www.google.com", "www.google.com"),
        ("https://com", "com"),
        ("https://例え.jp", "xn--r8jz45g.jp"),
    ] {
        let r = app
            .api("PUT", "/_sim/api/companies/GOO", Some(company(url)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.text());
        let text = r.text();
        assert!(
            text.contains("cusUrl") && text.contains(&format!("--tls-hosts {host}")),
            "{text}"
        );
        // Nothing was signed for it, so a client asking for it gets the default certificate,
        // which does not name it.
        assert!(get_via(&addr, host, &app.cert_pem, "/_sim/healthz").is_err());
    }
    let companies = app.get("/_sim/api/companies").await.json();
    assert!(!companies.to_string().contains("GOO"), "nothing stored");
    // Within the CA's scope: stored and served at once.
    let r = app
        .api(
            "PUT",
            "/_sim/api/companies/GOO",
            Some(company("https://goo.benecafe.co.kr")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let (status, _) = get_via(&addr, "goo.benecafe.co.kr", &app.cert_pem, "/_sim/healthz")
        .expect("served without a restart");
    assert!(status.contains(" 200 "), "{status}");
}

/// A local CA as benecafe-sim made it before name constraints: same subject, no constraints.
fn unconstrained_ca(dir: &std::path::Path) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key_raw());
    let id: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let dn = &mut params.distinguished_name;
    dn.push(rcgen::DnType::CommonName, "benecafe-sim local CA");
    dn.push(rcgen::DnType::OrganizationName, "benecafe-sim");
    dn.push(rcgen::DnType::OrganizationalUnitName, format!("key {id}"));
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("ca-key.pem"), key.serialize_pem()).unwrap();
    cert.pem()
}

/// The permitted subtrees of a CA certificate, as text (`localhost`, `127.0.0.0/255.0.0.0`).
fn permitted(ca_pem: &[u8]) -> Vec<String> {
    use rustls::pki_types::pem::PemObject;
    use x509_parser::extensions::GeneralName;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let Some(constraints) = cert.name_constraints().unwrap() else {
        return Vec::new();
    };
    assert!(constraints.critical, "name constraints must be critical");
    let subtrees = constraints.value.permitted_subtrees.iter().flatten();
    subtrees
        .map(|s| match s.base {
            GeneralName::DNSName(d) => d.to_owned(),
            GeneralName::IPAddress(b) if b.len() == 8 => {
                let ip = |o: &[u8]| std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3]).to_string();
                format!("{}/{}", ip(&b[..4]), ip(&b[4..]))
            }
            GeneralName::IPAddress(b) => format!("{} bytes", b.len()),
            ref other => format!("{other:?}"),
        })
        .collect()
}

#[actix_web::test]
async fn an_unconstrained_ca_of_an_earlier_version_is_replaced_once_with_a_warning() {
    let data = tempfile::tempdir().unwrap();
    let old = unconstrained_ca(data.path());
    let mut sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let new = std::fs::read(data.path().join("ca.pem")).unwrap();
    assert_ne!(new, old.as_bytes(), "ca.pem was replaced");
    let log = sim.log_text();
    let warned: Vec<&str> = log.lines().filter(|l| l.contains("REPLACED")).collect();
    assert_eq!(warned.len(), 1, "{log}");
    assert!(
        warned[0].contains("WARN")
            && warned[0].contains("ca.pem")
            && warned[0].contains("any name")
            && warned[0].contains("must trust the new"),
        "{log}"
    );
    let names = permitted(&new);
    for name in [
        "localhost",
        ".localhost",
        "benecafe.co.kr",
        ".benecafe.co.kr",
        "127.0.0.0/255.0.0.0",
        "32 bytes",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    // Partners trusting the new ca.pem reach the simulator; the old one is no longer served.
    let addr = sim.https.trim_start_matches("https://").to_owned();
    let (status, _) = get_via(&addr, "localhost", &new, "/_sim/healthz").unwrap();
    assert!(status.contains(" 200 "), "{status}");
    assert!(get_via(&addr, "localhost", old.as_bytes(), "/_sim/healthz").is_err());
    // Said once: the next start keeps the new CA and says nothing.
    assert!(sim.terminate());
    let again = SimProcess::start(data.path(), &[]).await.unwrap();
    assert_eq!(std::fs::read(data.path().join("ca.pem")).unwrap(), new);
    assert!(
        !again.log_text().contains("REPLACED"),
        "{}",
        again.log_text()
    );
}

#[actix_web::test]
async fn a_cus_url_naming_a_port_nobody_listens_on_is_said_once_at_start() {
    let fixtures = copy_fixtures(&shipped_fixtures());
    let path = fixtures.path().join("companies.json");
    let companies = std::fs::read_to_string(&path).unwrap().replace(
        "\"https://aa5.benecafe.localhost\"",
        "\"https://aa5.benecafe.localhost:1\"",
    );
    std::fs::write(&path, companies).unwrap();
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start_on(fixtures.path(), data.path(), &[])
        .await
        .unwrap();
    let log = sim.log_text();
    let warned: Vec<&str> = log.lines().filter(|l| l.contains("names port")).collect();
    assert_eq!(warned.len(), 1, "{log}");
    let listener = sim.https.trim_start_matches("https://");
    assert!(
        warned[0].contains("WARN")
            && warned[0].contains("company AA5")
            && warned[0].contains("https://aa5.benecafe.localhost:1")
            && warned[0].contains(listener),
        "{log}"
    );
}

#[actix_web::test]
async fn mall_domains_added_at_run_time_get_certificates_up_to_the_most_per_run() {
    let app = spawn_app().await;
    let addr = app.https.trim_start_matches("https://").to_owned();
    let company = |i: usize| {
        json!({"name": "회사", "pntNm": "포인트", "moblPntNm": "포인트", "pointNameCode": "P99",
               "cusUrl": format!("https://m{i}.benecafe.localhost")})
    };
    // The shipped companies' mall domains share the certificate made at start; each one added
    // since gets its own, up to 1,024.
    for i in 0..1024 {
        let code = format!("{:03X}", 0x100 + i);
        let r = app
            .api(
                "PUT",
                &format!("/_sim/api/companies/{code}"),
                Some(company(i)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.text());
    }
    let r = app
        .api("PUT", "/_sim/api/companies/ZZZ", Some(company(1024)))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(
        r.text().contains("the most it signs per run"),
        "{}",
        r.text()
    );
    assert!(get_via(
        &addr,
        "m1024.benecafe.localhost",
        &app.cert_pem,
        "/_sim/healthz"
    )
    .is_err());
    for name in [
        "m0.benecafe.localhost",
        "m1023.benecafe.localhost",
        "aa5.benecafe.localhost",
    ] {
        let (status, _) = get_via(&addr, name, &app.cert_pem, "/_sim/healthz").unwrap();
        assert!(status.contains(" 200 "), "{name}: {status}");
    }
}
