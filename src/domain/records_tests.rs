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
