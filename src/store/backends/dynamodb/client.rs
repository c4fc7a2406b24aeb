//! The DynamoDB client: TLS with compiled-in roots, and timeouts and retries by purpose.

use std::time::Duration;

use anyhow::Context;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::store::Purpose;

/// How patient the client is, by what the store is for. Both profiles fail well before a
/// caller would give up:
/// - serving HTTP requests answers 503 quickly rather than hold the request past the
///   service's own request timeout (10 s by default) or a readiness probe's deadline;
/// - import and export, run by an operator, ride out throttling on a busy table.
struct Profile(Purpose);

impl Profile {
    fn timeouts(&self) -> TimeoutConfig {
        let (attempt, operation) = match self.0 {
            // One slow attempt is abandoned after 2 s; with retries the whole call stays
            // under 5 s, half the default request timeout.
            Purpose::Serve => (Duration::from_secs(2), Duration::from_secs(5)),
            // A 1 MB Scan page or a 25-item batch on a throttled table can take a while.
            Purpose::Bulk => (Duration::from_secs(10), Duration::from_secs(60)),
        };
        TimeoutConfig::builder()
            // Inside one region a TCP + TLS handshake takes milliseconds; a second means trouble.
            .connect_timeout(Duration::from_secs(1))
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build()
    }

    fn retries(&self) -> RetryConfig {
        match self.0 {
            // The SDK's defaults start backing off at 1 s, too slow for an interactive request.
            Purpose::Serve => RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_secs(1)),
            Purpose::Bulk => RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(5)),
        }
    }
}

/// The Mozilla root certificates compiled into the binary, as one PEM bundle.
///
/// The service ships in an image with no CA files, so it must not depend on the host's trust
/// store; compiling the roots in also means the certificates DynamoDB presents are checked
/// against a list that only changes when we rebuild.
fn mozilla_roots_pem() -> String {
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = aws_smithy_types::base64::encode(cert.as_ref());
        // Base64 is ASCII, so splitting at any byte offset is safe.
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

/// The SDK's HTTP client: rustls with ring (no C toolchain beyond `cc`, links statically) and
/// only the compiled-in roots; the host's CA files are never read.
fn http_client() -> anyhow::Result<SharedHttpClient> {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(mozilla_roots_pem());
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("cannot set up TLS for DynamoDB")?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// The standard chain for region, credentials and endpoint, with our timeouts, retries and
/// HTTP client. Tests override the endpoint, region and credentials before loading.
pub(super) fn config_loader(purpose: Purpose) -> anyhow::Result<ConfigLoader> {
    let profile = Profile(purpose);
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client()?)
        .timeout_config(profile.timeouts())
        .retry_config(profile.retries()))
}

/// Loads the SDK configuration from the environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
/// credential chain including the ECS task role).
pub(super) async fn sdk_config(purpose: Purpose) -> anyhow::Result<SdkConfig> {
    let config = config_loader(purpose)?.load().await;
    // Without a region the SDK would fail every request; say so once, at start.
    anyhow::ensure!(
        config.region().is_some(),
        "no AWS region configured: set AWS_REGION (or a profile's region)"
    );
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_in_roots_form_a_parsable_pem_bundle() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let bundle = mozilla_roots_pem();
        let parsed: Vec<_> = CertificateDer::pem_slice_iter(bundle.as_bytes())
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(
            parsed.len() > 100,
            "Mozilla ships well over 100 roots, got {}",
            parsed.len()
        );
        assert_eq!(
            parsed[0].as_ref(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref()
        );
    }

    #[test]
    fn timeouts_and_retries_are_explicit() {
        for purpose in [Purpose::Serve, Purpose::Bulk] {
            let profile = Profile(purpose);
            let timeouts = profile.timeouts();
            assert!(timeouts.connect_timeout().is_some());
            assert!(timeouts.operation_attempt_timeout().is_some());
            assert!(timeouts.operation_timeout().is_some());
            assert!(profile.retries().has_retry());
        }
        let serve = Profile(Purpose::Serve)
            .timeouts()
            .operation_timeout()
            .unwrap();
        assert!(
            serve < Duration::from_secs(10),
            "must fail before the default request timeout"
        );
    }
}
