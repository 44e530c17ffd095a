//! What one call may change of a client: the Python client's per-call `token`,
//! `headers`, `library_name`, `library_version`, `user_agent` and `etag_timeout`.

use std::time::Duration;

use hub_url::Token;

/// Adjustments of a [`HubClient`](crate::HubClient) for one call; see
/// [`HubClient::for_call`](crate::HubClient::for_call). Empty by default: the
/// client's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

impl CallSettings {
    /// Whether nothing is changed.
    pub fn is_empty(&self) -> bool {
        *self == CallSettings::default()
    }
}
