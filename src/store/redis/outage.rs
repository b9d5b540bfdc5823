//! What a replica knows of Redis between calls, so that an outage costs a partner nothing and
//! leaves a record: whether Redis answers (one WARN when it stops, with the reason, and one INFO
//! when it is back, with how long it was out), the offset between this replica's clock and
//! Redis's (a cert call's redemption carries a deadline in Redis's time), the redemptions this
//! replica must take back (a call it answered 503 whose script Redis may still have run), and
//! the live tokens last counted (named in the WARN when Redis comes back empty).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::OtpToken;
use crate::store::counts;

/// How long before the reply timeout a redemption's deadline falls: a script Redis runs later
/// than this changes nothing, so the replica can still have its answer before it gives up.
pub(super) const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// How long a replica waits for Redis's reply to a command.
pub(super) const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Redemptions this replica answered 503 for, at most this many kept (each is one token that
/// waits to be taken back; past this, the oldest is given up and said so).
const MAX_PENDING: usize = 4096;

/// A redemption this replica may have made without answering it: the token, the key prefix of
/// the store it is in (the base's or a sandbox's: the base's housekeeping takes back every
/// one) and the call's own number (the script takes it back only if that call used it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Revert {
    pub(super) token: OtpToken,
    pub(super) prefix: String,
    pub(super) call: String,
}

/// Redis as this replica last found it.
pub(super) struct Outage {
    /// Where, without a password (for messages).
    shown: String,
    down: AtomicBool,
    /// Since when, and why, while `down`.
    since: Mutex<Option<(Instant, String)>>,
    /// Redis's clock minus this replica's, in milliseconds, and whether it was read yet.
    offset_ms: AtomicI64,
    offset_read: AtomicBool,
    /// Live tokens at the last count (every second), and when (ms since the epoch; 0: never).
    live: AtomicU64,
    counted_at_ms: AtomicU64,
    /// Whether this replica has seen Redis hold the simulator's data (an empty Redis after that
    /// lost it).
    seen_data: AtomicBool,
    pending: Mutex<Vec<Revert>>,
    /// Quick test for "any pending" on the hot path.
    any_pending: AtomicBool,
}

impl Outage {
    pub(super) fn new(shown: String) -> Self {
        Outage {
            shown,
            down: AtomicBool::new(false),
            since: Mutex::new(None),
            offset_ms: AtomicI64::new(0),
            offset_read: AtomicBool::new(false),
            live: AtomicU64::new(0),
            counted_at_ms: AtomicU64::new(0),
            seen_data: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            any_pending: AtomicBool::new(false),
        }
    }

    /// A command failed for want of Redis (not a script's own error): the first failure of an
    /// outage is logged with its reason and counted.
    pub(super) fn failed(&self, e: &redis::RedisError) {
        if !is_outage(e) {
            return;
        }
        metrics::counter!(counts::STORE_ERRORS).increment(1);
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        metrics::counter!(counts::STORE_OUTAGES).increment(1);
        let reason = e.to_string();
        tracing::warn!(
            store = %self.shown,
            reason = %reason,
            "store unreachable: Redis at {} does not answer ({reason}); calls are answered 503 until it does, and no token is used by a call answered 503",
            self.shown
        );
        *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), reason));
    }

    /// A command was answered: the end of an outage, if one was on, is logged with its length.
    pub(super) fn answered(&self) {
        if !self.down.load(Ordering::Relaxed) || !self.down.swap(false, Ordering::AcqRel) {
            return;
        }
        let since = self.since.lock().unwrap_or_else(|e| e.into_inner()).take();
        let out_ms = since.map_or(0, |(at, _)| at.elapsed().as_millis() as u64);
        tracing::info!(
            store = %self.shown,
            out_ms,
            "store back: Redis at {} answers again after {:.1} s out",
            self.shown,
            out_ms as f64 / 1000.0
        );
    }

    /// Redis's clock now, by this replica's reckoning.
    pub(super) fn redis_now_ms(&self, local_ms: u64) -> u64 {
        local_ms.saturating_add_signed(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Takes a reading of Redis's `TIME`: `sent` and `received` are this replica's clock around
    /// the command. Redis read its clock somewhere in between; taking `received` can only make
    /// the offset too small, so deadlines fall early (a call answered 503 a little sooner),
    /// never late. A reading that took longer than the margin (Redis stalled, a queue) is not
    /// taken, unless there is none yet.
    pub(super) fn clock_reading(&self, redis_ms: u64, sent_ms: u64, received_ms: u64) {
        let slow = received_ms.saturating_sub(sent_ms) > DEADLINE_MARGIN.as_millis() as u64 / 2;
        if slow && self.offset_read.load(Ordering::Relaxed) {
            return;
        }
        self.offset_ms
            .store(redis_ms as i64 - received_ms as i64, Ordering::Relaxed);
        self.offset_read.store(true, Ordering::Relaxed);
    }

    /// The live tokens counted now; Redis holds the simulator's data.
    pub(super) fn counted(&self, live: u64, now_ms: u64) {
        self.live.store(live, Ordering::Relaxed);
        self.counted_at_ms.store(now_ms, Ordering::Relaxed);
        self.seen_data.store(true, Ordering::Relaxed);
    }

    /// Redis holds the simulator's data (its directory was read).
    pub(super) fn holds_data(&self) {
        self.seen_data.store(true, Ordering::Relaxed);
    }

    /// This replica found Redis empty and seeded it: if Redis held the data before, everything
    /// in it is gone, the live tokens first of all.
    pub(super) fn found_empty(&self, now_ms: u64) {
        if !self.seen_data.load(Ordering::Relaxed) {
            return;
        }
        let live = self.live.swap(0, Ordering::Relaxed);
        let counted_at = self.counted_at_ms.load(Ordering::Relaxed);
        let ago = now_ms.saturating_sub(counted_at) as f64 / 1000.0;
        metrics::counter!(counts::TOKENS_LOST).increment(live);
        tracing::warn!(
            store = %self.shown,
            lost_tokens = live,
            "Redis at {} came back empty: {live} live tokens lost (as counted {ago:.1} s before), with the run-time changes, faults and journal; seeded again from the fixtures. Give Redis persistence (appendonly yes) to keep them",
            self.shown
        );
    }

    /// Remembers a redemption to take back.
    pub(super) fn owe(&self, revert: Revert) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() >= MAX_PENDING {
            let given_up = pending.remove(0);
            tracing::warn!(
                "more than {MAX_PENDING} calls answered 503 wait for Redis: the oldest (token {}) will not be taken back if Redis ran it",
                given_up.token.masked()
            );
        }
        pending.push(revert);
        self.any_pending.store(true, Ordering::Release);
    }

    /// The redemptions owed, for one token or all.
    pub(super) fn owed(&self, token: Option<&OtpToken>) -> Vec<Revert> {
        if !self.any_pending.load(Ordering::Acquire) {
            return Vec::new();
        }
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .iter()
            .filter(|r| token.is_none_or(|t| &r.token == t))
            .cloned()
            .collect()
    }

    /// A redemption taken back (or found not made): no longer owed.
    pub(super) fn settled(&self, revert: &Revert) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|r| r != revert);
        self.any_pending
            .store(!pending.is_empty(), Ordering::Release);
    }
}

/// Whether an error means Redis is out of reach (or too slow), rather than a script refusing.
fn is_outage(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal()
}
