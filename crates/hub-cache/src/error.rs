//! The errors of the cache.

use std::path::PathBuf;

/// What went wrong while fetching into, or reading from, the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Hub refused or failed a request. The source is the `hub_api::Error`
    /// that says how (a missing repo, revision or file, a refused token, a
    /// broken connection): `err.source()` and `downcast_ref` reach it.
    #[error("request to the Hub failed")]
    Api {
        /// The `hub_api::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A download from Xet storage failed. The source is the `hub_xet::Error` that says
    /// how (a refused token, a CAS error, xorb bytes that do not check).
    #[error("failed to download {path} from Xet storage")]
    Xet {
        /// The path in the repo.
        path: String,
        /// The `hub_xet::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file is not in the cache and the network may not be used (offline
    /// mode or `local_files_only`). Not the same as "does not exist".
    #[error(
        "{path} of {repo} at revision {revision} is not in the cache at {} and downloads are disabled (offline mode or local_files_only)",
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
    /// An id, revision or URL was rejected; the source is the `hub_url::Error`.
    #[error("invalid {what}")]
    InvalidValue {
        /// What kind of value (`repo id`, `revision`, ...).
        what: &'static str,
        /// The `hub_url::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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

impl From<hub_api::Error> for Error {
    fn from(error: hub_api::Error) -> Self {
        Error::Api {
            source: Box::new(error),
        }
    }
}

impl From<hub_url::Error> for Error {
    fn from(error: hub_url::Error) -> Self {
        Error::InvalidValue {
            what: error.value_kind(),
            source: Box::new(error),
        }
    }
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}

/// The result of cache operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
