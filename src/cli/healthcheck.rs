//! `hello-birthday healthcheck`: a container health check that needs no curl in the image.

use anyhow::Context;
use axum::body::Bytes;
use axum::http::{Request, StatusCode, Uri, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::args::HealthcheckArgs;

/// Ok when the endpoint answers 200 within the timeout; the error says why not.
pub async fn run(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let status = tokio::time::timeout(args.timeout, fetch_status(&args.url))
        .await
        .with_context(|| format!("no answer from {} within {:?}", args.url, args.timeout))??;
    anyhow::ensure!(status == StatusCode::OK, "{} answered {status}", args.url);
    Ok(())
}

async fn fetch_status(url: &str) -> anyhow::Result<StatusCode> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("{url:?} is not a URL"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "{url} must be an http:// URL"
    );
    let authority = uri.authority().context("the URL has no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((authority.host(), port))
        .await
        .with_context(|| format!("cannot connect to {authority}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::get(uri.path())
        .header(header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())?;
    Ok(sender.send_request(request).await?.status())
}
