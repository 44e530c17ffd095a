//! Branches, tags and the commit history of a repo.

use hub_url::{RepoId, RepoType, Revision, encode_segment};
use serde::Deserialize;
use serde_json::json;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::pagination::Paginated;
use crate::repo_management::{RepoOptions, RevisionOptions};
use crate::request::{HubRequest, Method};
use crate::target::RequestTarget;

/// A branch, tag or pull request ref.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitRef {
    /// The short name (`main`, `v1`).
    pub name: String,
    /// The full ref (`refs/heads/main`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit it points to.
    #[serde(rename = "targetCommit")]
    pub target_commit: String,
}

/// Every ref of a repo.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitRefs {
    /// Branches.
    #[serde(default)]
    pub branches: Vec<GitRef>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<GitRef>,
    /// Conversion refs the Hub made (`refs/convert/parquet`).
    #[serde(default)]
    pub converts: Vec<GitRef>,
    /// Pull requests, when asked for.
    #[serde(rename = "pullRequests", default)]
    pub pull_requests: Vec<GitRef>,
}

/// One commit of the history.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitCommitInfo {
    /// The commit id.
    pub id: String,
    /// The first line of the message.
    #[serde(default)]
    pub title: String,
    /// The rest of the message.
    #[serde(default)]
    pub message: String,
    /// When (ISO 8601).
    #[serde(default)]
    pub date: Option<String>,
    /// Who.
    #[serde(default)]
    pub authors: Vec<CommitAuthor>,
}

/// An author of a commit.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitAuthor {
    /// The user name.
    pub user: String,
}

/// Options of [`HubClient::list_repo_refs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListRefsOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// List the pull requests' refs too (`refs/pr/N`).
    pub include_pull_requests: bool,
}

impl ListRefsOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// Whether to list the pull requests' refs too.
    pub fn include_pull_requests(mut self, include: bool) -> Self {
        self.include_pull_requests = include;
        self
    }
}

/// Options of [`HubClient::create_branch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateBranchOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// Where the branch starts (default: the head of the default branch).
    pub starting_point: Option<Revision>,
    /// An existing branch is not an error.
    pub exist_ok: bool,
}

impl CreateBranchOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The revision the branch starts at.
    pub fn starting_point(mut self, revision: Revision) -> Self {
        self.starting_point = Some(revision);
        self
    }

    /// Whether an existing branch is success rather than an error.
    pub fn exist_ok(mut self, exist_ok: bool) -> Self {
        self.exist_ok = exist_ok;
        self
    }
}

/// Options of [`HubClient::create_tag`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateTagOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The revision tagged (default `main`).
    pub revision: Revision,
    /// The message of an annotated tag (default: a lightweight tag).
    pub message: Option<String>,
    /// An existing tag is not an error.
    pub exist_ok: bool,
}

impl CreateTagOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The revision tagged.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    /// The tag's message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Whether an existing tag is success rather than an error.
    pub fn exist_ok(mut self, exist_ok: bool) -> Self {
        self.exist_ok = exist_ok;
        self
    }
}

impl HubClient {
    fn repo_api(&self, repo_type: RepoType, repo_id: &RepoId, rest: &str) -> String {
        format!("{}/{rest}", self.endpoint().api_url(repo_type, repo_id))
    }

    /// The repo's branches and tags (and pull requests when asked).
    pub fn list_repo_refs(&self, repo_id: &RepoId, options: &ListRefsOptions) -> Result<GitRefs> {
        let repo_type = options.repo_type;
        let mut url = self.repo_api(repo_type, repo_id, "refs");
        if options.include_pull_requests {
            url.push_str("?include_prs=1");
        }
        self.send(&HubRequest::get(url).target(RequestTarget::repo(repo_type, repo_id)))?
            .json()
    }

    /// Creates a branch at the options' starting point (default: the default branch's head).
    ///
    /// ```no_run
    /// use hub_api::{CreateBranchOptions, HubClient};
    /// use hub_url::{HubConfig, RepoId, Revision};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = CreateBranchOptions::default().starting_point(Revision::new("v1.0")?).exist_ok(true);
    /// client.create_branch(&RepoId::new("me/my-model")?, "dev", &options)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_branch(&self, repo_id: &RepoId, branch: &str, options: &CreateBranchOptions) -> Result<()> {
        let repo_type = options.repo_type;
        let url = self.repo_api(repo_type, repo_id, &format!("branch/{}", encode_segment(branch)));
        let payload = match &options.starting_point {
            Some(rev) => json!({ "startingPoint": rev.as_str() }),
            None => json!({}),
        };
        let at = options.starting_point.as_ref().map_or("main", Revision::as_str);
        let target = RequestTarget::repo(repo_type, repo_id).at(at);
        self.create_ref(
            &HubRequest::new(Method::Post, url).json_body(&payload).target(target),
            options.exist_ok,
        )
    }

    /// Deletes a branch.
    pub fn delete_branch(&self, repo_id: &RepoId, branch: &str, options: &RepoOptions) -> Result<()> {
        self.delete_ref(repo_id, options.repo_type, "branch", branch)
    }

    /// Tags the options' revision (default `main`) as `tag`.
    pub fn create_tag(&self, repo_id: &RepoId, tag: &str, options: &CreateTagOptions) -> Result<()> {
        let repo_type = options.repo_type;
        let revision = &options.revision;
        let url = self.repo_api(
            repo_type,
            repo_id,
            &format!("tag/{}", encode_segment(revision.as_str())),
        );
        let mut payload = json!({ "tag": tag });
        if let Some(message) = &options.message {
            payload["message"] = json!(message);
        }
        let target = RequestTarget::repo(repo_type, repo_id).at(revision.as_str());
        self.create_ref(
            &HubRequest::new(Method::Post, url).json_body(&payload).target(target),
            options.exist_ok,
        )
    }

    /// Deletes a tag.
    pub fn delete_tag(&self, repo_id: &RepoId, tag: &str, options: &RepoOptions) -> Result<()> {
        self.delete_ref(repo_id, options.repo_type, "tag", tag)
    }

    /// Sends a request creating a ref; with `exist_ok`, "already exists" (409) is success.
    fn create_ref(&self, request: &HubRequest<'_>, exist_ok: bool) -> Result<()> {
        match self.send(request) {
            Ok(response) => {
                response.discard();
                Ok(())
            }
            Err(Error::Http { status: 409, .. }) if exist_ok => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `DELETE …/{kind}/{name}` (`kind` is `branch` or `tag`).
    fn delete_ref(&self, repo_id: &RepoId, repo_type: RepoType, kind: &str, name: &str) -> Result<()> {
        let url = self.repo_api(repo_type, repo_id, &format!("{kind}/{}", encode_segment(name)));
        let target = RequestTarget::repo(repo_type, repo_id).at(name);
        self.send(&HubRequest::new(Method::Delete, url).target(target))?
            .discard();
        Ok(())
    }

    /// The history of a revision, newest first, fetched page by page.
    pub fn list_repo_commits(&self, repo_id: &RepoId, options: &RevisionOptions) -> Paginated<GitCommitInfo> {
        let (repo_type, revision) = (options.repo_type, &options.revision);
        let url = self.repo_api(
            repo_type,
            repo_id,
            &format!("commits/{}", encode_segment(revision.as_str())),
        );
        Paginated::new(
            self.clone(),
            url,
            RequestTarget::repo(repo_type, repo_id).at(revision.as_str()),
            None,
        )
    }
}
