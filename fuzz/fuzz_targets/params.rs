//! The parameter parsing of the protocol endpoints: the token parameter in a query string and a
//! form body, the token format, urlencoded pairs, and forwarding-header addresses.
#![no_main]

use benecafe_sim::web::client_ip::parse_node;
use benecafe_sim::domain::OtpToken;
use benecafe_sim::protocol::params;
use benecafe_sim::protocol::params::find_token;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is the query string, the rest the form body.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let query = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    if let Some(param) = find_token(&query, Some(body)) {
        if param.problem.is_none() {
            // A usable parameter's value parses the same way every time.
            let once = OtpToken::parse(&param.value);
            assert_eq!(once.is_ok(), OtpToken::parse(&param.value).is_ok());
        }
    }
    for pair in params::pairs(data) {
        if let Ok(value) = pair.value {
            // Whatever decodes is valid UTF-8 by construction; re-encoding decodes back.
            let encoded: String = form_encode(&value);
            assert_eq!(
                params::decode(encoded.as_bytes()).as_deref(),
                Ok(value.as_str())
            );
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = OtpToken::parse(&text) {
        // A token parses only from its own canonical spelling.
        assert_eq!(token.to_string(), text);
    }
    let _ = parse_node(&text);
});

fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
