//! The `hf-hub` crate, version 1.0 (`HFClientSync`, its defaults), fetching
//! what `huggingface-cli download` fetches in `cargo xtask bench download`.
//!
//! ```text
//! hf-hub-driver --endpoint URL --cache-dir DIR REPO_ID [FILE]...
//! ```
//!
//! With files, each is fetched with `download_file` (the Python client's
//! `hf_hub_download`), one after the other; without, the whole repo with
//! `snapshot_download`. Both go into the cache at `DIR` and print the path
//! of what they placed. hf-hub takes no CA bundle of its own: its reqwest
//! client verifies with the platform's roots, which on Linux are read from
//! `SSL_CERT_FILE` (or `SSL_CERT_DIR`) when set, so an HTTPS endpoint with a
//! test CA is trusted by setting `SSL_CERT_FILE` to that CA's PEM file.

use std::path::PathBuf;
use std::process::ExitCode;

use hf_hub::{HFClientBuilder, split_id};

struct Args {
    endpoint: String,
    cache_dir: PathBuf,
    repo_id: String,
    files: Vec<String>,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match fetch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    const USAGE: &str = "usage: hf-hub-driver --endpoint URL --cache-dir DIR REPO_ID [FILE]...";
    let mut endpoint = None;
    let mut cache_dir = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--endpoint" => endpoint = Some(args.next().ok_or(USAGE)?),
            "--cache-dir" => cache_dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}\n{USAGE}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    Ok(Args {
        endpoint: endpoint.ok_or(USAGE)?,
        cache_dir: cache_dir.ok_or(USAGE)?,
        repo_id: positional.next().ok_or(USAGE)?,
        files: positional.collect(),
    })
}

fn fetch(args: &Args) -> hf_hub::HFResult<()> {
    let client = HFClientBuilder::new()
        .endpoint(&args.endpoint)
        .cache_dir(&args.cache_dir)
        .build_sync()?;
    let (owner, name) = split_id(&args.repo_id);
    let repo = client.model(owner, name);
    if args.files.is_empty() {
        let snapshot = repo.snapshot_download().send()?;
        println!("{}", snapshot.display());
    }
    for file in &args.files {
        let path = repo.download_file().filename(file).send()?;
        println!("{}", path.display());
    }
    Ok(())
}
