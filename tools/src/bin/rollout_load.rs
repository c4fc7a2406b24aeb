//! Load generator for the rollout harness (scripts/harness/rollout.py): steady, paced, mixed GET/PUT
//! traffic from many keep-alive clients, recording every write the service acknowledged.
//!
//! ```text
//! cargo run --release -p hello-birthday-tools --bin rollout_load -- URL DURATION_S RATE WORKERS OUT_DIR
//! ```
//!
//! It stops after DURATION_S, or earlier on SIGTERM or SIGINT (the harness ends the load when its
//! rollouts are done), and writes its results either way.
//!
//! Each worker owns its usernames, so the last acknowledged date of a username is well defined. A username
//! whose PUT failed is retired: that write may or may not have landed, so it cannot count as lost. GETs go
//! to usernames the worker already wrote (must answer 200) or to never-written ones (must answer 404).
//!
//! Writes to OUT_DIR: `summary.json` (totals), `acked.tsv` (username, date of the last acknowledged write)
//! and `requests.csv` (start in ms since the Unix epoch, latency in µs, 1 if the request failed), from
//! which the harness computes latency percentiles for any time window.

#[path = "../../../tests/api/common/names.rs"]
mod names;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{Days, NaiveDate};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Usernames one worker cycles through: small enough that each is overwritten many times.
const KEYS_PER_WORKER: u64 = 64;
const PUT_PERCENT: u64 = 30;
/// Share of GETs aimed at usernames nobody writes, which must answer 404.
const GHOST_PERCENT: u64 = 10;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    authority: String,
    duration: Duration,
    rate: f64,
    workers: u64,
    out_dir: std::path::PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, duration, rate, workers, out_dir] = args.as_slice() else {
        anyhow::bail!("usage: rollout_load URL DURATION_S RATE WORKERS OUT_DIR");
    };
    let authority = url
        .strip_prefix("http://")
        .context("URL must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    Ok(Args {
        authority,
        duration: Duration::from_secs_f64(duration.parse().context("DURATION_S")?),
        rate: rate.parse().context("RATE")?,
        workers: workers.parse().context("WORKERS")?,
        out_dir: out_dir.into(),
    })
}

#[derive(Default)]
struct Outcome {
    requests: u64,
    puts: u64,
    gets: u64,
    expected_404: u64,
    failures: BTreeMap<String, u64>,
    /// Username → date of its last acknowledged write, for usernames whose writes all succeeded.
    acked: BTreeMap<String, String>,
    /// (start ms since epoch, latency µs, failed)
    samples: Vec<(u64, u32, bool)>,
}

impl Outcome {
    fn fail(&mut self, kind: String) {
        *self.failures.entry(kind).or_default() += 1;
    }

    fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// xorshift64*: plenty for choosing operations, and no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// A different past date for every write, so a stale value cannot pass for the latest one.
fn date_for(sequence: u64) -> String {
    let base = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default();
    (base + Days::new(sequence.wrapping_mul(7919) % 20_000))
        .format("%Y-%m-%d")
        .to_string()
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

struct Connection {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String> {
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            _ => {
                let stream = TcpStream::connect(&self.authority)
                    .await
                    .map_err(|error| format!("connect: {}", error.kind()))?;
                let _ = stream.set_nodelay(true);
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|error| format!("handshake: {error}"))?;
                tokio::spawn(connection);
                self.sender.insert(sender)
            }
        };
        let exchange = async {
            sender
                .ready()
                .await
                .map_err(|error| format!("connection: {error}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|error| format!("connection: {error}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| format!("body: {error}"))?
                .to_bytes();
            Ok((status, body))
        };
        let result = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err("timeout".to_owned()));
        if result.is_err() {
            // The connection's state is unknown after an error: start the next request on a fresh one.
            self.sender = None;
        }
        result
    }
}

async fn worker(id: u64, args: Arc<Args>, start: Instant, stop: Arc<AtomicBool>) -> Outcome {
    let mut outcome = Outcome::default();
    let mut connection = Connection {
        authority: args.authority.clone(),
        sender: None,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut retired = vec![false; KEYS_PER_WORKER as usize];
    let mut written = vec![false; KEYS_PER_WORKER as usize];
    let period = Duration::from_secs_f64(args.workers as f64 / args.rate);
    // Workers start staggered across one period so that requests do not arrive in waves.
    let mut next = start + period.mul_f64(id as f64 / args.workers as f64);
    let mut sequence = id << 40;
    while next < start + args.duration && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next.into()).await;
        next += period;

        let slot = rng.below(KEYS_PER_WORKER) as usize;
        let username = names::nth_name((id * KEYS_PER_WORKER) as usize + slot);
        let write = rng.below(100) < PUT_PERCENT || !written[slot];
        let ghost = !write && rng.below(100) < GHOST_PERCENT;
        if write && retired[slot] {
            continue;
        }
        let (request, date) = if write {
            sequence += 1;
            let date = date_for(sequence);
            let request = Request::builder()
                .method(Method::PUT)
                .uri(format!("/hello/{username}"))
                .header("host", &args.authority)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(format!(
                    r#"{{"dateOfBirth":"{date}"}}"#
                ))));
            (request, Some(date))
        } else {
            let target = if ghost {
                format!(
                    "ghost{}x{}",
                    names::letters(id),
                    names::letters(rng.below(1 << 20))
                )
            } else {
                username.clone()
            };
            let request = Request::builder()
                .uri(format!("/hello/{target}"))
                .header("host", &args.authority)
                .body(Full::new(Bytes::new()));
            (request, None)
        };
        let Ok(request) = request else {
            outcome.fail("cannot build request".into());
            continue;
        };

        let sent_at = epoch_ms();
        let began = Instant::now();
        let result = connection.send(request).await;
        let latency = u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX);
        outcome.requests += 1;
        let failure = match (&result, &date) {
            (Err(error), _) => Some(error.clone()),
            (Ok((StatusCode::NO_CONTENT, _)), Some(_)) => None,
            (Ok((StatusCode::NOT_FOUND, _)), None) if ghost => None,
            (Ok((StatusCode::OK, body)), None) if !ghost => {
                let expected = format!("Hello, {username}!");
                (!String::from_utf8_lossy(body).contains(&expected))
                    .then(|| "GET answered for another user".to_owned())
            }
            (Ok((status, _)), Some(_)) => Some(format!("PUT {status}")),
            (Ok((status, _)), None) => Some(format!(
                "GET {} {status}",
                if ghost { "unknown" } else { "known" }
            )),
        };
        if let Some(date) = date {
            outcome.puts += 1;
            if failure.is_some() {
                retired[slot] = true;
                outcome.acked.remove(&username);
            } else {
                written[slot] = true;
                outcome.acked.insert(username, date);
            }
        } else {
            outcome.gets += 1;
            if ghost && failure.is_none() {
                outcome.expected_404 += 1;
            }
        }
        outcome.samples.push((sent_at, latency, failure.is_some()));
        if let Some(kind) = failure {
            outcome.fail(kind);
        }
    }
    outcome
}

fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse_args()?);
    // One thread: leaves the other core to the services and the load balancer it is measuring.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = SystemTime::now();
    let outcomes = runtime.block_on(async {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stopper.store(true, Ordering::Relaxed);
        });
        let tasks: Vec<_> = (0..args.workers)
            .map(|id| tokio::spawn(worker(id, args.clone(), start, stop.clone())))
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await?);
        }
        anyhow::Ok(outcomes)
    })?;
    let elapsed = started.elapsed().unwrap_or_default().as_secs_f64();

    let mut total = Outcome::default();
    for outcome in outcomes {
        total.requests += outcome.requests;
        total.puts += outcome.puts;
        total.gets += outcome.gets;
        total.expected_404 += outcome.expected_404;
        for (kind, count) in outcome.failures {
            *total.failures.entry(kind).or_default() += count;
        }
        total.acked.extend(outcome.acked);
        total.samples.extend(outcome.samples);
    }

    std::fs::create_dir_all(&args.out_dir)?;
    let mut acked = String::new();
    for (username, date) in &total.acked {
        writeln!(acked, "{username}\t{date}")?;
    }
    std::fs::write(args.out_dir.join("acked.tsv"), acked)?;
    let mut samples = String::with_capacity(total.samples.len() * 24);
    for (at, latency, failed) in &total.samples {
        writeln!(samples, "{at},{latency},{}", u8::from(*failed))?;
    }
    std::fs::write(args.out_dir.join("requests.csv"), samples)?;
    let summary = serde_json::json!({
        "requests": total.requests,
        "puts": total.puts,
        "gets": total.gets,
        "expected_404": total.expected_404,
        "failed": total.failed(),
        "failures": total.failures,
        "acked_usernames": total.acked.len(),
        "seconds": elapsed,
        "rate": total.requests as f64 / elapsed,
    });
    std::fs::write(
        args.out_dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("{summary}");
    Ok(())
}
