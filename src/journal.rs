//! The journal: a bounded ring of what happened (tokens issued, cert and CHECKURL calls), newest
//! last, for the journal page and `GET /_sim/api/journal`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// A fixed word (`cert`, `otpTokenp`) or one read back from a saved state file.
pub type Text = std::borrow::Cow<'static, str>;

/// One thing that happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Increasing number, unique for the life of the process.
    pub id: u64,
    /// When, RFC 3339.
    pub at: String,
    /// Milliseconds since the Unix epoch (for filtering by time).
    #[serde(rename = "atMs")]
    pub at_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// A field left out of a GATE form, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Omission {
    pub field: Text,
    pub reason: String,
}

/// What happened, with what a tester needs to see of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum EventKind {
    /// A GATE form was issued (through the control API or the browser pages).
    #[serde(rename_all = "camelCase")]
    Gate {
        cmpy_cd: String,
        cust_id: String,
        vndr_no: String,
        /// The token issued, if any (none without consent).
        otp_token: Option<String>,
        expires_at: Option<String>,
        omitted: Vec<Omission>,
        /// `api`, `browser` or `demo`.
        source: Text,
    },
    /// A call to the cert endpoint.
    #[serde(rename_all = "camelCase")]
    Cert {
        endpoint: Text,
        method: String,
        /// Which parameter carried the token: `otpTokenp`, `otpToken`, or none.
        param: Option<Text>,
        /// Where it was: `query` or `form`.
        param_in: Option<Text>,
        /// The token as sent (truncated if absurdly long).
        otp_token: Option<String>,
        /// The caller's address as decided (peer, or forwarded by a trusted proxy).
        ip: String,
        /// The TCP peer.
        peer: String,
        tls: bool,
        vndr_no: Option<String>,
        result_code: String,
        http_status: u16,
        /// Why, in words a person understands.
        reason: String,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
    /// A call to CHECKURL.
    #[serde(rename_all = "camelCase")]
    Check {
        endpoint: Text,
        method: String,
        ip: String,
        cmpy_cd: Option<String>,
        cust_id: Option<String>,
        user_name: Option<String>,
        answer: Text,
        reason: String,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
}

impl EventKind {
    /// The endpoint name used for filtering: `gate`, `cert` or `check`.
    pub fn endpoint(&self) -> &'static str {
        match self {
            EventKind::Gate { .. } => "gate",
            EventKind::Cert { .. } => "cert",
            EventKind::Check { .. } => "check",
        }
    }
}

/// The bounded ring. Cheap to clone.
#[derive(Clone)]
pub struct Journal(Arc<Inner>);

struct Inner {
    /// A std mutex: held only to push or copy, never across an await.
    events: Mutex<VecDeque<Arc<Event>>>,
    capacity: usize,
    next_id: AtomicU64,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Journal(Arc::new(Inner {
            events: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            capacity,
            next_id: AtomicU64::new(1),
        }))
    }

    /// Puts saved events back (at start, from a state file), keeping ids increasing.
    pub fn restore(&self, saved: Vec<Event>) {
        let mut events = self.0.events.lock().unwrap_or_else(|e| e.into_inner());
        for event in saved {
            self.0.next_id.fetch_max(event.id + 1, Ordering::Relaxed);
            if self.0.capacity > 0 {
                if events.len() >= self.0.capacity {
                    events.pop_front();
                }
                events.push_back(Arc::new(event));
            }
        }
    }

    /// The id the next event gets: changes whenever something is recorded.
    pub fn next_id(&self) -> u64 {
        self.0.next_id.load(Ordering::Relaxed)
    }

    /// Appends an event, dropping the oldest when full. Returns its id.
    pub fn record(&self, at_ms: u64, kind: EventKind) -> u64 {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        if self.0.capacity == 0 {
            return id;
        }
        let event = Arc::new(Event {
            id,
            at: crate::clock::rfc3339(at_ms),
            at_ms,
            kind,
        });
        let mut events = self.0.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() >= self.0.capacity {
            events.pop_front();
        }
        events.push_back(event);
        id
    }

    /// A copy of the events, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<Event>> {
        let events = self.0.events.lock().unwrap_or_else(|e| e.into_inner());
        events.iter().cloned().collect()
    }

    /// Empties the journal.
    pub fn clear(&self) {
        self.0
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn len(&self) -> usize {
        self.0
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity
    }
}
