//! Stopping well behind a load balancer. The first SIGTERM (or SIGINT) turns the replica
//! not-ready (`/_sim/readyz` answers 503 "draining") while it keeps serving for the drain period
//! (`--drain-seconds`), so that the load balancer's health check takes it out of rotation before
//! it stops accepting; then requests in flight finish and it stops. A second signal stops it at
//! once. The signals are listened for from the very start, so that one that comes while the
//! simulator still waits for its store ends the start at once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::web::state::AppState;

/// Stops both servers of an `Application`.
#[derive(Clone)]
pub struct AppHandle(pub(super) [actix_web::dev::ServerHandle; 2]);

impl AppHandle {
    /// Stops accepting connections; with `graceful`, requests in flight finish first.
    pub fn stop(&self, graceful: bool) -> impl std::future::Future<Output = ()> {
        let [a, b] = self.0.clone();
        let (a, b) = (a.stop(graceful), b.stop(graceful));
        async move {
            futures_util::future::join(a, b).await;
        }
    }
}

/// The stop signals, listened for from the moment this is made.
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    /// Says once that standard input reached its end (`--stop-when-stdin-closes`).
    stdin_closed: Option<tokio::sync::mpsc::UnboundedReceiver<()>>,
}

impl Signals {
    /// Listens for SIGTERM and SIGINT (Ctrl-C) from now on: their default action (ending the
    /// process, or nothing at all for a container's first process) no longer applies.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).expect("can listen for SIGTERM"),
                int: signal(SignalKind::interrupt()).expect("can listen for SIGINT"),
                stdin_closed: None,
            }
        }
        #[cfg(not(unix))]
        {
            Signals { stdin_closed: None }
        }
    }

    /// Also stops when standard input reaches its end: a test helper gives the simulator a
    /// pipe it holds, so that the simulator ends with the test process however that ends (even
    /// killed, when no exit handler runs). A thread of its own reads and drops what comes.
    pub fn with_stdin(mut self) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 512];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(());
            });
        self.stdin_closed = Some(rx);
        self
    }

    /// The next signal's name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
                () = stdin_end(&mut self.stdin_closed) => "standard input closed",
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                () = stdin_end(&mut self.stdin_closed) => "standard input closed",
            }
        }
    }
}

/// Standard input's end, once; never when it is not watched.
async fn stdin_end(watch: &mut Option<tokio::sync::mpsc::UnboundedReceiver<()>>) {
    if let Some(rx) = watch.as_mut() {
        let _ = rx.recv().await;
        *watch = None;
    } else {
        std::future::pending::<()>().await;
    }
}

/// Waits for a stop signal, drains, and stops the servers gracefully; a second signal at any
/// point sends on `forced`, and the caller then stops waiting for the servers.
pub(super) async fn stop_on_signal(
    mut signals: Signals,
    state: AppState,
    handle: AppHandle,
    drain: Duration,
    forced: tokio::sync::oneshot::Sender<()>,
) {
    let first = signals.next().await;
    state.draining.store(true, Ordering::Relaxed);
    let stopping = async {
        if !drain.is_zero() {
            tracing::info!(
                "{first}: draining for {} s: /_sim/readyz answers 503 \"draining\" while requests are still served (a second signal stops at once)",
                drain.as_secs()
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("{first}: shutting down, finishing requests in flight");
        finish_requests(&state).await;
        handle.stop(false).await;
    };
    tokio::select! {
        () = stopping => {}
        again = signals.next() => {
            tracing::warn!("{again} again: stopping at once, requests in flight are dropped");
            let _ = forced.send(());
        }
    }
}

/// Waits until no request has been in flight for a moment (its answer written), at most
/// [`FINISH_WITHIN`]. The servers' own graceful stop waits for every open connection, and an
/// HTTP/2 client keeps one open after its last answer: the stop would wait out its timeout for
/// nothing.
async fn finish_requests(state: &AppState) {
    let deadline = tokio::time::Instant::now() + FINISH_WITHIN;
    let mut idle_since = None;
    while tokio::time::Instant::now() < deadline {
        if state.in_flight.count() > 0 {
            idle_since = None;
        } else {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            // The answer of the last request leaves in the same turn as it is made; this
            // margin covers a loaded machine.
            if since.elapsed() >= SETTLE {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!(
        "requests still in flight after {} s: stopping anyway",
        FINISH_WITHIN.as_secs()
    );
}

/// How long a stop waits for requests in flight.
const FINISH_WITHIN: Duration = Duration::from_secs(10);

/// How long nothing must be in flight before the stop.
const SETTLE: Duration = Duration::from_millis(100);

/// What a start that a signal ended says: where it may have been waiting.
pub(super) fn stopped_while_starting(signal: &str, store: &crate::store::StoreKind) {
    match store {
        crate::store::StoreKind::Redis(_) => tracing::warn!(
            "{signal} while starting: stopped before serving (the store, {store}, may not have answered yet)"
        ),
        crate::store::StoreKind::Memory => {
            tracing::warn!("{signal} while starting: stopped before serving")
        }
    }
}
