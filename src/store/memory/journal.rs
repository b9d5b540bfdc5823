//! The memory store's journal: a bounded ring of events, newest last, for the journal page and
//! `GET /_sim/api/journal`. Bounded by event count and by bytes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::event::{Event, EventKind};

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
    /// The replica named in the events recorded here.
    replica: Arc<str>,
}

/// The largest journal capacity accepted (a slot costs 16 bytes before it holds an event).
pub const MAX_CAPACITY: usize = 1_000_000;

impl Journal {
    /// A journal of at most `capacity` events taking at most `max_bytes`, recorded by `replica`.
    pub fn new(capacity: usize, max_bytes: usize, replica: Arc<str>) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        Journal(Arc::new(Inner {
            slots: (0..capacity).map(|_| Mutex::new(None)).collect(),
            capacity,
            max_bytes,
            bytes: AtomicUsize::new(0),
            evicting: Mutex::new(()),
            next_id: AtomicU64::new(1),
            floor: AtomicU64::new(1),
            replica,
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
    /// full. Returns it, with its id.
    ///
    /// [`MAX_FIELD_BYTES`]: crate::domain::event::MAX_FIELD_BYTES
    pub fn record(&self, at_ms: u64, mut kind: EventKind) -> Arc<Event> {
        kind.bound();
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(Event {
            id,
            at: at_ms,
            at_ms,
            replica: Some(self.0.replica.clone()),
            kind,
        });
        if self.0.capacity > 0 {
            self.put(event.clone());
        }
        event
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
    use crate::domain::event::MAX_FIELD_BYTES;

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
        let journal = Journal::new(3, usize::MAX, "r1".into());
        for n in 0..5 {
            journal.record(n, check(n));
        }
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, [3, 4, 5]);
        assert_eq!(journal.len(), 3);
        let replicas: Vec<_> = journal
            .snapshot()
            .iter()
            .map(|e| e.replica.clone())
            .collect();
        assert!(
            replicas.iter().all(|r| r.as_deref() == Some("r1")),
            "{replicas:?}"
        );
        journal.clear();
        assert!(journal.snapshot().is_empty() && journal.is_empty());
        journal.record(9, check(9));
        assert_eq!(journal.snapshot().len(), 1);
    }

    #[test]
    fn many_threads_record_without_losing_an_event() {
        let journal = Journal::new(10_000, usize::MAX, "r1".into());
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
        let journal = Journal::new(1000, 20 * 1024, "r1".into());
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
        let journal = Journal::new(10, usize::MAX, "r1".into());
        let saved: Vec<Event> = (101..=103)
            .map(|id| Event {
                id,
                at: 0,
                at_ms: 0,
                replica: Some("earlier".into()),
                kind: check(id),
            })
            .collect();
        journal.restore(saved);
        assert_eq!(journal.len(), 3);
        assert_eq!(journal.record(1, check(1)).id, 104);
        let ids: Vec<u64> = journal.snapshot().iter().map(|e| e.id).collect();
        assert_eq!(ids, [101, 102, 103, 104]);
        // Restored events keep the replica that recorded them.
        let replicas: Vec<_> = journal
            .snapshot()
            .iter()
            .map(|e| e.replica.clone())
            .collect();
        assert_eq!(replicas[0].as_deref(), Some("earlier"));
        assert_eq!(replicas[3].as_deref(), Some("r1"));
    }
}
