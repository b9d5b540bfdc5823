//! Structured logs through `tracing`. Lines a client can cause by misbehaving (a malformed
//! request, a TLS client that sends an IP address as SNI) are counted, not written one by one,
//! so a client sending garbage cannot fill the log: [`summarize`] writes their counts once a
//! minute. Colour codes only when the log goes to a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::app::settings::{LogFormat, Settings};

/// Malformed HTTP requests seen since the last summary.
static MALFORMED: AtomicU64 = AtomicU64::new(0);
/// TLS clients that sent an IP address (or another illegal name) as SNI.
static ODD_SNI: AtomicU64 = AtomicU64::new(0);

/// Events that an injected fault causes on purpose, neither logged nor counted.
static ON_PURPOSE: AtomicU64 = AtomicU64::new(0);

/// Which counter a log event of this target and message belongs to, if it is client noise.
fn noise(target: &str, message: &str) -> Option<&'static AtomicU64> {
    if message.contains(crate::web::log::INJECTED_DROP) {
        return Some(&ON_PURPOSE);
    }
    if target.starts_with("actix_http::h1") && message.contains("parse error") {
        return Some(&MALFORMED);
    }
    if target.starts_with("rustls") && message.contains("SNI") {
        return Some(&ODD_SNI);
    }
    None
}

/// Finds the text of an event (`message` field).
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// A filter that lets every event through but client noise, which it counts.
struct CountNoise;

impl<S: Subscriber> Filter<S> for CountNoise {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        let meta = event.normalized_metadata();
        let target = meta
            .as_ref()
            .map_or(event.metadata().target(), |m| m.target());
        let level = *event.metadata().level();
        if level > tracing::Level::WARN {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        match noise(target, &message.0) {
            Some(counter) => {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }
            None => true,
        }
    }
}

/// Where the log goes: the simulator writes it to stdout, where a container's log collector
/// reads it; `conform` to stderr, its report being on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

impl Sink {
    fn is_terminal(self) -> bool {
        match self {
            Sink::Stdout => std::io::stdout().is_terminal(),
            Sink::Stderr => std::io::stderr().is_terminal(),
        }
    }
}

/// Installs the global subscriber; the filter comes from `--log` / `SIM_LOG`, the format from
/// `--log-format` (text on a terminal, JSON otherwise). Lines are written by a background
/// thread (one info line per protocol call must not cost the request a write to the
/// terminal); keep the returned guard until exit, it flushes what is queued.
pub fn init(settings: &Settings, sink: Sink) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = sink.is_terminal();
    let out: Box<dyn std::io::Write + Send> = match sink {
        Sink::Stdout => Box::new(std::io::stdout()),
        Sink::Stderr => Box::new(std::io::stderr()),
    };
    // Buffered: the writing thread flushes whenever the queue runs dry, so under load many
    // lines share one write.
    let (writer, guard) =
        tracing_appender::non_blocking(std::io::BufWriter::with_capacity(64 * 1024, out));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(terminal);
    let format = settings.log_format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let layer = match format {
        // Times in RFC 3339, in UTC with its `Z`.
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .with_ansi(false)
            .event_format(crate::app::log_json::FlatJson)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(CountNoise).with_filter(filter))
        .try_init();
    guard
}

/// Writes the counts of client noise once a minute, when there was any. Runs until aborted.
pub async fn summarize() {
    let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        let malformed = MALFORMED.swap(0, Ordering::Relaxed);
        let sni = ODD_SNI.swap(0, Ordering::Relaxed);
        if malformed > 0 || sni > 0 {
            tracing::warn!(
                malformed_requests = malformed,
                tls_clients_with_illegal_sni = sni,
                "in the last minute: {malformed} malformed HTTP requests, {sni} TLS clients that sent an IP address or illegal name as SNI (counted, not logged one by one)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_errors_and_odd_sni_are_noise_and_nothing_else_is() {
        use super::noise;
        assert!(noise(
            "actix_http::h1::dispatcher",
            "stream error: request parse error: invalid Header provided"
        )
        .is_some());
        assert!(noise(
            "rustls::msgs::handshake",
            "Illegal SNI extension: ignoring IP address presented as hostname (\"127.0.0.1\")"
        )
        .is_some());
        assert!(noise("benecafe_sim::app", "parse error").is_none());
        assert!(noise("actix_server::worker", "Worker has died").is_none());
    }
}
