//! The memory store's list of injected faults, counted down as calls take them. The hot path
//! pays one atomic load when no fault is set.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::domain::fault::{Endpoint, Fault, FaultKind, FaultSpec};

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
    /// Adds a fault.
    pub fn add(&self, spec: FaultSpec) -> Fault {
        let fault = spec.into_fault(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut list = self.lock();
        list.push(fault.clone());
        self.any.store(true, Ordering::Release);
        fault
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
    use std::num::NonZeroU64;

    use super::*;

    fn spec(vendor: Option<&str>, count: Option<u64>) -> FaultSpec {
        FaultSpec::new(
            Endpoint::Cert,
            vendor.map(String::from),
            count.and_then(NonZeroU64::new),
            FaultKind::Http500 {},
        )
        .unwrap()
    }

    #[test]
    fn a_counted_fault_applies_that_many_times_to_its_vendor_only() {
        let faults = Faults::default();
        faults.add(spec(Some("VR1"), Some(2)));
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
        let f = faults.add(spec(None, None));
        for _ in 0..5 {
            assert!(faults.take(Endpoint::Cert, None).is_some());
        }
        assert!(faults.remove(f.id));
        assert_eq!(faults.take(Endpoint::Cert, None), None);
    }
}
