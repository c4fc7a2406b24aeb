//! TLS to PostgreSQL with rustls, by `sslmode`, as libpq checks it:
//! - `disable`: no TLS;
//! - `prefer` (the default) and `require`: encrypted (`prefer` falls back to plain text if the
//!   server has no TLS), the certificate unchecked unless `sslrootcert` names a bundle, which
//!   then must have signed it (libpq does the same when its root file exists);
//! - `verify-ca`: the certificate must chain to a trusted authority, whatever name it carries;
//! - `verify-full`: that, and it must be issued for the host name in the URL.
//!
//! Trusted authorities are the `sslrootcert` bundle, or the Mozilla roots compiled into the
//! binary (no `sslrootcert`, or `sslrootcert=system`); the host's CA files are never read.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::url::{PostgresUrl, RootCerts, SslMode};

/// The connector for `url`'s `sslmode` and `sslrootcert`. Reads the bundle once, here.
pub fn connector(url: &PostgresUrl) -> anyhow::Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (url.sslmode(), url.sslrootcert()) {
        (SslMode::VerifyFull, roots) => full(roots, &provider)?,
        (SslMode::VerifyCa, roots) => Arc::new(Lenient {
            chain: Some(full(roots, &provider)?),
            provider: provider.clone(),
        }),
        (SslMode::Prefer | SslMode::Require, Some(roots)) => Arc::new(Lenient {
            chain: Some(full(Some(roots), &provider)?),
            provider: provider.clone(),
        }),
        (SslMode::Prefer | SslMode::Require | SslMode::Disable, _) => Arc::new(Lenient {
            chain: None,
            provider: provider.clone(),
        }),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS for PostgreSQL")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The standard check (`verify-full`): chain to a trusted root, and the name in the URL.
fn full(
    roots: Option<&RootCerts>,
    provider: &Arc<CryptoProvider>,
) -> anyhow::Result<Arc<WebPkiServerVerifier>> {
    let store = match roots {
        None | Some(RootCerts::System) => mozilla_roots(),
        Some(RootCerts::File(path)) => bundle(path)?,
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .context("cannot set up certificate verification for PostgreSQL")
}

fn mozilla_roots() -> RootCertStore {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    store
}

/// Every certificate of a PEM bundle (RDS's global bundle holds over a hundred).
fn bundle(path: &Path) -> anyhow::Result<RootCertStore> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect())
        .with_context(|| format!("cannot read sslrootcert {}", path.display()))?;
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certificates);
    anyhow::ensure!(
        added > 0,
        "sslrootcert {} holds no usable certificate",
        path.display()
    );
    Ok(store)
}

/// Less than `verify-full`: with a `chain`, the certificate must chain to a trusted root
/// whatever name it was issued for (`verify-ca`; Cloud SQL's per-instance certificates, for
/// one, name the instance rather than its address); without, it is not checked at all
/// (`prefer` and `require`, as libpq does). Either way the handshake's signatures are
/// verified, so the session keys belong to whoever holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        // The name is checked last, once the chain is known to be good.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_load() {
        assert!(mozilla_roots().len() > 100);
    }

    #[test]
    fn a_missing_or_empty_bundle_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = bundle(&dir.path().join("nope.pem")).unwrap_err();
        assert!(format!("{missing:#}").contains("cannot read sslrootcert"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = format!("{:#}", bundle(&empty).unwrap_err());
        assert!(error.contains("no usable certificate"), "{error}");
    }
}
