//! Branches, tags and pull-request refs of a repository: listing them, numbering pull
//! requests, annotated tags and deletions, all with git plumbing.

use super::git::Git;
use crate::EmulatorError;

/// A ref and the commit it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefEntry {
    /// The full name, like `refs/heads/main`, `refs/tags/v1` or `refs/pr/1`.
    pub(crate) reference: String,
    /// The commit it points at (annotated tags peeled).
    pub(crate) commit: String,
}

impl RefEntry {
    /// The name the Hub shows: the branch or tag name, or the pull request's number.
    pub(crate) fn short_name(&self) -> &str {
        ["refs/heads/", "refs/tags/", "refs/pr/"]
            .iter()
            .find_map(|prefix| self.reference.strip_prefix(prefix))
            .unwrap_or(&self.reference)
    }
}

/// Every branch, tag and pull-request ref, sorted by name.
pub(crate) fn list(git: Git<'_>) -> Result<Vec<RefEntry>, EmulatorError> {
    let out = git.run(
        &[
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)",
            "refs/heads",
            "refs/tags",
            "refs/pr",
        ],
        None,
    )?;
    let text = String::from_utf8(out).map_err(|_| git.bad_output("for-each-ref"))?;
    let mut refs = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\0').collect();
        let [reference, object, peeled] = fields.as_slice() else {
            return Err(git.bad_output("for-each-ref"));
        };
        let commit = if peeled.is_empty() { object } else { peeled };
        refs.push(RefEntry {
            reference: reference.to_string(),
            commit: commit.to_string(),
        });
    }
    Ok(refs)
}

/// The number of the next pull request: one more than the highest `refs/pr/N`.
pub(crate) fn next_pull_request(refs: &[RefEntry]) -> u64 {
    refs.iter()
        .filter_map(|r| r.reference.strip_prefix("refs/pr/"))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .map_or(1, |n| n + 1)
}

/// Deletes `reference`, which must still point at the object `expected`.
pub(crate) fn delete(git: Git<'_>, reference: &str, expected: &str) -> Result<(), EmulatorError> {
    git.run(&["update-ref", "-d", reference, expected], None)?;
    Ok(())
}

/// Creates the annotated tag `name` on `commit` with `message`, signed off by
/// `tagger` (name, e-mail). The caller made sure the tag does not exist.
pub(crate) fn create_annotated_tag(
    git: Git<'_>,
    name: &str,
    commit: &str,
    message: &str,
    tagger: (&str, &str),
) -> Result<(), EmulatorError> {
    let date = format!("{} +0000", super::clock::now_millis() / 1000);
    let env = [
        ("GIT_COMMITTER_NAME", tagger.0),
        ("GIT_COMMITTER_EMAIL", tagger.1),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    let mut text = message.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    git.run_with_env(&["tag", "-a", "-F", "-", name, commit], Some(text.as_bytes()), &env)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RefEntry, next_pull_request};

    fn entry(reference: &str) -> RefEntry {
        RefEntry {
            reference: reference.to_string(),
            commit: "0".repeat(40),
        }
    }

    #[test]
    fn names_and_pull_request_numbers() {
        assert_eq!(entry("refs/heads/feature/x").short_name(), "feature/x");
        assert_eq!(entry("refs/pr/12").short_name(), "12");
        assert_eq!(next_pull_request(&[entry("refs/heads/main")]), 1);
        assert_eq!(
            next_pull_request(&[entry("refs/pr/2"), entry("refs/pr/10"), entry("refs/tags/9")]),
            11
        );
    }
}
