//! The mall domains as partners meet them: on the simulator's own port, answering the cert call
//! there; a mall domain on a port nobody listens on, said at start.

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
