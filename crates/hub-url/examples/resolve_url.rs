//! Prints the URL a file of a repo is downloaded from, as the Python
//! client's `hf_hub_url` builds it, with no request made.
//!
//! ```sh
//! cargo run -p hub-url --example resolve_url -- openai-community/gpt2 onnx/model.onnx [REVISION] [model|dataset|space]
//! ```
//!
//! The endpoint comes from `HF_ENDPOINT` (default `https://huggingface.co`).

#![allow(clippy::print_stdout)]

use hub_url::{HubConfig, RepoId, RepoType, Revision, hf_hub_url};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repo = RepoId::new(&args.next().unwrap_or_else(|| "openai-community/gpt2".into()))?;
    let file = args.next().unwrap_or_else(|| "config.json".into());
    let revision = args.next().map(|r| Revision::new(&r)).transpose()?.unwrap_or_default();
    let repo_type: RepoType = args.next().as_deref().unwrap_or("model").parse()?;

    let config = HubConfig::from_env()?;
    println!("{}", hf_hub_url(&repo, &file, &revision, repo_type, &config.endpoint));
    Ok(())
}
