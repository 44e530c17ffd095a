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
        "repository {repo} was not found on {endpoint}: check the repo id and type, or pass a token (`huggingface-cli login` or HF_TOKEN) if it is private{}",
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
    #[error(
        "revision {revision} was not found in {repo}: check the branch, tag or commit{}",
        request_id_suffix(request_id)
    )]
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
        "{path} was not found in {repo} at revision {revision}: check the file name and revision{}",
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
        "access to {repo} is restricted: accept its conditions on its Hub page, then log in (`huggingface-cli login`) or pass a token{}: {server_message}",
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
        "rate limited by the Hub at {url}{}: wait and try again{}",
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
        source: Box<ureq::Error>,
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
    /// A local file (token, CA bundle) could not be read.
    #[error("failed to read {}", path.display())]
    Io {
        /// The file.
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
    /// An id, revision or endpoint was rejected before any request.
    #[error(transparent)]
    Url(#[from] hub_url::Error),
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
            UnauthorizedReason::MissingToken => {
                "a token is required: log in with `huggingface-cli login` or set HF_TOKEN"
            }
            UnauthorizedReason::InvalidToken => {
                "the token is invalid or expired: log in again with `huggingface-cli login` or fix HF_TOKEN"
            }
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
