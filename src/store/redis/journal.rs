//! The journal in Redis: one capped stream, written by one task per replica, so that recording
//! never waits on Redis. The writer takes everything queued since its last write into one
//! stream entry (a JSON array, its entry id the first event's id from a shared counter): under
//! load, while one write is on its way, the next batch gathers, so a cert call costs Redis a
//! fraction of one write. A read first waits for this replica's events; another replica's
//! appear as soon as its writer's round trip is done (a millisecond or so).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::scripts::Scripts;
use super::{key, Conn, RedisStore};
use crate::journal::{Event, EventKind};
use crate::store::StoreError;

/// Events written in one go at most.
const JOURNAL_BATCH: usize = 512;

/// One event as a batch entry holds it.
#[derive(serde::Deserialize)]
struct Stored {
    t: u64,
    e: EventKind,
}

pub(super) enum JournalMsg {
    Event(u64, Box<EventKind>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

impl RedisStore {
    /// Queues an event for the journal writer.
    pub fn record(&self, at_ms: u64, kind: EventKind) {
        let _ = self.journal.send(JournalMsg::Event(at_ms, Box::new(kind)));
    }

    /// Waits until this replica's events so far are in Redis.
    pub(super) async fn flush_journal(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        if self.journal.send(JournalMsg::Flush(done)).is_err() {
            return Err(StoreError::Unavailable("the journal writer stopped".into()));
        }
        wait.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the journal writer stopped".into())))
    }

    pub async fn journal(&self) -> Result<Vec<Arc<Event>>, StoreError> {
        self.flush_journal().await?;
        let capacity = self.options.journal_capacity;
        // Each entry holds at least one event: the newest `capacity` entries hold the newest
        // `capacity` events.
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(key("journal"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(capacity.max(1))
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
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
                    kind: s.e,
                })
            }));
        }
        events.sort_by_key(|e| e.id);
        let extra = events.len().saturating_sub(capacity);
        events.drain(..extra);
        Ok(events)
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        self.flush_journal().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(key("journal"))
            .query_async(&mut self.conn().await?)
            .await
            .map_err(|e| self.down(e))?;
        Ok(())
    }
}

/// The journal writer: takes events as they come, writes them in batches; while Redis is out
/// of reach, holds them (at most the journal's capacity, the oldest dropped first) and tries
/// again, so that an outage loses no event unless it outlasts the capacity.
pub(super) async fn write_journal(
    conn: Conn,
    scripts: Arc<Scripts>,
    mut rx: mpsc::UnboundedReceiver<JournalMsg>,
    capacity: usize,
    shown: String,
) {
    let mut batch: Held = Default::default();
    let mut flushes: Vec<oneshot::Sender<Result<(), StoreError>>> = Vec::new();
    let mut dropped = 0u64;
    let mut failing = false;
    while let Some(msg) = rx.recv().await {
        dropped += take(msg, &mut batch, &mut flushes, capacity);
        loop {
            while let Ok(msg) = rx.try_recv() {
                dropped += take(msg, &mut batch, &mut flushes, capacity);
            }
            if capacity == 0 {
                batch.clear();
            }
            if batch.is_empty() {
                break;
            }
            let n = batch.len().min(JOURNAL_BATCH);
            let mut entry = String::with_capacity(n * 512);
            for (i, (at, json)) in batch.iter().take(n).enumerate() {
                entry.push_str(if i == 0 { "[" } else { "," });
                entry.push_str(&format!("{{\"t\":{at},\"e\":{json}}}"));
            }
            entry.push(']');
            let mut call = scripts.append.prepare_invoke();
            call.key(key("journal"))
                .key(key("journal:next"))
                .arg(n)
                .arg(entry)
                .arg(capacity + JOURNAL_BATCH);
            match call.invoke_async::<u64>(&mut conn.clone()).await {
                Ok(_) => {
                    batch.drain(..n);
                    if failing {
                        tracing::info!("journal: Redis at {shown} is back; held events written");
                        failing = false;
                    }
                }
                Err(e) => {
                    let why = StoreError::Unavailable(format!("Redis at {shown}: {e}"));
                    for done in flushes.drain(..) {
                        let _ = done.send(Err(why.clone()));
                    }
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
        for done in flushes.drain(..) {
            let _ = done.send(Ok(()));
        }
        if dropped > 0 {
            tracing::warn!(
                "journal: {dropped} events dropped while Redis at {shown} was out of reach"
            );
            dropped = 0;
        }
    }
}

type Held = std::collections::VecDeque<(u64, String)>;

/// Adds one message to what the writer holds; how many old events were dropped for it.
fn take(
    msg: JournalMsg,
    batch: &mut Held,
    flushes: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
    capacity: usize,
) -> u64 {
    let mut dropped = 0;
    match msg {
        JournalMsg::Event(at, mut kind) => {
            kind.bound();
            if let Ok(json) = serde_json::to_string(&kind) {
                batch.push_back((at, json));
                while batch.len() > capacity.max(1) {
                    batch.pop_front();
                    dropped += 1;
                }
            }
        }
        JournalMsg::Flush(done) => flushes.push(done),
    }
    dropped
}
