//! What a conformance run takes from its caller ([`Kit`]) and what it gives back (the
//! [`Report`] of every case, and what a single delivery saw): the values the kit's files share.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::browser::Delivery;
use super::case::Case;
use crate::protocol::gate::Issuer;

/// The address of the spoofed mall domain: it reaches the simulator (a listener of its own, so
/// the call is seen) but is no mall's domain.
pub const DECOY_IP: &str = "127.0.0.2";

/// What a run needs of the simulator it runs on, given by the caller.
pub struct Kit<'a> {
    /// Issues the GATEs (the store and the URLs given out).
    pub issuer: Issuer<'a>,
    /// What the simulated browsers trust (the local CA, or the user's chain).
    pub trusted: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// `https://127.0.0.2:PORT`, a listener of this simulator on the spoofed mall address;
    /// `None` where that address cannot be bound (the one case that needs it is skipped).
    pub decoy: Option<String>,
    /// When the run is in a sandbox: the base, watched for the calls no sandbox can be told
    /// from (see `watch.rs`).
    pub base: Option<crate::store::Store>,
}

/// What the caller asks of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    /// The vendor whose GATE is tested.
    pub vndr_no: &'a str,
    /// The member to test with (default: see [`crate::conform::run`]).
    pub member: Option<&'a str>,
    /// How long to wait for a cert call (and for the partner's whole answer).
    pub timeout: Duration,
    /// Cases not to run: each is reported skipped with [`SKIPPED_ON_REQUEST`].
    pub skip: &'a [Case],
}

/// Why a case the caller asked to skip was not run.
pub const SKIPPED_ON_REQUEST: &str = "skipped on request (--skip)";

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// A cert call behind a case's judgement.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSeen {
    /// The journal event's id.
    pub id: u64,
    pub result_code: String,
    pub tls: bool,
    pub host: Option<String>,
    pub reason: String,
}

/// One case's result: what was expected, what happened, and the evidence. Owned text
/// throughout, so that a report read back from another simulator's control API
/// (`conform --against`) is the same value as one made here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    pub id: String,
    pub status: Status,
    pub expected: String,
    pub happened: String,
    /// Why a failure matters, for the security cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_it_matters: Option<String>,
    /// How long the case took, in seconds.
    #[serde(default)]
    pub seconds: f64,
    #[serde(default)]
    pub calls: Vec<CallSeen>,
    /// The partner's answers to the case's GATE posts, in order.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
}

impl CaseReport {
    /// A case that was not run, and why.
    pub fn skipped(case: Case, why: &str) -> CaseReport {
        CaseReport {
            id: case.id().to_owned(),
            status: Status::Skip,
            expected: case.expectation().to_owned(),
            happened: why.to_owned(),
            why_it_matters: case.why_it_matters().map(str::to_owned),
            seconds: 0.0,
            calls: Vec::new(),
            deliveries: Vec::new(),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub vndr_no: String,
    pub gate_url: String,
    pub cust_id: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub seconds: f64,
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// The exit code of `conform`: 0 when every case passed (or was skipped), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed > 0)
    }
}

/// What `POST /_sim/api/gate` with `"deliver": true` answers beside the GATE: the partner's
/// answer to the post (made server-side, as a browser would) and its cert calls with the token
/// within `timeout`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    #[serde(flatten)]
    pub answer: Delivery,
    pub cert_calls: Vec<CallSeen>,
}
