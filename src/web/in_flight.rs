//! Requests being answered, which a stop waits for (and for nothing else): the servers' own
//! graceful stop waits for every open connection, and an HTTP/2 client keeps one open after its
//! last answer. The request middleware (`observe.rs`) counts; the stop (`app/lifecycle.rs`)
//! reads the sum.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Requests being answered, counted by each worker on a counter of its own (no cache line
/// shared between workers on the hot path) and summed when a stop asks: a stop waits for
/// requests, not for connections a client keeps open after its last answer.
#[derive(Debug, Default)]
pub struct InFlight {
    workers: std::sync::Mutex<Vec<Arc<AtomicUsize>>>,
}

impl InFlight {
    /// A new worker's counter.
    pub(crate) fn worker(&self) -> Arc<AtomicUsize> {
        let counter = Arc::new(AtomicUsize::new(0));
        if let Ok(mut workers) = self.workers.lock() {
            workers.push(counter.clone());
        }
        counter
    }

    /// Requests being answered now, by every worker.
    pub fn count(&self) -> usize {
        self.workers.lock().map_or(0, |workers| {
            workers.iter().map(|c| c.load(Ordering::Relaxed)).sum()
        })
    }
}
