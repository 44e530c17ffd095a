//! The proxy requests go through, from the settings read by `HubConfig`.

use std::borrow::Cow;

use hub_url::{Endpoint, ProxySettings};
use ureq::ProxyProtocol;

use crate::error::{Error, Result};

/// The proxy for an endpoint of this scheme, honouring `NO_PROXY`.
///
/// One agent serves the endpoint and its CDN, which share a scheme on the
/// Hub, so the proxy is chosen by the endpoint's scheme.
pub(crate) fn proxy_for(settings: &ProxySettings, endpoint: &Endpoint) -> Result<Option<ureq::Proxy>> {
    let Some(url) = settings.for_endpoint(endpoint) else {
        return Ok(None);
    };
    let invalid = |e: ureq::Error| Error::Config {
        reason: format!("invalid proxy URL {:?}: {e}", without_userinfo(url)),
    };
    let parsed = ureq::Proxy::new(url).map_err(invalid)?;
    if !matches!(parsed.protocol(), ProxyProtocol::Http | ProxyProtocol::Https) {
        // Connections are made by ureq's CONNECT-proxy and TCP connectors only:
        // a SOCKS proxy would be bypassed, so it is refused instead.
        return Err(Error::Config {
            reason: format!(
                "the proxy {:?} is a SOCKS proxy; only HTTP and HTTPS proxies are supported",
                without_userinfo(url)
            ),
        });
    }
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

/// `url` with its `user:password@` shown as `***@`: a proxy URL that fails to
/// parse still carries its password.
fn without_userinfo(url: &str) -> Cow<'_, str> {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!(
            "{}***{}",
            &url[..authority_start],
            &url[authority_start + at..]
        )),
        None => Cow::Borrowed(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https_hub() -> Endpoint {
        Endpoint::new("https://huggingface.co").expect("a valid endpoint")
    }

    #[test]
    fn an_invalid_proxy_url_is_named_without_its_password() {
        let settings = ProxySettings {
            https: Some("http://me:s3cretpass@proxy:<".to_owned()),
            ..ProxySettings::default()
        };
        let err = proxy_for(&settings, &https_hub())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("invalid client configuration: invalid proxy URL"),
            "{err}"
        );
        assert!(!err.contains("s3cretpass"), "{err}");
        assert!(err.contains("http://***@proxy:<"), "{err}");
    }

    #[test]
    fn a_socks_proxy_is_refused_not_bypassed() {
        let settings = ProxySettings {
            https: Some("socks5://me:s3cretpass@proxy:1080".to_owned()),
            ..ProxySettings::default()
        };
        let err = proxy_for(&settings, &https_hub())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("SOCKS"), "{err}");
        assert!(!err.contains("s3cretpass"), "{err}");
        let http = ProxySettings {
            https: Some("http://proxy:3128".to_owned()),
            ..ProxySettings::default()
        };
        assert!(matches!(proxy_for(&http, &https_hub()), Ok(Some(_))));
    }

    #[test]
    fn userinfo_is_cut_from_the_authority_only() {
        assert_eq!(without_userinfo("http://u:p@h:1/a@b"), "http://***@h:1/a@b");
        assert_eq!(without_userinfo("u:p@h"), "***@h");
        assert_eq!(without_userinfo("http://h/x?y=a@b"), "http://h/x?y=a@b");
        assert_eq!(without_userinfo("socks5://a@b@h"), "socks5://***@h");
    }
}
