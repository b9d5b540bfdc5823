//! Fixture parsing and validation, as at start, on `--watch` reloads and for run-time changes.
#![no_main]

use benecafe_sim::domain::fixtures::Fixtures;
use benecafe_sim::domain::records::{Member, Vendor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fixtures) = serde_json::from_slice::<Fixtures>(data) {
        if fixtures.validate("fuzz").is_ok() {
            // What validates can be written and read back to the same set.
            let text = serde_json::to_vec(&fixtures).unwrap();
            let back: Fixtures = serde_json::from_slice(&text).unwrap();
            assert_eq!(back, fixtures);
        }
    }
    if let Ok(member) = serde_json::from_slice::<Member>(data) {
        let companies = std::iter::once("J01").collect();
        let _ = member.validate(&companies);
    }
    if let Ok(vendor) = serde_json::from_slice::<Vendor>(data) {
        let _ = vendor.validate();
    }
});
