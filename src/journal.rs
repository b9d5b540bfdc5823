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
    /// When, written as RFC 3339 (formatted only when read, not on the hot path).
    #[serde(with = "rfc3339_ms")]
    pub at: u64,
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
        method: Text,
        /// Which parameter carried the token: `otpTokenp`, `otpToken`, or none.
        param: Option<Text>,
        /// Where it was: `query` or `form`.
        param_in: Option<Text>,
        /// The token as sent (truncated if absurdly long).
        otp_token: Option<String>,
        /// The caller's address as decided (peer, or forwarded by a trusted proxy).
        ip: std::net::IpAddr,
        /// The TCP peer.
        peer: std::net::IpAddr,
        tls: bool,
        vndr_no: Option<String>,
        result_code: String,
        http_status: u16,
        /// Why, in words a person understands.
        reason: Text,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
    /// A call to CHECKURL.
    #[serde(rename_all = "camelCase")]
    Check {
        endpoint: Text,
        method: Text,
        ip: std::net::IpAddr,
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
            at: at_ms,
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

/// `u64` milliseconds as an RFC 3339 string in KST, and back.
mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::clock::rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.timestamp_millis().max(0) as u64)
            .map_err(serde::de::Error::custom)
    }
}

/// The request method as journal text, without allocating for the usual ones.
pub fn method_text(m: &actix_web::http::Method) -> Text {
    match *m {
        actix_web::http::Method::GET => Text::Borrowed("GET"),
        actix_web::http::Method::POST => Text::Borrowed("POST"),
        _ => Text::Owned(m.to_string()),
    }
}
