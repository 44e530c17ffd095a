//! The commands of `huggingface-cli`.

mod delete_cache;
mod download;
mod env;
mod generate;
mod lfs;
mod login;
mod repo;
mod scan_cache;
mod upload;
mod whoami;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The Hugging Face Hub from the command line.
#[derive(Debug, Parser)]
#[command(name = "huggingface-cli", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Show what the libraries do on stderr: retries, redirects, resumes,
    /// fallbacks, cache hits and git commands (-vv: everything, down to trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in: check a token with the Hub and save it.
    Login(login::LoginArgs),
    /// Log out: remove the saved token(s).
    Logout(login::LogoutArgs),
    /// Show who you are logged in as.
    Whoami(whoami::WhoamiArgs),
    /// Print the environment: versions, paths and settings.
    Env(env::EnvArgs),
    /// Download files of a repo into the cache (or a folder) and print their path.
    Download(download::DownloadArgs),
    /// Create or delete repos on the Hub.
    Repo(repo::RepoArgs),
    /// Upload a file or a folder to a repo in one commit and print the commit URL.
    Upload(upload::UploadArgs),
    /// List the repos and revisions in the cache, with their sizes.
    ScanCache(scan_cache::ScanCacheArgs),
    /// Delete revisions or repos from the cache, showing what is freed first.
    DeleteCache(delete_cache::DeleteCacheArgs),
    /// Configure a local clone so that git can push files over 5 GB to the Hub.
    LfsEnableLargefiles(lfs::EnableLargefilesArgs),
    /// The git-lfs transfer agent for files over 5 GB: git-lfs runs it, do not call it directly.
    LfsMultipartUpload(lfs::MultipartUploadArgs),
    /// Shell completions and the man page, for packagers.
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

impl Cli {
    /// Runs the chosen command.
    pub(crate) fn run(self) -> Result<()> {
        match self.command {
            Command::Login(args) => login::login(args),
            Command::Logout(args) => login::logout(args),
            Command::Whoami(args) => whoami::run(args),
            Command::Repo(args) => repo::run(args),
            Command::Upload(args) => upload::run(args),
            Command::Env(args) => env::run(args),
            Command::Download(args) => download::run(args),
            Command::ScanCache(args) => scan_cache::run(args, self.verbose),
            Command::DeleteCache(args) => delete_cache::run(args),
            Command::LfsEnableLargefiles(args) => lfs::enable(args),
            Command::LfsMultipartUpload(args) => lfs::multipart_upload(args),
            Command::Generate(args) => generate::run(args),
        }
    }
}
