//! The fixture records' field checks, with no files.

use super::*;

#[test]
fn an_allowed_entry_is_an_address_or_a_network() {
    assert_eq!(parse_allowed("127.0.0.1").unwrap().prefix_len(), 32);
    assert_eq!(parse_allowed("::1").unwrap().prefix_len(), 128);
    assert_eq!(parse_allowed("10.0.0.0/8").unwrap().prefix_len(), 8);
    assert!(parse_allowed("localhost").is_err());
    assert!(parse_allowed("10.0.0.0/33").is_err());
}

#[test]
fn a_company_code_is_three_letters_or_digits() {
    assert!(check_company_code("J01").is_ok());
    assert!(check_company_code("J0").is_err());
    assert!(check_company_code("J01X").is_err());
    assert!(check_company_code("J-1").is_err());
}

#[test]
fn a_whoami_url_is_checked_like_a_gate_url() {
    let vendor = |gate: &str, whoami: &str| -> Vendor {
        serde_json::from_value(serde_json::json!({"vndrNo": "VR1", "vndrItwkInfoNo": "1",
            "name": "v", "gateUrl": gate, "whoamiUrl": whoami, "allowedIps": []}))
        .unwrap()
    };
    assert!(
        vendor("http://localhost:3000/gate", "http://localhost:3000/whoami")
            .validate()
            .is_ok()
    );
    assert!(vendor("/_sim/partner/gate", "/_sim/partner/gate")
        .validate()
        .is_ok());
    for bad in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "localhost:3000/x",
    ] {
        assert_eq!(
            vendor("https://p.example/gate", bad)
                .validate()
                .unwrap_err()
                .0,
            "whoamiUrl"
        );
        assert_eq!(vendor(bad, "/x").validate().unwrap_err().0, "gateUrl");
    }
}

fn vendor(allowed: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"vndrNo": "VR1", "vndrItwkInfoNo": "1", "name": "v",
                       "gateUrl": "/g", "allowedIps": allowed})
}

#[test]
fn a_bad_allowed_entry_refuses_the_vendor_naming_the_entry() {
    let err =
        serde_json::from_value::<Vendor>(vendor(serde_json::json!(["127.0.0.1", "10.0.0.0/33"])))
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("'10.0.0.0/33' is not an IP address or network"),
        "{err}"
    );
}

#[test]
fn allowed_entries_are_networks_written_back_as_they_were() {
    let written = serde_json::json!(["127.0.0.1", "::1", "198.51.100.0/24", "10.1.2.3/8"]);
    let v: Vendor = serde_json::from_value(vendor(written.clone())).unwrap();
    assert_eq!(v.allowed_ips[0].prefix_len(), 32);
    assert_eq!(v.allowed_ips[1].prefix_len(), 128);
    assert!(v.allowed_ips[2].contains(&"198.51.100.7".parse::<IpAddr>().unwrap()));
    assert_eq!(serde_json::to_value(&v).unwrap()["allowedIps"], written);
}

#[test]
fn receipt_yn_is_y_or_n_and_n_by_default() {
    let member = |receipt: Option<&str>| {
        let mut m = serde_json::json!({"custId": "M1", "cmpyCd": "J01", "mbrNo": "1",
            "mbrId": "m", "mbrNm": "m", "empen": "1", "dob": "19900101"});
        if let Some(r) = receipt {
            m["receiptYn"] = r.into();
        }
        serde_json::from_value::<Member>(m)
    };
    assert_eq!(member(None).unwrap().receipt_yn, ReceiptYn::N);
    let y = member(Some("Y")).unwrap();
    assert_eq!(y.receipt_yn, ReceiptYn::Y);
    assert_eq!(serde_json::to_value(&y).unwrap()["receiptYn"], "Y");
    let err = member(Some("X")).unwrap_err().to_string();
    assert!(err.contains(r#"must be "Y" or "N", not "X""#), "{err}");
}
