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
