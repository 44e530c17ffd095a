//! Creating and deleting repos, and asking whether a repo, file or revision exists.

use hub_url::{RepoId, RepoType, Revision, hf_hub_url};
use serde_json::json;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::repo_info::RepoInfoOptions;
use crate::request::{HubRequest, Method};
use crate::target::RequestTarget;

/// Options of [`HubClient::create_repo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateRepoOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// Who may see the repo (default: the namespace's default).
    pub visibility: Option<Visibility>,
    /// An existing repo is not an error.
    pub exist_ok: bool,
    /// For spaces: `gradio`, `streamlit`, `docker` or `static`.
    pub space_sdk: Option<String>,
}

impl CreateRepoOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// Who may see the repo.
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = Some(visibility);
        self
    }

    /// Whether an existing repo is success rather than an error.
    pub fn exist_ok(mut self, exist_ok: bool) -> Self {
        self.exist_ok = exist_ok;
        self
    }

    /// The SDK of a space: one of [`SPACE_SDKS`].
    pub fn space_sdk(mut self, sdk: impl Into<String>) -> Self {
        self.space_sdk = Some(sdk.into());
        self
    }
}

/// Who may see a repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everyone.
    Public,
    /// Its owner and the members of its organization.
    Private,
}

/// Options of [`HubClient::delete_repo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteRepoOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// A repo that does not exist is not an error.
    pub missing_ok: bool,
}

impl DeleteRepoOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// Whether a repo that does not exist is success rather than an error.
    pub fn missing_ok(mut self, missing_ok: bool) -> Self {
        self.missing_ok = missing_ok;
        self
    }
}

/// Options of the calls that need no more than the repo's type:
/// [`HubClient::repo_exists`], [`HubClient::revision_exists`],
/// [`HubClient::delete_branch`], [`HubClient::delete_tag`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepoOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
}

impl RepoOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }
}

/// Options of the calls that read one revision of a repo:
/// [`HubClient::file_exists`], [`HubClient::list_repo_files`],
/// [`HubClient::list_repo_commits`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevisionOptions {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The branch, tag or commit (default `main`).
    pub revision: Revision,
}

impl RevisionOptions {
    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The branch, tag or commit.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }
}

/// The SDKs a space can use.
pub const SPACE_SDKS: [&str; 4] = ["gradio", "streamlit", "docker", "static"];

/// `(organization, name)` of an id, as the repo endpoints take them.
fn split_id(repo_id: &RepoId) -> (Option<&str>, &str) {
    (repo_id.namespace(), repo_id.name())
}

impl HubClient {
    /// Creates a repo and returns its URL (`{endpoint}/{prefix}{repo_id}`).
    ///
    /// ```no_run
    /// use hub_api::{CreateRepoOptions, HubClient, Visibility};
    /// use hub_url::{HubConfig, RepoId, RepoType};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// let options = CreateRepoOptions::default()
    ///     .repo_type(RepoType::Dataset)
    ///     .visibility(Visibility::Private)
    ///     .exist_ok(true);
    /// let url = client.create_repo(&RepoId::new("me/my-data")?, &options)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_repo(&self, repo_id: &RepoId, options: &CreateRepoOptions) -> Result<String> {
        let (organization, name) = split_id(repo_id);
        let mut payload = json!({ "name": name, "organization": organization });
        if let Some(visibility) = options.visibility {
            payload["visibility"] = json!(match visibility {
                Visibility::Private => "private",
                Visibility::Public => "public",
            });
        }
        if options.repo_type != RepoType::Model {
            payload["type"] = json!(options.repo_type.as_str());
        }
        if options.repo_type == RepoType::Space {
            let sdk = options.space_sdk.as_deref().ok_or_else(|| Error::InvalidArgument {
                reason: format!("a space needs an SDK: one of {}", SPACE_SDKS.join(", ")),
            })?;
            if !SPACE_SDKS.contains(&sdk) {
                return Err(Error::InvalidArgument {
                    reason: format!("unknown space SDK {sdk:?}: use one of {}", SPACE_SDKS.join(", ")),
                });
            }
            payload["sdk"] = json!(sdk);
        }
        let url = format!("{}/api/repos/create", self.endpoint());
        let request = HubRequest::new(Method::Post, url).json_body(&payload);
        let repo_url = self.endpoint().repo_url(options.repo_type, repo_id);
        match self.send(&request) {
            Ok(response) => {
                let body: serde_json::Value = response.json()?;
                Ok(body
                    .get("url")
                    .and_then(|u| u.as_str())
                    .map(str::to_string)
                    .unwrap_or(repo_url))
            }
            Err(Error::Http { status: 409, .. }) if options.exist_ok => Ok(repo_url),
            Err(Error::Http {
                status: 409,
                url,
                request_id,
                ..
            }) => Err(Error::Http {
                status: 409,
                url,
                server_message: Some(format!("{repo_url} already exists: pass exist_ok to reuse it")),
                request_id,
            }),
            Err(error) => Err(error),
        }
    }

    /// Deletes a repo. With `missing_ok`, a repo that does not exist is not an error.
    ///
    /// ```no_run
    /// use hub_api::{DeleteRepoOptions, HubClient};
    /// use hub_url::{HubConfig, RepoId};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = HubConfig::from_env()?;
    /// let client = HubClient::from_config(&config)?;
    /// client.delete_repo(&RepoId::new("me/old-model")?, &DeleteRepoOptions::default().missing_ok(true))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete_repo(&self, repo_id: &RepoId, options: &DeleteRepoOptions) -> Result<()> {
        let repo_type = options.repo_type;
        let (organization, name) = split_id(repo_id);
        let mut payload = json!({ "name": name, "organization": organization });
        if repo_type != RepoType::Model {
            payload["type"] = json!(repo_type.as_str());
        }
        let url = format!("{}/api/repos/delete", self.endpoint());
        let request = HubRequest::new(Method::Delete, url)
            .json_body(&payload)
            .target(RequestTarget::repo(repo_type, repo_id));
        match self.send(&request) {
            Ok(response) => {
                response.discard();
                Ok(())
            }
            Err(Error::RepoNotFound { .. }) if options.missing_ok => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Whether the repo exists and the token can see it.
    pub fn repo_exists(&self, repo_id: &RepoId, options: &RepoOptions) -> Result<bool> {
        match self.repo_info(repo_id, &RepoInfoOptions::default().repo_type(options.repo_type)) {
            Ok(_) | Err(Error::GatedRepo { .. }) => Ok(true),
            Err(Error::RepoNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether the revision exists in the repo (an error if the repo does not).
    pub fn revision_exists(&self, repo_id: &RepoId, revision: &Revision, options: &RepoOptions) -> Result<bool> {
        let info_options = RepoInfoOptions::default()
            .repo_type(options.repo_type)
            .revision(revision.clone());
        match self.repo_info(repo_id, &info_options) {
            Ok(_) => Ok(true),
            Err(Error::RevisionNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether the file exists at the revision (false too when the repo or revision does not).
    pub fn file_exists(&self, repo_id: &RepoId, filename: &str, options: &RevisionOptions) -> Result<bool> {
        let url = hf_hub_url(repo_id, filename, &options.revision, options.repo_type, self.endpoint());
        let target = RequestTarget::repo(options.repo_type, repo_id).file(filename);
        match self.file_metadata(&url, target) {
            Ok(_) => Ok(true),
            Err(Error::EntryNotFound { .. } | Error::RepoNotFound { .. } | Error::RevisionNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
