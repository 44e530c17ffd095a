//! The origin of a URL (scheme, host, port): what a token is scoped to.
//!
//! Every origin of the workspace comes from here, from one parse by the WHATWG URL
//! parser that browsers follow (the `url` crate), so that the host a decision is made
//! about is the host the request is sent to: `http://hub:1@evil/` goes to `evil`,
//! `https://h:443` is `https://h`, and `http://H%41B/` is `http://hab`.

use std::fmt;

use url::{Host, ParseError, Url};

use crate::error::{Error, Result};

/// The scheme, host and port of an `http` or `https` URL: the unit a token is scoped to.
///
/// The host is the parser's: lowercase, percent-decoded and mapped to ASCII (punycode),
/// an IPv4 address in dotted form, an IPv6 address in brackets. The port is explicit, the
/// scheme's default when the URL names none, so `https://h` and `https://h:443` are one
/// origin and `https://h:80` is another. `Display` leaves a default port out, as browsers
/// and git's `credential.<url>` matching write an origin.
///
/// ```
/// use hub_url::{Origin, parse_http_url};
///
/// let hub = Origin::parse("https://huggingface.co")?;
/// assert_eq!(Origin::parse("https://HuggingFace.co:443/api/models")?, hub);
/// assert_eq!(hub.to_string(), "https://huggingface.co");
/// assert!(hub.credentials_go_to(&parse_http_url("https://huggingface.co/api/whoami-v2")?));
/// assert!(!hub.credentials_go_to(&parse_http_url("https://huggingface.co@cdn.example/x")?));
/// assert!(Origin::parse("ftp://huggingface.co").is_err());
/// # Ok::<(), hub_url::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of a parsed URL; refused unless it is an `http` or `https` URL with a host.
    pub fn of(url: &Url) -> Result<Origin> {
        let invalid = |reason| Error::InvalidUrl {
            input: url.as_str().to_owned(),
            reason,
        };
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("only http:// and https:// URLs are requested")),
        };
        let host = match url.host() {
            Some(Host::Domain(domain)) => domain.to_owned(),
            Some(Host::Ipv4(address)) => address.to_string(),
            Some(Host::Ipv6(address)) => format!("[{address}]"),
            None => return Err(invalid("a URL must have a host")),
        };
        // The parser knows the default of both schemes, so this is never the fallback.
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }

    /// The origin of a URL given as text (see [`parse_http_url`]).
    pub fn parse(url: &str) -> Result<Origin> {
        Origin::of(&parse_url(url)?)
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host: a lowercase ASCII name, an IPv4 address, or an IPv6 address in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default (443, 80) when the URL names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether credentials scoped to this origin go with a request to `url`: the one
    /// decision behind "does the token go to this URL".
    ///
    /// `url` must have this origin and carry no user info of its own: a URL that names its
    /// own credentials asks for those, and user info is how a hostile `Location` tries to
    /// make a careless parser see the Hub's host in another host's URL (`http://hub@evil/`).
    pub fn credentials_go_to(&self, url: &Url) -> bool {
        url.username().is_empty() && url.password().is_none() && Origin::of(url).is_ok_and(|origin| origin == *self)
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.host)?;
        if self.port != self.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// Parses an absolute `http://` or `https://` URL as browsers do, refusing any other
/// scheme and a URL without a host: the URL a request is sent to, so that its
/// [`Origin`] is the one it reaches.
pub fn parse_http_url(url: &str) -> Result<Url> {
    let parsed = parse_url(url)?;
    Origin::of(&parsed)?;
    Ok(parsed)
}

fn parse_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|error| Error::InvalidUrl {
        input: url.to_owned(),
        reason: parse_error_reason(error),
    })
}

/// What a parse error means, in this crate's words.
pub(crate) fn parse_error_reason(error: ParseError) -> &'static str {
    match error {
        ParseError::RelativeUrlWithoutBase => "a URL must start with http:// or https://",
        ParseError::EmptyHost => "a URL must have a host",
        ParseError::InvalidPort => "a port must be a number from 0 to 65535",
        ParseError::InvalidIpv4Address => "the host is no valid IPv4 address",
        ParseError::InvalidIpv6Address => "an IPv6 host must be hexadecimal digits, ':' and '.' in brackets",
        ParseError::InvalidDomainCharacter => "the host holds a character no domain name may hold",
        ParseError::IdnaError => "the host is no valid international domain name",
        _ => "it is no URL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_only_the_default_port_out() -> Result<()> {
        for (input, shown) in [
            ("https://h:443/x", "https://h"),
            ("http://h:80", "http://h"),
            ("https://h:80", "https://h:80"),
            ("http://h:443", "http://h:443"),
            ("http://[::1]:8080/", "http://[::1]:8080"),
            ("http://127.0.0.1:1/", "http://127.0.0.1:1"),
        ] {
            assert_eq!(Origin::parse(input)?.to_string(), shown, "{input}");
        }
        Ok(())
    }

    #[test]
    fn parts_are_explicit() -> Result<()> {
        let origin = Origin::parse("HTTPS://Hub.Example/api")?;
        assert_eq!(
            (origin.scheme(), origin.host(), origin.port(), origin.is_https()),
            ("https", "hub.example", 443, true)
        );
        let origin = Origin::parse("http://[::1]:8080/")?;
        assert_eq!((origin.scheme(), origin.host(), origin.port()), ("http", "[::1]", 8080));
        Ok(())
    }
}
