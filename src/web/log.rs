//! The protocol's log lines: one info line per cert or CHECKURL call, at most
//! [`CALL_LINES_PER_SECOND`] a second (the rest counted and summarised once a second), so a
//! load test cannot fill the log or pay a formatted line per request; the summary of the
//! request lines sampled past their own rate (`observe.rs`); what a log line may show of a
//! client's value.

use std::borrow::Cow;

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

use crate::protocol::lines::Lines;
pub use crate::protocol::lines::CALL_LINES_PER_SECOND;

/// Request lines (`observe.rs`) written one by one each second.
pub const REQUEST_LINES_PER_SECOND: u64 = 50;
/// Past that, one request in this many gets its line.
pub const SAMPLE_ONE_IN: u64 = 1000;

/// The request lines' budget.
pub static REQUEST_LINES: Lines = Lines::new(REQUEST_LINES_PER_SECOND, SAMPLE_ONE_IN);

/// Whether this protocol call gets its own info line (counted when it does not): the budget
/// the GATE's lines share ([`crate::protocol::lines::CALLS`]).
pub fn call_line(now_ms: u64) -> bool {
    crate::protocol::lines::CALLS.admit(now_ms) != crate::protocol::lines::Line::Skipped
}

/// Writes, once a second, how many protocol calls and requests were not logged one by one.
/// Runs until aborted.
pub async fn summarize_calls() {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let unlogged = crate::protocol::lines::CALLS.take_unlogged();
        if unlogged > 0 {
            tracing::info!(
                unlogged,
                "{unlogged} more protocol calls in the last second (over {CALL_LINES_PER_SECOND} a second are counted, not logged one by one; the journal has each)"
            );
        }
        let unlogged = REQUEST_LINES.take_unlogged();
        if unlogged > 0 {
            tracing::info!(
                unlogged_requests = unlogged,
                "{unlogged} more requests in the last second without a line (past {REQUEST_LINES_PER_SECOND} a second one request in {SAMPLE_ONE_IN} is logged, with sampled_one_in; the metrics count each)"
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
