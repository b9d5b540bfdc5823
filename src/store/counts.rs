//! What the store counts for the operator (Prometheus metrics, rendered by the edge at
//! `/_sim/metrics`): tokens issued, cert and CHECKURL answers, faults applied, journal events
//! dropped, store errors and outages. Answers are counted where their journal event is
//! recorded ([`crate::store::Store::record`]), so the metrics and the journal cannot drift.
//!
//! A counter with a label taken from the call (a vendor, a result code) is looked up once per
//! thread and kept: the cert endpoint, the hot path, then pays an atomic add, no allocation and
//! no lock shared between threads. Label values come from the directory and the simulator's
//! own words (result codes), never from what a client sends, so the series stay few.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{Counter, Label};

/// Tokens issued, by vendor (a GATE with consent, or the control API's bulk issue).
pub const TOKENS_ISSUED: &str = "sim_tokens_issued_total";
/// Tokens live now (issued, not used nor expired), read from the store at each scrape.
pub const TOKENS_LIVE: &str = "sim_tokens_live";
/// Cert endpoint answers, by resultCode and vendor.
pub const CERT_ANSWERS: &str = "sim_cert_answers_total";
/// CHECKURL answers (`Y`, `N`, `-` for an injected fault's answer), by vendor.
pub const CHECK_ANSWERS: &str = "sim_checkurl_answers_total";
/// Injected faults applied to a call, by endpoint.
pub const FAULTS_APPLIED: &str = "sim_faults_applied_total";
/// Journal events lost before they reached the journal.
pub const JOURNAL_DROPPED: &str = "sim_journal_events_dropped_total";
/// Store operations that failed (the backend out of reach or erring).
pub const STORE_ERRORS: &str = "sim_store_errors_total";
/// Times the store became unreachable.
pub const STORE_OUTAGES: &str = "sim_store_outages_total";
/// Live tokens lost with a Redis that came back empty.
pub const TOKENS_LOST: &str = "sim_store_tokens_lost_total";
/// Redemptions taken back: made by a call its replica answered 503.
pub const TAKEN_BACK: &str = "sim_store_redemptions_taken_back_total";

/// The label value of an answer whose vendor is not known (an unknown token, no token).
pub const NO_VENDOR: &str = "none";

/// Most label combinations one thread keeps handles for; past that a call looks its counter
/// up each time (still counted, just slower).
const MAX_KEPT: usize = 4096;

/// Whether a recorder is installed: before, handles would count nowhere, and none is kept.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Says that a recorder is installed (by the process, before the store is opened).
pub fn recorder_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Describes the store's metrics to the recorder (their `# HELP` lines).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(
        TOKENS_ISSUED,
        "OTP tokens issued (GATE with consent, bulk issue), by vendor"
    );
    describe_gauge!(
        TOKENS_LIVE,
        "OTP tokens issued and not yet used nor expired, read from the store at scrape time"
    );
    describe_counter!(
        CERT_ANSWERS,
        "Cert endpoint answers, by resultCode (OK, 400, 401, 403, 404, HTTPS_REQUIRED; 500 and - for an injected HTTP 500 or dropped connection) and the token's vendor"
    );
    describe_counter!(
        CHECK_ANSWERS,
        "CHECKURL answers (Y, N; - for an injected fault's answer), by the caller's vendor"
    );
    describe_counter!(
        FAULTS_APPLIED,
        "Injected faults applied to a call, by endpoint (cert, check: as the faults API names them)"
    );
    describe_counter!(
        JOURNAL_DROPPED,
        "Journal events lost before they were written (Redis out of reach longer than the journal's capacity of events)"
    );
    describe_counter!(
        STORE_ERRORS,
        "Store commands that failed for want of Redis (out of reach, timed out, connection dropped)"
    );
    describe_counter!(STORE_OUTAGES, "Times the store became unreachable");
    describe_counter!(
        TOKENS_LOST,
        "Live tokens lost with a Redis that came back empty (as last counted)"
    );
    describe_counter!(
        TAKEN_BACK,
        "Redemptions taken back: Redis ran them, but the call was answered 503 (its answer lost)"
    );
}

thread_local! {
    /// This thread's counters by name and label values (joined into one key), and the buffer
    /// the key of a lookup is written into.
    static KEPT: RefCell<(String, HashMap<Box<str>, Counter>)> = RefCell::default();
}

/// Adds one to the counter `name` with these labels.
fn count(name: &'static str, labels: &[(&'static str, &str)]) {
    if !INSTALLED.load(Ordering::Relaxed) {
        return;
    }
    let make = || {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        metrics::counter!(name, labels)
    };
    KEPT.with_borrow_mut(|(key, kept)| {
        key.clear();
        key.push_str(name);
        for (_, value) in labels.iter() {
            key.push('\u{1f}');
            key.push_str(value);
        }
        if let Some(counter) = kept.get(key.as_str()) {
            counter.increment(1);
            return;
        }
        let counter = make();
        counter.increment(1);
        if kept.len() < MAX_KEPT {
            kept.insert(key.as_str().into(), counter);
        }
    });
}

/// A token issued for `vendor`.
pub(crate) fn token_issued(vendor: &str) {
    count(TOKENS_ISSUED, &[("vendor", vendor)]);
}

/// A cert answer with this resultCode, for the token's vendor.
pub(crate) fn cert_answer(result: &str, vendor: Option<&str>) {
    count(
        CERT_ANSWERS,
        &[("result", result), ("vendor", vendor.unwrap_or(NO_VENDOR))],
    );
}

/// A CHECKURL answer, for the caller's vendor.
pub(crate) fn check_answer(answer: &str, vendor: Option<&str>) {
    count(
        CHECK_ANSWERS,
        &[("result", answer), ("vendor", vendor.unwrap_or(NO_VENDOR))],
    );
}

/// A fault applied to a call of `endpoint` (`cert` or `check`, the faults API's names).
pub(crate) fn fault_applied(endpoint: &'static str) {
    count(FAULTS_APPLIED, &[("endpoint", endpoint)]);
}

/// A journal event lost before it was written.
pub(crate) fn journal_event_dropped() {
    metrics::counter!(JOURNAL_DROPPED).increment(1);
}
