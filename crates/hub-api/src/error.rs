//! The errors of every Hub call, with the Hub's own concepts as variants.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while talking to the Hub.
///
/// Hub concepts (a missing repo, revision or file, a gated repo, a bad token)
/// are variants of their own, so callers can match on them; everything else
/// the server said lands in [`Error::Http`] with its message and request id.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The repository does not exist, or it is private and the token cannot see it.
    #[error(
        "repository {repo} was not found on {endpoint} (or it is private and the token cannot see it){}",
        request_id_suffix(request_id)
    )]
    RepoNotFound {
        /// The repo, as `type:namespace/name` or the URL when the repo is unknown.
        repo: String,
        /// The endpoint asked.
        endpoint: String,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The repository exists but has no such branch, tag or commit.
    #[error("revision {revision} was not found in {repo}{}", request_id_suffix(request_id))]
    RevisionNotFound {
        /// The repo.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The revision exists but has no such file.
    #[error(
        "{path} was not found in {repo} at revision {revision}{}",
        request_id_suffix(request_id)
    )]
    EntryNotFound {
        /// The repo.
        repo: String,
        /// The revision asked for.
        revision: String,
        /// The path in the repo.
        path: String,
        /// The commit the Hub resolved the revision to (`X-Repo-Commit`), when it said.
        commit: Option<String>,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The repository is gated: the user must accept its conditions on the Hub and authenticate.
    #[error(
        "access to {repo} is restricted until its conditions are accepted on its Hub page{}: {server_message}",
        request_id_suffix(request_id)
    )]
    GatedRepo {
        /// The repo.
        repo: String,
        /// What the Hub said.
        server_message: String,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The request needs a (valid, sufficiently privileged) token.
    #[error("{reason} for {url}{}", request_id_suffix(request_id))]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// Why the Hub refused.
        reason: UnauthorizedReason,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The Hub asked to slow down and the retries ran out.
    #[error(
        "rate limited by the Hub at {url}{}{}",
        retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default(),
        request_id_suffix(request_id)
    )]
    RateLimited {
        /// The URL asked.
        url: String,
        /// How long the Hub asked to wait, when it said.
        retry_after: Option<Duration>,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// Any other HTTP error status.
    #[error(
        "HTTP {status} from {url}{}{}",
        server_message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(),
        request_id_suffix(request_id)
    )]
    Http {
        /// The status code.
        status: u16,
        /// The URL asked.
        url: String,
        /// What the Hub said (`X-Error-Message` or the JSON `error`).
        server_message: Option<String>,
        /// The `X-Request-Id` of the failed request.
        request_id: Option<String>,
    },
    /// The request could not be sent or its answer not received (after retries).
    #[error("request to {url} failed")]
    Transport {
        /// The URL asked.
        url: String,
        /// What the HTTP stack said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A redirect chain was longer than allowed, or a redirect had no usable `Location`.
    #[error("too many or invalid redirects from {url}")]
    Redirect {
        /// The URL where the chain started.
        url: String,
    },
    /// The Hub answered with something this client cannot read.
    #[error("unexpected response from {url}: {reason}")]
    InvalidResponse {
        /// The URL asked.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// Reading a body from the Hub failed.
    #[error("failed to read the response from {url}")]
    Body {
        /// The URL asked.
        url: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A local file (token, CA bundle, a file to upload) could not be read.
    #[error("failed to read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A local file or folder (a saved token, the commit body being written)
    /// could not be created or written.
    #[error("failed to {action} {}", path.display())]
    Write {
        /// What was being done (`write`, `create`, ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client configuration is unusable (a bad proxy URL or CA bundle).
    #[error("invalid client configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A path of a commit operation that the Hub would refuse or that would
    /// leave the repo (`..`, `.git/`), refused before any request.
    #[error("invalid path in repo {path:?}: {reason}")]
    InvalidPathInRepo {
        /// The path as given.
        path: String,
        /// The rule it breaks.
        reason: String,
    },
    /// An argument of a call that it cannot take (a space without an SDK, a
    /// folder to upload that is not a folder).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong.
        reason: String,
    },
    /// A content uploader other than LFS failed to upload a commit's large files.
    #[error("failed to upload the files' content through {transfer}")]
    ContentUpload {
        /// The storage (`Xet`).
        transfer: &'static str,
        /// What failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The commit's NDJSON body could not be built (a line that does not
    /// encode, a file whose hashing thread failed).
    #[error("failed to build the commit body: {reason}")]
    CommitBody {
        /// What failed.
        reason: String,
    },
    /// A token name that the stored tokens file cannot hold as it is.
    #[error("no token can be saved under the name {name:?} in {}: {reason}", path.display())]
    InvalidTokenName {
        /// The name.
        name: String,
        /// The stored tokens file.
        path: PathBuf,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// No token is saved under this name.
    #[error("no token named {name:?} in {}", path.display())]
    UnknownToken {
        /// The name.
        name: String,
        /// The stored tokens file.
        path: PathBuf,
    },
    /// An id, revision, URL or endpoint was rejected before any request.
    #[error("invalid {what}")]
    InvalidValue {
        /// What was being checked (`revision`, `redirect URL`, ...).
        what: &'static str,
        /// Why it was rejected: a `hub_url::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why a request was refused with 401 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnauthorizedReason {
    /// No token was sent and the resource needs one.
    MissingToken,
    /// The token was sent and the Hub does not know it.
    InvalidToken,
    /// The token is valid but may not do this (for example a read token writing).
    Forbidden,
}

impl std::fmt::Display for UnauthorizedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnauthorizedReason::MissingToken => "a token is required",
            UnauthorizedReason::InvalidToken => "the token is invalid or expired",
            UnauthorizedReason::Forbidden => {
                "the token lacks the permission for this request (a write token may be needed)"
            }
        })
    }
}

fn request_id_suffix(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl Error {
    /// The HTTP status behind this error, when it came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether this is one of the "does not exist" errors (repo, revision or file).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::RepoNotFound { .. } | Error::RevisionNotFound { .. } | Error::EntryNotFound { .. }
        )
    }
}

/// The result of every Hub call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<hub_url::Error> for Error {
    fn from(error: hub_url::Error) -> Self {
        Error::InvalidValue {
            what: error.value_kind(),
            source: Box::new(error),
        }
    }
}
