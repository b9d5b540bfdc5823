//! Injected faults as values: for the next N calls (or until cleared) to an endpoint,
//! optionally for one vendor, a delay, a forced resultCode, an HTTP 500, a dropped connection or
//! a malformed body. The stores keep them ([`crate::store`]); the protocol plans the answer
//! ([`crate::protocol::FaultPlan`]).

use serde::{Deserialize, Serialize};

/// The endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `/sso/vendorUserCertTonken`.
    Cert,
    /// CHECKURL, `/sso/vendorUserCheck`.
    Check,
}

impl Endpoint {
    /// The name the control API uses.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Cert => "cert",
            Endpoint::Check => "check",
        }
    }
}

/// What the fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FaultKind {
    /// Wait this long, then answer normally.
    #[serde(rename_all = "camelCase")]
    Delay { delay_ms: u64 },
    /// Answer this resultCode (`400`, `401`, `403`, `404`) without looking at the token; the
    /// token is not used up.
    #[serde(rename_all = "camelCase")]
    ResultCode { result_code: String },
    /// Answer HTTP 500 with a plain-text error page.
    Http500,
    /// Close the connection without an answer.
    Drop,
    /// Answer 200 with a JSON body cut short.
    Malformed,
}

impl FaultKind {
    /// Whether the fault answers in place of the decision (all but a delay): the token is then
    /// not looked at.
    pub fn replaces_answer(&self) -> bool {
        !matches!(self, FaultKind::Delay { .. })
    }

    /// A short description for the journal.
    pub fn describe(&self) -> String {
        match self {
            FaultKind::Delay { delay_ms } => format!("delay {delay_ms} ms"),
            FaultKind::ResultCode { result_code } => format!("forced resultCode {result_code}"),
            FaultKind::Http500 => "HTTP 500".into(),
            FaultKind::Drop => "dropped connection".into(),
            FaultKind::Malformed => "malformed body".into(),
        }
    }
}

/// A fault as asked for through the control API.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub endpoint: Endpoint,
    /// Only calls whose token belongs to this vendor (cert) are affected.
    #[serde(default)]
    pub vndr_no: Option<String>,
    /// How many calls; absent means until cleared.
    #[serde(default)]
    pub count: Option<u64>,
    /// `delay`, `resultCode`, `http500`, `drop` or `malformed`.
    pub kind: String,
    /// With `delay`.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// With `resultCode`.
    #[serde(default)]
    pub result_code: Option<String>,
}

impl FaultSpec {
    /// What the fault does, when the spec is valid (the same rules for every store).
    pub fn check(&self) -> Result<FaultKind, String> {
        let spec = self;
        if spec.count == Some(0) {
            return Err("count: must be at least 1 (leave it out for until cleared)".into());
        }
        let kind = spec.effect()?;
        match &kind {
            FaultKind::Delay { delay_ms } if *delay_ms > 120_000 => {
                return Err("delayMs: at most 120000".into())
            }
            FaultKind::ResultCode { result_code }
                if !["400", "401", "403", "404"].contains(&result_code.as_str()) =>
            {
                return Err(format!(
                    "resultCode: {result_code:?} is not one of \"400\", \"401\", \"403\", \"404\""
                ))
            }
            FaultKind::ResultCode { .. } if spec.endpoint == Endpoint::Check => {
                return Err("resultCode: CHECKURL has no resultCode (it answers Y or N)".into())
            }
            _ => {}
        }
        Ok(kind)
    }

    /// The fault's effect, checking that the fields fit the kind.
    fn effect(&self) -> Result<FaultKind, String> {
        let extra = |field: &str| format!("{field}: does not go with kind {:?}", self.kind);
        if self.kind != "delay" && self.delay_ms.is_some() {
            return Err(extra("delayMs"));
        }
        if self.kind != "resultCode" && self.result_code.is_some() {
            return Err(extra("resultCode"));
        }
        Ok(match self.kind.as_str() {
            "delay" => FaultKind::Delay {
                delay_ms: self
                    .delay_ms
                    .ok_or("delayMs: required with kind \"delay\"")?,
            },
            "resultCode" => FaultKind::ResultCode {
                result_code: self
                    .result_code
                    .clone()
                    .ok_or("resultCode: required with kind \"resultCode\"")?,
            },
            "http500" => FaultKind::Http500,
            "drop" => FaultKind::Drop,
            "malformed" => FaultKind::Malformed,
            other => {
                return Err(format!(
                    "kind: {other:?} is not one of delay, resultCode, http500, drop, malformed"
                ))
            }
        })
    }
}

/// A fault in force.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: u64,
    pub endpoint: Endpoint,
    pub vndr_no: Option<String>,
    /// Calls still to be affected; `None` until cleared.
    pub remaining: Option<u64>,
    /// Calls affected so far.
    pub applied: u64,
    #[serde(flatten)]
    pub kind: FaultKind,
}
