//! The errors of the cache.

use std::path::PathBuf;

/// What went wrong while fetching into, or reading from, the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Hub refused or failed the request.
    #[error(transparent)]
    Api(#[from] hub_api::Error),
    /// The file is not in the cache and the network may not be used (offline
    /// mode or `local_files_only`). Not the same as "does not exist".
    #[error(
        "{path} of {repo} at revision {revision} is not in the cache at {} and downloads are disabled: run without HF_HUB_OFFLINE or local_files_only to fetch it",
        cache_dir.display()
    )]
    NotCached {
        /// The repo.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The path in the repo.
        path: String,
        /// The cache searched.
        cache_dir: PathBuf,
    },
    /// The bytes that arrived are not the bytes the Hub announced.
    #[error("downloaded {path} does not match what the Hub announced: expected {expected}, got {actual}")]
    Integrity {
        /// The path in the repo.
        path: String,
        /// What the Hub announced (sha256 or size).
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// A local file or folder could not be read or written.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// What was being done (`write`, `create`, `link`, ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An id, revision or path was rejected.
    #[error(transparent)]
    Url(#[from] hub_url::Error),
    /// A commit or blob id that is not a hex id of the right length, and so
    /// cannot name a folder or file of the cache.
    #[error("refusing the {kind} {id:?} as a name in the cache: it is not a hex id")]
    UnsafeId {
        /// `commit` or `blob`.
        kind: &'static str,
        /// The offending id.
        id: String,
    },
    /// A path in the repo would leave its folder (`..`, an absolute path).
    #[error("refusing the path {path:?}: it would leave the target folder")]
    UnsafePath {
        /// The offending path.
        path: String,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}

/// The result of cache operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
