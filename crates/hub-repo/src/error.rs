//! The errors of `Repository`.

use std::path::PathBuf;

/// What went wrong while driving git on a local clone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `git` (or `git-lfs`) could not be started.
    #[error("failed to run {program} in {}", dir.display())]
    GitMissing {
        /// The program (`git`, or `git lfs` for git-lfs).
        program: String,
        /// Where it was run.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A git command ran and failed; `stderr` is what git said (without credentials).
    // git may quote a server's answer, which may echo a token: shown redacted.
    #[error("`git {args}` failed in {}: {}", dir.display(), hub_url::redact_tokens(stderr, &[]))]
    GitFailed {
        /// Its arguments.
        args: String,
        /// Where it was run.
        dir: PathBuf,
        /// What git printed on stderr.
        stderr: String,
    },
    /// The folder to clone into holds files but is not a clone.
    #[error("refusing to clone into {}: it is not empty and not a git repository", dir.display())]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// The folder is a clone of another repository.
    #[error("{} is a clone of {origin}, not of {expected}", dir.display())]
    UnrelatedClone {
        /// The folder.
        dir: PathBuf,
        /// The URL asked for.
        expected: String,
        /// The folder's `origin` (without credentials), or `no origin`.
        origin: String,
    },
    /// The folder is not inside a git repository.
    #[error("{} is not a git repository", dir.display())]
    NotARepository {
        /// The folder.
        dir: PathBuf,
    },
    /// A local file could not be read or written.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The result of `Repository`'s functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn tokens_in_what_git_said_are_not_shown() {
        let error = Error::GitFailed {
            args: "push".into(),
            dir: "/w".into(),
            stderr: "remote: bad token hf_abcdefghijklmnopqrstuvwxyz123456\nremote: (Bearer sec.ret-value)".into(),
        };
        assert_eq!(
            error.to_string(),
            "`git push` failed in /w: remote: bad token hf_***\nremote: (Bearer ***)"
        );
    }
}
