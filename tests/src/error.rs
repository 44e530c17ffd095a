//! The emulator library's error type.

use std::io;
use std::path::PathBuf;

/// What can go wrong when seeding or reading the emulator's repos.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The repo id is not `name` or `namespace/name` with the Hub's characters.
    #[error("invalid repo id {repo_id:?}")]
    InvalidRepoId {
        /// The rejected id.
        repo_id: String,
    },
    /// The repo type is not `model`, `dataset` or `space`.
    #[error("invalid repo type {repo_type:?}")]
    InvalidRepoType {
        /// The rejected type.
        repo_type: String,
    },
    /// A path inside a repo is empty, absolute, or has `.`/`..` segments.
    #[error("invalid path {path:?} in repo {repo_id}")]
    InvalidPath {
        /// The repo.
        repo_id: String,
        /// The rejected path.
        path: String,
    },
    /// A branch, tag or ref name git would reject.
    #[error("invalid ref name {name:?}")]
    InvalidRefName {
        /// The rejected name.
        name: String,
    },
    /// The repo does not exist.
    #[error("repo {repo_type}/{repo_id} not found")]
    RepoNotFound {
        /// `model`, `dataset` or `space`.
        repo_type: String,
        /// The repo id.
        repo_id: String,
    },
    /// The revision names no commit of the repo.
    #[error("revision {revision} not found in {repo_id}")]
    RevisionNotFound {
        /// The repo id.
        repo_id: String,
        /// The revision as given.
        revision: String,
    },
    /// A file or folder to delete is not in the repo.
    #[error("path {path:?} not found in {repo_id}")]
    EntryNotFound {
        /// The repo id.
        repo_id: String,
        /// The missing path.
        path: String,
    },
    /// The ref to create exists already.
    #[error("ref {reference} already exists in {repo_id}")]
    RefExists {
        /// The repo id.
        repo_id: String,
        /// The full ref name, like `refs/heads/dev`.
        reference: String,
    },
    /// The branch moved while a commit was being written, or is not at the expected parent.
    #[error("branch {reference} of {repo_id} is not at the expected commit {expected}")]
    Conflict {
        /// The repo id.
        repo_id: String,
        /// The full ref name.
        reference: String,
        /// The commit the writer expected the ref to point at.
        expected: String,
    },
    /// A commit names an LFS object the store does not hold.
    #[error("lfs object {oid} for {path:?} is not in the store of {repo_id}: upload it first")]
    LfsObjectNotFound {
        /// The repo id.
        repo_id: String,
        /// The path the commit would point at the object.
        path: String,
        /// The object's sha256.
        oid: String,
    },
    /// A commit declares an LFS object with another size than the stored one.
    #[error("lfs object {oid} for {path:?} has {stored} bytes in the store, not {declared}")]
    LfsSizeMismatch {
        /// The path the commit would point at the object.
        path: String,
        /// The object's sha256.
        oid: String,
        /// The size the commit declares.
        declared: u64,
        /// The size of the stored object.
        stored: u64,
    },
    /// A git process could not be started.
    #[error("failed to run git {command} in {git_dir}")]
    GitSpawn {
        /// The git subcommand.
        command: String,
        /// The repository it ran in.
        git_dir: PathBuf,
        /// Why it could not run.
        #[source]
        source: io::Error,
    },
    /// A git process failed.
    #[error("git {command} failed in {git_dir} with {status}: {stderr}")]
    Git {
        /// The git subcommand.
        command: String,
        /// The repository it ran in.
        git_dir: PathBuf,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A git process printed something the emulator could not parse.
    #[error("unexpected output from git {command} in {git_dir}")]
    GitOutput {
        /// The git subcommand.
        command: String,
        /// The repository it ran in.
        git_dir: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("i/o error on {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A repo's metadata file is not valid JSON.
    #[error("invalid repo metadata in {path}")]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl EmulatorError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        EmulatorError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<EmulatorError> for io::Error {
    fn from(err: EmulatorError) -> Self {
        io::Error::other(err)
    }
}
