//! Injected faults as values: for the next N calls (or until cleared) to an endpoint,
//! optionally for one vendor, a delay, a forced resultCode, an HTTP 500, a dropped connection or
//! a malformed body. The control API's JSON is read straight into these types, so an unknown
//! kind or resultCode is refused there, never replaced by another. The stores keep them
//! ([`crate::store`]); the protocol plans the answer (`protocol::FaultPlan`).

use std::num::NonZeroU64;

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

/// A resultCode a fault can force: the cert endpoint's failure codes (a forced `OK` would
/// need a member to answer with, so it is not one). The protocol gives each its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "&'static str")]
pub enum ForcedCode {
    /// `400`: the token is missing.
    TokenMissing,
    /// `401`: the token is not valid.
    TokenInvalid,
    /// `403`: the caller's address is not allowed.
    IpNotAllowed,
    /// `404`: the token was used already or names no member.
    TokenUsedOrUnknown,
}

impl ForcedCode {
    const ALL: [ForcedCode; 4] = [
        ForcedCode::TokenMissing,
        ForcedCode::TokenInvalid,
        ForcedCode::IpNotAllowed,
        ForcedCode::TokenUsedOrUnknown,
    ];

    /// The code as the mall writes it.
    pub fn code(self) -> &'static str {
        match self {
            ForcedCode::TokenMissing => "400",
            ForcedCode::TokenInvalid => "401",
            ForcedCode::IpNotAllowed => "403",
            ForcedCode::TokenUsedOrUnknown => "404",
        }
    }
}

/// Read as the mall writes it; anything else is an error naming `resultCode` and the value (the
/// kind's fields are read without a path, so the message carries the name).
impl<'de> Deserialize<'de> for ForcedCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let named = |e: String| serde::de::Error::custom(format!("resultCode: {e}"));
        let code = String::deserialize(d).map_err(|e| named(e.to_string()))?;
        Self::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| {
                named(format!(
                    "{code:?} is not one of \"400\", \"401\", \"403\", \"404\""
                ))
            })
    }
}

impl From<ForcedCode> for &'static str {
    fn from(c: ForcedCode) -> Self {
        c.code()
    }
}

/// The longest delay a fault may ask for, in milliseconds (two minutes).
pub const MAX_DELAY_MS: u64 = 120_000;

/// What the fault does to a call, tagged by `kind` in JSON (`{"kind": "delay", "delayMs":
/// 50}`), as the control API takes it and the Redis store keeps it. A field that does not go
/// with the kind is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultKind {
    /// Wait this long, then answer normally.
    #[serde(rename_all = "camelCase")]
    Delay {
        #[serde(deserialize_with = "delay_ms")]
        delay_ms: u64,
    },
    /// Answer this resultCode without looking at the token; the token is not used up.
    #[serde(rename_all = "camelCase")]
    ResultCode { result_code: ForcedCode },
    /// Answer HTTP 500 with a plain-text error page.
    Http500 {},
    /// Close the connection without an answer.
    Drop {},
    /// Answer 200 with a JSON body cut short.
    Malformed {},
}

/// `delayMs`: whole milliseconds, at most [`MAX_DELAY_MS`]; an error names the field.
fn delay_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let named = |e: String| serde::de::Error::custom(format!("delayMs: {e}"));
    let ms = u64::deserialize(d).map_err(|e| named(e.to_string()))?;
    if ms > MAX_DELAY_MS {
        return Err(named(format!("at most {MAX_DELAY_MS}")));
    }
    Ok(ms)
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
            FaultKind::ResultCode { result_code } => {
                format!("forced resultCode {}", result_code.code())
            }
            FaultKind::Http500 {} => "HTTP 500".into(),
            FaultKind::Drop {} => "dropped connection".into(),
            FaultKind::Malformed {} => "malformed body".into(),
        }
    }
}

/// A fault as asked for through the control API, read whole: the kind and its fields parsed
/// into a [`FaultKind`], the rules that join fields checked ([`FaultSpec::new`]). There is no
/// invalid spec to check later.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "AskedFault")]
pub struct FaultSpec {
    endpoint: Endpoint,
    vndr_no: Option<String>,
    count: Option<NonZeroU64>,
    kind: FaultKind,
}

/// The JSON of `POST /_sim/api/faults`, before the rules that join fields. Its own fields are
/// taken first; the rest (`kind` and the kind's fields, or anything unknown) goes to the kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AskedFault {
    endpoint: Endpoint,
    #[serde(default)]
    vndr_no: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(flatten)]
    kind: FaultKind,
}

impl TryFrom<AskedFault> for FaultSpec {
    type Error = String;

    fn try_from(a: AskedFault) -> Result<Self, String> {
        let count = match a.count {
            None => None,
            Some(n) => Some(
                NonZeroU64::new(n)
                    .ok_or("count: must be at least 1 (leave it out for until cleared)")?,
            ),
        };
        FaultSpec::new(a.endpoint, a.vndr_no, count, a.kind)
    }
}

impl FaultSpec {
    /// A fault for the next `count` calls to `endpoint` (until cleared without one), for one
    /// vendor's tokens or all. CHECKURL has no resultCode to force.
    pub fn new(
        endpoint: Endpoint,
        vndr_no: Option<String>,
        count: Option<NonZeroU64>,
        kind: FaultKind,
    ) -> Result<Self, String> {
        if endpoint == Endpoint::Check && matches!(kind, FaultKind::ResultCode { .. }) {
            return Err("resultCode: CHECKURL has no resultCode (it answers Y or N)".into());
        }
        Ok(FaultSpec {
            endpoint,
            vndr_no,
            count,
            kind,
        })
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// Only calls whose token belongs to this vendor (cert) are affected.
    pub fn vndr_no(&self) -> Option<&str> {
        self.vndr_no.as_deref()
    }

    /// How many calls; `None` until cleared.
    pub fn count(&self) -> Option<NonZeroU64> {
        self.count
    }

    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    /// The fault in force, as a store adds it under `id`.
    pub fn into_fault(self, id: u64) -> Fault {
        Fault {
            id,
            endpoint: self.endpoint,
            vndr_no: self.vndr_no,
            remaining: self.count.map(NonZeroU64::get),
            applied: 0,
            kind: self.kind,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(body: serde_json::Value) -> Result<FaultSpec, String> {
        serde_json::from_value(body).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_reads_with_its_own_fields_and_writes_back_the_same_json() {
        for (body, kind) in [
            (
                json!({"kind": "delay", "delayMs": 50}),
                FaultKind::Delay { delay_ms: 50 },
            ),
            (
                json!({"kind": "resultCode", "resultCode": "403"}),
                FaultKind::ResultCode {
                    result_code: ForcedCode::IpNotAllowed,
                },
            ),
            (json!({"kind": "http500"}), FaultKind::Http500 {}),
            (json!({"kind": "drop"}), FaultKind::Drop {}),
            (json!({"kind": "malformed"}), FaultKind::Malformed {}),
        ] {
            let mut asked = body.clone();
            asked["endpoint"] = "cert".into();
            asked["count"] = 2.into();
            let s = spec(asked).unwrap();
            assert_eq!(s.kind(), &kind);
            assert_eq!(s.count().map(NonZeroU64::get), Some(2));
            // What the Redis store keeps, and what it reads back.
            assert_eq!(serde_json::to_value(&kind).unwrap(), body);
            assert_eq!(serde_json::from_value::<FaultKind>(body).unwrap(), kind);
        }
    }

    #[test]
    fn a_listed_fault_keeps_its_shape() {
        let s = spec(json!({"endpoint": "cert", "vndrNo": "VR1", "count": 2,
                            "kind": "resultCode", "resultCode": "404"}))
        .unwrap();
        assert_eq!(
            serde_json::to_value(s.into_fault(7)).unwrap(),
            json!({"id": 7, "endpoint": "cert", "vndrNo": "VR1", "remaining": 2, "applied": 0,
                   "kind": "resultCode", "resultCode": "404"})
        );
    }

    #[test]
    fn an_unknown_kind_or_code_is_refused_naming_it() {
        for (body, words) in [
            (
                json!({"endpoint": "cert", "kind": "resultCode", "resultCode": "999"}),
                &["resultCode", "\"999\""][..],
            ),
            (
                json!({"endpoint": "cert", "kind": "resultCode", "resultCode": "OK"}),
                &["resultCode", "\"OK\""],
            ),
            (json!({"endpoint": "cert", "kind": "explode"}), &["explode"]),
            (json!({"endpoint": "cert"}), &["kind"]),
        ] {
            let err = spec(body).unwrap_err();
            for w in words {
                assert!(err.contains(w), "{w} in {err}");
            }
        }
    }

    #[test]
    fn fields_that_do_not_fit_the_kind_are_refused_naming_them() {
        for (body, word) in [
            (json!({"endpoint": "cert", "kind": "delay"}), "delayMs"),
            (
                json!({"endpoint": "cert", "kind": "delay", "delayMs": 120_001}),
                "delayMs",
            ),
            (
                json!({"endpoint": "cert", "kind": "resultCode"}),
                "resultCode",
            ),
            (
                json!({"endpoint": "cert", "kind": "http500", "delayMs": 5}),
                "delayMs",
            ),
            (
                json!({"endpoint": "cert", "kind": "delay", "delayMs": 5, "resultCode": "401"}),
                "resultCode",
            ),
            (
                json!({"endpoint": "cert", "kind": "drop", "typo": 1}),
                "typo",
            ),
            (
                json!({"endpoint": "cert", "kind": "drop", "count": 0}),
                "count",
            ),
            (
                json!({"endpoint": "check", "kind": "resultCode", "resultCode": "401"}),
                "CHECKURL",
            ),
        ] {
            let err = spec(body.clone()).unwrap_err();
            assert!(err.contains(word), "{body}: {word} in {err}");
        }
    }
}
