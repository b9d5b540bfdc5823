//! Injected faults: for the next N calls (or until cleared) to an endpoint, optionally for one
//! vendor, a delay, a forced resultCode, an HTTP 500, a dropped connection or a malformed body.
//!
//! The hot path pays one atomic load when no fault is set.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

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

/// The faults in force.
#[derive(Default)]
pub struct Faults {
    /// True when the list may be non-empty: lets the hot path skip the lock.
    any: AtomicBool,
    next_id: AtomicU64,
    /// A std mutex: held only to scan a short list, never across an await.
    list: Mutex<Vec<Fault>>,
}

impl Faults {
    /// Validates and adds a fault.
    pub fn add(&self, spec: FaultSpec) -> Result<Fault, String> {
        let kind = spec.check()?;
        let fault = Fault {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            endpoint: spec.endpoint,
            vndr_no: spec.vndr_no,
            remaining: spec.count,
            applied: 0,
            kind,
        };
        let mut list = self.lock();
        list.push(fault.clone());
        self.any.store(true, Ordering::Release);
        Ok(fault)
    }

    /// The fault that applies to this call, if any, counted as applied. The oldest matching
    /// fault goes first.
    pub fn take(&self, endpoint: Endpoint, vendor: Option<&str>) -> Option<FaultKind> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut list = self.lock();
        let i = list.iter().position(|f| {
            f.endpoint == endpoint && f.vndr_no.as_deref().is_none_or(|v| Some(v) == vendor)
        })?;
        let fault = &mut list[i];
        fault.applied += 1;
        let kind = fault.kind.clone();
        if let Some(remaining) = &mut fault.remaining {
            *remaining -= 1;
            if *remaining == 0 {
                list.remove(i);
            }
        }
        self.any.store(!list.is_empty(), Ordering::Release);
        Some(kind)
    }

    /// Whether no fault is in force (one atomic load).
    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    pub fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// Removes one fault; false when unknown.
    pub fn remove(&self, id: u64) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|f| f.id != id);
        self.any.store(!list.is_empty(), Ordering::Release);
        list.len() != before
    }

    pub fn clear(&self) {
        self.lock().clear();
        self.any.store(false, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(vendor: Option<&str>, count: Option<u64>) -> FaultSpec {
        FaultSpec {
            endpoint: Endpoint::Cert,
            vndr_no: vendor.map(String::from),
            count,
            kind: "http500".into(),
            delay_ms: None,
            result_code: None,
        }
    }

    #[test]
    fn a_counted_fault_applies_that_many_times_to_its_vendor_only() {
        let faults = Faults::default();
        faults.add(spec(Some("VR1"), Some(2))).unwrap();
        assert_eq!(faults.take(Endpoint::Cert, Some("VR2")), None);
        assert_eq!(faults.take(Endpoint::Check, Some("VR1")), None);
        assert!(faults.take(Endpoint::Cert, Some("VR1")).is_some());
        assert!(faults.take(Endpoint::Cert, Some("VR1")).is_some());
        assert_eq!(faults.take(Endpoint::Cert, Some("VR1")), None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn an_uncounted_fault_stays_until_removed() {
        let faults = Faults::default();
        let f = faults.add(spec(None, None)).unwrap();
        for _ in 0..5 {
            assert!(faults.take(Endpoint::Cert, None).is_some());
        }
        assert!(faults.remove(f.id));
        assert_eq!(faults.take(Endpoint::Cert, None), None);
    }

    #[test]
    fn invalid_faults_are_refused() {
        let faults = Faults::default();
        assert!(faults.add(spec(None, Some(0))).is_err());
        let mut s = spec(None, None);
        s.kind = "resultCode".into();
        s.result_code = Some("OK".into());
        assert!(faults.add(s).is_err());
    }
}
