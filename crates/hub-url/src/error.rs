//! The one error type of this crate.

/// Everything that can go wrong while validating a Hub value or reading the settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A repo id that breaks the Hub's naming rules.
    #[error("invalid repo id {input:?}: {reason}")]
    InvalidRepoId {
        /// The rejected id.
        input: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A repo type that is none of model, dataset or space.
    #[error("invalid repo type {input:?}: expected \"model\", \"dataset\" or \"space\" (or their plurals)")]
    InvalidRepoType {
        /// The rejected repo type.
        input: String,
    },
    /// A revision that is no valid git ref name or commit hash.
    #[error("invalid revision {input:?}: {reason}")]
    InvalidRevision {
        /// The rejected revision.
        input: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// An endpoint that is no plain http(s) base URL.
    #[error("invalid endpoint {input:?}: {reason}")]
    InvalidEndpoint {
        /// The rejected endpoint.
        input: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A URL that does not parse, or that names no `http`/`https` origin.
    #[error("invalid URL {input:?}: {reason}")]
    InvalidUrl {
        /// The rejected URL.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An environment variable whose value cannot be used.
    #[error("invalid value {value:?} for the environment variable {name}: expected {expected}")]
    InvalidEnvVar {
        /// The variable's name.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// What the variable accepts.
        expected: &'static str,
        /// Why the value was rejected.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An environment variable whose value is not valid Unicode.
    #[error("the environment variable {name} is not valid unicode")]
    NonUnicodeEnvVar {
        /// The variable's name.
        name: String,
    },
    /// The home directory is unknown but needed, for the default `HF_HOME` or to expand a `~`.
    #[error("cannot locate the home directory, needed for the default HF_HOME and to expand '~'")]
    NoHomeDirectory,
}

impl Error {
    /// What kind of value was rejected (`repo id`, `revision`, `URL`, ...),
    /// for the errors of the crates above that carry this one as their source.
    pub fn value_kind(&self) -> &'static str {
        match self {
            Error::InvalidRepoId { .. } => "repo id",
            Error::InvalidRepoType { .. } => "repo type",
            Error::InvalidRevision { .. } => "revision",
            Error::InvalidEndpoint { .. } => "endpoint",
            Error::InvalidUrl { .. } => "URL",
            Error::InvalidEnvVar { .. } | Error::NonUnicodeEnvVar { .. } | Error::NoHomeDirectory => "setting",
        }
    }
}

/// The result of this crate's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
