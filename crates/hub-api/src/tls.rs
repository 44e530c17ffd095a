//! Which certificate authorities the client trusts.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use ureq::tls::PemItem;

use crate::error::{Error, Result};

/// The platform's trust store, or, when a CA bundle is named
/// (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `CURL_CA_BUNDLE`), exactly the
/// certificates of that bundle, as the Python client does. TLS 1.2 and 1.3,
/// with ring's ciphers, AES-128-GCM offered first.
pub(crate) fn tls_config(ca_bundle: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut provider = rustls::crypto::ring::default_provider();
    // As browsers and the Hub's CDN order them: a server that takes the
    // client's order then spends a quarter less on encryption, and so do we
    // on decryption (AES-128 runs 10 rounds a block, AES-256 14).
    provider
        .cipher_suites
        .sort_by_key(|suite| !is_aes_128_gcm(suite.suite()));
    let provider = Arc::new(provider);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| tls_setup_error(&e))?;
    let config = match ca_bundle {
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| tls_setup_error(&e))?;
            // Not dangerous: the platform's verifier checks the chain against the system's roots.
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
        Some(path) => {
            let certs = read_bundle(path)?;
            let mut roots = RootCertStore::empty();
            // System bundles hold a few certificates webpki cannot parse; like
            // curl and ureq, those are skipped, as long as one is usable.
            let (added, _ignored) =
                roots.add_parsable_certificates(certs.iter().map(|cert| CertificateDer::from(cert.der())));
            if added == 0 {
                return Err(Error::Config {
                    reason: format!("the CA bundle {} holds no usable certificate", path.display()),
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

fn is_aes_128_gcm(suite: rustls::CipherSuite) -> bool {
    use rustls::CipherSuite as S;
    matches!(
        suite,
        S::TLS13_AES_128_GCM_SHA256
            | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    )
}

fn tls_setup_error(error: &rustls::Error) -> Error {
    Error::Config {
        reason: format!("failed to set up TLS: {error}"),
    }
}

fn read_bundle(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Config {
                    reason: format!("the CA bundle {} is not valid PEM: {e}", path.display()),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::Config {
            reason: format!("the CA bundle {} holds no certificate", path.display()),
        });
    }
    Ok(certs)
}
