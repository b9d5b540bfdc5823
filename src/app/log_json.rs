//! The JSON log line: one flat object a line, `ts` (RFC 3339 in UTC, `Z`), `level`, `msg`, then
//! `target` and the event's own fields beside them, not nested under `fields` or `span` as
//! tracing's own JSON format does, so that a log collector reads every field by its name.

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The keys every line starts with; an event's field of the same name is written as
/// `field.<name>` so it cannot hide them.
const OWN_KEYS: [&str; 4] = ["ts", "level", "msg", "target"];

/// Formats events as flat JSON objects.
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut fields = Fields::default();
        event.record(&mut fields);
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let level = meta.level().as_str().to_ascii_lowercase();
        // Written in this order (a map would sort the keys).
        let mut text = String::with_capacity(160 + fields.message.len());
        let put = |text: &mut String, name: &str, value: &Value| {
            text.push(if text.is_empty() { '{' } else { ',' });
            text.push_str(&Value::from(name).to_string());
            text.push(':');
            text.push_str(&value.to_string());
        };
        put(&mut text, "ts", &Value::String(ts));
        put(&mut text, "level", &Value::String(level));
        put(&mut text, "msg", &Value::String(fields.message));
        put(&mut text, "target", &Value::from(meta.target()));
        for (name, value) in &fields.rest {
            if OWN_KEYS.contains(&name.as_str()) {
                put(&mut text, &format!("field.{name}"), value);
            } else {
                put(&mut text, name, value);
            }
        }
        text.push('}');
        writer.write_str(&text)?;
        writer.write_char('\n')
    }
}

/// An event's message and fields as JSON values (numbers and booleans as such).
#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(String, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        // What tracing-log adds to a `log` record; the normalized metadata carries its target.
        if name.starts_with("log.") {
            return;
        }
        if name == "message" {
            self.message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return;
        }
        self.rest.push((name.to_owned(), value));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::FlatJson;

    /// Lines written to memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    #[test]
    fn a_line_is_one_flat_object_with_ts_level_msg_and_the_fields() {
        let lines = Lines::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(lines.clone())
            .with_ansi(false)
            .event_format(FlatJson);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("outer", ignored = 1);
            let _inside = span.enter();
            tracing::warn!(status = 404u64, ok = false, path = %"/a\"b", msg = "x", "said {}", 1);
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let at = |key: &str| text.find(&format!("\"{key}\":")).unwrap();
        assert!(text.starts_with("{\"ts\":"), "{text}");
        assert!(at("ts") < at("level") && at("level") < at("msg"), "{text}");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["msg"], "said 1");
        assert_eq!(line["status"], 404);
        assert_eq!(line["ok"], false);
        assert_eq!(line["path"], "/a\"b");
        assert_eq!(line["field.msg"], "x", "a field cannot hide the message");
        assert!(line.get("span").is_none() && line.get("fields").is_none());
        let ts = line["ts"].as_str().unwrap();
        assert!(ts.ends_with('Z'), "{ts}");
        chrono::DateTime::parse_from_rfc3339(ts).unwrap();
    }
}
