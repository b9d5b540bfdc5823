//! The journal: a bounded ring of what happened (tokens issued, cert and CHECKURL calls), newest
//! last, for the journal page and `GET /_sim/api/journal`. Bounded three ways, because callers
//! choose what goes in it: by event count, by bytes, and each text field cut to a few hundred
//! bytes when it is recorded.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
        /// The host the call was addressed to (`Host`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        vndr_no: Option<String>,
        result_code: String,
        http_status: u16,
        /// Why, in words a person understands.
        reason: Text,
        /// Set when an injected fault shaped the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
    },
    /// A member entered the mall: the login page, or the company-side entry
    /// (`/sso/loginSsoGate`).
    #[serde(rename_all = "camelCase")]
    Login {
        /// `login` or `loginSsoGate`.
        via: Text,
        cmpy_cd: String,
        /// The ID given (`mbrId`, `memID`).
        mbr_id: String,
        /// The member logged in, when one was.
        cust_id: Option<String>,
        /// `ok`, `joined` (created by auto-join) or `refused`.
        result: Text,
        reason: String,
        /// Where the browser was sent.
        location: Option<String>,
    },
    /// A call to CHECKURL.
    #[serde(rename_all = "camelCase")]
    Check {
        endpoint: Text,
        method: Text,
        ip: std::net::IpAddr,
        /// The TCP peer.
        #[serde(default = "unspecified")]
        peer: std::net::IpAddr,
        #[serde(default)]
        tls: bool,
        /// The vendor the caller's address belongs to, when exactly one vendor allows it.
        #[serde(default)]
        vndr_no: Option<String>,
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

fn unspecified() -> std::net::IpAddr {
    std::net::Ipv4Addr::UNSPECIFIED.into()
}

/// Who made a protocol call and how: the same for the cert endpoint and CHECKURL.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub method: Text,
    /// The host the call was addressed to.
    pub host: Option<String>,
    /// The caller as decided (peer, or forwarded by a trusted proxy).
    pub ip: std::net::IpAddr,
    pub peer: std::net::IpAddr,
    pub tls: bool,
}

/// What a cert call was made with.
#[derive(Debug, Clone, Default)]
pub struct TokenSent {
    /// `otpTokenp` or `otpToken`.
    pub param: Option<Text>,
    /// `query` or `form`.
    pub place: Option<Text>,
    pub value: Option<String>,
}

impl EventKind {
    /// A cert call and its answer.
    pub fn cert(
        call: CallInfo,
        sent: TokenSent,
        vndr_no: Option<String>,
        result_code: &str,
        http_status: u16,
        reason: impl Into<Text>,
        fault: Option<String>,
    ) -> Self {
        EventKind::Cert {
            endpoint: "cert".into(),
            method: call.method,
            param: sent.param,
            param_in: sent.place,
            otp_token: sent.value,
            ip: call.ip,
            peer: call.peer,
            tls: call.tls,
            host: call.host,
            vndr_no,
            result_code: result_code.to_owned(),
            http_status,
            reason: reason.into(),
            fault,
        }
    }

    /// A CHECKURL call and its answer.
    pub fn check(
        call: &CallInfo,
        params: &crate::protocol::params::CheckParams,
        vndr_no: Option<String>,
        answer: &'static str,
        reason: String,
        fault: Option<String>,
    ) -> Self {
        EventKind::Check {
            endpoint: "check".into(),
            method: call.method.clone(),
            ip: call.ip,
            peer: call.peer,
            tls: call.tls,
            vndr_no,
            cmpy_cd: params.company.clone(),
            cust_id: params.customer_id.clone(),
            user_name: params.name.clone(),
            answer: answer.into(),
            reason,
            fault,
        }
    }
}

/// The most bytes a text field of an event keeps (more is cut, with `…`).
pub const MAX_FIELD_BYTES: usize = 256;

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn cut(s: &mut String) {
    if s.len() > MAX_FIELD_BYTES {
        *s = truncate(s, MAX_FIELD_BYTES);
    }
}

fn cut_text(t: &mut Text) {
    if t.len() > MAX_FIELD_BYTES {
        *t = Text::Owned(truncate(t, MAX_FIELD_BYTES));
    }
}

impl EventKind {
    /// Cuts every text field a caller can fill to [`MAX_FIELD_BYTES`].
    pub fn bound(&mut self) {
        match self {
            EventKind::Gate {
                cmpy_cd,
                cust_id,
                vndr_no,
                otp_token,
                omitted,
                ..
            } => {
                for s in [cmpy_cd, cust_id, vndr_no] {
                    cut(s);
                }
                otp_token.iter_mut().for_each(cut);
                omitted.iter_mut().for_each(|o| cut(&mut o.reason));
            }
            EventKind::Cert {
                otp_token,
                vndr_no,
                reason,
                host,
                ..
            } => {
                otp_token.iter_mut().for_each(cut);
                vndr_no.iter_mut().for_each(cut);
                host.iter_mut().for_each(cut);
                cut_text(reason);
            }
            EventKind::Login {
                cmpy_cd,
                mbr_id,
                cust_id,
                reason,
                location,
                ..
            } => {
                for s in [cmpy_cd, mbr_id, reason] {
                    cut(s);
                }
                cust_id.iter_mut().for_each(cut);
                location.iter_mut().for_each(cut);
            }
            EventKind::Check {
                cmpy_cd,
                cust_id,
                user_name,
                reason,
                vndr_no,
                ..
            } => {
                for s in [cmpy_cd, cust_id, user_name, vndr_no] {
                    s.iter_mut().for_each(cut);
                }
                cut(reason);
            }
        }
    }

    /// About how many bytes the event holds (its text and a fixed part), for the byte bound.
    fn size(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        256 + match self {
            EventKind::Gate {
                cmpy_cd,
                cust_id,
                vndr_no,
                otp_token,
                expires_at,
                omitted,
                ..
            } => {
                cmpy_cd.len()
                    + cust_id.len()
                    + vndr_no.len()
                    + opt(otp_token)
                    + opt(expires_at)
                    + omitted.iter().map(|o| 64 + o.reason.len()).sum::<usize>()
            }
            EventKind::Cert {
                otp_token,
                vndr_no,
                reason,
                fault,
                host,
                ..
            } => opt(otp_token) + opt(vndr_no) + reason.len() + opt(fault) + opt(host),
            EventKind::Login {
                cmpy_cd,
                mbr_id,
                cust_id,
                reason,
                location,
                ..
            } => cmpy_cd.len() + mbr_id.len() + opt(cust_id) + reason.len() + opt(location),
            EventKind::Check {
                cmpy_cd,
                cust_id,
                user_name,
                reason,
                fault,
                vndr_no,
                ..
            } => {
                opt(cmpy_cd)
                    + opt(cust_id)
                    + opt(user_name)
                    + reason.len()
                    + opt(fault)
                    + opt(vndr_no)
            }
        }
    }

    /// The endpoint name used for filtering: `gate`, `cert` or `check`.
    pub fn endpoint(&self) -> &'static str {
        match self {
            EventKind::Gate { .. } => "gate",
            EventKind::Cert { .. } => "cert",
            EventKind::Check { .. } => "check",
            EventKind::Login { .. } => "login",
        }
    }
}

/// The bounded ring. Cheap to clone.
///
/// Each event has a slot of its own, chosen by its id modulo the capacity, and each slot its own
/// lock: requests recording at the same time lock different slots, so the journal takes no lock
/// that all requests share. A slot is only ever replaced by a newer event (the one `capacity` ids
/// later), which is what makes it a ring.
#[derive(Clone)]
pub struct Journal(Arc<Inner>);

struct Inner {
    /// Std mutexes: each held only to put or copy one `Arc`, never across an await.
    slots: Box<[Mutex<Option<Arc<Event>>>]>,
    capacity: usize,
    /// The most bytes the held events may take (their [`EventKind::size`]).
    max_bytes: usize,
    /// What the held events take now.
    bytes: AtomicUsize,
    /// Taken only to drop the oldest events when over `max_bytes`, never on the usual path.
    evicting: Mutex<()>,
    next_id: AtomicU64,
    /// Events with a smaller id were cleared and are never shown again.
    floor: AtomicU64,
}

/// The largest journal capacity accepted (a slot costs 16 bytes before it holds an event).
pub const MAX_CAPACITY: usize = 1_000_000;

impl Journal {
    /// A journal of at most `capacity` events taking at most `max_bytes`.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        Journal(Arc::new(Inner {
            slots: (0..capacity).map(|_| Mutex::new(None)).collect(),
            capacity,
            max_bytes,
            bytes: AtomicUsize::new(0),
            evicting: Mutex::new(()),
            next_id: AtomicU64::new(1),
            floor: AtomicU64::new(1),
        }))
    }

    /// Puts an event in its slot unless a newer one is there already, then drops the oldest
    /// events while the journal holds more than its bytes.
    fn put(&self, event: Arc<Event>) {
        let size = event.kind.size();
        {
            let slot = &self.0.slots[(event.id % self.0.capacity as u64) as usize];
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_none_or(|old| old.id < event.id) {
                if let Some(old) = slot.replace(event) {
                    self.0.bytes.fetch_sub(old.kind.size(), Ordering::Relaxed);
                }
                self.0.bytes.fetch_add(size, Ordering::Relaxed);
            }
        }
        if self.0.bytes.load(Ordering::Relaxed) > self.0.max_bytes {
            self.evict();
        }
    }

    /// Drops the oldest events until the journal is within its bytes.
    fn evict(&self) {
        let _only_one = self.0.evicting.lock().unwrap_or_else(|e| e.into_inner());
        while self.0.bytes.load(Ordering::Relaxed) > self.0.max_bytes {
            let next = self.next_id();
            let oldest = next
                .saturating_sub(self.0.capacity as u64)
                .max(self.0.floor.load(Ordering::Relaxed));
            if oldest + 1 >= next {
                break; // keep the newest event whatever its size
            }
            let slot = &self.0.slots[(oldest % self.0.capacity as u64) as usize];
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|e| e.id == oldest) {
                if let Some(old) = slot.take() {
                    self.0.bytes.fetch_sub(old.kind.size(), Ordering::Relaxed);
                }
            }
            self.0.floor.fetch_max(oldest + 1, Ordering::Relaxed);
        }
    }

    /// Puts saved events back (at start, from a state file), keeping ids increasing.
    pub fn restore(&self, saved: Vec<Event>) {
        if let Some(first) = saved.first() {
            if self.is_empty() {
                self.0.floor.store(first.id, Ordering::Relaxed);
            }
        }
        for event in saved {
            self.0.next_id.fetch_max(event.id + 1, Ordering::Relaxed);
            if self.0.capacity > 0 {
                self.put(Arc::new(event));
            }
        }
    }

    /// The id the next event gets: changes whenever something is recorded.
    pub fn next_id(&self) -> u64 {
        self.0.next_id.load(Ordering::Relaxed)
    }

    /// Appends an event (its text fields cut to [`MAX_FIELD_BYTES`]), replacing the oldest when
    /// full. Returns its id.
    pub fn record(&self, at_ms: u64, mut kind: EventKind) -> u64 {
        kind.bound();
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        if self.0.capacity > 0 {
            self.put(Arc::new(Event {
                id,
                at: at_ms,
                at_ms,
                kind,
            }));
        }
        id
    }

    /// A copy of the last `capacity` events, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<Event>> {
        let floor = self.0.floor.load(Ordering::Relaxed);
        let next = self.next_id();
        let oldest = next.saturating_sub(self.0.capacity as u64).max(floor);
        let mut events: Vec<Arc<Event>> = self
            .0
            .slots
            .iter()
            .filter_map(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .filter(|e| e.id >= oldest)
            .collect();
        events.sort_unstable_by_key(|e| e.id);
        events
    }

    /// Empties the journal.
    pub fn clear(&self) {
        self.0.floor.store(self.next_id(), Ordering::Relaxed);
        for slot in self.0.slots.iter() {
            if let Some(old) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
                self.0.bytes.fetch_sub(old.kind.size(), Ordering::Relaxed);
            }
        }
    }

    /// How many events it holds (without copying them).
    pub fn len(&self) -> usize {
        let held = self
            .next_id()
            .saturating_sub(self.0.floor.load(Ordering::Relaxed));
        held.min(self.0.capacity as u64) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: u64) -> EventKind {
        EventKind::Check {
            endpoint: "check".into(),
            method: "GET".into(),
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            tls: false,
            vndr_no: None,
            cmpy_cd: None,
            cust_id: Some(n.to_string()),
            user_name: None,
            answer: "N".into(),
            reason: String::new(),
            fault: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_events_in_order() {
        let journal = Journal::new(3, usize::MAX);
        for n in 0..5 {
            journal.record(n, check(n));
        }
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, [3, 4, 5]);
        assert_eq!(journal.len(), 3);
        journal.clear();
        assert!(journal.snapshot().is_empty() && journal.is_empty());
        journal.record(9, check(9));
        assert_eq!(journal.snapshot().len(), 1);
    }

    #[test]
    fn many_threads_record_without_losing_an_event() {
        let journal = Journal::new(10_000, usize::MAX);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for n in 0..1000 {
                        journal.record(n, check(n));
                    }
                });
            }
        });
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=4000).collect::<Vec<_>>());
    }

    #[test]
    fn the_journal_keeps_within_its_bytes_and_cuts_long_fields() {
        let journal = Journal::new(1000, 20 * 1024);
        for n in 0..500 {
            let mut kind = check(n);
            if let EventKind::Check { user_name, .. } = &mut kind {
                *user_name = Some("가".repeat(20_000));
            }
            journal.record(n, kind);
        }
        let events = journal.snapshot();
        let held: usize = events.iter().map(|e| e.kind.size()).sum();
        assert!(held <= 20 * 1024, "{held} bytes held");
        assert!(
            events.len() > 10 && events.len() < 500,
            "{} events",
            events.len()
        );
        assert_eq!(events.last().unwrap().id, 500, "the newest stays");
        let EventKind::Check { user_name, .. } = &events[0].kind else {
            panic!()
        };
        assert!(user_name.as_ref().unwrap().len() <= MAX_FIELD_BYTES + 3);
    }

    #[test]
    fn restored_events_come_back_and_new_ids_follow_them() {
        let journal = Journal::new(10, usize::MAX);
        let saved: Vec<Event> = (101..=103)
            .map(|id| Event {
                id,
                at: 0,
                at_ms: 0,
                kind: check(id),
            })
            .collect();
        journal.restore(saved);
        assert_eq!(journal.len(), 3);
        assert_eq!(journal.record(1, check(1)), 104);
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, [101, 102, 103, 104]);
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
