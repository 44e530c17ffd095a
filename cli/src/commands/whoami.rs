//! `huggingface-cli whoami`.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Args;

use crate::session::Session;

/// Arguments of `whoami`.
#[derive(Debug, Args)]
pub(crate) struct WhoamiArgs {
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
}

pub(crate) fn run(args: WhoamiArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    if session.client.token().is_none() {
        bail!("not logged in: run `huggingface-cli login` or set HF_TOKEN");
    }
    let me = session.client.whoami()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", me.name)?;
    let orgs: Vec<&str> = me.orgs.iter().map(|o| o.name.as_str()).collect();
    if !orgs.is_empty() {
        writeln!(out, "orgs:  {}", orgs.join(","))?;
    }
    if let Some(role) = me.token_role() {
        match me.token_name() {
            Some(name) => writeln!(out, "token: {name} ({role})")?,
            None => writeln!(out, "token: {role}")?,
        }
    }
    Ok(())
}
