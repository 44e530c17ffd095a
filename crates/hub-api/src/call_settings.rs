//! What one call may change of a client: the Python client's per-call `token`,
//! `headers`, `library_name`, `library_version`, `user_agent` and `etag_timeout`.

use std::time::Duration;

use hub_url::Token;

/// Adjustments of a [`HubClient`](crate::HubClient) for one call; see
/// [`HubClient::for_call`](crate::HubClient::for_call). Empty by default: the
/// client's own settings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallSettings {
    /// A token instead of the client's (which stays when this is `None`).
    pub token: Option<Token>,
    /// Headers added to every request. An `Authorization` among them replaces
    /// the token and, like it, goes only to the endpoint's own origin.
    pub headers: Vec<(String, String)>,
    /// The library named first in the user agent, instead of the client's.
    pub library_name: Option<String>,
    /// Its version.
    pub library_version: Option<String>,
    /// `key/value` parts appended to the user agent.
    pub user_agent: Vec<(String, String)>,
    /// How long a file's metadata request (the `HEAD` of `resolve`) may take
    /// in all, after which a download uses its cached copy if it has one
    /// (`HF_HUB_ETAG_TIMEOUT`, 10 s, in the Python client).
    pub etag_timeout: Option<Duration>,
}

/// Header values that carry credentials are never shown.
impl std::fmt::Debug for CallSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = ["authorization", "cookie", "proxy-authorization"]
                    .iter()
                    .any(|s| name.eq_ignore_ascii_case(s));
                (name.as_str(), if secret { "<redacted>" } else { value.as_str() })
            })
            .collect();
        f.debug_struct("CallSettings")
            .field("token", &self.token)
            .field("headers", &headers)
            .field("library_name", &self.library_name)
            .field("library_version", &self.library_version)
            .field("user_agent", &self.user_agent)
            .field("etag_timeout", &self.etag_timeout)
            .finish()
    }
}

impl CallSettings {
    /// Whether nothing is changed.
    pub fn is_empty(&self) -> bool {
        *self == CallSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_credentials() {
        let call = CallSettings {
            token: Some(Token::new("hf_secret_token_value")),
            headers: vec![
                ("Authorization".into(), "Bearer hf_secret_header_value".into()),
                ("X-Trace".into(), "run-7".into()),
            ],
            ..CallSettings::default()
        };
        let shown = format!("{call:?}");
        assert!(!shown.contains("hf_secret"), "{shown}");
        assert!(shown.contains("run-7") && shown.contains("<redacted>"), "{shown}");
    }
}
