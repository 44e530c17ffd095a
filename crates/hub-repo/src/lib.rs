//! `Repository`: a Hub repo checked out with the user's own `git` and `git-lfs`.
//!
//! For people who work in a clone: [`Repository::clone_from`] clones a repo
//! (LFS files included, or skipped), [`Repository::git_add`] adds files and
//! can first track large (≥ 10 MiB) and binary files with LFS, as the Hub
//! refuses both outside it, then [`Repository::git_commit`],
//! [`Repository::git_pull`] and [`Repository::git_push`] do what they say,
//! and [`Repository::commit`] wraps a piece of work: pull, work, add, commit,
//! push. Every call runs `git` as a process in the clone; nothing here speaks
//! HTTP. The token reaches git through a credential helper for the Hub's
//! origin alone: it is never written into the remote URL or `.git/config`.
//!
//! It depends only on `hub-url`. To push files over 5 GB, also run
//! `hub_lfs::enable_largefiles` on the clone (`huggingface-cli
//! lfs-enable-largefiles`).
//!
//! ```no_run
//! use hub_repo::{CloneOptions, CommitScope, Repository};
//! use hub_url::{Endpoint, RepoId, Token};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = CloneOptions::default().token(Token::new("hf_..."));
//! let repo = Repository::clone_from(&Endpoint::default(), &RepoId::new("me/my-model")?, "my-model", &options)?;
//! repo.commit("Add weights", &CommitScope::tracked(), |repo| {
//!     std::fs::write(repo.local_dir().join("weights.bin"), [0u8; 16])?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! println!("{}", repo.git_head_commit_url()?);
//! # Ok(())
//! # }
//! ```

mod error;
mod git_command;
mod lfs_tracking;
mod repository;

pub use error::{Error, Result};
pub use git_command::GitProgram;
pub use lfs_tracking::LARGE_FILE_THRESHOLD;
pub use repository::{
    CloneOptions, CommitScope, IfMissing, LfsTracking, OpenOptions, PullOptions, Repository, TagKind, TagLocation,
    TrackPattern, Upstream, WhenClean,
};
