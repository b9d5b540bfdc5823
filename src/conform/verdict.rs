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

/// What the partner answered to one post, and when: "answered 502 after 4 ms", "failed after
/// 3 ms: connection refused".
pub(super) fn answered(d: &Delivery) -> String {
    match (&d.error, d.status) {
        (Some(e), 0) => format!("failed after {} ms: {e}", d.ms),
        (Some(e), s) => format!("answered {s} after {} ms, then {e}", d.ms),
        (None, s) => format!("answered {s} after {} ms", d.ms),
    }
}

/// Which `CUS_URL` the post carried.
pub(super) fn given(d: &Delivery) -> String {
    match &d.cus_url {
        Some(u) => format!("CUS_URL {u}"),
        None => "no CUS_URL".to_owned(),
    }
}

/// The result codes of `calls`, comma-separated.
pub(super) fn codes(calls: &[CallSeen]) -> String {
    calls
        .iter()
        .map(|c| c.result_code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How much of a partner page a report shows around what a case looks for.
const AROUND: usize = 20;

/// Whether `key` appears in `body`, and at most ~40 bytes of it: around the key when it is
/// there, the beginning otherwise. A partner's page is never copied into a report whole.
pub(super) fn excerpt(body: &str, key: &str) -> (bool, String) {
    let body = body.trim();
    let floor = |mut i: usize| {
        while !body.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let (found, from, to) = match body.find(key).filter(|_| !key.is_empty()) {
        Some(at) => (
            true,
            floor(at.saturating_sub(AROUND)),
            floor((at + key.len() + AROUND).min(body.len())),
        ),
        None => (false, 0, floor((2 * AROUND).min(body.len()))),
    };
    let mut text = String::new();
    if from > 0 {
        text.push('…');
    }
    text.push_str(&body[from..to]);
    if to < body.len() {
        text.push('…');
    }
    (found, text)
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn an_excerpt_is_a_few_bytes_around_the_key_or_the_beginning() {
        let body = format!("{}J01A00038745{}", "가".repeat(5000), "x".repeat(5000));
        let (found, text) = excerpt(&body, "J01A00038745");
        assert!(found);
        assert!(text.contains("J01A00038745") && text.len() < 80, "{text}");
        let (found, text) = excerpt(&body, "BIXA00000310");
        assert!(!found);
        assert!(text.starts_with('가') && text.ends_with('…') && text.len() < 50);
        assert_eq!(excerpt("  short  ", "k"), (false, "short".to_owned()));
    }
}
