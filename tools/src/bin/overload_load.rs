//! Open-loop load generator for the overload figures of scripts/harness/bench.py: requests arrive at a
//! fixed rate whether or not earlier ones were answered, as they do from a load balancer in front of
//! many users. A closed-loop tool (wrk, hey) waits for an answer before sending the next request, so
//! its offered load falls to whatever the server manages and load shedding is never exercised.
//!
//! ```text
//! cargo run --release -p hello-birthday-tools --bin overload_load -- URL RATE SECONDS METHOD USERS
//! ```
//!
//! Sends RATE requests per second for SECONDS, GET or PUT (METHOD) to random users among USERS, named
//! as scripts/harness/bench.py imports them. Each request goes out on an idle keep-alive connection or,
//! when every connection is busy, on a new one, as a load balancer does; so the number of connections
//! grows with the requests the server holds. Latency counts from the request's scheduled arrival, so
//! time spent waiting for a connection is included. Prints one JSON object: per-status counts, client
//! side failures, the throughput of successful requests and their latency percentiles.

#[path = "../../../tests/api/common/names.rs"]
mod names;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longer than the service's 10 s request timeout, so that the service's own bounds are what shows.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Below the 20 000 open files the test machine allows; reaching it is reported, never hidden.
const MAX_CONNECTIONS: usize = 16_000;

struct Args {
    authority: String,
    rate: f64,
    duration: Duration,
    method: Method,
    users: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, seconds, method, users] = args.as_slice() else {
        anyhow::bail!("usage: overload_load URL RATE SECONDS METHOD USERS");
    };
    let method = match method.as_str() {
        "GET" => Method::GET,
        "PUT" => Method::PUT,
        other => anyhow::bail!("METHOD must be GET or PUT, not {other}"),
    };
    Ok(Args {
        authority: url
            .strip_prefix("http://")
            .context("URL must start with http://")?
            .trim_end_matches('/')
            .to_owned(),
        rate: rate.parse().context("RATE")?,
        duration: Duration::from_secs_f64(seconds.parse().context("SECONDS")?),
        method,
        users: users.parse().context("USERS")?,
    })
}

/// splitmix64 of the request's index: a spread of users and dates with no state and no dependency.
fn mix(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn request(args: &Args, index: u64) -> anyhow::Result<Request<Full<Bytes>>> {
    let random = mix(index);
    let builder = Request::builder()
        .method(args.method.clone())
        .uri(format!(
            "/hello/{}",
            names::nth_name((random % args.users) as usize)
        ))
        .header("host", &args.authority);
    let request = if args.method == Method::PUT {
        let day = 1 + (random >> 32) % 28;
        builder
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!(
                r#"{{"dateOfBirth":"1990-05-{day:02}"}}"#
            ))))?
    } else {
        builder.body(Full::new(Bytes::new()))?
    };
    Ok(request)
}

/// Idle keep-alive connections, shared by every request; a new one is opened when none is idle.
struct Pool {
    authority: String,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    open: AtomicUsize,
}

impl Pool {
    fn idle(&self) -> MutexGuard<'_, Vec<SendRequest<Full<Bytes>>>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle();
        while let Some(sender) = idle.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    async fn connect(self: &Arc<Self>) -> Result<SendRequest<Full<Bytes>>, String> {
        if self.open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            self.closed();
            return Err("generator: connection cap".to_owned());
        }
        let connected = async {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|error| format!("connect: {}", error.kind()))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|error| format!("handshake: {error}"))?;
            Ok((sender, connection))
        }
        .await;
        match connected {
            Ok((sender, connection)) => {
                let pool = self.clone();
                // The connection ends when its sender is dropped (a failure, a timeout) or the server closes it.
                tokio::spawn(async move {
                    let _ = connection.await;
                    pool.closed();
                });
                Ok(sender)
            }
            Err(error) => {
                self.closed();
                Err(error)
            }
        }
    }

    fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    fn give_back(&self, sender: SendRequest<Full<Bytes>>) {
        self.idle().push(sender);
    }

    /// One request, from taking a connection to the end of the body: the status, or why there is none.
    async fn send(self: &Arc<Self>, request: Request<Full<Bytes>>) -> Result<u16, String> {
        let mut sender = match self.take_idle() {
            Some(sender) => sender,
            None => self.connect().await?,
        };
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("connection: {error}"));
        let outcome = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                response
                    .into_body()
                    .collect()
                    .await
                    .map(|_| status)
                    .map_err(|error| format!("body: {error}"))
            }
            Err(error) => Err(error),
        };
        if outcome.is_ok() && !sender.is_closed() {
            self.give_back(sender);
        }
        outcome
    }
}

/// What became of one request: its status or failure, its latency, and whether it ended in the window.
struct Sample {
    outcome: Result<u16, String>,
    latency: Duration,
    in_window: bool,
}

fn percentile_ms(sorted: &[Duration], quantile: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let index = ((sorted.len() as f64 * quantile) as usize).min(last);
    Some(sorted[index].as_secs_f64() * 1000.0)
}

fn summarise(args: &Args, samples: &[Sample], sent: u64, late: Duration) -> serde_json::Value {
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut ok_latencies = Vec::new();
    let mut shed_latencies = Vec::new();
    let mut ok_in_window = 0u64;
    for sample in samples {
        match &sample.outcome {
            Ok(status) => {
                *statuses.entry(status.to_string()).or_default() += 1;
                if (200..300).contains(status) {
                    ok_latencies.push(sample.latency);
                    ok_in_window += u64::from(sample.in_window);
                } else if *status == 503 {
                    shed_latencies.push(sample.latency);
                }
            }
            Err(kind) => *failures.entry(kind.clone()).or_default() += 1,
        }
    }
    ok_latencies.sort_unstable();
    shed_latencies.sort_unstable();
    let seconds = args.duration.as_secs_f64();
    serde_json::json!({
        "method": args.method.as_str(),
        "offered_rps": args.rate,
        "sent_rps": sent as f64 / seconds,
        "seconds": seconds,
        "sent": sent,
        "ok": ok_latencies.len(),
        "ok_rps": ok_in_window as f64 / seconds,
        "ok_p50_ms": percentile_ms(&ok_latencies, 0.50),
        "ok_p99_ms": percentile_ms(&ok_latencies, 0.99),
        "ok_max_ms": ok_latencies.last().map(|latency| latency.as_secs_f64() * 1000.0),
        "shed_p50_ms": percentile_ms(&shed_latencies, 0.50),
        "statuses": statuses,
        "failures": failures,
        "generator_max_late_ms": late.as_secs_f64() * 1000.0,
    })
}

async fn run(args: Arc<Args>) -> anyhow::Result<serde_json::Value> {
    let pool = Arc::new(Pool {
        authority: args.authority.clone(),
        idle: Mutex::new(Vec::new()),
        open: AtomicUsize::new(0),
    });
    let total = (args.rate * args.duration.as_secs_f64()) as u64;
    let start = Instant::now();
    let window_end = start + args.duration;
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut late = Duration::ZERO;
    for index in 0..total {
        let arrival = start + Duration::from_secs_f64(index as f64 / args.rate);
        tokio::time::sleep_until(arrival.into()).await;
        // How far the generator itself fell behind its schedule: large values void the figures.
        late = late.max(arrival.elapsed());
        let request = request(&args, index)?;
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, pool.send(request))
                .await
                .unwrap_or_else(|_| Err("generator: timeout".to_owned()));
            Sample {
                outcome,
                latency: arrival.elapsed(),
                in_window: Instant::now() <= window_end,
            }
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for task in tasks {
        samples.push(task.await?);
    }
    Ok(summarise(&args, &samples, total, late))
}

fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse_args()?);
    // One thread: the benchmark pins the generator to one core and the service to the other.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(run(args))?;
    println!("{summary}");
    Ok(())
}
