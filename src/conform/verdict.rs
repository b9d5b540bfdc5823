//! How a case is judged while it runs: its status, what happened, and the evidence (the cert
//! calls seen, the partner's answers).

use super::browser::Delivery;
use super::kit::{CallSeen, Status};
use crate::protocol::gate::Gate;

/// The outcome of one case while it is judged.
pub(super) struct Verdict {
    pub(super) status: Status,
    pub(super) happened: String,
    pub(super) calls: Vec<CallSeen>,
    pub(super) deliveries: Vec<Delivery>,
}

pub(super) fn pass(happened: impl Into<String>) -> Verdict {
    verdict(Status::Pass, happened)
}

pub(super) fn fail(happened: impl Into<String>) -> Verdict {
    verdict(Status::Fail, happened)
}

pub(super) fn skip(happened: impl Into<String>) -> Verdict {
    verdict(Status::Skip, happened)
}

pub(super) fn verdict(status: Status, happened: impl Into<String>) -> Verdict {
    Verdict {
        status,
        happened: happened.into(),
        calls: Vec::new(),
        deliveries: Vec::new(),
    }
}

impl Verdict {
    pub(super) fn with(mut self, calls: Vec<CallSeen>, deliveries: Vec<Delivery>) -> Self {
        self.calls = calls;
        self.deliveries = deliveries;
        self
    }
}

pub(super) fn field(fields: &[(&'static str, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
}

/// The token as issued (before any encryption).
pub(super) fn plain_token(gate: &Gate) -> Result<String, String> {
    gate.token
        .clone()
        .ok_or_else(|| "no token was issued (no consent?)".to_owned())
}
