//! Bad fixtures stop the start with an error naming the file, the record and the field.

use std::process::Command;

use crate::helpers::{copy_fixtures, shipped_fixtures};

/// Runs the real binary on a fixtures folder and returns (success, stderr).
fn start_with(dir: &std::path::Path) -> (bool, String) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_benecafe-sim"))
        .args(["--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .arg("--fixtures")
        .arg(dir)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn edit(dir: &std::path::Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_member_of_an_unknown_company_stops_the_start_naming_file_record_and_field() {
    let dir = copy_fixtures(&shipped_fixtures());
    edit(
        dir.path(),
        "members.json",
        r#""cmpyCd": "AA5""#,
        r#""cmpyCd": "XX9""#,
    );
    let (ok, err) = start_with(dir.path());
    assert!(!ok);
    assert!(err.contains("members.json"), "{err}");
    assert!(err.contains("AA5A00001201"), "{err}");
    assert!(err.contains("`cmpyCd`"), "{err}");
    assert!(err.contains("unknown company 'XX9'"), "{err}");
}

#[test]
fn a_consent_for_an_unknown_vendor_stops_the_start() {
    let dir = copy_fixtures(&shipped_fixtures());
    edit(
        dir.path(),
        "consents.json",
        r#""vndrNo": "VR000301""#,
        r#""vndrNo": "VR404404""#,
    );
    let (ok, err) = start_with(dir.path());
    assert!(!ok);
    assert!(
        err.contains("consents.json") && err.contains("`vndrNo`") && err.contains("VR404404"),
        "{err}"
    );
}

#[test]
fn a_bad_allowed_ip_stops_the_start() {
    let dir = copy_fixtures(&shipped_fixtures());
    edit(
        dir.path(),
        "vendors.json",
        r#""203.0.113.10""#,
        r#""203.0.113.300""#,
    );
    let (ok, err) = start_with(dir.path());
    assert!(!ok);
    assert!(
        err.contains("vendors.json") && err.contains("VR000452") && err.contains("`allowedIps`"),
        "{err}"
    );
}

#[test]
fn invalid_json_stops_the_start_naming_the_file() {
    let dir = copy_fixtures(&shipped_fixtures());
    std::fs::write(dir.path().join("companies.json"), "[{").unwrap();
    let (ok, err) = start_with(dir.path());
    assert!(!ok);
    assert!(err.contains("companies.json"), "{err}");
}

#[test]
fn the_shipped_fixtures_hold_what_the_readme_promises() {
    let f = benecafe_sim::domain::fixtures::Fixtures::load(&shipped_fixtures()).unwrap();
    assert!(f.companies.len() >= 3);
    assert!(f.members.iter().any(|m| !m.active));
    assert!(f.vendors.iter().any(|v| v.gate_url == "/_sim/partner/gate"));
    let consented = |c: &str| {
        f.consents
            .iter()
            .any(|x| x.customer_id == c && x.vendor_no == "VR000216")
    };
    assert!(consented("J01A00038745"));
    assert!(!consented("J01A00038746"));
}

/// A state built up through the control API, saved from `GET /_sim/api/fixtures` as a fixtures
/// folder, loads back as the same directory.
#[actix_web::test]
async fn the_fixtures_answer_saved_as_a_folder_loads_back_as_the_same_directory() {
    use crate::helpers::{spawn_app, spawn_app_in};
    use serde_json::json;
    let app = spawn_app().await;
    let member = json!({
        "custId": "J01A00099999", "cmpyCd": "J01", "mbrNo": "J0100000099999",
        "mbrId": "roundtrip", "mbrNm": "왕복테스트", "empen": "E1", "dob": "19900101",
        "hmeTelNo": "", "postNo": "", "baseAddr": "", "dtlsAddr": "", "pointBalance": 0,
        "receiptYn": "N", "active": true
    });
    let put = app
        .put_json("/_sim/api/members/J01A00099999", &member)
        .await;
    assert!(put.status.is_success(), "{}", put.text());
    let consent = app
        .put_json("/_sim/api/consents/J01A00099999/VR000216", &json!({}))
        .await;
    assert!(consent.status.is_success(), "{}", consent.text());
    let saved = app.get_http("/_sim/api/fixtures").await.json();
    assert!(saved["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["custId"] == "J01A00099999"));
    let folder = tempfile::tempdir().unwrap();
    for file in ["companies", "members", "vendors", "consents"] {
        let text = serde_json::to_string_pretty(&saved[file]).unwrap();
        std::fs::write(folder.path().join(format!("{file}.json")), text).unwrap();
    }
    let again = spawn_app_in(folder, |_| {}).await;
    let loaded = again.get_http("/_sim/api/fixtures").await.json();
    assert_eq!(loaded, saved);
}
