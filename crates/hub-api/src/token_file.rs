//! Reading the token the user logged in with.

use std::path::Path;

use hub_url::{HubConfig, Token};

use crate::error::{Error, Result};

/// The token to use: `HF_TOKEN` (as read into `config.token`) wins, else the
/// token file (`HF_TOKEN_PATH`, or `$HF_HOME/token`), else none.
pub fn resolve_token(config: &HubConfig) -> Result<Option<Token>> {
    if let Some(token) = &config.token {
        return Ok(Some(token.clone()));
    }
    read_token_file(&config.token_path)
}

/// The token stored in a token file; `None` when the file is absent or empty.
pub(crate) fn read_token_file(path: &Path) -> Result<Option<Token>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => Ok(Some(Token::new(text))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
