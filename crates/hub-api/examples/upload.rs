//! Creates a repo (unless it exists), uploads one file to it in one commit,
//! and lists the repo's files.
//!
//! ```sh
//! cargo run -p hub-api --example upload -- me/my-model [FILE]
//! ```
//!
//! Without a file, a small `hello.txt` is uploaded. The Hub and the token come
//! from the environment (`HF_ENDPOINT`, `HF_TOKEN` or the token saved by
//! `huggingface-cli login`); the token must be allowed to write.

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use hub_api::{AddSource, CommitOptions, CreateRepoOptions, HubClient, RevisionOptions};
use hub_url::{HubConfig, RepoId};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let repo = RepoId::new(&args.next().ok_or("usage: upload REPO_ID [FILE]")?)?;
    let (source, path_in_repo) = match args.next().map(PathBuf::from) {
        Some(file) => {
            let name = file
                .file_name()
                .ok_or("the file has no name")?
                .to_string_lossy()
                .into_owned();
            (AddSource::File(file), name)
        }
        None => (
            AddSource::Bytes(b"hello from hub-api\n".to_vec()),
            "hello.txt".to_string(),
        ),
    };

    let config = HubConfig::from_env()?;
    let client = HubClient::from_config(&config)?;
    let url = client.create_repo(&repo, &CreateRepoOptions::default().exist_ok(true))?;
    println!("repo: {url}");
    let options = CommitOptions::new(format!("Upload {path_in_repo}"));
    let commit = client.upload_file(&repo, source, &path_in_repo, &options)?;
    println!("commit: {}", commit.commit_url);
    for file in client.list_repo_files(&repo, &RevisionOptions::default())? {
        println!("file: {file}");
    }
    Ok(())
}
