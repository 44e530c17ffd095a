//! The base URL of a Hub: `https://huggingface.co` or a mirror, a private Hub or a local server.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::repo_id::RepoId;
use crate::repo_type::RepoType;

/// The base URL of a Hub, without a trailing `/`: `http(s)://host[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(String);

impl Endpoint {
    /// The public Hub.
    pub const DEFAULT: &str = "https://huggingface.co";

    /// Checks that `url` is an `http://` or `https://` URL with a host and no query or fragment,
    /// and strips its trailing `/`s as the Python client does with `HF_ENDPOINT`.
    pub fn new(url: &str) -> Result<Endpoint> {
        let invalid = |reason| Error::InvalidEndpoint {
            input: url.to_owned(),
            reason,
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("whitespace and control characters are not allowed"));
        }
        let (scheme, rest) =
            split_scheme(url).ok_or_else(|| invalid("an endpoint must start with http:// or https://"))?;
        if rest.contains(['?', '#']) {
            return Err(invalid("a query or a fragment is not allowed"));
        }
        let rest = rest.trim_end_matches('/');
        let authority = rest.split('/').next().unwrap_or_default();
        check_authority(authority).map_err(invalid)?;
        Ok(Endpoint(format!("{scheme}://{rest}")))
    }

    /// The base URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The `host[:port]` part.
    pub fn host(&self) -> &str {
        let rest = split_scheme(&self.0).map_or("", |(_, rest)| rest);
        rest.split('/').next().unwrap_or_default()
    }

    /// The API URL of a repository: `{endpoint}/api/{models|datasets|spaces}/{repo}`.
    pub fn api_url(&self, repo_type: RepoType, repo_id: &RepoId) -> String {
        format!("{}/api/{}/{}", self.0, repo_type.plural(), repo_id)
    }

    /// The web URL of a repository, also its git remote: `{endpoint}/{prefix}{repo}`.
    pub fn repo_url(&self, repo_type: RepoType, repo_id: &RepoId) -> String {
        format!("{}/{}{}", self.0, repo_type.url_prefix(), repo_id)
    }

    /// The URL of an absolute path on this Hub, such as `/api/whoami-v2`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.0, path.trim_start_matches('/'))
    }
}

/// Splits off an `http` or `https` scheme, in any case, returning it lowercased.
fn split_scheme(url: &str) -> Option<(&'static str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.eq_ignore_ascii_case("https") {
        Some(("https", rest))
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(("http", rest))
    } else {
        None
    }
}

fn check_authority(authority: &str) -> Result<(), &'static str> {
    if authority.is_empty() {
        return Err("an endpoint must have a host");
    }
    if authority.contains('@') {
        return Err("credentials are not allowed in an endpoint");
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        // An IPv6 literal such as `[::1]:8080`.
        let (address, after) = bracketed.split_once(']').ok_or("an IPv6 host must end with ']'")?;
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("an IPv6 host must hold only hexadecimal digits, ':' and '.'");
        }
        match after {
            "" => (address, None),
            _ => (
                address,
                Some(after.strip_prefix(':').ok_or("a port must follow ':' after the host")?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("an endpoint must have a host");
    }
    if !authority.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("a host must hold only ASCII letters, digits, '-', '_' and '.' (use punycode for other names)");
    }
    // `u16::from_str` alone would also take a leading '+'.
    let bad_port = |port: &str| !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err();
    if port.is_some_and(bad_port) {
        return Err("a port must be a number from 0 to 65535");
    }
    Ok(())
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint(Endpoint::DEFAULT.to_owned())
    }
}

impl FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::new(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Endpoint {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_public_hub() -> Result<()> {
        let endpoint = Endpoint::default();
        assert_eq!(endpoint.as_str(), "https://huggingface.co");
        assert!(endpoint.is_https());
        assert_eq!(endpoint.host(), "huggingface.co");
        assert_eq!(Endpoint::new(Endpoint::DEFAULT)?, endpoint);
        Ok(())
    }

    #[test]
    fn strips_trailing_slashes() -> Result<()> {
        for (input, expected) in [
            ("https://huggingface.co/", "https://huggingface.co"),
            ("http://127.0.0.1:8080///", "http://127.0.0.1:8080"),
            ("https://mirror.example.org/hub/", "https://mirror.example.org/hub"),
            ("HTTP://LOCALHOST:1234", "http://LOCALHOST:1234"),
        ] {
            let endpoint = Endpoint::new(input)?;
            assert_eq!(endpoint.as_str(), expected);
            assert_eq!(endpoint.to_string(), expected);
        }
        Ok(())
    }

    #[test]
    fn knows_scheme_and_host() -> Result<()> {
        let local = Endpoint::new("http://127.0.0.1:8080/")?;
        assert!(!local.is_https());
        assert_eq!(local.host(), "127.0.0.1:8080");
        let mirror: Endpoint = "https://mirror.example.org/hub".parse()?;
        assert!(mirror.is_https());
        assert_eq!(mirror.host(), "mirror.example.org");
        assert_eq!(Endpoint::new("http://[::1]:9000")?.host(), "[::1]:9000");
        assert_eq!(Endpoint::new("https://[fe80::1]")?.host(), "[fe80::1]");
        Ok(())
    }

    #[test]
    fn builds_api_and_repo_urls() -> Result<()> {
        let endpoint = Endpoint::new("http://127.0.0.1:8080/")?;
        let id = RepoId::new("org/name")?;
        assert_eq!(
            endpoint.api_url(RepoType::Model, &id),
            "http://127.0.0.1:8080/api/models/org/name"
        );
        assert_eq!(
            endpoint.api_url(RepoType::Dataset, &id),
            "http://127.0.0.1:8080/api/datasets/org/name"
        );
        assert_eq!(
            endpoint.api_url(RepoType::Space, &id),
            "http://127.0.0.1:8080/api/spaces/org/name"
        );
        assert_eq!(
            endpoint.repo_url(RepoType::Model, &id),
            "http://127.0.0.1:8080/org/name"
        );
        assert_eq!(
            endpoint.repo_url(RepoType::Dataset, &id),
            "http://127.0.0.1:8080/datasets/org/name"
        );
        assert_eq!(
            endpoint.repo_url(RepoType::Space, &id),
            "http://127.0.0.1:8080/spaces/org/name"
        );
        assert_eq!(endpoint.url("/api/whoami-v2"), "http://127.0.0.1:8080/api/whoami-v2");
        assert_eq!(
            endpoint.url("api/repos/create"),
            "http://127.0.0.1:8080/api/repos/create"
        );
        Ok(())
    }

    #[test]
    fn rejects_what_is_no_base_url() {
        for (input, reason) in [
            ("huggingface.co", "an endpoint must start with http:// or https://"),
            (
                "ftp://huggingface.co",
                "an endpoint must start with http:// or https://",
            ),
            ("", "an endpoint must start with http:// or https://"),
            ("https://", "an endpoint must have a host"),
            ("https:///path", "an endpoint must have a host"),
            ("https://:8080", "an endpoint must have a host"),
            ("https://hf.co?x=1", "a query or a fragment is not allowed"),
            ("https://hf.co/#top", "a query or a fragment is not allowed"),
            ("https://hf.co ", "whitespace and control characters are not allowed"),
            (
                "https://user:secret@hf.co",
                "credentials are not allowed in an endpoint",
            ),
            ("https://hf.co:port", "a port must be a number from 0 to 65535"),
            ("https://hf.co:99999", "a port must be a number from 0 to 65535"),
            ("https://hf.co:", "a port must be a number from 0 to 65535"),
            ("https://[::1", "an IPv6 host must end with ']'"),
            ("https://[::1]8080", "a port must follow ':' after the host"),
            (
                "https://exämple.org",
                "a host must hold only ASCII letters, digits, '-', '_' and '.' (use punycode for other names)",
            ),
        ] {
            let message = Endpoint::new(input).err().map(|e| e.to_string());
            let expected = format!("invalid endpoint {input:?}: {reason}");
            assert_eq!(message.as_deref(), Some(expected.as_str()), "{input}");
        }
    }
}
