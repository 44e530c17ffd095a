//! The errors of the transfer agent and of `lfs-enable-largefiles`.

/// What stopped the agent, or the set-up of a repo for it.
///
/// A failed upload of one object is not among them: the agent reports it to
/// git-lfs and goes on with the next object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// git-lfs sent a line that is not a message of the custom transfer protocol.
    #[error("git-lfs sent line {line} that is not a message of the custom transfer protocol")]
    Protocol {
        /// The line's number, from 1.
        line: usize,
        /// Why it was refused: the JSON parser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// git-lfs sent a transfer before the `init` message.
    #[error("git-lfs sent {event:?} on line {line} before the init message")]
    NotInitialised {
        /// The message's event.
        event: &'static str,
        /// The line's number, from 1.
        line: usize,
    },
    /// Reading git-lfs's messages or writing the answers failed.
    #[error("failed to {action} the git-lfs protocol stream")]
    Stream {
        /// `read` or `write`.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The repo could not be set up for the agent (not a clone, or git
    /// failed); the source is the `hub_repo::Error`.
    #[error("failed to set up the clone for the multipart agent")]
    Repo {
        /// The `hub_repo::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<hub_repo::Error> for Error {
    fn from(error: hub_repo::Error) -> Self {
        Error::Repo {
            source: Box::new(error),
        }
    }
}

/// The result of the agent's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;
