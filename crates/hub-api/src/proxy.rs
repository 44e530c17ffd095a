//! The proxy requests go through, from the settings read by `HubConfig`.

use hub_url::ProxySettings;

use crate::error::{Error, Result};

/// The proxy for an endpoint of this scheme, honouring `NO_PROXY`.
///
/// One agent serves the endpoint and its CDN, which share a scheme on the
/// Hub, so the proxy is chosen by the endpoint's scheme.
pub(crate) fn proxy_for(settings: &ProxySettings, https: bool) -> Result<Option<ureq::Proxy>> {
    let Some(url) = settings.for_scheme(https) else {
        return Ok(None);
    };
    let invalid = |e: ureq::Error| Error::Config {
        reason: format!("invalid proxy URL {url:?}: {e}"),
    };
    let parsed = ureq::Proxy::new(url).map_err(invalid)?;
    let mut builder = ureq::Proxy::builder(parsed.protocol())
        .host(parsed.host())
        .port(parsed.port());
    if let Some(user) = parsed.username() {
        builder = builder.username(user);
    }
    if let Some(password) = parsed.password() {
        builder = builder.password(password);
    }
    if let Some(list) = &settings.no_proxy {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            builder = builder.no_proxy(entry);
        }
    }
    builder.build().map(Some).map_err(invalid)
}
