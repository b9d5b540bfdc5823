//! The journal in Redis: one capped stream, written by one task per replica in batches (ids
//! drawn from a shared counter), so that recording never waits on Redis; a read first waits
//! for this replica's events.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::scripts::Scripts;
use super::{key, Conn, RedisStore};
use crate::journal::{Event, EventKind};
use crate::store::StoreError;

/// Events written in one go at most.
const JOURNAL_BATCH: usize = 512;

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
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(key("journal"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(self.options.journal_capacity.max(1))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| self.down(e))?;
        let mut events: Vec<Arc<Event>> = entries
            .into_iter()
            .filter_map(|(_, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let at_ms: u64 = field("t")?.parse().ok()?;
                Some(Arc::new(Event {
                    id: field("i")?.parse().ok()?,
                    at: at_ms,
                    at_ms,
                    kind: serde_json::from_str(field("e")?).ok()?,
                }))
            })
            .collect();
        events.reverse();
        Ok(events)
    }

    pub async fn clear_journal(&self) -> Result<(), StoreError> {
        self.flush_journal().await?;
        let _: i64 = redis::cmd("DEL")
            .arg(key("journal"))
            .query_async(&mut self.conn())
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
    while let Some(msg) = rx.recv().await {
        dropped += take(msg, &mut batch, &mut flushes, capacity);
        let mut failing = false;
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
            let mut call = scripts.append.prepare_invoke();
            call.key(key("journal"))
                .key(key("journal:next"))
                .arg(capacity);
            for (at, json) in batch.iter().take(n) {
                call.arg(*at).arg(json);
            }
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
