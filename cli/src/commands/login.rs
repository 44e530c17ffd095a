//! `huggingface-cli login` and `logout`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hub_api::{Logout, LogoutFrom, TokenStore};
use hub_url::Token;

use crate::session::Session;

/// Arguments of `login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The token (from the Access Tokens page of your Hub settings); asked for when absent.
    #[arg(long)]
    token: Option<String>,
}

/// Arguments of `logout`.
#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// Remove only the token saved under this name (default: every saved token).
    #[arg(long)]
    token_name: Option<String>,
}

pub(crate) fn login(args: LoginArgs) -> Result<()> {
    let session = Session::new(None)?;
    let token = match args.token {
        Some(token) => token,
        None => read_token()?,
    };
    let token = Token::non_empty(token).context("the token is empty: paste the token from your Hub settings")?;
    let store = TokenStore::from_config(&session.config);
    let outcome = session.client.login(&store, token)?;
    let mut out = std::io::stdout().lock();
    let role = outcome.user.token_role().unwrap_or("unknown");
    writeln!(out, "Token is valid (role: {role}).")?;
    writeln!(
        out,
        "The token `{}` has been saved to {}",
        outcome.token_name,
        store.stored_tokens_path().display()
    )?;
    writeln!(out, "Login successful. Logged in as {}.", outcome.user.name)?;
    if session.config.token.is_some() {
        writeln!(
            out,
            "Note: HF_TOKEN is set in the environment and takes precedence over the saved token."
        )?;
    }
    Ok(())
}

/// The token from the terminal (not echoed), or from a line of standard input.
fn read_token() -> Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Enter your token (input will not be visible): ")
            .context("failed to read the token from the terminal");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("failed to read the token from standard input")?;
    if line.trim().is_empty() {
        bail!("no token given: pass --token, or run `huggingface-cli login` in a terminal");
    }
    Ok(line)
}

pub(crate) fn logout(args: LogoutArgs) -> Result<()> {
    let session = Session::new(None)?;
    let store = TokenStore::from_config(&session.config);
    let which = match &args.token_name {
        Some(name) => LogoutFrom::Named(name),
        None => LogoutFrom::All,
    };
    let outcome = store.logout(which)?;
    let mut out = std::io::stdout().lock();
    match outcome {
        Logout::NotLoggedIn => writeln!(out, "Not logged in.")?,
        Logout::All => writeln!(out, "Successfully logged out from all access tokens.")?,
        Logout::Named { name, was_active } => {
            writeln!(out, "Successfully logged out from access token: {name}.")?;
            if was_active {
                writeln!(out, "It was the active token: no token is active now.")?;
            }
        }
        _ => {}
    }
    if session.config.token.is_some() {
        writeln!(
            out,
            "HF_TOKEN is still set in the environment: unset it to log out completely."
        )?;
    }
    Ok(())
}
