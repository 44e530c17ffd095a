//! Which certificate authorities the client trusts.

use std::path::Path;
use std::sync::Arc;

use ureq::tls::{PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// The platform's trust store, or, when a CA bundle is named
/// (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `CURL_CA_BUNDLE`), exactly the
/// certificates of that bundle, as the Python client does.
pub(crate) fn tls_config(ca_bundle: Option<&Path>) -> Result<TlsConfig> {
    let roots = match ca_bundle {
        None => RootCerts::PlatformVerifier,
        Some(path) => RootCerts::Specific(Arc::new(read_bundle(path)?)),
    };
    Ok(TlsConfig::builder().root_certs(roots).build())
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
