//! One JSON object per log line, built in one buffer and handed to the writer in one piece.
//!
//! `tracing-subscriber`'s own JSON formatter collects each event's fields into a map of
//! `serde_json::Value`s before writing them, which made the per-request access log the most
//! expensive thing the service did. This formatter writes the same shape into one buffer per line,
//! numbers through `itoa` and `ryu` rather than the `fmt` machinery.
//!
//! Spans are not written, on purpose: the service opens none on the request path (one per
//! request would cost more than the access line itself), so each event carries every field
//! it needs. The request id is on the access line and on the line that logs a server error's
//! cause (`http::middleware`); a span a library opens shows up only through its events.

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `{"timestamp":…,"level":…,"target":…,"region":…,"message":…, <fields>}`
#[derive(Default)]
pub struct JsonLines {
    /// On every line when known, so that the logs of several regions can be read as one stream.
    pub region: Option<String>,
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The line is built in a buffer of our own and handed over in one piece: each write
        // through `Writer` is a dynamic call, and the access line is written once per request.
        let mut line = String::with_capacity(LINE_CAPACITY);
        let metadata = event.metadata();
        line.push_str(r#"{"timestamp":""#);
        write!(
            line,
            "{}",
            humantime::format_rfc3339_micros(SystemTime::now())
        )?;
        line.push_str(r#"","level":""#);
        line.push_str(metadata.level().as_str());
        line.push_str(r#"","target":"#);
        push_string(&mut line, metadata.target());
        if let Some(region) = &self.region {
            line.push_str(r#","region":"#);
            push_string(&mut line, region);
        }
        event.record(&mut JsonFields { line: &mut line });
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// Room for an access line without growing.
const LINE_CAPACITY: usize = 384;

struct JsonFields<'a> {
    line: &'a mut String,
}

impl JsonFields<'_> {
    /// `,"name":` and then the value.
    fn field(&mut self, field: &Field) -> &mut String {
        self.line.push_str(",\"");
        self.line.push_str(field.name());
        self.line.push_str("\":");
        self.line
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        push_string(self.field(field), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field)
            .push_str(itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field)
            .push_str(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field)
            .push_str(if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        let line = self.field(field);
        if value.is_finite() {
            line.push_str(ryu::Buffer::new().format_finite(value));
        } else {
            line.push_str("null");
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let line = self.field(field);
        line.push('"');
        // Writing to a String cannot fail.
        let _ = write!(Escaped(&mut *line), "{value:?}");
        line.push('"');
    }
}

fn push_string(line: &mut String, value: &str) {
    line.push('"');
    Escaped(&mut *line).push(value);
    line.push('"');
}

/// Escapes what it is given for the inside of a JSON string.
struct Escaped<'a>(&'a mut String);

impl Escaped<'_> {
    fn push(&mut self, mut text: &str) {
        // Log text rarely needs escaping: copy each clean run whole.
        while let Some(at) = text.bytes().position(needs_escape) {
            self.0.push_str(&text[..at]);
            match text.as_bytes()[at] {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                control => {
                    let _ = write!(self.0, "\\u{control:04x}");
                }
            }
            text = &text[at + 1..];
        }
        self.0.push_str(text);
    }
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_line(emit: impl FnOnce()) -> serde_json::Value {
        log_line_in(None, emit)
    }

    fn log_line_in(region: Option<&str>, emit: impl FnOnce()) -> serde_json::Value {
        let captured = Captured::default();
        let sink = captured.clone();
        let format = JsonLines {
            region: region.map(str::to_owned),
        };
        let subscriber = tracing_subscriber::fmt()
            .event_format(format)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn writes_every_field_type_as_json() {
        let line = log_line(|| {
            tracing::info!(
                route = "/hello/{username}",
                status = 200u16,
                delta = -3i64,
                latency_ms = 1.5,
                ok = true,
                "request"
            );
        });
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request");
        assert_eq!(line["route"], "/hello/{username}");
        assert_eq!(line["status"], 200);
        assert_eq!(line["delta"], -3);
        assert_eq!(line["latency_ms"], 1.5);
        assert_eq!(line["ok"], true);
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(line["target"].as_str().unwrap().contains("json_format"));
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        let nasty = "say \"hi\"\\\n\t\u{1}é";
        let line = log_line(|| tracing::warn!(detail = nasty, error = %nasty, "x{}", 1));
        assert_eq!(line["detail"], nasty);
        assert_eq!(line["error"], nasty);
        assert_eq!(line["message"], "x1");
    }

    #[test]
    fn carries_the_region_only_when_known() {
        let line = log_line_in(Some("eu-central-1"), || tracing::info!("x"));
        assert_eq!(line["region"], "eu-central-1");
        assert!(log_line(|| tracing::info!("x")).get("region").is_none());
    }

    #[test]
    fn non_finite_numbers_become_null() {
        let line = log_line(|| tracing::info!(value = f64::NAN, "nan"));
        assert!(line["value"].is_null());
    }
}
