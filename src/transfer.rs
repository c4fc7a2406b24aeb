//! Moving users in and out of a store: `import` reads the previous system's JSON file,
//! `export` writes the same shape, so a backup can be imported again.
//!
//! The file is `{"alice": {"dateOfBirth": "1990-05-01"}, ...}`. It is parsed as a stream on a
//! blocking thread while the previous batch is being written, so memory stays bounded by a
//! few batches whatever the file's size. serde_json holds a whole string (a name) in memory
//! before handing it over, so the input is read through [`Bounded`], which refuses a record
//! longer than [`MAX_RECORD_BYTES`] as soon as it gets that long: memory is bounded by the
//! largest record allowed, whatever one field of the file holds.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use tokio::sync::mpsc;

use crate::domain::{BirthDate, IsoDate, Username};
use crate::store::{User, UserScan, UserStore};

/// Batches parsed ahead of the writer.
const PIPELINE_DEPTH: usize = 4;
/// Longest name echoed back in a rejection, so a garbage key cannot flood the terminal.
const MAX_REPORTED_NAME: usize = 80;
/// Longest record (its name, value and separators) in the input. A valid one, a name of 64
/// letters and a date, takes under 100 bytes; the API refuses bodies over 4 KiB by default.
/// This leaves room for fields an old file may carry, which are ignored.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// One record of the old file. Unknown fields are ignored, as the API ignores them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    date_of_birth: IsoDate,
}

/// A record that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub name: String,
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut name: String = self.name.chars().take(MAX_REPORTED_NAME).collect();
        if name.len() < self.name.len() {
            name.push('…');
        }
        // Debug formatting quotes the name and escapes control characters.
        write!(f, "rejected {name:?}: {}", self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: u64,
    /// `put_many` calls made: how the import was split.
    pub batches: u64,
    pub rejected: u64,
    pub elapsed: Duration,
}

/// What an import tells its caller while it runs.
pub enum ImportEvent<'a> {
    Rejected(&'a Rejection),
    /// After each written batch: bytes of input consumed, users written so far.
    Progress {
        bytes_read: u64,
        imported: u64,
    },
}

/// Applies the API's rules to one record.
fn validate(name: String, record: serde_json::Value, today: NaiveDate) -> Result<User, Rejection> {
    let reject = |name: String, reason: String| Rejection { name, reason };
    let username = match Username::parse(name.as_str()) {
        Ok(username) => username,
        Err(error) => return Err(reject(name, error.to_string())),
    };
    if !record.is_object() {
        return Err(reject(
            name,
            r#"record must be an object like {"dateOfBirth": "YYYY-MM-DD"}"#.to_owned(),
        ));
    }
    let record = match Record::deserialize(record) {
        Ok(record) => record,
        Err(error) => return Err(reject(name, error.to_string())),
    };
    match BirthDate::new(record.date_of_birth, today) {
        Ok(birth_date) => Ok(User {
            username,
            birth_date,
        }),
        Err(error) => Err(reject(name, error.to_string())),
    }
}

enum Parsed {
    Batch(Vec<User>),
    Rejected(Rejection),
}

/// Walks the top-level object entry by entry, handing each outcome to `emit`.
struct Records<'a> {
    today: NaiveDate,
    emit: &'a mut dyn FnMut(Result<User, Rejection>) -> bool,
}

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(r#"a JSON object like {"alice": {"dateOfBirth": "1990-05-01"}}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        while let Some(name) = entries.next_key::<String>()? {
            let record: serde_json::Value = entries.next_value()?;
            if !(self.emit)(validate(name, record, self.today)) {
                return Err(A::Error::custom("stopped because writing failed"));
            }
        }
        Ok(())
    }
}

/// Counts bytes as they are read, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Passes the input through while following the JSON structure just enough to know where each
/// record of the top-level object starts and ends (strings, escapes and nesting), and fails
/// as soon as one record is longer than [`MAX_RECORD_BYTES`]. serde_json reads byte by byte
/// from here, so it never holds more than that of one record.
struct Bounded<R> {
    inner: R,
    /// Bytes passed through so far.
    offset: u64,
    /// Open objects and arrays; the records are at depth 1.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Where the record being read started (its name's opening quote).
    record_start: Option<u64>,
}

impl<R> Bounded<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            record_start: None,
        }
    }

    fn step(&mut self, byte: u8) -> io::Result<()> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
        } else {
            match byte {
                b'"' => {
                    self.in_string = true;
                    if self.depth == 1 && self.record_start.is_none() {
                        self.record_start = Some(self.offset);
                    }
                }
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        self.record_start = None;
                    }
                }
                b',' if self.depth == 1 => self.record_start = None,
                _ => {}
            }
        }
        self.offset += 1;
        match self.record_start {
            Some(start) if self.offset - start > MAX_RECORD_BYTES => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the record starting at byte {start} is longer than {MAX_RECORD_BYTES} bytes \
                     (a valid one takes under 100)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            self.step(byte)?;
        }
        Ok(n)
    }
}

/// Parses `input` on a blocking thread and sends batches of valid users and each rejection.
fn spawn_parser(
    input: impl Read + Send + 'static,
    today: NaiveDate,
    batch_size: usize,
    bytes_read: Arc<AtomicU64>,
    out: mpsc::Sender<Parsed>,
) -> tokio::task::JoinHandle<Result<(), serde_json::Error>> {
    tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(
            256 * 1024,
            Counting {
                inner: input,
                count: bytes_read,
            },
        );
        let mut deserializer = serde_json::Deserializer::from_reader(Bounded::new(reader));
        let mut batch = Vec::with_capacity(batch_size);
        // Returns false once the writer has gone away, which stops the parse.
        let mut emit = |outcome: Result<User, Rejection>| match outcome {
            Ok(user) => {
                batch.push(user);
                if batch.len() < batch_size {
                    return true;
                }
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                out.blocking_send(Parsed::Batch(full)).is_ok()
            }
            Err(rejection) => out.blocking_send(Parsed::Rejected(rejection)).is_ok(),
        };
        Records {
            today,
            emit: &mut emit,
        }
        .deserialize(&mut deserializer)?;
        deserializer.end()?;
        if !batch.is_empty() {
            // If the writer is gone it has already reported why.
            let _ = out.blocking_send(Parsed::Batch(batch));
        }
        Ok(())
    })
}

/// Imports every valid record of `input` into `store`, `batch_size` users per `put_many`
/// (usually [`UserStore::import_batch_size`]), reporting through `on_event`. Running it twice
/// leaves the same data: every write is an upsert of the whole user.
pub async fn import(
    store: &dyn UserStore,
    input: impl Read + Send + 'static,
    today: NaiveDate,
    batch_size: usize,
    mut on_event: impl FnMut(ImportEvent<'_>),
) -> anyhow::Result<ImportSummary> {
    let started = Instant::now();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (batches, mut parsed) = mpsc::channel(PIPELINE_DEPTH);
    let parser = spawn_parser(input, today, batch_size.max(1), bytes_read.clone(), batches);
    let mut summary = ImportSummary {
        imported: 0,
        batches: 0,
        rejected: 0,
        elapsed: Duration::ZERO,
    };
    // Batches are written one after another, in file order, so a name that appears twice
    // ends up with its last value, as a series of PUTs would leave it.
    while let Some(item) = parsed.recv().await {
        match item {
            Parsed::Batch(mut users) => {
                // In key order a transaction visits each B-tree page once, instead of evicting
                // and re-reading pages at random. The sort is stable, so a name repeated in the
                // batch still ends with its last value.
                users.sort_by(|a, b| a.username.cmp(&b.username));
                store.put_many(&users).await.with_context(|| {
                    format!(
                        "writing users failed after {} were imported",
                        summary.imported
                    )
                })?;
                summary.imported += users.len() as u64;
                summary.batches += 1;
                on_event(ImportEvent::Progress {
                    bytes_read: bytes_read.load(Ordering::Relaxed),
                    imported: summary.imported,
                });
            }
            Parsed::Rejected(rejection) => {
                summary.rejected += 1;
                on_event(ImportEvent::Rejected(&rejection));
            }
        }
    }
    parser
        .await
        .context("the parser thread failed")?
        .context("the input is not valid JSON of the expected shape")?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Every user in the shape `import` reads, written page by page as
/// the store hands them over, so memory stays flat whatever the table's size. SQLite's order
/// is by username; DynamoDB's is the table's own. A failure midway leaves an unterminated
/// object, which `import` refuses, never a valid-looking partial backup.
pub async fn export(store: &dyn UserScan, out: impl Write) -> anyhow::Result<u64> {
    let mut json = JsonWriter::new(BufWriter::with_capacity(256 * 1024, out));
    let mut pages = store.scan();
    while let Some(page) = pages.try_next().await.context("cannot read the users")? {
        json.write_users(&page).context("cannot write the export")?;
    }
    json.finish().context("cannot write the export")
}

/// One user per line, so exports diff well and stay readable.
struct JsonWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> JsonWriter<W> {
    fn new(out: W) -> Self {
        Self { out, written: 0 }
    }

    fn write_users(&mut self, users: &[User]) -> io::Result<()> {
        for user in users {
            self.out.write_all(if self.written == 0 {
                b"{\n  "
            } else {
                b",\n  "
            })?;
            serde_json::to_writer(&mut self.out, user.username.as_str())?;
            write!(self.out, r#": {{"dateOfBirth": "{}"}}"#, user.birth_date)?;
            self.written += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.out
            .write_all(if self.written == 0 { b"{}\n" } else { b"\n}\n" })?;
        self.out.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        IsoDate::parse("2026-11-28").unwrap().as_naive()
    }

    fn check(name: &str, record: serde_json::Value) -> Result<String, String> {
        validate(name.to_owned(), record, today())
            .map(|user| format!("{}={}", user.username, user.birth_date))
            .map_err(|rejection| rejection.reason)
    }

    #[test]
    fn accepts_what_the_api_accepts() {
        assert_eq!(
            check("alice", serde_json::json!({"dateOfBirth": "1990-05-01"})),
            Ok("alice=1990-05-01".into())
        );
        assert_eq!(
            check(
                "Bob",
                serde_json::json!({"dateOfBirth": "2026-11-27", "extra": 1})
            ),
            Ok("Bob=2026-11-27".into())
        );
    }

    #[test]
    fn rejects_what_the_api_rejects_with_a_reason() {
        let cases = [
            (
                "al1ce",
                serde_json::json!({"dateOfBirth": "1990-05-01"}),
                "letters",
            ),
            (
                "",
                serde_json::json!({"dateOfBirth": "1990-05-01"}),
                "empty",
            ),
            (
                "alice",
                serde_json::json!({"dateOfBirth": "2026-11-28"}),
                "before today",
            ),
            (
                "alice",
                serde_json::json!({"dateOfBirth": "2021-02-29"}),
                "does not exist",
            ),
            (
                "alice",
                serde_json::json!({"dateOfBirth": "1990-1-1"}),
                "YYYY-MM-DD",
            ),
            (
                "alice",
                serde_json::json!({"dateOfBirth": 19900101}),
                "invalid type",
            ),
            (
                "alice",
                serde_json::json!({"dateOfBirth": null}),
                "invalid type",
            ),
            (
                "alice",
                serde_json::json!({}),
                "missing field `dateOfBirth`",
            ),
            (
                "alice",
                serde_json::json!("1990-05-01"),
                "must be an object",
            ),
        ];
        for (name, record, expected) in cases {
            let reason = check(name, record.clone()).expect_err(&format!("{name} {record}"));
            assert!(reason.contains(expected), "{name} {record}: {reason}");
        }
    }

    fn read_bounded(input: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Bounded::new(input).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn bounded_passes_any_number_of_records_of_allowed_size() {
        let limit = usize::try_from(MAX_RECORD_BYTES).unwrap();
        // Quotes, braces and commas inside strings are not structure.
        let tricky = r#""a\"b{[,": {"dateOfBirth": "1990-05-01", "x": ["}", {"y": "\\"}]}"#;
        let padding = format!(r#""pad": {{"x": "{}"}}"#, "p".repeat(limit - 20));
        let records = [tricky.to_owned(), padding.clone(), padding];
        let input = format!("{{{}}}", records.join(", "));
        assert!(input.len() > 2 * limit);
        assert_eq!(read_bounded(input.as_bytes()).unwrap(), input.as_bytes());
    }

    #[test]
    fn bounded_stops_at_a_record_longer_than_the_limit() {
        let limit = usize::try_from(MAX_RECORD_BYTES).unwrap();
        for input in [
            format!(r#"{{"ok": {{}}, "{}": {{}}}}"#, "n".repeat(limit)),
            format!(
                r#"{{"ok": {{}}, "v": {{"x": [{}]}}}}"#,
                "1,".repeat(limit / 2)
            ),
        ] {
            let error = read_bounded(input.as_bytes()).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("starting at byte 11 is longer than"),
                "{error}"
            );
        }
    }

    #[test]
    fn rejection_lines_quote_and_shorten_the_name() {
        let long = Rejection {
            name: "x\n".repeat(100),
            reason: "r".into(),
        };
        let line = long.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.len() < 200, "{line}");
    }

    #[test]
    fn export_shape_is_the_import_shape() {
        let user = |name: &str, date: &str| User {
            username: Username::parse(name).unwrap(),
            birth_date: BirthDate::recorded(IsoDate::parse(date).unwrap()),
        };
        let mut out = Vec::new();
        let mut json = JsonWriter::new(&mut out);
        // Pages of any size, empty ones included, make one object.
        json.write_users(&[user("Bob", "1991-02-03")]).unwrap();
        json.write_users(&[]).unwrap();
        json.write_users(&[user("alice", "1990-05-01")]).unwrap();
        assert_eq!(json.finish().unwrap(), 2);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\n  \"Bob\": {\"dateOfBirth\": \"1991-02-03\"},\n  \"alice\": {\"dateOfBirth\": \"1990-05-01\"}\n}\n"
        );
        let mut empty = Vec::new();
        JsonWriter::new(&mut empty).finish().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&empty).unwrap(),
            serde_json::json!({})
        );
    }
}
