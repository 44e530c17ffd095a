//! Downloads one file of a repo into the cache shared with the Python client
//! and prints its path.
//!
//! ```sh
//! cargo run -p hub-cache --example download -- openai-community/gpt2 config.json [REVISION]
//! ```
//!
//! The Hub, the cache and the token come from the environment as the Python
//! client reads them (`HF_ENDPOINT`, `HF_HOME`, `HF_HUB_CACHE`, `HF_TOKEN`, ...).

#![allow(clippy::print_stdout)]

use hub_cache::{DownloadOptions, HubClient, HubConfig, RepoId, Revision, hf_hub_download};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repo = RepoId::new(&args.next().unwrap_or_else(|| "openai-community/gpt2".into()))?;
    let file = args.next().unwrap_or_else(|| "config.json".into());

    let config = HubConfig::from_env()?;
    let client = HubClient::from_config(&config)?;
    let mut options = DownloadOptions::from_config(&config);
    if let Some(revision) = args.next() {
        options = options.revision(Revision::new(&revision)?);
    }
    let path = hf_hub_download(&client, &repo, &file, &options)?;
    println!("{}", path.display());
    Ok(())
}
