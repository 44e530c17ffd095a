//! The git-lfs custom transfer agent for multipart uploads to the Hub.
//!
//! The Hub stores LFS objects in an object store that takes at most 5 GB in
//! one PUT. For larger objects its LFS batch API answers with the
//! `multipart` transfer: a part size and one presigned URL a part, then a
//! completion URL. git-lfs cannot do that itself; it hands such objects to a
//! *custom transfer agent*, a process it talks to in JSON lines on stdin and
//! stdout. This crate is that agent ([`run_agent`], run by `huggingface-cli
//! lfs-multipart-upload`) and the repo setting that enables it
//! ([`enable_largefiles`], `huggingface-cli lfs-enable-largefiles`).
//!
//! The parts go up in parallel, each retried on its own, through the same
//! routine as `hub_api::HubClient::upload_file`
//! ([`HubClient::upload_lfs_object`](hub_api::HubClient::upload_lfs_object)).
//! It sits on `hub-api` (and sets the repo's config through `hub-repo`); only the CLI depends on it.
//!
//! ```no_run
//! use std::io::{stdin, stdout};
//! use hub_api::HubClient;
//! use hub_lfs::{AgentOptions, run_agent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The part and completion URLs are presigned: no token is needed.
//! let client = HubClient::builder().build()?;
//! let outcome = run_agent(&client, stdin().lock(), stdout(), &AgentOptions::default())?;
//! eprintln!("{} uploaded, {} failed", outcome.uploaded, outcome.failed);
//! # Ok(())
//! # }
//! ```

mod agent;
mod error;
mod largefiles;
mod protocol;

pub use agent::{AgentOptions, AgentOutcome, run_agent};
pub use error::{Error, Result};
pub use largefiles::{AGENT_SUBCOMMAND, TRANSFER_NAME, enable_largefiles};
