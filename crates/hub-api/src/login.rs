//! `login`: check a token with the Hub, then save it as the active one.

use hub_url::Token;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::token_store::{TokenStore, unstorable_name};
use crate::whoami::WhoAmI;

/// Who logged in, and the name the token was saved under.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginOutcome {
    /// The token's owner, as the Hub told.
    pub user: WhoAmI,
    /// The name in `stored_tokens` (the token's name on the Hub).
    pub token_name: String,
}

impl HubClient {
    /// Validates `token` with `whoami` (nothing is saved if the Hub refuses
    /// it), then saves it under its name on the Hub and makes it active.
    ///
    /// A name the token file cannot hold (a line break, say) is an answer this
    /// client cannot use: nothing is saved.
    pub fn login(&self, store: &TokenStore, token: Token) -> Result<LoginOutcome> {
        let user = self.with_token(Some(token.clone())).whoami()?;
        let token_name = user
            .token_name()
            .filter(|name| !name.is_empty())
            .unwrap_or("default")
            .to_string();
        if let Some(why) = unstorable_name(&token_name) {
            return Err(Error::InvalidResponse {
                url: format!("{}/api/whoami-v2", self.endpoint()),
                reason: format!("the token's name {token_name:?} cannot be saved: {why}"),
            });
        }
        store.save(&token_name, &token)?;
        Ok(LoginOutcome { user, token_name })
    }
}
