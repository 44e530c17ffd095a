//! The session every command starts from: the configuration and a client for it.

use anyhow::{Context, Result};
use hub_api::{HubClient, HubClientBuilder};
use hub_url::{HubConfig, Token};

/// The environment's configuration and a client for it.
pub(crate) struct Session {
    pub(crate) config: HubConfig,
    pub(crate) client: HubClient,
}

impl Session {
    /// Reads the environment and builds the client, with `token` (from `--token`) winning.
    pub(crate) fn new(token: Option<&str>) -> Result<Session> {
        let config = HubConfig::from_env().context("failed to read the Hub settings from the environment")?;
        let mut builder = HubClientBuilder::from_config(&config)
            .context("failed to configure the Hub client")?
            .library("huggingface-cli", env!("CARGO_PKG_VERSION"));
        if let Some(token) = token {
            builder = builder.token(Some(Token::new(token)));
        }
        let client = builder.build().context("failed to configure the Hub client")?;
        Ok(Session { config, client })
    }
}
