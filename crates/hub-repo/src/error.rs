//! The errors of `Repository`.

use std::path::PathBuf;

/// What went wrong while driving git on a local clone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `git` (or `git-lfs`) could not be started.
    #[error("failed to run {program} in {}: is it installed and on the PATH?", dir.display())]
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
    #[error("`git {args}` failed in {}: {stderr}", dir.display())]
    GitFailed {
        /// Its arguments.
        args: String,
        /// Where it was run.
        dir: PathBuf,
        /// What git printed on stderr.
        stderr: String,
    },
    /// The folder to clone into holds files but is not a clone.
    #[error(
        "refusing to clone into {}: it is not empty and not a git repository; clone into a new folder and move the files there, or `git init` it and add the remote yourself",
        dir.display()
    )]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// The folder is a clone of another repository.
    #[error("{} is a clone of {origin}, not of {expected}: clone into another folder", dir.display())]
    UnrelatedClone {
        /// The folder.
        dir: PathBuf,
        /// The URL asked for.
        expected: String,
        /// The folder's `origin` (without credentials), or `no origin`.
        origin: String,
    },
    /// The folder is not inside a git repository.
    #[error("{} is not a git repository: clone the repo first, or give the path of a clone", dir.display())]
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
