//! A small high-level entry point in the shape of the `hf-hub` crate's
//! `api::sync`, so that moving over is a change of the dependency and the
//! `use` line:
//!
//! | `hf-hub` | here |
//! |---|---|
//! | `hf_hub::api::sync::Api::new()?` | `hub_cache::api::Api::new()?` |
//! | `ApiBuilder::new().with_cache_dir(d).with_token(t).build()?` | the same |
//! | `api.model("org/name".to_string())` | `api.model("org/name")?` (the id is checked) |
//! | `api.repo(Repo::with_revision(id, RepoType::Model, rev))` | `api.repo(RepoType::Model, "org/name")?.at(Revision::new(rev)?)` |
//! | `repo.get("config.json")?` | the same: cached, fetched when missing |
//! | `repo.download("config.json")?` | the same: fetched again |
//! | `repo.info()?` | the same |
//!
//! ```no_run
//! use hub_cache::api::Api;
//!
//! # fn main() -> Result<(), hub_cache::Error> {
//! let api = Api::new()?;
//! let path = api.model("openai-community/gpt2")?.get("config.json")?;
//! println!("{}", path.display());
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use hub_api::{HubClient, RepoInfo, RepoInfoOptions};
use hub_url::{Endpoint, HubConfig, RepoId, RepoType, Revision, Token};

use crate::download::{DownloadOptions, FetchOptions, hf_hub_download};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::snapshot::{SnapshotOptions, snapshot_download};

/// Builds an [`Api`]: every setting starts from the environment (`HF_HOME`,
/// `HF_ENDPOINT`, `HF_TOKEN`, …), as `hf-hub`'s does, or from the
/// [`HubConfig`] given to [`ApiBuilder::from_config`].
#[derive(Clone)]
pub struct ApiBuilder {
    config: HubConfig,
    library: Option<(String, String)>,
    progress: Option<Arc<dyn Progress + Send>>,
}

impl std::fmt::Debug for ApiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiBuilder")
            .field("config", &self.config)
            .field("library", &self.library)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl ApiBuilder {
    /// The settings the environment gives, as `hf-hub`'s `ApiBuilder::new`
    /// reads them; a variable that cannot be read (not UTF-8) counts as unset.
    /// [`ApiBuilder::from_env`] reports it instead.
    pub fn new() -> ApiBuilder {
        let config = HubConfig::from_env()
            .or_else(|_| HubConfig::from_vars(|_| None))
            .unwrap_or_else(|_| HubConfig::new(PathBuf::from(".cache").join("huggingface")));
        ApiBuilder::from_config(config)
    }

    /// The settings the environment gives, as the Python client reads them.
    pub fn from_env() -> Result<ApiBuilder> {
        Ok(ApiBuilder::from_config(HubConfig::from_env()?))
    }

    /// These settings.
    pub fn from_config(config: HubConfig) -> ApiBuilder {
        ApiBuilder {
            config,
            library: None,
            progress: None,
        }
    }

    /// The cache folder (`HF_HUB_CACHE`).
    pub fn with_cache_dir(mut self, cache_dir: impl Into<PathBuf>) -> ApiBuilder {
        self.config.hub_cache = cache_dir.into();
        self
    }

    /// The Hub to talk to.
    pub fn with_endpoint(mut self, endpoint: Endpoint) -> ApiBuilder {
        self.config.endpoint = endpoint;
        self
    }

    /// The token, or none.
    pub fn with_token(mut self, token: Option<Token>) -> ApiBuilder {
        self.config.token = token;
        self
    }

    /// The library named first in the user agent (`candle/0.9`).
    pub fn with_user_agent(mut self, library: &str, version: &str) -> ApiBuilder {
        self.library = Some((library.to_string(), version.to_string()));
        self
    }

    /// Where transfers report their progress (nothing is drawn by the library).
    pub fn with_progress(mut self, progress: Arc<dyn Progress + Send>) -> ApiBuilder {
        self.progress = Some(progress);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Api> {
        let mut builder = hub_api::HubClientBuilder::from_config(&self.config)?.token(self.config.token.clone());
        if let Some((name, version)) = &self.library {
            builder = builder.library(name, version);
        }
        Ok(Api {
            client: builder.build()?,
            config: Arc::new(self.config),
            progress: self.progress,
        })
    }
}

impl Default for ApiBuilder {
    fn default() -> Self {
        ApiBuilder::new()
    }
}

/// The Hub and the cache, for [`ApiRepo`]s to fetch through. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    client: HubClient,
    config: Arc<HubConfig>,
    progress: Option<Arc<dyn Progress + Send>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("client", &self.client)
            .field("cache", &self.config.hub_cache)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// An [`Api`] with the settings the environment gives.
    pub fn new() -> Result<Api> {
        ApiBuilder::from_env()?.build()
    }

    /// The client every request goes through.
    pub fn client(&self) -> &HubClient {
        &self.client
    }

    /// A model repo, at its default branch.
    pub fn model(&self, repo_id: &str) -> Result<ApiRepo> {
        self.repo(RepoType::Model, repo_id)
    }

    /// A dataset repo, at its default branch.
    pub fn dataset(&self, repo_id: &str) -> Result<ApiRepo> {
        self.repo(RepoType::Dataset, repo_id)
    }

    /// A space repo, at its default branch.
    pub fn space(&self, repo_id: &str) -> Result<ApiRepo> {
        self.repo(RepoType::Space, repo_id)
    }

    /// A repo of any type, at its default branch.
    pub fn repo(&self, repo_type: RepoType, repo_id: &str) -> Result<ApiRepo> {
        Ok(ApiRepo {
            api: self.clone(),
            repo_type,
            repo_id: RepoId::new(repo_id)?,
            revision: None,
        })
    }
}

/// One repo at one revision.
#[derive(Clone, Debug)]
pub struct ApiRepo {
    api: Api,
    repo_type: RepoType,
    repo_id: RepoId,
    revision: Option<Revision>,
}

impl ApiRepo {
    /// The same repo at `revision` (a branch, tag or commit).
    pub fn at(mut self, revision: Revision) -> ApiRepo {
        self.revision = Some(revision);
        self
    }

    /// The path of `filename` in the cache, fetched only when it is not there
    /// (or its revision moved).
    pub fn get(&self, filename: &str) -> Result<PathBuf> {
        self.fetch(filename, self.fetch_options())
    }

    /// The path of `filename` in the cache, fetched again whatever the cache holds.
    pub fn download(&self, filename: &str) -> Result<PathBuf> {
        self.fetch(filename, self.fetch_options().force_download(true))
    }

    /// Every file of the revision in the cache; returns the snapshot folder.
    pub fn snapshot(&self) -> Result<PathBuf> {
        let fetch = self.fetch_options();
        let fetch = match &self.api.progress {
            Some(progress) => fetch.progress(&**progress),
            None => fetch,
        };
        let mut options = SnapshotOptions::with_fetch(fetch).repo_type(self.repo_type);
        if let Some(revision) = &self.revision {
            options = options.revision(revision.clone());
        }
        snapshot_download(&self.api.client, &self.repo_id, &options)
    }

    /// What the Hub says of the repo at this revision, with its files.
    pub fn info(&self) -> Result<RepoInfo> {
        let mut options = RepoInfoOptions::default()
            .repo_type(self.repo_type)
            .files_metadata(true);
        if let Some(revision) = &self.revision {
            options = options.revision(revision.clone());
        }
        self.api.client.repo_info(&self.repo_id, &options).map_err(Error::from)
    }

    fn fetch(&self, filename: &str, fetch: FetchOptions<'static>) -> Result<PathBuf> {
        let fetch = match &self.api.progress {
            Some(progress) => fetch.progress(&**progress),
            None => fetch,
        };
        let mut options = DownloadOptions::with_fetch(fetch).repo_type(self.repo_type);
        if let Some(revision) = &self.revision {
            options = options.revision(revision.clone());
        }
        hf_hub_download(&self.api.client, &self.repo_id, filename, &options)
    }

    fn fetch_options(&self) -> FetchOptions<'static> {
        FetchOptions::from_config(&self.api.config)
    }
}
