//! Repo types, repo ids, and the names the Hub accepts for paths and refs.

use std::fmt;

use crate::EmulatorError;

/// The three kinds of repos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum RepoType {
    /// `model`: no URL prefix.
    Model,
    /// `dataset`: URLs under `datasets/`.
    Dataset,
    /// `space`: URLs under `spaces/`.
    Space,
}

impl RepoType {
    /// All types, in listing order.
    pub(crate) const ALL: [RepoType; 3] = [RepoType::Model, RepoType::Dataset, RepoType::Space];

    /// `model`, `dataset` or `space`.
    pub(crate) fn singular(self) -> &'static str {
        match self {
            RepoType::Model => "model",
            RepoType::Dataset => "dataset",
            RepoType::Space => "space",
        }
    }

    /// `models`, `datasets` or `spaces`: the API path segment and the storage folder.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            RepoType::Model => "models",
            RepoType::Dataset => "datasets",
            RepoType::Space => "spaces",
        }
    }

    /// The prefix of the repo's web and resolve URLs.
    pub(crate) fn url_prefix(self) -> &'static str {
        match self {
            RepoType::Model => "",
            RepoType::Dataset => "datasets/",
            RepoType::Space => "spaces/",
        }
    }

    /// Parses `model`, `dataset` or `space`.
    pub(crate) fn from_singular(s: &str) -> Result<RepoType, EmulatorError> {
        RepoType::ALL
            .into_iter()
            .find(|t| t.singular() == s)
            .ok_or_else(|| EmulatorError::InvalidRepoType {
                repo_type: s.to_string(),
            })
    }

    /// Parses `models`, `datasets` or `spaces`.
    pub(crate) fn from_plural(s: &str) -> Option<RepoType> {
        RepoType::ALL.into_iter().find(|t| t.plural() == s)
    }
}

/// A repo: its type and its validated id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RepoKey {
    /// The repo's type.
    pub(crate) repo_type: RepoType,
    /// `name` or `namespace/name`.
    pub(crate) repo_id: String,
}

impl RepoKey {
    /// Validates `repo_id` against the Hub's rules.
    pub(crate) fn new(repo_type: RepoType, repo_id: &str) -> Result<RepoKey, EmulatorError> {
        if is_valid_repo_id(repo_id) {
            Ok(RepoKey {
                repo_type,
                repo_id: repo_id.to_string(),
            })
        } else {
            Err(EmulatorError::InvalidRepoId {
                repo_id: repo_id.to_string(),
            })
        }
    }

    /// The namespace (user or organisation), if the id has one.
    pub(crate) fn namespace(&self) -> Option<&str> {
        self.repo_id.split_once('/').map(|(ns, _)| ns)
    }

    /// The name without namespace.
    pub(crate) fn name(&self) -> &str {
        self.repo_id
            .split_once('/')
            .map_or(self.repo_id.as_str(), |(_, name)| name)
    }
}

impl fmt::Display for RepoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.repo_type.url_prefix(), self.repo_id)
    }
}

/// `([\w\-.]{1,96}/)?[\w\-.]{1,96}`, parts not starting or ending with `-` or `.`,
/// no `--` or `..`, not ending in `.git`.
pub(crate) fn is_valid_repo_id(repo_id: &str) -> bool {
    let parts: Vec<&str> = repo_id.split('/').collect();
    if parts.len() > 2 || repo_id.ends_with(".git") || repo_id.contains("--") || repo_id.contains("..") {
        return false;
    }
    parts.iter().all(|part| {
        (1..=96).contains(&part.len())
            && part
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
            && !part.starts_with(['-', '.'])
            && !part.ends_with(['-', '.'])
    })
}

/// A file path inside a repo: relative, `/`-separated, no empty, `.` or `..` segments,
/// and nothing inside a `.git/` folder.
pub(crate) fn is_valid_repo_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && seg != ".git")
}

/// A name git accepts as a branch or tag (the rules of `git check-ref-format`), also
/// used to reject revisions that git would read as expressions (`main~1`, `a..b`).
pub(crate) fn is_valid_ref_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && name != "@"
        && !name
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
        && name.split('/').all(|seg| !seg.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::{is_valid_ref_name, is_valid_repo_id, is_valid_repo_path};

    #[test]
    fn repo_ids_follow_the_hub_rules() {
        for ok in ["gpt2", "org/model", "a_b/c.d-e", "user/Ünïcode"] {
            assert!(is_valid_repo_id(ok), "{ok}");
        }
        for bad in ["", "a/b/c", "-a", "a-", "a--b", "a..b", "a.git", "a b", "/a", "a/"] {
            assert!(!is_valid_repo_id(bad), "{bad}");
        }
    }

    #[test]
    fn paths_and_refs_are_checked() {
        assert!(is_valid_repo_path("dir/file name.txt"));
        assert!(!is_valid_repo_path("../etc/passwd"));
        assert!(!is_valid_repo_path("a//b"));
        assert!(!is_valid_repo_path(".git/config"));
        assert!(!is_valid_repo_path("sub/.git/hooks/pre-commit"));
        assert!(!is_valid_repo_path("/etc/passwd"));
        assert!(is_valid_ref_name("refs/pr/1"));
        assert!(is_valid_ref_name("feature/x"));
        assert!(!is_valid_ref_name("main~1"));
        assert!(!is_valid_ref_name("a..b"));
        assert!(!is_valid_ref_name("-rf"));
    }
}
