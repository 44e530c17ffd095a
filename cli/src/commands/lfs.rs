//! `huggingface-cli lfs-enable-largefiles` and `lfs-multipart-upload`: pushing
//! files over 5 GB with plain git.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use hub_lfs::{AgentOptions, enable_largefiles, run_agent};

use crate::session::Session;

/// Arguments of `lfs-enable-largefiles`.
#[derive(Debug, Args)]
pub(crate) struct EnableLargefilesArgs {
    /// The local clone to configure (or any folder inside it).
    path: PathBuf,
}

/// Arguments of `lfs-multipart-upload`.
#[derive(Debug, Args)]
pub(crate) struct MultipartUploadArgs {}

pub(crate) fn enable(args: EnableLargefilesArgs) -> Result<()> {
    let program = std::env::current_exe().context("failed to find the path of huggingface-cli itself")?;
    let top = enable_largefiles(&args.path, &program)?;
    writeln!(
        std::io::stdout().lock(),
        "Local repo set up for largefiles: {}",
        top.display()
    )?;
    Ok(())
}

pub(crate) fn multipart_upload(_args: MultipartUploadArgs) -> Result<()> {
    // The part and completion URLs are presigned: the token stays home.
    let client = Session::new(None)?.client.with_token(None);
    let outcome = run_agent(
        &client,
        std::io::stdin().lock(),
        std::io::stdout(),
        &AgentOptions::default(),
    )?;
    if outcome.failed > 0 {
        // git-lfs shows each object's error; the exit code stays 0 as the protocol asks.
        eprintln!(
            "{} of {} uploads failed",
            outcome.failed,
            outcome.failed + outcome.uploaded
        );
    }
    Ok(())
}
