//! The Xet access token: exchanged at the Hub for the Hub token, cached, and refreshed
//! shortly before it expires.
//!
//! `GET {endpoint}/api/{type}s/{repo}/xet-{read|write}-token/{revision}` answers with a
//! short-lived token for the CAS, the CAS's URL and the token's expiry, as JSON
//! (`accessToken`, `casUrl`, `exp`) and as `X-Xet-*` headers. Everything the Hub sends is
//! checked before it is used: the URL must be `http(s)`, the token printable, the expiry a
//! plausible time.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_api::{HubClient, HubRequest, RequestTarget};
use hub_url::{Origin, RepoId, RepoType, Token, Url, encode_segment, parse_http_url};
use serde::Deserialize;

use crate::Error;

/// A token is refreshed this long before the expiry the Hub gave (the Python client's
/// safety period; the specification asks for at least 30 seconds).
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The longest token or CAS URL taken from the Hub (the specification's upper bound).
const MAX_FIELD_LEN: usize = 64_000;

/// What a Xet token may do: read (reconstructions, dedupe queries) or also write (xorb and
/// shard uploads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XetScope {
    /// Downloads and dedupe queries.
    Read,
    /// Uploads too.
    Write,
}

impl XetScope {
    /// The scope's word in the token route (`read`, `write`).
    pub fn as_str(self) -> &'static str {
        match self {
            XetScope::Read => "read",
            XetScope::Write => "write",
        }
    }
}

/// The route that hands out Xet tokens for a repo at a revision:
/// `{endpoint}/api/{type}s/{repo}/xet-{scope}-token/{revision}`.
pub fn xet_token_url(
    endpoint: &hub_url::Endpoint,
    repo_type: RepoType,
    repo_id: &RepoId,
    revision: &str,
    scope: XetScope,
) -> String {
    format!(
        "{}/xet-{}-token/{}",
        endpoint.api_url(repo_type, repo_id),
        scope.as_str(),
        encode_segment(revision)
    )
}

/// A Xet access token with the CAS it is for.
#[derive(Clone, Debug)]
pub struct XetToken {
    access_token: Token,
    cas_url: Url,
    expires_at: u64,
}

impl XetToken {
    /// Checks the values a Hub sent: a CAS URL that is `http` or `https` (without user
    /// info), a token of printable ASCII, an expiry after the Unix epoch's first day.
    pub fn new(access_token: &str, cas_url: &str, expires_at: u64) -> Result<Self, Error> {
        let refuse = |reason: &str| {
            Err(Error::InvalidXetToken {
                reason: reason.to_string(),
            })
        };
        if access_token.is_empty() || access_token.len() > MAX_FIELD_LEN {
            return refuse("the access token is empty or too long");
        }
        if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
            return refuse("the access token has characters that cannot go in a header");
        }
        if cas_url.len() > MAX_FIELD_LEN {
            return refuse("the CAS URL is too long");
        }
        let Ok(mut url) = parse_http_url(cas_url.trim_end_matches('/')) else {
            return refuse("the CAS URL is not an http(s) URL");
        };
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return refuse("the CAS URL carries credentials, a query or a fragment");
        }
        if Origin::of(&url).is_err() {
            return refuse("the CAS URL has no usable origin");
        }
        url.set_fragment(None);
        // One day past the epoch: a zero or tiny value is no time at all.
        if !(86_400..=1 << 40).contains(&expires_at) {
            return refuse("the expiry is not a plausible Unix time");
        }
        Ok(XetToken {
            access_token: Token::new(access_token),
            cas_url: url,
            expires_at,
        })
    }

    /// The token, for `Authorization: Bearer` to the CAS.
    pub fn access_token(&self) -> &Token {
        &self.access_token
    }

    /// The CAS's base URL, without a trailing slash.
    pub fn cas_url(&self) -> &str {
        self.cas_url.as_str().trim_end_matches('/')
    }

    /// When the token expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the token is still good at `now` (Unix seconds) with the margin to spare.
    pub fn is_fresh_at(&self, now: u64) -> bool {
        now.saturating_add(TOKEN_REFRESH_MARGIN.as_secs()) < self.expires_at
    }
}

/// The JSON of the token route.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenJson {
    access_token: String,
    cas_url: String,
    exp: u64,
}

/// Where Xet tokens of one repo and scope come from, and the current one: asked for once,
/// shared by every thread of a transfer, asked for again shortly before it expires or when
/// the CAS refuses it.
#[derive(Debug)]
pub struct XetTokenSource {
    client: HubClient,
    url: String,
    target: RequestTarget,
    current: Mutex<Option<XetToken>>,
}

impl XetTokenSource {
    /// Tokens for a repo at a revision, asked for with `client`'s Hub token.
    pub fn new(client: &HubClient, repo_type: RepoType, repo_id: &RepoId, revision: &str, scope: XetScope) -> Self {
        XetTokenSource {
            url: xet_token_url(client.endpoint(), repo_type, repo_id, revision, scope),
            target: RequestTarget::repo(repo_type, repo_id).at(revision),
            client: client.clone(),
            current: Mutex::new(None),
        }
    }

    /// Tokens from the refresh route a file's `HEAD` named (`Link: <…>; rel="xet-auth"`).
    /// The route gets the Hub token, so it must be on the endpoint's own origin.
    pub fn from_refresh_route(
        client: &HubClient,
        route: &str,
        repo_type: RepoType,
        repo_id: &RepoId,
    ) -> Result<Self, Error> {
        let url = parse_http_url(route).map_err(|_| Error::InvalidXetToken {
            reason: format!("the refresh route {:?} is not an http(s) URL", cut(route)),
        })?;
        if !client.endpoint().origin().credentials_go_to(&url) {
            return Err(Error::InvalidXetToken {
                reason: format!("the refresh route {:?} is not on the Hub's origin", cut(route)),
            });
        }
        Ok(XetTokenSource {
            url: url.into(),
            target: RequestTarget::repo(repo_type, repo_id),
            client: client.clone(),
            current: Mutex::new(None),
        })
    }

    /// The route tokens are asked from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A token with at least [`TOKEN_REFRESH_MARGIN`] to live: the cached one, or a new one.
    pub fn token(&self) -> Result<XetToken, Error> {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(token) = current.as_ref().filter(|t| t.is_fresh_at(now_secs())) {
            return Ok(token.clone());
        }
        let token = self.exchange()?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// A new token after the CAS refused `refused`; a token another thread got since is
    /// used instead of asking again.
    pub fn refresh(&self, refused: &XetToken) -> Result<XetToken, Error> {
        let mut current = self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(token) = current
            .as_ref()
            .filter(|t| t.access_token.expose() != refused.access_token.expose() && t.is_fresh_at(now_secs()))
        {
            return Ok(token.clone());
        }
        let token = self.exchange()?;
        *current = Some(token.clone());
        Ok(token)
    }

    fn exchange(&self) -> Result<XetToken, Error> {
        let request = HubRequest::get(&self.url).target(self.target.clone());
        let response = self.client.send(&request).map_err(Error::hub("ask for a Xet token"))?;
        let header = |name: &str| response.header(name).map(str::to_string);
        let from_headers = match (
            header("x-xet-access-token"),
            header("x-xet-cas-url").or_else(|| header("x-xet-endpoint")),
            header("x-xet-token-expiration").or_else(|| header("x-xet-expiration")),
        ) {
            (Some(token), Some(url), Some(exp)) => Some((token, url, exp)),
            _ => None,
        };
        let url = response.url().to_string();
        let (token, cas_url, exp) = match from_headers {
            Some((token, cas_url, exp)) => {
                response.discard();
                let exp = exp.trim().parse::<u64>().map_err(|_| Error::InvalidXetToken {
                    reason: format!("the expiry {:?} is not a number", cut(&exp)),
                })?;
                (token, cas_url, exp)
            }
            None => {
                let json: TokenJson = response.json().map_err(Error::hub("read the Xet token"))?;
                (json.access_token, json.cas_url, json.exp)
            }
        };
        log::debug!("Xet token from {url}, expiring at {exp}");
        XetToken::new(&token, &cas_url, exp)
    }
}

/// Seconds since the Unix epoch (0 on a clock before it).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Text from a server, cut for an error message.
fn cut(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_hub_are_checked() {
        let exp = now_secs() + 3600;
        assert!(XetToken::new("xet_abc", "https://cas.example.co", exp).is_ok());
        assert!(XetToken::new("xet_abc", "http://127.0.0.1:9/~cas/", exp).is_ok());
        for (token, url, exp) in [
            ("", "https://cas", exp),
            ("a b", "https://cas", exp),
            ("a\r\nX-Evil: 1", "https://cas", exp),
            ("tok", "file:///etc/passwd", exp),
            ("tok", "ftp://cas", exp),
            ("tok", "https://user:pw@cas", exp),
            ("tok", "not a url", exp),
            ("tok", "https://cas", 0),
            ("tok", "https://cas", u64::MAX),
        ] {
            assert!(XetToken::new(token, url, exp).is_err(), "{token:?} {url:?} {exp}");
        }
        let token = XetToken::new("t", "http://127.0.0.1:9/~cas/", exp).ok();
        assert_eq!(token.as_ref().map(XetToken::cas_url), Some("http://127.0.0.1:9/~cas"));
        assert!(
            token
                .as_ref()
                .is_some_and(|t| t.is_fresh_at(exp - 61) && !t.is_fresh_at(exp - 60))
        );
        // The token never shows in debug output.
        assert!(!format!("{token:?}").contains("\"t\""));
    }

    #[test]
    fn token_urls_name_repo_scope_and_revision() -> Result<(), Box<dyn std::error::Error>> {
        let endpoint = hub_url::Endpoint::new("https://huggingface.co")?;
        let repo = RepoId::new("org/model")?;
        assert_eq!(
            xet_token_url(&endpoint, RepoType::Dataset, &repo, "refs/pr/1", XetScope::Write),
            "https://huggingface.co/api/datasets/org/model/xet-write-token/refs%2Fpr%2F1"
        );
        Ok(())
    }
}
