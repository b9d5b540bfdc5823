//! Failed operator sign-ins: each address gets a few tries a minute, then a short lockout (429
//! with `Retry-After`, the token not even looked at), so a control token cannot be guessed at
//! wire speed; and the failures are logged a few a minute, the rest counted and summed up, so
//! a flood of them cannot fill the log.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Wrong tokens an address may send in a window before it is locked out.
pub const TRIES: u32 = 5;
/// The window and the lockout, in milliseconds.
const WINDOW_MS: u64 = 60_000;
const LOCKOUT_MS: u64 = 60_000;
/// Addresses remembered at most (a flood from many addresses forgets the oldest).
const MAX_ADDRESSES: usize = 10_000;
/// Failure lines written a minute; the rest are counted.
const LINES_PER_MINUTE: u64 = 10;

/// One address's recent failures.
#[derive(Debug, Clone, Copy)]
struct Failures {
    /// When the current window began.
    since_ms: u64,
    count: u32,
    /// Locked out until then (0: not locked).
    locked_until_ms: u64,
}

/// The failures of every address, and the log lines written about them.
#[derive(Debug, Default)]
pub struct SignInFailures {
    /// A std mutex: held only to look one address up, never across an await.
    by_address: Mutex<HashMap<IpAddr, Failures>>,
    minute: AtomicU64,
    lines: AtomicU64,
    unlogged: AtomicU64,
}

impl SignInFailures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds until `ip` may try again, when it is locked out now.
    pub fn locked(&self, ip: IpAddr, now_ms: u64) -> Option<u64> {
        let until = self.lock().get(&ip).map(|f| f.locked_until_ms)?;
        (until > now_ms).then(|| (until - now_ms).div_ceil(1000))
    }

    /// Counts a wrong token from `ip`; true when that locks it out.
    pub fn failed(&self, ip: IpAddr, now_ms: u64) -> bool {
        let mut map = self.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, f| f.locked_until_ms > now_ms || f.since_ms + WINDOW_MS > now_ms);
            if map.len() >= MAX_ADDRESSES {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, f)| f.since_ms)
                    .map(|(ip, _)| *ip);
                oldest.map(|ip| map.remove(&ip));
            }
        }
        let f = map.entry(ip).or_insert(Failures {
            since_ms: now_ms,
            count: 0,
            locked_until_ms: 0,
        });
        if f.since_ms + WINDOW_MS <= now_ms {
            *f = Failures {
                since_ms: now_ms,
                count: 0,
                locked_until_ms: 0,
            };
        }
        f.count += 1;
        if f.count >= TRIES {
            f.locked_until_ms = now_ms + LOCKOUT_MS;
            f.count = 0;
            f.since_ms = now_ms;
            return true;
        }
        false
    }

    /// A right token: the address starts afresh.
    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }

    /// Whether this failure gets a log line of its own (counted when it does not).
    pub fn line(&self, now_ms: u64) -> bool {
        let minute = now_ms / 60_000;
        if self.minute.swap(minute, Ordering::Relaxed) != minute {
            let missed = self.unlogged.swap(0, Ordering::Relaxed);
            self.lines.store(0, Ordering::Relaxed);
            if missed > 0 {
                tracing::warn!(
                    missed,
                    "{missed} more failed operator sign-ins in the last minute (over {LINES_PER_MINUTE} a minute are counted, not logged one by one)"
                );
            }
        }
        if self.lines.fetch_add(1, Ordering::Relaxed) < LINES_PER_MINUTE {
            true
        } else {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_after_its_tries_and_free_again_after_the_lockout() {
        let f = SignInFailures::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 1..TRIES {
            assert!(!f.failed(a, 1_000));
        }
        assert_eq!(f.locked(a, 1_000), None);
        assert!(f.failed(a, 1_000));
        assert_eq!(f.locked(a, 1_000), Some(60));
        assert_eq!(f.locked(b, 1_000), None, "another address is not affected");
        assert_eq!(f.locked(a, 1_000 + LOCKOUT_MS), None);
        f.succeeded(a);
        assert_eq!(f.locked(a, 2_000), None);
    }

    #[test]
    fn failures_in_another_window_start_a_new_count() {
        let f = SignInFailures::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..(TRIES as u64 * 3) {
            assert!(!f.failed(a, i * (WINDOW_MS / 2 + 1)), "try {i}");
        }
    }

    #[test]
    fn a_few_lines_a_minute_are_written_and_the_rest_counted() {
        let f = SignInFailures::default();
        let written = (0..100).filter(|_| f.line(5_000)).count();
        assert_eq!(written as u64, LINES_PER_MINUTE);
        assert_eq!(f.unlogged.load(Ordering::Relaxed), 100 - LINES_PER_MINUTE);
    }
}
