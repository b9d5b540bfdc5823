//! Watching the cert calls a partner makes while a case runs: fed by the store's events as they
//! are recorded ([`Store::subscribe`]), so a case learns of a call the moment it is journaled.
//! With a shared store (Redis replicas), a partner's call may reach another replica, whose
//! events this process is not told of: the watcher then also reads the shared journal four
//! times a second. A run in a sandbox also watches the base, for the calls no sandbox can be
//! told from (a token sent still encrypted, or not a token at all: they land in the base's
//! journal), matched by the run's own tokens only.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Instant;

use super::kit::CallSeen;
use crate::domain::event::{Event, EventKind};
use crate::store::Store;

/// How often the shared journal is read while waiting (shared stores only).
const SHARED_POLL: Duration = Duration::from_millis(250);
/// How often the base is looked at while a sandbox's run waits.
const BASE_POLL: Duration = Duration::from_millis(50);

/// The cert calls recorded since the watcher started.
pub(super) struct Watch {
    rx: broadcast::Receiver<Arc<Event>>,
    store: Store,
    /// With a shared store: the newest journal id when the watch started.
    marker: Option<u64>,
    /// Cert events seen, by id.
    events: Vec<Arc<Event>>,
    /// A sandbox's run: the base's watch.
    base: Option<Box<Watch>>,
}

impl Watch {
    /// Starts watching now: only calls recorded from here on are seen.
    pub(super) async fn start(store: &Store, base: Option<&Store>) -> Watch {
        let base = match base {
            Some(b) => Some(Box::new(Box::pin(Watch::start(b, None)).await)),
            None => None,
        };
        let rx = store.subscribe();
        let marker = match store.is_shared() {
            true => Some(
                store
                    .journal()
                    .await
                    .ok()
                    .and_then(|j| j.last().map(|e| e.id))
                    .unwrap_or(0),
            ),
            false => None,
        };
        Watch {
            rx,
            store: store.clone(),
            marker,
            events: Vec::new(),
            base,
        }
    }

    fn keep(&mut self, event: Arc<Event>) {
        let is_cert = matches!(event.kind, EventKind::Cert { .. });
        let after = self.marker.is_none_or(|m| event.id > m);
        if is_cert && after && !self.events.iter().any(|e| e.id == event.id) {
            self.events.push(event);
        }
    }

    /// Takes every event already announced.
    fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(e) => self.keep(e),
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    }

    /// With a shared store: the calls other replicas recorded.
    async fn read_shared(&mut self) {
        if self.marker.is_none() {
            return;
        }
        if let Ok(journal) = self.store.journal().await {
            journal.into_iter().for_each(|e| self.keep(e));
        }
    }

    /// Waits until the next event or `until`, whichever comes first.
    async fn next(&mut self, until: Instant) {
        let mut step = match self.marker {
            Some(_) => until.min(Instant::now() + SHARED_POLL),
            None => until,
        };
        if let Some(base) = &mut self.base {
            base.drain();
            step = step.min(Instant::now() + BASE_POLL);
        }
        match tokio::time::timeout_at(step, self.rx.recv()).await {
            Ok(Ok(e)) => self.keep(e),
            Ok(Err(RecvError::Lagged(_))) => {}
            // The store is gone (the simulator stops): nothing more will come.
            Ok(Err(RecvError::Closed)) => tokio::time::sleep_until(step).await,
            Err(_) => self.read_shared().await,
        }
    }

    /// The calls seen so far with one of `tokens` (every call, with none), oldest first.
    pub(super) fn calls(&mut self, tokens: &[&str]) -> Vec<CallSeen> {
        self.drain();
        let mut seen: Vec<CallSeen> = self
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Cert {
                    otp_token,
                    result_code,
                    tls,
                    host,
                    reason,
                    ..
                } if tokens.is_empty()
                    || otp_token.as_deref().is_some_and(|t| tokens.contains(&t)) =>
                {
                    Some(CallSeen {
                        id: e.id,
                        result_code: result_code.clone(),
                        tls: *tls,
                        host: host.clone(),
                        reason: reason.to_string(),
                    })
                }
                _ => None,
            })
            .collect();
        if let (Some(base), false) = (&mut self.base, tokens.is_empty()) {
            seen.extend(base.calls(tokens));
        }
        seen.sort_by_key(|c| c.id);
        seen
    }

    /// Waits for at least `want` calls with `tokens` (up to `timeout`), then `grace` for more:
    /// a case that expects no call (or one) must also see a call it did not expect.
    pub(super) async fn wait(
        &mut self,
        tokens: &[&str],
        want: usize,
        timeout: Duration,
        grace: Duration,
    ) -> Vec<CallSeen> {
        let deadline = Instant::now() + timeout;
        while want > 0 && self.calls(tokens).len() < want && Instant::now() < deadline {
            self.next(deadline).await;
        }
        let grace_end = Instant::now() + grace;
        while Instant::now() < grace_end {
            self.next(grace_end).await;
        }
        self.read_shared().await;
        if let Some(base) = &mut self.base {
            base.read_shared().await;
        }
        self.calls(tokens)
    }
}
