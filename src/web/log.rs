//! The protocol's log lines: one info line per cert or CHECKURL call, at most
//! [`CALL_LINES_PER_SECOND`] a second (the rest counted and summarised once a second), so a
//! load test cannot fill the log or pay a formatted line per request.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

/// A value as a log line may show it: control characters (CR and LF above all, which would let
/// a client forge a line of its own) written as escapes (`\r`, `\n`, `\u{1b}`), the rest as
/// it is. Every client-chosen value a log line carries goes through this.
pub fn printable(value: &str) -> Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The error text of the dropped-connection fault: actix logs it, and it is not an error.
pub const INJECTED_DROP: &str = "injected fault: connection dropped";

/// Protocol calls logged one by one each second; past that they are counted and summed up once
/// a second. A partner developer sees every call; a load test neither floods the terminal nor
/// pays a formatted line per request (at 150,000 calls a second the lines alone halved the
/// throughput of the cert endpoint in the benchmark).
pub const CALL_LINES_PER_SECOND: u64 = 50;

static CALL_SECOND: AtomicU64 = AtomicU64::new(0);
static CALL_LINES: AtomicU64 = AtomicU64::new(0);
static CALLS_UNLOGGED: AtomicU64 = AtomicU64::new(0);

/// Whether this protocol call gets its own info line (counted when it does not).
pub fn call_line(now_ms: u64) -> bool {
    if !tracing::enabled!(tracing::Level::INFO) {
        return false;
    }
    let second = now_ms / 1000;
    if CALL_SECOND.swap(second, Ordering::Relaxed) != second {
        CALL_LINES.store(0, Ordering::Relaxed);
    }
    if CALL_LINES.fetch_add(1, Ordering::Relaxed) < CALL_LINES_PER_SECOND {
        true
    } else {
        CALLS_UNLOGGED.fetch_add(1, Ordering::Relaxed);
        false
    }
}

/// Writes, once a second, how many protocol calls were not logged one by one. Runs until
/// aborted.
pub async fn summarize_calls() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let unlogged = CALLS_UNLOGGED.swap(0, Ordering::Relaxed);
        if unlogged > 0 {
            tracing::info!(
                unlogged,
                "{unlogged} more protocol calls in the last second (over {CALL_LINES_PER_SECOND} a second are counted, not logged one by one; the journal has each)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_nothing_else_changes() {
        assert_eq!(printable("차세대테 ok"), "차세대테 ok");
        assert_eq!(
            printable("a\r\nINFO forged\u{1b}[31m\t"),
            "a\\r\\nINFO forged\\u{1b}[31m\\t"
        );
    }
}
