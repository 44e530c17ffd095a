//! The Hugging Face Hub file cache, shared with the Python `huggingface_hub`.
//!
//! Files land where the Python client puts them, byte for byte:
//! `{cache}/models--org--name/blobs/{etag}` holds each blob once,
//! `refs/{branch}` the commit a branch pointed to, and
//! `snapshots/{commit}/{path}` a relative symlink to the blob (a copy where
//! symlinks are disabled). [`hf_hub_download`] fetches one file into it,
//! streaming into a temporary file beside the blob, checking the size and, for
//! LFS files, the sha256 before the rename, so that a reader never sees a
//! partial or corrupt blob. [`RepoCache`] names the paths of that layout.
//!
//! It sits on `hub-api` (all requests go through its `HubClient`) and `hub-url`.
//!
//! ```no_run
//! use hub_api::HubClient;
//! use hub_cache::{DownloadOptions, hf_hub_download};
//! use hub_url::{HubConfig, RepoId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = HubConfig::from_env()?;
//! let client = HubClient::from_config(&config)?;
//! let repo = RepoId::new("openai-community/gpt2")?;
//! let path = hf_hub_download(&client, &repo, "config.json", &DownloadOptions::from_config(&config))?;
//! println!("{}", path.display());
//! # Ok(())
//! # }
//! ```

mod blob_lock;
mod cache_scan;
mod cached_download;
mod cachedir_tag;
mod connection_budget;
mod download;
mod error;
mod fetch;
mod local_dir;
mod patterns;
mod progress;
mod repo_cache;
mod snapshot;
mod snapshot_link;

pub use blob_lock::BlobLock;
pub use cache_scan::{CacheInfo, CachedFile, CachedRepo, CachedRevision, DeleteStrategy, scan_cache};
pub use cached_download::{ResolveUrl, cached_download, parse_resolve_url};
pub use download::{DownloadOptions, hf_hub_download};
pub use error::{Error, Result};
pub use fetch::TransferSettings;
pub use patterns::{filter_path, fnmatch};
pub use progress::{Progress, ProgressEvent};
pub use repo_cache::{RepoCache, safe_relative_path};
pub use snapshot::snapshot_download;
