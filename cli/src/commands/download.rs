//! `huggingface-cli download`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use hub_cache::{DownloadOptions, FetchOptions, SnapshotOptions, hf_hub_download, snapshot_download};
use hub_url::{RepoId, RepoType, Revision};

use crate::progress_bars::ProgressBars;
use crate::session::Session;

/// Arguments of `download`.
#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// The repo id, `org/name`.
    repo_id: String,
    /// Files to download; the whole repo (or what --include picks) when none is given.
    filenames: Vec<String>,
    /// `model`, `dataset` or `space`.
    #[arg(long, default_value = "model")]
    repo_type: RepoType,
    /// A branch, tag or commit.
    #[arg(long)]
    revision: Option<String>,
    /// Only files matching this glob (repeatable).
    #[arg(long = "include", value_name = "PATTERN")]
    include: Vec<String>,
    /// Leave out files matching this glob (repeatable).
    #[arg(long = "exclude", value_name = "PATTERN")]
    exclude: Vec<String>,
    /// The cache folder (default: HF_HUB_CACHE).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Write real files into this folder instead of the cache.
    #[arg(long)]
    local_dir: Option<PathBuf>,
    /// Fetch again even when cached.
    #[arg(long)]
    force_download: bool,
    /// The token to use instead of the stored one.
    #[arg(long)]
    token: Option<String>,
    /// Files fetched at once.
    #[arg(long, default_value_t = 16)]
    max_workers: usize,
    /// No progress bars; print only the resulting path.
    #[arg(long, short)]
    quiet: bool,
    /// Connections for one large file (tuning; the default suits most networks).
    #[arg(long, hide = true)]
    connections: Option<usize>,
    /// Size in MiB of one range request of a large file (tuning).
    #[arg(long, hide = true, value_name = "MIB")]
    chunk_mib: Option<u64>,
    /// Skip the sha256 check of LFS files and the git blob id check of the others (sizes are still checked); for measuring.
    #[arg(long, hide = true)]
    no_verify: bool,
}

pub(crate) fn run(args: DownloadArgs) -> Result<()> {
    let session = Session::new(args.token.as_deref())?;
    let repo_id = RepoId::new(&args.repo_id)?;
    let revision = args
        .revision
        .as_deref()
        .map(Revision::new)
        .transpose()?
        .unwrap_or_default();
    let mut fetch = FetchOptions::from_config(&session.config).force_download(args.force_download);
    if let Some(dir) = &args.local_dir {
        fetch = fetch.local_dir(dir);
    }
    if let Some(connections) = args.connections {
        fetch.transfer.connections = connections.max(1);
    }
    if let Some(mib) = args.chunk_mib {
        fetch.transfer.chunk_size = mib.max(1) * 1024 * 1024;
        fetch.transfer.parallel_threshold = fetch.transfer.chunk_size;
    }
    fetch.transfer.verify &= !args.no_verify;
    if let Some(dir) = &args.cache_dir {
        fetch = fetch.cache_dir(dir);
    }
    let bars = ProgressBars::for_terminal(args.quiet, session.config.disable_progress_bars);
    let fetch = match &bars {
        Some(bars) => fetch.progress(bars),
        None => fetch.progress(&()),
    };
    let result = if args.filenames.len() == 1 && args.include.is_empty() && args.exclude.is_empty() {
        let file = &args.filenames[0];
        let options = DownloadOptions::with_fetch(fetch)
            .repo_type(args.repo_type)
            .revision(revision);
        hf_hub_download(&session.client, &repo_id, file, &options)
            .with_context(|| format!("failed to download {file} from {repo_id}"))
    } else {
        let options = SnapshotOptions::with_fetch(fetch)
            .repo_type(args.repo_type)
            .revision(revision)
            .allow_patterns(args.filenames.iter().chain(&args.include))
            .ignore_patterns(&args.exclude)
            .max_workers(args.max_workers.max(1));
        snapshot_download(&session.client, &repo_id, &options).with_context(|| format!("failed to download {repo_id}"))
    };
    if let Some(bars) = &bars {
        bars.finish();
    }
    let path = result?;
    writeln!(std::io::stdout().lock(), "{}", path.display())?;
    Ok(())
}
