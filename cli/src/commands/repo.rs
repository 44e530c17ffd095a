//! `huggingface-cli repo create|delete`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use hub_api::{CreateRepoOptions, DeleteRepoOptions, Visibility};
use hub_url::{RepoId, RepoType};

use crate::session::Session;

/// Arguments of `repo`.
#[derive(Debug, Args)]
pub(crate) struct RepoArgs {
    #[command(subcommand)]
    command: RepoCommand,
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// Create a repo on the Hub and print its URL.
    Create(CreateArgs),
    /// Delete a repo from the Hub.
    Delete(DeleteArgs),
}

/// Arguments of `repo create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// The repo name, or `namespace/name`.
    name: String,
    /// `model`, `dataset` or `space`.
    #[arg(long = "type", alias = "repo-type", default_value = "model")]
    repo_type: RepoType,
    /// The organization to create it in (default: your user).
    #[arg(long)]
    organization: Option<String>,
    /// Make it private.
    #[arg(long)]
    private: bool,
    /// An existing repo is not an error.
    #[arg(long)]
    exist_ok: bool,
    /// For spaces: gradio, streamlit, docker or static.
    #[arg(long)]
    space_sdk: Option<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
}

/// Arguments of `repo delete`.
#[derive(Debug, Args)]
struct DeleteArgs {
    /// The repo id, `namespace/name`.
    repo_id: String,
    /// `model`, `dataset` or `space`.
    #[arg(long = "type", alias = "repo-type", default_value = "model")]
    repo_type: RepoType,
    /// A repo that does not exist is not an error.
    #[arg(long)]
    missing_ok: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
}

pub(crate) fn run(args: RepoArgs) -> Result<()> {
    match args.command {
        RepoCommand::Create(args) => create(args),
        RepoCommand::Delete(args) => delete(args),
    }
}

fn create(args: CreateArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    if session.client.token().is_none() {
        bail!("not logged in: run `huggingface-cli login` or set HF_TOKEN to create a repo");
    }
    let full_name = match (&args.organization, args.name.contains('/')) {
        (Some(org), false) => format!("{org}/{}", args.name),
        (Some(_), true) => bail!("{:?} already names a namespace: drop --organization", args.name),
        (None, true) => args.name.clone(),
        (None, false) => format!("{}/{}", session.client.whoami()?.name, args.name),
    };
    let repo_id = RepoId::new(&full_name)?;
    let kind = args.repo_type;
    if !args.yes {
        confirm(&format!(
            "You are about to create {kind} {repo_id}{}.",
            if args.private { " (private)" } else { "" }
        ))?;
    }
    let mut options = CreateRepoOptions::default().repo_type(kind).exist_ok(args.exist_ok);
    if args.private {
        options = options.visibility(Visibility::Private);
    }
    if let Some(sdk) = &args.space_sdk {
        options = options.space_sdk(sdk);
    }
    let url = session.client.create_repo(&repo_id, &options)?;
    writeln!(std::io::stderr().lock(), "Your repo is ready:")?;
    writeln!(std::io::stdout().lock(), "{url}")?;
    Ok(())
}

fn delete(args: DeleteArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    let repo_id = RepoId::new(&args.repo_id)?;
    if !args.yes {
        confirm(&format!(
            "You are about to delete {} {repo_id} and all its files, for good.",
            args.repo_type
        ))?;
    }
    let options = DeleteRepoOptions::default()
        .repo_type(args.repo_type)
        .missing_ok(args.missing_ok);
    session.client.delete_repo(&repo_id, &options)?;
    writeln!(std::io::stdout().lock(), "Deleted {} {repo_id}.", args.repo_type)?;
    Ok(())
}

/// Asks `Proceed? [Y/n]` on a terminal; without one, refuses (pass -y).
pub(crate) fn confirm(what: &str) -> Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "{what}")?;
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to confirm on: pass -y to proceed");
    }
    write!(err, "Proceed? [Y/n] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "" | "y" | "Y" | "yes" | "Yes") {
        return Ok(());
    }
    bail!("cancelled")
}
