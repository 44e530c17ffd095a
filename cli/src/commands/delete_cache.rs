//! `huggingface-cli delete-cache`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use hub_cache::{CacheInfo, scan_cache};

use crate::human_format::format_size;
use crate::session::Session;

/// Arguments of `delete-cache`.
#[derive(Debug, Args)]
pub(crate) struct DeleteCacheArgs {
    /// Commit hashes, or repos (`org/name`, `dataset/org/name`) for all their revisions.
    #[arg(required = true, value_name = "REVISION_OR_REPO")]
    targets: Vec<String>,
    /// The cache folder (default: HF_HUB_CACHE).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Delete without asking.
    #[arg(long, short)]
    yes: bool,
}

pub(crate) fn run(args: DeleteCacheArgs) -> Result<()> {
    let session = Session::new(None)?;
    let dir = args.dir.unwrap_or_else(|| session.config.hub_cache.clone());
    let info = scan_cache(&dir).with_context(|| format!("failed to scan the cache at {}", dir.display()))?;
    let commits = resolve_targets(&info, &args.targets)?;
    let refs: Vec<&str> = commits.iter().map(String::as_str).collect();
    let strategy = info.delete_revisions(&refs);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Will delete {} revision(s), freeing {}:",
        commits.len(),
        format_size(strategy.expected_freed_size)
    )?;
    for repo in &strategy.repos {
        writeln!(out, "  repo      {}", repo.display())?;
    }
    for snapshot in &strategy.snapshots {
        writeln!(out, "  snapshot  {}", snapshot.display())?;
    }
    for path in &strategy.refs {
        writeln!(out, "  ref       {}", path.display())?;
    }
    writeln!(out, "  and {} blob(s) no other revision uses", strategy.blobs.len())?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            writeln!(out, "Dry run: nothing deleted. Pass --yes to delete.")?;
            return Ok(());
        }
        write!(out, "Proceed? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            writeln!(out, "Nothing deleted.")?;
            return Ok(());
        }
    }
    strategy.execute().context("failed to delete from the cache")?;
    writeln!(out, "Deleted; freed {}.", format_size(strategy.expected_freed_size))?;
    Ok(())
}

/// Turns commit hashes and repo names into the commits to delete.
fn resolve_targets(info: &CacheInfo, targets: &[String]) -> Result<Vec<String>> {
    let mut commits = Vec::new();
    for target in targets {
        let by_commit: Vec<_> = info
            .repos
            .iter()
            .flat_map(|r| &r.revisions)
            .filter(|rev| rev.commit_hash == *target)
            .map(|rev| rev.commit_hash.clone())
            .collect();
        if !by_commit.is_empty() {
            commits.extend(by_commit);
            continue;
        }
        let (repo_type, repo_id) = match target.split_once('/') {
            Some((kind @ ("model" | "dataset" | "space"), rest)) if rest.contains('/') => (Some(kind), rest),
            _ => (None, target.as_str()),
        };
        let repos: Vec<_> = info
            .repos
            .iter()
            .filter(|r| r.repo_id.as_str() == repo_id && repo_type.is_none_or(|t| r.repo_type.as_str() == t))
            .collect();
        if repos.is_empty() {
            bail!("{target:?} is neither a cached revision nor a cached repo: see `huggingface-cli scan-cache -v`");
        }
        commits.extend(
            repos
                .iter()
                .flat_map(|r| &r.revisions)
                .map(|rev| rev.commit_hash.clone()),
        );
    }
    Ok(commits)
}
