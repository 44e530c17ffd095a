//! The release's git side: a clean tree, the last release tag, the commits
//! since, and the release commit with its annotated tag. Nothing is pushed.

use std::io::Write;

use anyhow::{Context, Result, ensure};

use super::Workspace;
use crate::workspace::stdout_of;

/// One commit since the last release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Commit {
    /// The abbreviated commit id.
    pub(super) hash: String,
    /// The first line of its message.
    pub(super) subject: String,
    /// The files it touched.
    pub(super) paths: Vec<String>,
}

/// The subject of release commits, which the changelog leaves out.
pub(super) const RELEASE_SUBJECT: &str = "release: v";

fn text(cmd: &mut std::process::Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&stdout_of(cmd)?).into_owned())
}

/// Fails when anything is modified, staged or untracked (`cargo package`
/// would pack untracked files).
pub(super) fn ensure_clean(ws: &Workspace) -> Result<()> {
    let status = text(ws.git().args(["status", "--porcelain", "--untracked-files=normal"]))?;
    ensure!(
        status.trim().is_empty(),
        "the working tree has uncommitted changes; commit them first:\n{}",
        status.trim_end()
    );
    Ok(())
}

pub(super) fn tag_exists(ws: &Workspace, tag: &str) -> Result<bool> {
    let output = ws
        .git()
        .args(["rev-parse", "--quiet", "--verify", &format!("refs/tags/{tag}")])
        .output()
        .context("failed to run git rev-parse")?;
    Ok(output.status.success())
}

/// The nearest `v*` tag that HEAD descends from, or none before the first
/// release.
pub(super) fn last_release_tag(ws: &Workspace) -> Result<Option<String>> {
    let output = ws
        .git()
        .args(["describe", "--tags", "--abbrev=0", "--match", "v[0-9]*"])
        .output()
        .context("failed to run git describe")?;
    let tag = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok((output.status.success() && !tag.is_empty()).then_some(tag))
}

/// The commits after `since` (all of them without a tag), newest first,
/// merges and release commits left out.
pub(super) fn commits_since(ws: &Workspace, since: Option<&str>) -> Result<Vec<Commit>> {
    let range = since.map_or_else(|| "HEAD".to_owned(), |tag| format!("{tag}..HEAD"));
    let log = text(ws.git().args([
        "-c",
        "core.quotepath=off",
        "log",
        "--no-merges",
        "--format=%x1e%h%x1f%s",
        "--name-only",
        &range,
    ]))?;
    Ok(parse_log(&log)
        .into_iter()
        .filter(|commit| !commit.subject.starts_with(RELEASE_SUBJECT))
        .collect())
}

/// Reads `git log --format=%x1e%h%x1f%s --name-only`.
fn parse_log(log: &str) -> Vec<Commit> {
    log.split('\x1e')
        .filter_map(|record| {
            let mut lines = record.lines();
            let (hash, subject) = lines.next()?.split_once('\x1f')?;
            Some(Commit {
                hash: hash.to_owned(),
                subject: subject.trim().to_owned(),
                paths: lines.filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Commits the edited files as `release: {tag}` and tags that commit.
pub(super) fn commit_and_tag(ws: &Workspace, edited: &[String], tag: &str, notes: &str) -> Result<()> {
    ws.run(ws.git().arg("add").arg("--").args(edited))?;
    ws.run(ws.git().args(["commit", "--quiet", "-m", &format!("release: {tag}")]))?;
    // From a file, so that the echoed command stays one line; verbatim, as
    // the default clean-up would drop the notes' `#` headings.
    let mut message = tempfile::NamedTempFile::new().context("failed to make a temporary file")?;
    message
        .write_all(format!("{tag}\n\n{notes}").as_bytes())
        .context("failed to write the tag message")?;
    ws.run(
        ws.git()
            .args(["tag", "--annotate", "--cleanup=verbatim", "--file"])
            .arg(message.path())
            .arg(tag),
    )
}

/// Puts the edited files back as HEAD has them; files HEAD lacks are removed.
pub(super) fn restore(ws: &Workspace, edited: &[String]) -> Result<()> {
    for path in edited {
        let tracked = ws
            .git()
            .args(["cat-file", "-e", &format!("HEAD:{path}")])
            .output()
            .context("failed to run git cat-file")?
            .status
            .success();
        if tracked {
            stdout_of(ws.git().args(["checkout", "HEAD", "--", path]))?;
        } else {
            let file = ws.path(path);
            std::fs::remove_file(&file).with_context(|| format!("failed to remove {}", file.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_split_into_commits() {
        let log = "\x1eabc1234\x1ffix: a bug\n\ncrates/hub-url/src/lib.rs\ncli/src/main.rs\n\
                   \x1edef5678\x1fAn empty one\n";
        let commits = parse_log(log);
        assert_eq!(commits.len(), 2);
        assert_eq!(commits[0].hash, "abc1234");
        assert_eq!(commits[0].subject, "fix: a bug");
        assert_eq!(commits[0].paths, ["crates/hub-url/src/lib.rs", "cli/src/main.rs"]);
        assert_eq!(commits[1].subject, "An empty one");
        assert!(commits[1].paths.is_empty());
    }
}
