//! The Hugging Face Hub file cache, shared with the Python `huggingface_hub`.
//!
//! Files land where the Python client puts them, byte for byte:
//! `{cache}/models--org--name/blobs/{etag}` holds each blob once,
//! `refs/{branch}` the commit a branch pointed to, and
//! `snapshots/{commit}/{path}` a relative symlink to the blob (a copy where
//! symlinks are disabled).
//!
//! - [`hf_hub_download`] fetches one file (one `HEAD`, then the bytes);
//!   [`snapshot_download`] fetches a whole revision, or what
//!   [`SnapshotOptions::allow_patterns`]/[`SnapshotOptions::ignore_patterns`]
//!   pick, from one tree listing, in parallel; [`cached_download`] takes any
//!   URL. With [`FetchOptions::local_dir`] they write real files and the
//!   Python client's `.cache/huggingface/download` bookkeeping.
//! - Every blob goes through a partial file beside it (`{etag}.incomplete`),
//!   under a lock shared with the Python client (`.locks/`). Large files come
//!   in parallel ranges ([`TransferSettings`]); a broken connection or a killed
//!   process resumes where it stopped; sizes and (for LFS files) sha256 are
//!   checked, on a thread of their own, before the rename into `blobs/`.
//! - A call can bring its own token, headers and user agent parts
//!   ([`FetchOptions::call`]), as the Python client's keyword arguments do.
//! - A file with a Xet hash is kept once per cache, in the shared blob
//!   store of the Python client 2.4 (`{cache}/blobs/{xx}/{xet_hash}`, with a
//!   manifest of the repo blobs linking to it): a file another repo already
//!   brought is linked, not fetched ([`FetchOptions::shared_blobs`]).
//! - A file in Xet storage (its `HEAD` or tree entry has a Xet hash) is rebuilt
//!   from the CAS's reconstruction, its xorb ranges fetched in parallel, with a
//!   short-lived Xet token that only the CAS sees; chunks are kept in a chunk
//!   cache, so a new revision fetches only the chunks it does not share. Off
//!   with [`FetchOptions::xet`] (`HF_HUB_DISABLE_XET`), or on a hub that offers
//!   no Xet token: then over plain HTTP. The blob and its checks are the same.
//! - [`scan_cache`] tells what the cache holds; [`CacheInfo::delete_revisions`]
//!   plans a deletion to show before [`DeleteStrategy::execute`] runs it.
//!
//! It sits on `hub-api` (all requests go through its `HubClient`), `hub-url`
//! and `hub-xet` (the Xet hashes of files, Xet downloads).
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

pub mod api;
mod blob_lock;
mod cache_scan;
mod cached_download;
mod cachedir_tag;
mod connection_budget;
mod download;
mod error;
mod fetch;
mod local_dir;
mod progress;
mod repo_cache;
mod shared_blobs;
mod snapshot;
mod snapshot_link;
mod staging;
mod tree_cache;

// What a caller needs to download, with this crate as its one dependency.
pub use cache_scan::{CacheInfo, CachedFile, CachedRepo, CachedRevision, DeleteStrategy, scan_cache};
pub use cached_download::{ResolveUrl, cached_download, parse_resolve_url};
pub use download::{DownloadOptions, FetchOptions, hf_hub_download};
pub use error::{Error, Result};
pub use fetch::TransferSettings;
pub use hub_api::{HubClient, RepoInfo};
pub use hub_url::{Endpoint, HubConfig, RepoId, RepoType, Revision, Token};
pub use progress::{Progress, ProgressEvent};
pub use repo_cache::{RepoCache, safe_relative_path};
pub use snapshot::{SnapshotOptions, snapshot_download};
