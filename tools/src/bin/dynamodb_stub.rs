//! A stand-in for DynamoDB that answers from memory at tens of thousands of calls per second over
//! keep-alive connections, for measuring the service's own CPU per request on its DynamoDB path
//! (scripts/harness/capacity.py). The emulator the tests use, moto, serves a few hundred calls per
//! second and closes every connection, so against it the service idles and pays a new connection
//! per call, neither of which happens against DynamoDB. This stub is for that measurement only:
//! it stores nothing and checks nothing.
//!
//! It speaks the JSON protocol the AWS SDK uses (`POST /` with `X-Amz-Target:
//! DynamoDB_20120810.<Operation>`) and answers with canned bodies:
//!
//! - `GetItem`: the item the service's projection (`dateOfBirth`) would return, for any key;
//! - `PutItem`: `{}`, as DynamoDB does when no return values are asked for (readiness needs
//!   nothing else: its probe is a `GetItem`);
//! - anything else: DynamoDB's `UnknownOperationException`, so an unexpected call shows as an error.
//!
//! `GET /stats` (not a DynamoDB path: the SDK only POSTs to `/`) returns the calls answered so far by
//! operation, so the benchmark can check how many DynamoDB calls each HTTP request made.
//!
//! Run: `cargo run --release -p hello-birthday-tools --bin dynamodb_stub -- 127.0.0.1:0` (prints `listening on ADDR`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const JSON_1_0: &str = "application/x-amz-json-1.0";

const GET_ITEM: &str = r#"{"Item":{"dateOfBirth":{"S":"1990-05-01"}}}"#;
const PUT_ITEM: &str = "{}";
const UNKNOWN: &str = r#"{"__type":"com.amazon.coral.service#UnknownOperationException","message":"the DynamoDB stub answers GetItem and PutItem only"}"#;

#[derive(Default)]
struct Calls {
    get_item: AtomicU64,
    put_item: AtomicU64,
    other: AtomicU64,
}

impl Calls {
    fn json(&self) -> String {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        format!(
            r#"{{"GetItem":{},"PutItem":{},"other":{}}}"#,
            read(&self.get_item),
            read(&self.put_item),
            read(&self.other),
        )
    }

    /// The canned answer to one operation, counted.
    fn answer(&self, operation: &str) -> (StatusCode, &'static str) {
        let (counter, status, body) = match operation {
            "GetItem" => (&self.get_item, StatusCode::OK, GET_ITEM),
            "PutItem" => (&self.put_item, StatusCode::OK, PUT_ITEM),
            _ => (&self.other, StatusCode::BAD_REQUEST, UNKNOWN),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        (status, body)
    }
}

async fn handle(
    calls: Arc<Calls>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() == Method::GET && request.uri().path() == "/stats" {
        return Ok(respond(StatusCode::OK, "application/json", calls.json()));
    }
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .and_then(|target| target.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    // Reading the body to its end lets the connection carry the next call.
    if request.into_body().collect().await.is_err() {
        return Ok(respond(StatusCode::BAD_REQUEST, JSON_1_0, UNKNOWN));
    }
    let (status, body) = calls.answer(&operation);
    Ok(respond(status, JSON_1_0, body))
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

// One thread: the stub shares a core with the load generator, and a second runtime thread would
// only add wake-ups there.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let calls = Arc::new(Calls::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let calls = calls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(calls.clone(), request));
            // Keep-alive is hyper's default; a connection ends only when the client closes it.
            let served = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
            // A client that stops drops its pooled connections, some mid-call: not news.
            if let Err(error) = served
                && !error.is_incomplete_message()
            {
                eprintln!("connection ended with an error: {error}");
            }
        });
    }
}
