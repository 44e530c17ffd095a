//! Commit history read with `git log`: the commits listing and the last commit of a path.

use super::git::Git;
use crate::EmulatorError;

/// One commit of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitRecord {
    /// The commit sha.
    pub(crate) id: String,
    /// The author's name.
    pub(crate) author: String,
    /// The committer date, seconds since the epoch.
    pub(crate) committed_at_secs: i64,
    /// The whole message.
    pub(crate) message: String,
}

impl CommitRecord {
    /// The first line of the message.
    pub(crate) fn title(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }

    /// The message after the title and the blank lines following it.
    pub(crate) fn body(&self) -> &str {
        match self.message.split_once('\n') {
            Some((_, rest)) => rest.trim_start_matches('\n').trim_end(),
            None => "",
        }
    }
}

const FORMAT: &str = "--format=%H%x1f%an%x1f%ct%x1f%B";

/// Up to `max` commits reachable from `commit`, newest first, after skipping `skip`.
pub(crate) fn log(git: Git<'_>, commit: &str, skip: usize, max: usize) -> Result<Vec<CommitRecord>, EmulatorError> {
    let skip = format!("--skip={skip}");
    let max = format!("--max-count={max}");
    let out = git.run(&["log", "-z", FORMAT, &skip, &max, commit, "--"], None)?;
    parse(git, &out)
}

/// The newest commit reachable from `commit` that changed `path`.
pub(crate) fn last_commit_of(git: Git<'_>, commit: &str, path: &str) -> Result<Option<CommitRecord>, EmulatorError> {
    let pathspec = format!(":(literal){path}");
    let out = git.run(&["log", "-z", FORMAT, "--max-count=1", commit, "--", &pathspec], None)?;
    Ok(parse(git, &out)?.into_iter().next())
}

fn parse(git: Git<'_>, out: &[u8]) -> Result<Vec<CommitRecord>, EmulatorError> {
    let mut records = Vec::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let mut fields = text.splitn(4, '\u{1f}');
        let (Some(id), Some(author), Some(time), Some(message)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(git.bad_output("log"));
        };
        records.push(CommitRecord {
            id: id.trim().to_string(),
            author: author.to_string(),
            committed_at_secs: time.parse().map_err(|_| git.bad_output("log"))?,
            message: message.trim_end().to_string(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::CommitRecord;

    #[test]
    fn title_and_body_split_at_the_first_line() {
        let record = |message: &str| CommitRecord {
            id: String::new(),
            author: String::new(),
            committed_at_secs: 0,
            message: message.to_string(),
        };
        assert_eq!(record("Add x\n\nBecause y\nand z").title(), "Add x");
        assert_eq!(record("Add x\n\nBecause y\nand z").body(), "Because y\nand z");
        assert_eq!(record("initial commit").body(), "");
    }
}
