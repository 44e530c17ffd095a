//! `whoami`: who the token belongs to.

use serde::Deserialize;

use crate::client::HubClient;
use crate::error::{Error, Result, UnauthorizedReason};
use crate::request::HubRequest;

/// The user (or organization) a token belongs to, as `/api/whoami-v2` tells.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct WhoAmI {
    /// `user` or `org`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The user name.
    pub name: String,
    /// The full name.
    #[serde(default)]
    pub fullname: Option<String>,
    /// The e-mail address (only shown to the user).
    #[serde(default)]
    pub email: Option<String>,
    /// The organizations the user belongs to.
    #[serde(default)]
    pub orgs: Vec<OrgMembership>,
    /// What the token is.
    #[serde(default)]
    pub auth: Option<AuthInfo>,
}

/// An organization a user belongs to.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrgMembership {
    /// The organization's name.
    pub name: String,
    /// Its full name.
    #[serde(default)]
    pub fullname: Option<String>,
}

/// How the request was authenticated.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthInfo {
    /// The access token's details.
    #[serde(rename = "accessToken", default)]
    pub access_token: Option<AccessTokenInfo>,
}

/// An access token's name and role.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessTokenInfo {
    /// The name the user gave the token.
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    /// `read`, `write` or `fineGrained`.
    #[serde(default)]
    pub role: Option<String>,
}

impl WhoAmI {
    /// The token's role, when the Hub said.
    pub fn token_role(&self) -> Option<&str> {
        self.auth.as_ref()?.access_token.as_ref()?.role.as_deref()
    }

    /// The token's name, when the Hub said.
    pub fn token_name(&self) -> Option<&str> {
        self.auth.as_ref()?.access_token.as_ref()?.display_name.as_deref()
    }
}

impl HubClient {
    /// Who the client's token belongs to. Without a token this fails at once
    /// with [`Error::Unauthorized`], sending nothing.
    ///
    /// ```no_run
    /// use hub_api::HubClient;
    /// use hub_url::HubConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// println!("{}", client.whoami()?.name);
    /// # Ok(())
    /// # }
    /// ```
    pub fn whoami(&self) -> Result<WhoAmI> {
        let url = format!("{}/api/whoami-v2", self.endpoint());
        if self.token().is_none() {
            return Err(Error::Unauthorized {
                url,
                reason: UnauthorizedReason::MissingToken,
                request_id: None,
            });
        }
        self.send(&HubRequest::get(url))?.json()
    }
}
