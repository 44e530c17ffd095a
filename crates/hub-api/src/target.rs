//! What a request is about, so that errors can name the repo, revision and file.

use hub_url::{RepoId, RepoType};

/// The Hub object a request concerns; carried into errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTarget {
    /// The repo and its type, for requests on a repo.
    pub repo: Option<(RepoType, RepoId)>,
    /// The revision asked for.
    pub revision: Option<String>,
    /// The path inside the repo.
    pub path: Option<String>,
}

impl RequestTarget {
    /// A request about a repo.
    pub fn repo(repo_type: RepoType, repo_id: &RepoId) -> Self {
        RequestTarget {
            repo: Some((repo_type, repo_id.clone())),
            ..Default::default()
        }
    }

    /// Adds the revision.
    pub fn at(mut self, revision: &str) -> Self {
        self.revision = Some(revision.to_string());
        self
    }

    /// Adds the path in the repo.
    pub fn file(mut self, path: &str) -> Self {
        self.path = Some(path.to_string());
        self
    }

    /// The repo as people write it: `org/name` for models, `dataset org/name` otherwise.
    pub(crate) fn repo_label(&self) -> Option<String> {
        self.repo.as_ref().map(|(repo_type, id)| match repo_type {
            RepoType::Model => id.to_string(),
            other => format!("{other} {id}"),
        })
    }
}
