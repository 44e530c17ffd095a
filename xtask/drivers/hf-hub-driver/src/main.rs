//! The `hf-hub` crate, version 1.0 (`HFClientSync`, its defaults), doing what
//! `huggingface-cli download` and `huggingface-cli upload` do in
//! `cargo xtask bench download` and `cargo xtask bench upload`.
//!
//! ```text
//! hf-hub-driver --endpoint URL --cache-dir DIR REPO_ID [FILE]...
//! hf-hub-driver upload [--endpoint URL] REPO_ID PATH [PATH_IN_REPO]
//! ```
//!
//! Without `--endpoint`, hf-hub takes the `HF_ENDPOINT` variable.
//!
//! Downloading: with files, each is fetched with `download_file` (the Python
//! client's `hf_hub_download`), one after the other; without, the whole repo
//! with `snapshot_download`. Both go into the cache at `DIR` and print the
//! path of what they placed.
//!
//! Uploading: the model repo is created (`exist_ok`), then a folder is
//! committed with `upload_folder` and a file with `upload_file`, under
//! `PATH_IN_REPO` or the file's own name. The token is the `HF_TOKEN`
//! variable, which hf-hub reads itself. hf-hub 1.0 sends every file the Hub
//! classifies as LFS through Xet storage: it has no LFS upload of its own.
//!
//! hf-hub takes no CA bundle of its own: its reqwest client verifies with the
//! platform's roots, which on Linux are read from `SSL_CERT_FILE` (or
//! `SSL_CERT_DIR`) when set, so an HTTPS endpoint with a test CA is trusted by
//! setting `SSL_CERT_FILE` to that CA's PEM file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use hf_hub::repository::AddSource;
use hf_hub::{HFClientBuilder, HFClientSync, RepoTypeModel, split_id};

const USAGE: &str = "usage: hf-hub-driver --endpoint URL --cache-dir DIR REPO_ID [FILE]...\n       \
                     hf-hub-driver upload [--endpoint URL] REPO_ID PATH [PATH_IN_REPO]";

enum Job {
    Download {
        cache_dir: PathBuf,
        files: Vec<String>,
    },
    Upload {
        path: PathBuf,
        path_in_repo: Option<String>,
    },
}

struct Args {
    endpoint: Option<String>,
    repo_id: String,
    job: Job,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = args.peekable();
    let upload = args.next_if(|arg| arg == "upload").is_some();
    let mut endpoint = None;
    let mut cache_dir = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--endpoint" => endpoint = Some(args.next().ok_or(USAGE)?),
            "--cache-dir" if !upload => cache_dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}\n{USAGE}")),
            _ => positional.push(arg),
        }
    }
    let mut positional = positional.into_iter();
    let repo_id = positional.next().ok_or(USAGE)?;
    let job = if upload {
        let path = PathBuf::from(positional.next().ok_or(USAGE)?);
        let path_in_repo = positional.next();
        if positional.next().is_some() {
            return Err(USAGE.to_string());
        }
        Job::Upload { path, path_in_repo }
    } else {
        Job::Download {
            cache_dir: cache_dir.ok_or(USAGE)?,
            files: positional.collect(),
        }
    };
    if endpoint.is_none() && !upload {
        return Err(USAGE.to_string());
    }
    Ok(Args { endpoint, repo_id, job })
}

fn run(args: &Args) -> hf_hub::HFResult<()> {
    let mut builder = HFClientBuilder::new();
    if let Some(endpoint) = &args.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Job::Download { cache_dir, .. } = &args.job {
        builder = builder.cache_dir(cache_dir);
    }
    let client = builder.build_sync()?;
    match &args.job {
        Job::Download { files, .. } => download(&client, &args.repo_id, files),
        Job::Upload { path, path_in_repo } => upload(&client, &args.repo_id, path, path_in_repo.as_deref()),
    }
}

fn download(client: &HFClientSync, repo_id: &str, files: &[String]) -> hf_hub::HFResult<()> {
    let (owner, name) = split_id(repo_id);
    let repo = client.model(owner, name);
    if files.is_empty() {
        let snapshot = repo.snapshot_download().send()?;
        println!("{}", snapshot.display());
    }
    for file in files {
        let path = repo.download_file().filename(file).send()?;
        println!("{}", path.display());
    }
    Ok(())
}

fn upload(client: &HFClientSync, repo_id: &str, path: &Path, path_in_repo: Option<&str>) -> hf_hub::HFResult<()> {
    client
        .create_repository()
        .repo_id(repo_id)
        .repo_type(RepoTypeModel)
        .exist_ok(true)
        .send()?;
    let (owner, name) = split_id(repo_id);
    let repo = client.model(owner, name);
    let commit = if path.is_dir() {
        repo.upload_folder()
            .folder_path(path)
            .maybe_path_in_repo(path_in_repo.map(str::to_string))
            .send()?
    } else {
        let name = match path_in_repo {
            Some(name) => name.to_string(),
            None => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        repo.upload_file()
            .source(AddSource::File(path.to_path_buf()))
            .path_in_repo(name)
            .send()?
    };
    println!("{}", commit.commit_oid.unwrap_or_default());
    Ok(())
}
