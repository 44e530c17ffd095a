//! `huggingface-cli download`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use hub_api::RepoInfoOptions;
use hub_cache::{DownloadOptions, hf_hub_download};
use hub_url::{RepoId, RepoType, Revision};

use crate::session::Session;

/// Arguments of `download`.
#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// The repo id, `org/name`.
    repo_id: String,
    /// Files to download; the whole repo when none is given.
    filenames: Vec<String>,
    /// `model`, `dataset` or `space`.
    #[arg(long, default_value = "model")]
    repo_type: RepoType,
    /// A branch, tag or commit.
    #[arg(long)]
    revision: Option<String>,
    /// The cache folder (default: HF_HUB_CACHE).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Fetch again even when cached.
    #[arg(long)]
    force_download: bool,
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
    /// Print only the resulting path.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: DownloadArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    let repo_id = RepoId::new(&args.repo_id)?;
    let revision = args.revision.as_deref().map(Revision::new).transpose()?;
    let mut options = DownloadOptions::from_config(&session.config);
    options.repo_type = args.repo_type;
    options.revision = revision.clone();
    options.force_download = args.force_download;
    if let Some(dir) = args.cache_dir {
        options.cache_dir = dir;
    }
    let mut err = std::io::stderr().lock();
    let files = if args.filenames.is_empty() {
        let info = session.client.repo_info(
            &repo_id,
            &RepoInfoOptions {
                repo_type: args.repo_type,
                revision: revision.clone(),
                files_metadata: false,
            },
        )?;
        let commit = info
            .sha
            .context("the Hub did not say which commit the revision is at")?;
        options.revision = Some(Revision::new(&commit)?);
        info.siblings.into_iter().map(|s| s.rfilename).collect()
    } else {
        args.filenames.clone()
    };
    let mut last = None;
    for file in &files {
        let path = hf_hub_download(&session.client, &repo_id, file, &options)
            .with_context(|| format!("failed to download {file} from {repo_id}"))?;
        if !args.quiet {
            writeln!(err, "downloaded {file}")?;
        }
        last = Some(path);
    }
    let shown = match (args.filenames.len(), last) {
        (1, Some(path)) => path,
        (_, Some(path)) => snapshot_root(&path, files.first().map(String::as_str).unwrap_or("")),
        (_, None) => {
            let cache = hub_cache::RepoCache::new(&options.cache_dir, args.repo_type, &repo_id);
            cache.root()
        }
    };
    writeln!(std::io::stdout().lock(), "{}", shown.display())?;
    Ok(())
}

/// The `snapshots/{commit}` folder above a downloaded file.
fn snapshot_root(file: &std::path::Path, repo_path: &str) -> PathBuf {
    let depth = repo_path.split('/').count();
    let mut root = file.to_path_buf();
    for _ in 0..depth {
        root.pop();
    }
    root
}
