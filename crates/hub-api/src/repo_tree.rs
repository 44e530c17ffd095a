//! `list_repo_tree` and `list_repo_files`: the files and folders of a revision.

use hub_url::{RepoId, RepoType, Revision, encode_path, encode_segment};
use serde::Deserialize;

use crate::client::HubClient;
use crate::error::Result;
use crate::pagination::Paginated;
use crate::repo_info::LfsInfo;
use crate::repo_management::RevisionOptions;
use crate::target::RequestTarget;

/// One entry of a repo's tree.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum RepoTreeEntry {
    /// A file.
    File {
        /// Its path in the repo.
        path: String,
        /// Its size (the LFS object's size for LFS files).
        size: u64,
        /// The git blob id.
        #[serde(deserialize_with = "crate::server_ids::blob_id")]
        oid: String,
        /// LFS details, for LFS files.
        #[serde(default)]
        lfs: Option<LfsInfo>,
        /// The Xet hash, for files in Xet storage (64 lowercase hex digits;
        /// any other value is left out).
        #[serde(
            default,
            rename = "xetHash",
            deserialize_with = "crate::server_ids::optional_xet_hash"
        )]
        xet_hash: Option<String>,
    },
    /// A folder.
    Directory {
        /// Its path in the repo.
        path: String,
        /// The git tree id.
        #[serde(default)]
        oid: String,
    },
}

impl RepoTreeEntry {
    /// The entry's path in the repo.
    pub fn path(&self) -> &str {
        match self {
            RepoTreeEntry::File { path, .. } | RepoTreeEntry::Directory { path, .. } => path,
        }
    }
}

/// Options of [`HubClient::list_repo_tree`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListTreeOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The revision (default `main`).
    pub revision: Revision,
    /// List only below this folder (default: the root).
    pub path_in_repo: Option<String>,
    /// List every level below, not only the folder's own entries.
    pub recursive: bool,
}

impl ListTreeOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The revision.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    /// The folder to list.
    pub fn path_in_repo(mut self, path: impl Into<String>) -> Self {
        self.path_in_repo = Some(path.into());
        self
    }

    /// Whether to list every level below the folder.
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.recursive = recursive;
        self
    }
}

impl HubClient {
    /// The entries of a revision's tree, fetched page by page as the iterator advances.
    ///
    /// ```no_run
    /// use hub_api::{HubClient, ListTreeOptions, RepoTreeEntry};
    /// use hub_url::{HubConfig, RepoId};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = ListTreeOptions::default().path_in_repo("onnx").recursive(true);
    /// for entry in client.list_repo_tree(&RepoId::new("openai-community/gpt2")?, &options) {
    ///     if let RepoTreeEntry::File { path, size, .. } = entry? {
    ///         println!("{path} {size}");
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_repo_tree(&self, repo_id: &RepoId, options: &ListTreeOptions) -> Paginated<RepoTreeEntry> {
        let revision = &options.revision;
        let mut url = format!(
            "{}/tree/{}",
            self.endpoint().api_url(options.repo_type, repo_id),
            encode_segment(revision.as_str())
        );
        let mut target = RequestTarget::repo(options.repo_type, repo_id).at(revision.as_str());
        if let Some(path) = options
            .path_in_repo
            .as_deref()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            url.push('/');
            url.push_str(&encode_path(path));
            target = target.file(path);
        }
        if options.recursive {
            url.push_str("?recursive=true");
        }
        Paginated::new(self.clone(), url, target, None)
    }

    /// Every file path of a revision, as the Python client's `list_repo_files`.
    ///
    /// ```no_run
    /// use hub_api::{HubClient, RevisionOptions};
    /// use hub_url::{HubConfig, RepoId};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let files = client.list_repo_files(&RepoId::new("openai-community/gpt2")?, &RevisionOptions::default())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list_repo_files(&self, repo_id: &RepoId, options: &RevisionOptions) -> Result<Vec<String>> {
        let options = ListTreeOptions::default()
            .repo_type(options.repo_type)
            .revision(options.revision.clone())
            .recursive(true);
        let mut files = Vec::new();
        for entry in self.list_repo_tree(repo_id, &options) {
            if let RepoTreeEntry::File { path, .. } = entry? {
                files.push(path);
            }
        }
        Ok(files)
    }
}
