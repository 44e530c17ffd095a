//! The proxies the environment asks for, as curl and Python's `urllib` read them.

use std::borrow::Cow;
use std::fmt;

use crate::endpoint::Endpoint;
use crate::error::Result;

/// The proxy variables of the environment.
///
/// Each field reads the lowercase variable (`https_proxy`) when it is set, else the uppercase
/// one (`HTTPS_PROXY`); an empty value means no proxy. `Debug` hides proxy passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `https_proxy` / `HTTPS_PROXY`: the proxy for `https://` URLs.
    pub https: Option<String>,
    /// `http_proxy` / `HTTP_PROXY`: the proxy for `http://` URLs.
    pub http: Option<String>,
    /// `all_proxy` / `ALL_PROXY`: the proxy for any scheme without its own.
    pub all: Option<String>,
    /// `no_proxy` / `NO_PROXY`: the comma-separated hosts reached directly.
    pub no_proxy: Option<String>,
}

impl ProxySettings {
    /// The proxy for requests to `endpoint` (and its CDN, which shares its
    /// scheme on the Hub): the variable of its scheme, else `all_proxy`.
    pub fn for_endpoint(&self, endpoint: &Endpoint) -> Option<&str> {
        let own = if endpoint.is_https() { &self.https } else { &self.http };
        own.as_deref().or(self.all.as_deref())
    }

    pub(crate) fn from_lookup(get: &dyn Fn(&str) -> Result<Option<String>>) -> Result<ProxySettings> {
        let pick = |lower: &str, upper: &str| -> Result<Option<String>> {
            // A lowercase variable, even empty, overrides the uppercase one, as in curl and urllib.
            let value = match get(lower)? {
                Some(value) => Some(value),
                None => get(upper)?,
            };
            Ok(value.filter(|v| !v.is_empty()))
        };
        // Under CGI, `HTTP_PROXY` can come from a request's `Proxy:` header ("httpoxy"), so
        // only the lowercase variable counts there, as in Python's urllib.
        let http = if get("REQUEST_METHOD")?.is_some() {
            get("http_proxy")?.filter(|v| !v.is_empty())
        } else {
            pick("http_proxy", "HTTP_PROXY")?
        };
        Ok(ProxySettings {
            https: pick("https_proxy", "HTTPS_PROXY")?,
            http,
            all: pick("all_proxy", "ALL_PROXY")?,
            no_proxy: pick("no_proxy", "NO_PROXY")?,
        })
    }
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redacted(url: &Option<String>) -> Option<Cow<'_, str>> {
            url.as_deref().map(redact_password)
        }
        f.debug_struct("ProxySettings")
            .field("https", &redacted(&self.https))
            .field("http", &redacted(&self.http))
            .field("all", &redacted(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// `http://user:secret@proxy:3128` → `http://user:***@proxy:3128`.
///
/// Cut by hand rather than by the URL parser on purpose: a password must be hidden in a
/// value that does not parse too (`http://u:secret@proxy:99999`, or `u:secret@proxy` with
/// no scheme, which curl takes as `http://`).
fn redact_password(url: &str) -> Cow<'_, str> {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..]
        .find('/')
        .map_or(url.len(), |i| authority_start + i);
    let Some(at) = url[authority_start..authority_end]
        .rfind('@')
        .map(|i| authority_start + i)
    else {
        return Cow::Borrowed(url);
    };
    let Some(colon) = url[authority_start..at].find(':').map(|i| authority_start + i) else {
        return Cow::Borrowed(url);
    };
    Cow::Owned(format!("{}:***{}", &url[..colon], &url[at..]))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<ProxySettings> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ProxySettings::from_lookup(&|name| Ok(vars.get(name).cloned()))
    }

    #[test]
    fn reads_each_variable_in_either_case() -> Result<()> {
        let upper = settings(&[
            ("HTTPS_PROXY", "http://s:1"),
            ("HTTP_PROXY", "http://p:2"),
            ("ALL_PROXY", "socks5://a:3"),
            ("NO_PROXY", "localhost,.internal"),
        ])?;
        let lower = settings(&[
            ("https_proxy", "http://s:1"),
            ("http_proxy", "http://p:2"),
            ("all_proxy", "socks5://a:3"),
            ("no_proxy", "localhost,.internal"),
        ])?;
        let expected = ProxySettings {
            https: Some("http://s:1".to_owned()),
            http: Some("http://p:2".to_owned()),
            all: Some("socks5://a:3".to_owned()),
            no_proxy: Some("localhost,.internal".to_owned()),
        };
        assert_eq!(upper, expected);
        assert_eq!(lower, expected);
        assert_eq!(settings(&[])?, ProxySettings::default());
        Ok(())
    }

    #[test]
    fn lowercase_wins_and_empty_means_none() -> Result<()> {
        let both = settings(&[("HTTPS_PROXY", "http://upper:1"), ("https_proxy", "http://lower:1")])?;
        assert_eq!(both.https.as_deref(), Some("http://lower:1"));
        let emptied = settings(&[("HTTPS_PROXY", "http://upper:1"), ("https_proxy", "")])?;
        assert_eq!(emptied.https, None);
        let empty_upper = settings(&[("NO_PROXY", "")])?;
        assert_eq!(empty_upper.no_proxy, None);
        Ok(())
    }

    #[test]
    fn ignores_uppercase_http_proxy_under_cgi() -> Result<()> {
        let cgi = settings(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")])?;
        assert_eq!(cgi.http, None);
        let cgi_lower = settings(&[("REQUEST_METHOD", "GET"), ("http_proxy", "http://good:1")])?;
        assert_eq!(cgi_lower.http.as_deref(), Some("http://good:1"));
        Ok(())
    }

    #[test]
    fn picks_the_scheme_proxy_then_all() -> Result<()> {
        let all_only = ProxySettings {
            all: Some("http://all:1".to_owned()),
            ..ProxySettings::default()
        };
        let (https, http) = (Endpoint::new("https://hub")?, Endpoint::new("http://hub")?);
        assert_eq!(all_only.for_endpoint(&https), Some("http://all:1"));
        assert_eq!(all_only.for_endpoint(&http), Some("http://all:1"));
        let each = ProxySettings {
            https: Some("http://s:1".to_owned()),
            http: Some("http://p:1".to_owned()),
            ..all_only
        };
        assert_eq!(each.for_endpoint(&https), Some("http://s:1"));
        assert_eq!(each.for_endpoint(&http), Some("http://p:1"));
        assert_eq!(ProxySettings::default().for_endpoint(&https), None);
        Ok(())
    }

    #[test]
    fn debug_hides_passwords() {
        let proxy = ProxySettings {
            https: Some("http://user:s3cret@proxy:3128".to_owned()),
            http: Some("http://proxy:3128/path@x".to_owned()),
            all: Some("socks5://only-user@proxy".to_owned()),
            no_proxy: None,
        };
        let shown = format!("{proxy:?}");
        for unparsable in ["http://u:s3cret@proxy:99999", "u:s3cret@proxy:3128"] {
            assert!(!redact_password(unparsable).contains("s3cret"), "{unparsable}");
        }
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("http://user:***@proxy:3128"), "{shown}");
        assert!(shown.contains("http://proxy:3128/path@x"), "{shown}");
        assert!(shown.contains("socks5://only-user@proxy"), "{shown}");
    }
}
