//! What a conformance run takes from its caller ([`Kit`]) and what it gives back (the
//! [`Report`] of every case, and what a single delivery saw): the values the kit's files share.

use serde::Serialize;

use super::browser::Delivery;
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
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

/// A cert call behind a case's judgement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSeen {
    /// The journal event's id.
    pub id: u64,
    pub result_code: String,
    pub tls: bool,
    pub host: Option<String>,
    pub reason: String,
}

/// One case's result: what was expected, what happened, and the evidence.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    pub id: &'static str,
    pub status: Status,
    pub expected: &'static str,
    pub happened: String,
    /// Why a failure matters, for the security cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_it_matters: Option<&'static str>,
    pub calls: Vec<CallSeen>,
    pub deliveries: Vec<Delivery>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
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
