//! Small things a newcomer trips on: the CA certificate served for those who cannot read the
//! data folder, and log lines that say what happened rather than show an empty value.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, SimProcess};

#[actix_web::test]
async fn the_ca_certificate_is_served_as_pem_and_is_the_one_on_disk() {
    let app = spawn_app().await;
    for r in [
        app.get_http("/_sim/ca.pem").await,
        app.get("/_sim/ca.pem").await,
    ] {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/x-pem-file")
        );
        assert_eq!(r.body, app.cert_pem, "the file partners are told to trust");
        assert!(r.text().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}

#[actix_web::test]
async fn a_gate_without_consent_logs_no_empty_token() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(data.path(), &[]).await.unwrap();
    let client = awc::Client::default();
    for consent in ["decline", "agree"] {
        client
            .post(format!("{}/_sim/api/gate", sim.http))
            .send_json(&json!({"cmpyCd": "J01", "custId": "J01A00038745", "vndrNo": "VR000216", "consent": consent}))
            .await
            .unwrap();
    }
    let log = sim.flushed_log(None).await;
    assert!(log.contains("GATE issued without a token"), "{log}");
    assert!(
        !log.contains("token=\"\"") && !log.contains("token= "),
        "{log}"
    );
}
