//! One JSON object per log line, written straight into the output buffer.
//!
//! `tracing-subscriber`'s own JSON formatter collects each event's fields into a map of
//! `serde_json::Value`s before writing them, which made the per-request access log the most
//! expensive thing the service did. This formatter writes the same shape with no allocation.
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
        let metadata = event.metadata();
        write!(
            writer,
            r#"{{"timestamp":"{}","level":"{}","target":"#,
            humantime::format_rfc3339_micros(SystemTime::now()),
            metadata.level()
        )?;
        write_string(&mut writer, metadata.target())?;
        if let Some(region) = &self.region {
            writer.write_str(r#","region":"#)?;
            write_string(&mut writer, region)?;
        }
        let mut fields = JsonFields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str("}\n")
    }
}

struct JsonFields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result =
                write!(self.writer, r#","{}":"#, field.name()).and_then(|()| value(self.writer));
        }
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| write_string(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.field(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |w| {
            w.write_char('"')?;
            write!(Escaped(&mut *w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

fn write_string(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    Escaped(&mut *writer).write_str(value)?;
    writer.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string.
struct Escaped<W>(W);

impl<W: fmt::Write> fmt::Write for Escaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut clean_from = 0;
        for (index, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[clean_from..index])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            clean_from = index + 1;
        }
        self.0.write_str(&text[clean_from..])
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
