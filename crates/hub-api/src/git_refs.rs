//! Branches, tags and the commit history of a repo.

use hub_url::{RepoId, RepoType, Revision, encode_segment};
use serde::Deserialize;
use serde_json::json;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::pagination::Paginated;
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

impl HubClient {
    fn repo_api(&self, repo_type: RepoType, repo_id: &RepoId, rest: &str) -> String {
        format!("{}/{rest}", self.endpoint().api_url(repo_type, repo_id))
    }

    /// The repo's branches and tags (and pull requests with `include_prs`).
    pub fn list_repo_refs(&self, repo_id: &RepoId, repo_type: RepoType, include_prs: bool) -> Result<GitRefs> {
        let mut url = self.repo_api(repo_type, repo_id, "refs");
        if include_prs {
            url.push_str("?include_prs=1");
        }
        self.send(&HubRequest::get(url).target(RequestTarget::repo(repo_type, repo_id)))?
            .json()
    }

    /// Creates a branch at `revision` (default: the default branch's head).
    pub fn create_branch(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        branch: &str,
        revision: Option<&Revision>,
        exist_ok: bool,
    ) -> Result<()> {
        let url = self.repo_api(repo_type, repo_id, &format!("branch/{}", encode_segment(branch)));
        let payload = match revision {
            Some(rev) => json!({ "startingPoint": rev.as_str() }),
            None => json!({}),
        };
        let target = RequestTarget::repo(repo_type, repo_id).at(revision.map(Revision::as_str).unwrap_or("main"));
        self.create_ref(
            &HubRequest::new(Method::Post, url).json_body(&payload).target(target),
            exist_ok,
        )
    }

    /// Deletes a branch.
    pub fn delete_branch(&self, repo_id: &RepoId, repo_type: RepoType, branch: &str) -> Result<()> {
        self.delete_ref(repo_id, repo_type, "branch", branch)
    }

    /// Tags `revision` (default `main`) as `tag`, with an optional message.
    pub fn create_tag(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        tag: &str,
        revision: Option<&Revision>,
        message: Option<&str>,
        exist_ok: bool,
    ) -> Result<()> {
        let revision = revision.cloned().unwrap_or_default();
        let url = self.repo_api(
            repo_type,
            repo_id,
            &format!("tag/{}", encode_segment(revision.as_str())),
        );
        let mut payload = json!({ "tag": tag });
        if let Some(message) = message {
            payload["message"] = json!(message);
        }
        let target = RequestTarget::repo(repo_type, repo_id).at(revision.as_str());
        self.create_ref(
            &HubRequest::new(Method::Post, url).json_body(&payload).target(target),
            exist_ok,
        )
    }

    /// Deletes a tag.
    pub fn delete_tag(&self, repo_id: &RepoId, repo_type: RepoType, tag: &str) -> Result<()> {
        self.delete_ref(repo_id, repo_type, "tag", tag)
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
    pub fn list_repo_commits(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        revision: Option<&Revision>,
    ) -> Paginated<GitCommitInfo> {
        let revision = revision.cloned().unwrap_or_default();
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
