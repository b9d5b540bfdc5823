//! The journal in Redis: one capped stream, written by one task per replica, so that recording
//! never waits on Redis. The writer takes everything queued since its last write into one
//! stream entry (a JSON array, its entry id the first event's id from a shared counter): under
//! load, while one write is on its way, the next batch gathers, so a cert call costs Redis a
//! fraction of one write. A read first waits for this replica's events; another replica's
//! appear as soon as its writer's round trip is done (a millisecond or so). The base and every
//! sandbox have a journal of their own (under their own prefix): one writer serves them all,
//! an entry holding events of one journal only.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::conn::{down, Conn};
use super::scripts::Scripts;
use crate::domain::event::{Event, EventKind};
use crate::store::answers::StoreError;

/// Events written in one go at most.
const JOURNAL_BATCH: usize = 512;

/// One event as a batch entry holds it: its time, the replica that recorded it (absent in
/// entries written by a version that did not name replicas) and the event.
#[derive(serde::Deserialize)]
struct Stored {
    t: u64,
    #[serde(default)]
    r: Option<Arc<str>>,
    e: EventKind,
}

/// Where an event goes: a journal's key prefix, and who watches that journal's events.
pub(super) struct Target {
    pub(super) prefix: String,
    pub(super) events: broadcast::Sender<Arc<Event>>,
}

enum JournalMsg {
    Event(Arc<Target>, u64, Box<EventKind>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// This replica's side of the journal: the queue to its writer task.
pub(super) struct Journal {
    tx: mpsc::UnboundedSender<JournalMsg>,
    capacity: usize,
    /// Where, without a password (for messages).
    shown: String,
}

impl Journal {
    /// Starts this replica's writer.
    pub(super) fn spawn(
        conn: Conn,
        scripts: Arc<Scripts>,
        capacity: usize,
        shown: String,
        replica: Arc<str>,
    ) -> Journal {
        let (tx, rx) = mpsc::unbounded_channel();
        let w = Writer {
            capacity,
            replica_json: serde_json::to_string(&*replica).unwrap_or_else(|_| "null".into()),
            replica,
            ..Writer::default()
        };
        tokio::spawn(write_journal(conn, scripts, rx, w, shown.clone()));
        Journal {
            tx,
            capacity,
            shown,
        }
    }

    /// Queues an event for the writer, for the journal `target` names.
    pub(super) fn record(&self, target: &Arc<Target>, at_ms: u64, kind: EventKind) {
        let _ = self
            .tx
            .send(JournalMsg::Event(target.clone(), at_ms, Box::new(kind)));
    }

    /// Waits until this replica's events so far are in Redis.
    pub(super) async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        if self.tx.send(JournalMsg::Flush(done)).is_err() {
            return Err(StoreError::Unavailable("the journal writer stopped".into()));
        }
        wait.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the journal writer stopped".into())))
    }

    /// The journal, oldest first: this replica's events written first.
    pub(super) async fn read(
        &self,
        mut conn: Conn,
        prefix: &str,
    ) -> Result<Vec<Arc<Event>>, StoreError> {
        self.flush().await?;
        let capacity = self.capacity;
        // Each entry holds at least one event: the newest `capacity` entries hold the newest
        // `capacity` events.
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(format!("{prefix}journal"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(capacity.max(1))
            .query_async(&mut conn)
            .await
            .map_err(|e| down(&self.shown, e))?;
        let mut events: Vec<Arc<Event>> = Vec::new();
        for (id, fields) in entries {
            let first: u64 = id
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let Some((_, batch)) = fields.iter().find(|(k, _)| k == "b") else {
                continue;
            };
            let Ok(batch) = serde_json::from_str::<Vec<Stored>>(batch) else {
                continue;
            };
            events.extend(batch.into_iter().enumerate().map(|(i, s)| {
                Arc::new(Event {
                    id: first + i as u64,
                    at: s.t,
                    at_ms: s.t,
                    replica: s.r,
                    kind: s.e,
                })
            }));
        }
        events.sort_by_key(|e| e.id);
        let extra = events.len().saturating_sub(capacity);
        events.drain(..extra);
        Ok(events)
    }

    pub(super) async fn clear(&self, mut conn: Conn, prefix: &str) -> Result<(), StoreError> {
        self.flush().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(format!("{prefix}journal"))
            .query_async(&mut conn)
            .await
            .map_err(|e| down(&self.shown, e))?;
        Ok(())
    }
}

/// The journal writer: takes events as they come and writes what queued since its last write
/// as one entry. While Redis is out of reach it holds them (at most the journal's capacity, the
/// oldest dropped first) and tries again with the same entry, so that an outage loses no event
/// unless it outlasts the capacity, and a retried write is never written twice. A flush is
/// answered once every event queued before it is written (or dropped), so that a reader under
/// load waits for its own events only, not for the load to end.
async fn write_journal(
    conn: Conn,
    scripts: Arc<Scripts>,
    mut rx: mpsc::UnboundedReceiver<JournalMsg>,
    mut w: Writer,
    shown: String,
) {
    let capacity = w.capacity;
    let mut failing = false;
    while let Some(msg) = rx.recv().await {
        w.take(msg);
        loop {
            while let Ok(msg) = rx.try_recv() {
                w.take(msg);
            }
            if w.pending.is_none() && !w.start_entry() {
                break;
            }
            let Some(entry) = &w.pending else { break };
            let prefix = &entry.target.prefix;
            let mut call = scripts.append.prepare_invoke();
            call.key(format!("{prefix}journal"))
                .key(format!("{prefix}journal:next"))
                .key(format!("{prefix}once:{}", entry.call))
                .key(format!("{prefix}meta"))
                .arg(entry.count)
                .arg(&entry.json)
                .arg(capacity + JOURNAL_BATCH);
            match call.invoke_async::<u64>(&mut conn.clone()).await {
                Ok(first) => {
                    // Watchers learn of the events with the ids Redis gave them.
                    for (i, (at, kind)) in entry.kinds.iter().enumerate() {
                        if let Some(kind) = kind {
                            let _ = entry.target.events.send(Arc::new(Event {
                                id: first + i as u64,
                                at: *at,
                                at_ms: *at,
                                replica: Some(w.replica.clone()),
                                kind: kind.clone(),
                            }));
                        }
                    }
                    w.done += entry.count as u64;
                    w.pending = None;
                    w.answer(Ok(()));
                    if failing {
                        tracing::info!("journal: Redis at {shown} is back; held events written");
                        failing = false;
                    }
                }
                Err(e) => {
                    w.answer_all(Err(StoreError::Unavailable(format!(
                        "Redis at {shown}: {e}"
                    ))));
                    if !failing {
                        tracing::warn!(
                            "journal: cannot write to Redis at {shown} ({e}); holding up to {capacity} events and trying again"
                        );
                        failing = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        w.answer(Ok(()));
        if w.dropped > 0 {
            tracing::warn!(
                "journal: {} events dropped: more than the journal's capacity ({capacity}) waited to be written",
                w.dropped
            );
            w.dropped = 0;
        }
    }
}

/// One entry on its way: kept whole until Redis has it, so a retry sends the same entry.
struct Entry {
    /// The journal it is for.
    target: Arc<Target>,
    /// The write's own number (`once:<call>`).
    call: u64,
    count: usize,
    json: String,
    /// The events, kept when somebody watches (else `None`).
    kinds: Vec<(u64, Option<EventKind>)>,
}

/// An event waiting for an entry: its journal, time, JSON, and the event when somebody watches.
type Queued = (Arc<Target>, u64, String, Option<EventKind>);

/// What the writer holds.
#[derive(Default)]
struct Writer {
    capacity: usize,
    /// This replica's id, and as a JSON string (in every event it writes).
    replica: Arc<str>,
    replica_json: String,
    /// Events not yet in an entry: (journal, time, JSON, the event when somebody watches).
    queued: std::collections::VecDeque<Queued>,
    pending: Option<Entry>,
    /// Events taken in, and events written or dropped.
    received: u64,
    done: u64,
    dropped: u64,
    /// Flushes waiting: the events they wait for (`received` when asked).
    flushes: Vec<(u64, oneshot::Sender<Result<(), StoreError>>)>,
}

impl Writer {
    fn take(&mut self, msg: JournalMsg) {
        match msg {
            JournalMsg::Event(target, at, mut kind) => {
                self.received += 1;
                kind.bound();
                match serde_json::to_string(&kind) {
                    Ok(json) if self.capacity > 0 => {
                        let watched = (target.events.receiver_count() > 0).then_some(*kind);
                        self.queued.push_back((target, at, json, watched))
                    }
                    _ => self.done += 1,
                }
                while self.queued.len() > self.capacity {
                    self.queued.pop_front();
                    self.dropped += 1;
                    crate::store::counts::journal_event_dropped();
                    self.done += 1;
                }
            }
            JournalMsg::Flush(done) => self.flushes.push((self.received, done)),
        }
    }

    /// Makes the next entry from what is queued; false when nothing is.
    fn start_entry(&mut self) -> bool {
        let Some((target, ..)) = self.queued.front() else {
            return false;
        };
        let target = target.clone();
        // One journal's events only: those queued before another journal's first.
        let count = self
            .queued
            .iter()
            .take(JOURNAL_BATCH)
            .take_while(|q| Arc::ptr_eq(&q.0, &target) || q.0.prefix == target.prefix)
            .count();
        let mut json = String::with_capacity(count * 512);
        let mut kinds = Vec::with_capacity(count);
        for (i, (_, at, event, kind)) in self.queued.drain(..count).enumerate() {
            json.push_str(if i == 0 { "[" } else { "," });
            let replica = &self.replica_json;
            json.push_str(&format!("{{\"t\":{at},\"r\":{replica},\"e\":{event}}}"));
            kinds.push((at, kind));
        }
        json.push(']');
        self.pending = Some(Entry {
            target,
            call: rand::random(),
            count,
            json,
            kinds,
        });
        true
    }

    /// Answers the flushes whose events are all written.
    fn answer(&mut self, result: Result<(), StoreError>) {
        let done = self.done;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            self.flushes.drain(..).partition(|(upto, _)| *upto <= done);
        self.flushes = waiting;
        for (_, tx) in ready {
            let _ = tx.send(result.clone());
        }
    }

    /// Answers every waiting flush (Redis is out of reach).
    fn answer_all(&mut self, result: Result<(), StoreError>) {
        for (_, tx) in self.flushes.drain(..) {
            let _ = tx.send(result.clone());
        }
    }
}
