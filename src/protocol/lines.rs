//! How many log lines a kind of event gets: every one up to a number a second, then (for some
//! kinds) one in so many, the rest counted and summed up once a second. A developer trying a
//! partner sees every line; a load test neither floods the log nor pays a formatted line per
//! request (at 150,000 calls a second the lines alone halved the cert endpoint's throughput in
//! the benchmark). The protocol's lines (cert, CHECKURL, GATE) share one budget; the edge's
//! request lines have their own.

use std::sync::atomic::{AtomicU64, Ordering};

/// A budget of lines a second.
pub struct Lines {
    /// Lines written one by one each second.
    per_second: u64,
    /// Past that, one line in this many is written (0: none).
    one_in: u64,
    /// The second being counted, its lines so far, and the lines not written since the last
    /// summary.
    second: AtomicU64,
    seen: AtomicU64,
    unlogged: AtomicU64,
}

/// Whether a line is written, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// Written, as every line this second so far.
    Every,
    /// Written as one of `n` (the others counted, not written): the line says so.
    OneIn(u64),
    /// Not written (counted for the summary).
    Skipped,
}

impl Lines {
    pub const fn new(per_second: u64, one_in: u64) -> Self {
        Lines {
            per_second,
            one_in,
            second: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
        }
    }

    /// Whether this event, at `now_ms`, gets its line. Nothing is written (nor counted) when
    /// info lines are off.
    pub fn admit(&self, now_ms: u64) -> Line {
        // The subscriber's most verbose level, one atomic load: `tracing::enabled!` asks the
        // filter each time, which on the hot path costs more than the rest of this together.
        if tracing::level_filters::LevelFilter::current()
            < tracing::level_filters::LevelFilter::INFO
        {
            return Line::Skipped;
        }
        let second = now_ms / 1000;
        // Read first: a write on every call would bounce the line between cores.
        if self.second.load(Ordering::Relaxed) != second
            && self.second.swap(second, Ordering::Relaxed) != second
        {
            self.seen.store(0, Ordering::Relaxed);
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if n < self.per_second {
            return Line::Every;
        }
        if self.one_in > 0 && (n - self.per_second).is_multiple_of(self.one_in) {
            return Line::OneIn(self.one_in);
        }
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        Line::Skipped
    }

    /// The lines not written since the last call.
    pub fn take_unlogged(&self) -> u64 {
        self.unlogged.swap(0, Ordering::Relaxed)
    }
}

/// Protocol lines (cert and CHECKURL calls, GATEs) written one by one each second; past that
/// they are counted and summed up once a second.
pub const CALL_LINES_PER_SECOND: u64 = 50;

/// The protocol's lines: cert and CHECKURL calls, GATEs issued.
pub static CALLS: Lines = Lines::new(CALL_LINES_PER_SECOND, 0);

#[cfg(test)]
mod tests {
    use super::{Line, Lines};

    #[test]
    fn past_the_rate_one_line_in_so_many_is_written_and_the_rest_counted() {
        let _info = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .finish(),
        );
        let lines = Lines::new(3, 10);
        let at = 5_000;
        let got: Vec<Line> = (0..25).map(|_| lines.admit(at)).collect();
        assert_eq!(&got[..3], [Line::Every; 3]);
        assert_eq!(got[3], Line::OneIn(10));
        assert_eq!(got[13], Line::OneIn(10));
        assert_eq!(got[23], Line::OneIn(10));
        assert_eq!(got.iter().filter(|l| **l == Line::Skipped).count(), 19);
        assert_eq!(lines.take_unlogged(), 19);
        assert_eq!(lines.take_unlogged(), 0);
        // A new second starts afresh.
        assert_eq!(lines.admit(at + 1000), Line::Every);
        // Without sampling, past the rate nothing is written.
        let calls = Lines::new(1, 0);
        assert_eq!(calls.admit(at), Line::Every);
        assert_eq!(calls.admit(at), Line::Skipped);
    }
}
