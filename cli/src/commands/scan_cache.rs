//! `huggingface-cli scan-cache`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};
use clap::Args;
use hub_cache::scan_cache;

use crate::human_format::{format_size, format_time_since, table};
use crate::session::Session;

/// Arguments of `scan-cache`.
#[derive(Debug, Args)]
pub(crate) struct ScanCacheArgs {
    /// The cache folder (default: HF_HUB_CACHE).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Lists the cache; with `-v` (the global flag) one row a revision instead of
/// a repo, with `-vv` the warnings too.
pub(crate) fn run(args: ScanCacheArgs, verbose: u8) -> Result<()> {
    let session = Session::new(None)?;
    let dir = args.dir.unwrap_or_else(|| session.config.hub_cache.clone());
    let started = Instant::now();
    let info = scan_cache(&dir).with_context(|| format!("failed to scan the cache at {}", dir.display()))?;
    let now = SystemTime::now();
    let mut out = std::io::stdout().lock();
    let text = if verbose == 0 {
        let rows: Vec<Vec<String>> = info
            .repos
            .iter()
            .map(|repo| {
                let refs: Vec<&str> = repo.refs.keys().map(String::as_str).collect();
                vec![
                    repo.repo_id.to_string(),
                    repo.repo_type.to_string(),
                    format!("{:>12}", format_size(repo.size_on_disk)),
                    format!("{:>8}", repo.nb_files),
                    format_time_since(repo.last_accessed, now),
                    format_time_since(repo.last_modified, now),
                    refs.join(", "),
                    repo.repo_path.display().to_string(),
                ]
            })
            .collect();
        let headers = [
            "REPO ID",
            "REPO TYPE",
            "SIZE ON DISK",
            "NB FILES",
            "LAST_ACCESSED",
            "LAST_MODIFIED",
            "REFS",
            "LOCAL PATH",
        ];
        table(&headers, &rows)
    } else {
        let rows: Vec<Vec<String>> = info
            .repos
            .iter()
            .flat_map(|repo| {
                repo.revisions.iter().map(move |rev| {
                    let refs: Vec<&str> = rev.refs.iter().map(String::as_str).collect();
                    vec![
                        repo.repo_id.to_string(),
                        repo.repo_type.to_string(),
                        rev.commit_hash.clone(),
                        format!("{:>12}", format_size(rev.size_on_disk)),
                        format!("{:>8}", rev.files.len()),
                        format_time_since(rev.last_modified, now),
                        refs.join(", "),
                        rev.snapshot_path.display().to_string(),
                    ]
                })
            })
            .collect();
        let headers = [
            "REPO ID",
            "REPO TYPE",
            "REVISION",
            "SIZE ON DISK",
            "NB FILES",
            "LAST_MODIFIED",
            "REFS",
            "LOCAL PATH",
        ];
        table(&headers, &rows)
    };
    writeln!(out, "{text}\n")?;
    writeln!(
        out,
        "Done in {:.1}s. Scanned {} repo(s) for a total of {}.",
        started.elapsed().as_secs_f64(),
        info.repos.len(),
        format_size(info.size_on_disk)
    )?;
    let unreferenced = info.prune_shared_blobs();
    if !unreferenced.shared_blobs.is_empty() {
        writeln!(
            out,
            "Found {} shared blob(s) no repo links to any more, totalling {}.",
            unreferenced.shared_blobs.len(),
            format_size(unreferenced.expected_freed_size)
        )?;
    }
    if !info.warnings.is_empty() {
        if verbose >= 2 {
            for warning in &info.warnings {
                writeln!(out, "warning: {warning}")?;
            }
        } else {
            writeln!(
                out,
                "Got {} warning(s) while scanning. Use -vv to print details.",
                info.warnings.len()
            )?;
        }
    }
    Ok(())
}
