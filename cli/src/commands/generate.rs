//! `huggingface-cli generate completions SHELL` and `generate man [--dir
//! DIR]`: shell completions and man pages, made from the command's own clap
//! definitions, so that they never drift from it. Hidden: packagers run it
//! (`cargo xtask dist`), people do not.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Subcommand};
use clap_complete::Shell;

use super::Cli;

/// The name the completions complete and the man page documents.
const BIN_NAME: &str = "huggingface-cli";

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    #[command(subcommand)]
    what: Generated,
}

#[derive(Debug, Subcommand)]
enum Generated {
    /// Print the completion script for SHELL.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: Shell,
    },
    /// Print the man page (roff), or write every command's page into a folder.
    Man {
        /// Write `huggingface-cli.1` and one page a command (`huggingface-cli-download.1`, …) here.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub(crate) fn run(args: GenerateArgs) -> Result<()> {
    if let Generated::Man { dir: Some(dir) } = &args.what {
        return clap_mangen::generate_to(Cli::command(), dir)
            .with_context(|| format!("failed to write the man pages into {}", dir.display()));
    }
    let text = generate(&args.what)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// The script or the main page, whole: clap_complete panics on a failed write, so it
/// writes to memory and only the copy to standard output can fail.
fn generate(what: &Generated) -> Result<Vec<u8>> {
    let mut command = Cli::command();
    let mut text = Vec::new();
    match what {
        Generated::Completions { shell } => {
            clap_complete::generate(*shell, &mut command, BIN_NAME, &mut text);
        }
        Generated::Man { .. } => {
            clap_mangen::Man::new(command)
                .render(&mut text)
                .context("failed to render the man page")?;
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn completions_name_the_commands_for_every_shell() -> Result<()> {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let script = String::from_utf8(generate(&Generated::Completions { shell })?)?;
            assert!(script.contains("download"), "{shell}: {script}");
            assert!(script.contains("scan-cache"), "{shell}");
        }
        Ok(())
    }

    #[test]
    fn man_page_is_roff_with_the_commands() -> Result<()> {
        let page = String::from_utf8(generate(&Generated::Man { dir: None })?)?;
        assert!(page.contains(".TH huggingface-cli"), "{page}");
        assert!(page.contains(env!("CARGO_PKG_VERSION")), "{page}");
        assert!(page.contains("download"), "{page}");
        assert!(!page.contains("generate"), "the hidden command is left out: {page}");
        Ok(())
    }

    #[test]
    fn generate_parses_from_the_command_line() {
        let cli = Cli::try_parse_from([BIN_NAME, "generate", "completions", "zsh"]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(Cli::try_parse_from([BIN_NAME, "generate", "completions", "tcsh"]).is_err());
        assert!(Cli::try_parse_from([BIN_NAME, "generate", "man"]).is_ok());
    }

    #[test]
    fn man_pages_go_into_a_folder_one_a_command() -> Result<()> {
        let dir = tempfile::tempdir()?;
        run(GenerateArgs {
            what: Generated::Man {
                dir: Some(dir.path().to_path_buf()),
            },
        })?;
        for page in [
            "huggingface-cli.1",
            "huggingface-cli-download.1",
            "huggingface-cli-repo-create.1",
        ] {
            let text = std::fs::read_to_string(dir.path().join(page))?;
            assert!(text.contains(".TH "), "{page}: {text}");
        }
        assert!(!dir.path().join("huggingface-cli-generate.1").exists(), "hidden");
        Ok(())
    }
}
