//! The base URL of a Hub: `https://huggingface.co` or a mirror, a private Hub or a local server.

use std::fmt;
use std::str::FromStr;

use url::{ParseError, Url};

use crate::error::{Error, Result};
use crate::origin::{Origin, parse_error_reason};
use crate::repo_id::RepoId;
use crate::repo_type::RepoType;

/// The base URL of a Hub, without a trailing `/`: `http(s)://host[:port][/path]`.
///
/// Kept as the URL parser writes it (lowercase host, no default port, `.` and `..`
/// segments resolved), so that every URL built on it reads as the one requested.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    url: String,
    origin: Origin,
}

impl Endpoint {
    /// The public Hub.
    pub const DEFAULT: &str = "https://huggingface.co";

    /// Checks that `url` is an `http://` or `https://` URL with a host and no credentials,
    /// query or fragment, and strips its trailing `/`s as the Python client does with
    /// `HF_ENDPOINT`.
    pub fn new(url: &str) -> Result<Endpoint> {
        let invalid = |reason| Error::InvalidEndpoint {
            input: url.to_owned(),
            reason,
        };
        // The parser drops surrounding spaces and inner tabs and newlines without a word:
        // in a setting they are a typo to report, not to guess around.
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("whitespace and control characters are not allowed"));
        }
        let not_http = "an endpoint must start with http:// or https://";
        let parsed = Url::parse(url).map_err(|error| {
            invalid(match error {
                ParseError::RelativeUrlWithoutBase => not_http,
                ParseError::EmptyHost => "an endpoint must have a host",
                other => parse_error_reason(other),
            })
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(not_http));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("credentials are not allowed in an endpoint"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("a query or a fragment is not allowed"));
        }
        let origin = Origin::of(&parsed).map_err(|_| invalid("an endpoint must have a host"))?;
        Ok(Endpoint {
            url: parsed.as_str().trim_end_matches('/').to_owned(),
            origin,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The origin that the token is sent to, and only to.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.origin.is_https()
    }

    /// The `host[:port]` part (without a default port).
    pub fn host(&self) -> &str {
        // The parser's own writing: `scheme://host[:port]/…`, with no user info.
        let rest = &self.url[self.origin.scheme().len() + "://".len()..];
        rest.split('/').next().unwrap_or_default()
    }

    /// The API URL of a repository: `{endpoint}/api/{models|datasets|spaces}/{repo}`.
    pub fn api_url(&self, repo_type: RepoType, repo_id: &RepoId) -> String {
        format!("{}/api/{}/{}", self.url, repo_type.plural(), repo_id)
    }

    /// The web URL of a repository, also its git remote: `{endpoint}/{prefix}{repo}`.
    pub fn repo_url(&self, repo_type: RepoType, repo_id: &RepoId) -> String {
        format!("{}/{}{}", self.url, repo_type.url_prefix(), repo_id)
    }

    /// The URL of an absolute path on this Hub, such as `/api/whoami-v2`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.url, path.trim_start_matches('/'))
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::new(Endpoint::DEFAULT).expect("the public Hub's URL is a valid endpoint")
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
        f.write_str(&self.url)
    }
}

impl AsRef<str> for Endpoint {
    fn as_ref(&self) -> &str {
        &self.url
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
            ("HTTP://LOCALHOST:1234", "http://localhost:1234"),
            ("https://hf.co:443/", "https://hf.co"),
            ("http://hf.co:80/a/../hub/./", "http://hf.co/hub"),
            ("https://exämple.org", "https://xn--exmple-cua.org"),
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
        assert_eq!(local.origin(), &Origin::parse("http://127.0.0.1:8080/api/models")?);
        assert_eq!(mirror.origin().to_string(), "https://mirror.example.org");
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
            (
                "https://[::1",
                "an IPv6 host must be hexadecimal digits, ':' and '.' in brackets",
            ),
            (
                "https://[::1]8080",
                "an IPv6 host must be hexadecimal digits, ':' and '.' in brackets",
            ),
            ("https://@hf.co:1@x", "credentials are not allowed in an endpoint"),
            ("https://hf.co?", "a query or a fragment is not allowed"),
            ("mailto:hub@hf.co", "an endpoint must start with http:// or https://"),
            ("https://hf co", "whitespace and control characters are not allowed"),
        ] {
            let message = Endpoint::new(input).err().map(|e| e.to_string());
            let expected = format!("invalid endpoint {input:?}: {reason}");
            assert_eq!(message.as_deref(), Some(expected.as_str()), "{input}");
        }
    }
}
