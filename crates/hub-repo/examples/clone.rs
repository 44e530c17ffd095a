//! Clones a Hub repo with the user's `git` and `git-lfs` (LFS files
//! included) and prints the commit checked out.
//!
//! ```sh
//! cargo run -p hub-repo --example clone -- openai-community/gpt2 ./gpt2
//! ```
//!
//! The Hub and the token come from the environment (`HF_ENDPOINT`,
//! `HF_TOKEN`); the token reaches git for the Hub's origin only, never in a
//! URL or a config file.

#![allow(clippy::print_stdout)]

use hub_repo::{CloneOptions, Repository};
use hub_url::{HubConfig, RepoId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repo = RepoId::new(&args.next().ok_or("usage: clone REPO_ID [DIR]")?)?;
    let dir = args.next().unwrap_or_else(|| repo.name().to_string());

    let config = HubConfig::from_env()?;
    let mut options = CloneOptions::default();
    if let Some(token) = config.token.clone() {
        options = options.token(token);
    }
    let clone = Repository::clone_from(&config.endpoint, &repo, &dir, &options)?;
    println!("{} at {}", clone.local_dir().display(), clone.git_head_hash()?);
    Ok(())
}
