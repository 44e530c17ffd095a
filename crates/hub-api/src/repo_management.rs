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
pub struct CreateRepoOptions {
    /// The repo type.
    pub repo_type: RepoType,
    /// Private (`Some(true)`), public (`Some(false)`), or the namespace's default.
    pub private: Option<bool>,
    /// An existing repo is not an error.
    pub exist_ok: bool,
    /// For spaces: `gradio`, `streamlit`, `docker` or `static`.
    pub space_sdk: Option<String>,
}

/// The SDKs a space can use.
pub const SPACE_SDKS: [&str; 4] = ["gradio", "streamlit", "docker", "static"];

/// `(organization, name)` of an id, as the repo endpoints take them.
fn split_id(repo_id: &RepoId) -> (Option<&str>, &str) {
    (repo_id.namespace(), repo_id.name())
}

impl HubClient {
    /// Creates a repo and returns its URL (`{endpoint}/{prefix}{repo_id}`).
    pub fn create_repo(&self, repo_id: &RepoId, options: &CreateRepoOptions) -> Result<String> {
        let (organization, name) = split_id(repo_id);
        let mut payload = json!({ "name": name, "organization": organization });
        if let Some(private) = options.private {
            payload["visibility"] = json!(if private { "private" } else { "public" });
        }
        if options.repo_type != RepoType::Model {
            payload["type"] = json!(options.repo_type.as_str());
        }
        if options.repo_type == RepoType::Space {
            let sdk = options.space_sdk.as_deref().ok_or_else(|| Error::Config {
                reason: format!("a space needs an SDK: one of {}", SPACE_SDKS.join(", ")),
            })?;
            if !SPACE_SDKS.contains(&sdk) {
                return Err(Error::Config {
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
    pub fn delete_repo(&self, repo_id: &RepoId, repo_type: RepoType, missing_ok: bool) -> Result<()> {
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
            Err(Error::RepoNotFound { .. }) if missing_ok => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Whether the repo exists and the token can see it.
    pub fn repo_exists(&self, repo_id: &RepoId, repo_type: RepoType) -> Result<bool> {
        let options = RepoInfoOptions {
            repo_type,
            ..Default::default()
        };
        match self.repo_info(repo_id, &options) {
            Ok(_) | Err(Error::GatedRepo { .. }) => Ok(true),
            Err(Error::RepoNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether the revision exists in the repo (an error if the repo does not).
    pub fn revision_exists(&self, repo_id: &RepoId, repo_type: RepoType, revision: &Revision) -> Result<bool> {
        let options = RepoInfoOptions {
            repo_type,
            revision: Some(revision.clone()),
            files_metadata: false,
        };
        match self.repo_info(repo_id, &options) {
            Ok(_) => Ok(true),
            Err(Error::RevisionNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Whether the file exists at the revision (false too when the repo or revision does not).
    pub fn file_exists(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        filename: &str,
        revision: Option<&Revision>,
    ) -> Result<bool> {
        let url = hf_hub_url(repo_id, filename, revision, repo_type, self.endpoint());
        let target = RequestTarget::repo(repo_type, repo_id).file(filename);
        match self.file_metadata(&url, target) {
            Ok(_) => Ok(true),
            Err(Error::EntryNotFound { .. } | Error::RepoNotFound { .. } | Error::RevisionNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}
