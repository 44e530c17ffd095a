//! `repo_info` (`model_info`, `dataset_info`, `space_info`): a repo at a revision, with its files.

use hub_url::{RepoId, RepoType, Revision, encode_segment};
use serde::Deserialize;

use crate::client::HubClient;
use crate::error::Result;
use crate::request::HubRequest;
use crate::target::RequestTarget;

/// A repo as `/api/{type}s/{repo_id}[/revision/{rev}]` describes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct RepoInfo {
    /// The repo id.
    pub id: String,
    /// The commit the revision resolved to.
    #[serde(default, deserialize_with = "crate::server_ids::optional_commit_id")]
    pub sha: Option<String>,
    /// The owner.
    #[serde(default)]
    pub author: Option<String>,
    /// Whether only the owner can see it.
    #[serde(default)]
    pub private: bool,
    /// `false`, or how access is granted (`"auto"`, `"manual"`).
    #[serde(default)]
    pub gated: Gated,
    /// Whether the Hub disabled it.
    #[serde(default)]
    pub disabled: bool,
    /// Downloads over the last month.
    #[serde(default)]
    pub downloads: u64,
    /// Likes.
    #[serde(default)]
    pub likes: u64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When it last changed (ISO 8601).
    #[serde(rename = "lastModified", default)]
    pub last_modified: Option<String>,
    /// When it was created (ISO 8601).
    #[serde(rename = "createdAt", default)]
    pub created_at: Option<String>,
    /// For models: the library (`transformers`, `diffusers`, ...).
    #[serde(default)]
    pub library_name: Option<String>,
    /// For models: the task.
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    /// For spaces: the SDK.
    #[serde(default)]
    pub sdk: Option<String>,
    /// The files at this revision.
    #[serde(default)]
    pub siblings: Vec<RepoSibling>,
}

/// Whether a repo is gated, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Gated {
    /// Open to all who can see the repo.
    #[default]
    No,
    /// Gated; the mode (`auto`, `manual`).
    Yes(String),
}

impl<'de> Deserialize<'de> for Gated {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(mode) => Gated::Yes(mode),
            serde_json::Value::Bool(true) => Gated::Yes("auto".to_string()),
            _ => Gated::No,
        })
    }
}

/// A file of a repo, with its metadata when `files_metadata` was asked.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepoSibling {
    /// The path in the repo.
    pub rfilename: String,
    /// Its size in bytes (the LFS object's size for LFS files).
    #[serde(default)]
    pub size: Option<u64>,
    /// The git blob id.
    #[serde(rename = "blobId", default)]
    pub blob_id: Option<String>,
    /// LFS details, for files stored in LFS.
    #[serde(default)]
    pub lfs: Option<LfsInfo>,
}

/// What the Hub knows of an LFS file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct LfsInfo {
    /// The object's size.
    pub size: u64,
    /// The object's sha256, in hex.
    #[serde(alias = "oid", deserialize_with = "crate::server_ids::sha256")]
    pub sha256: String,
    /// The size of the pointer file in git.
    #[serde(rename = "pointerSize", default)]
    pub pointer_size: Option<u64>,
}

/// Options of [`HubClient::repo_info`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepoInfoOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The revision (default: the repo's default branch, whatever its name).
    pub revision: Option<Revision>,
    /// Whether to ask for each file's size, blob id and LFS details.
    pub files_metadata: bool,
}

impl RepoInfoOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The revision.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = Some(revision);
        self
    }

    /// Whether to ask for each file's size, blob id and LFS details.
    pub fn files_metadata(mut self, files_metadata: bool) -> Self {
        self.files_metadata = files_metadata;
        self
    }
}

impl HubClient {
    /// A repo at a revision, with its files.
    ///
    /// ```no_run
    /// use hub_api::{HubClient, RepoInfoOptions};
    /// use hub_url::{HubConfig, RepoId, Revision};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = RepoInfoOptions::default().revision(Revision::new("v1.0")?).files_metadata(true);
    /// let info = client.repo_info(&RepoId::new("openai-community/gpt2")?, &options)?;
    /// println!("{:?} has {} files", info.sha, info.siblings.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn repo_info(&self, repo_id: &RepoId, options: &RepoInfoOptions) -> Result<RepoInfo> {
        let mut url = self.endpoint().api_url(options.repo_type, repo_id);
        let mut target = RequestTarget::repo(options.repo_type, repo_id);
        if let Some(rev) = &options.revision {
            url.push_str(&format!("/revision/{}", encode_segment(rev.as_str())));
            target = target.at(rev.as_str());
        }
        if options.files_metadata {
            url.push_str("?blobs=true");
        }
        self.send(&HubRequest::get(url).target(target))?.json()
    }

    /// A model at its default branch, without file details (see [`HubClient::repo_info`]).
    pub fn model_info(&self, repo_id: &RepoId) -> Result<RepoInfo> {
        self.repo_info(repo_id, &RepoInfoOptions::default())
    }

    /// A dataset at its default branch, without file details (see [`HubClient::repo_info`]).
    pub fn dataset_info(&self, repo_id: &RepoId) -> Result<RepoInfo> {
        self.repo_info(repo_id, &RepoInfoOptions::default().repo_type(RepoType::Dataset))
    }

    /// A space at its default branch, without file details (see [`HubClient::repo_info`]).
    pub fn space_info(&self, repo_id: &RepoId) -> Result<RepoInfo> {
        self.repo_info(repo_id, &RepoInfoOptions::default().repo_type(RepoType::Space))
    }
}
