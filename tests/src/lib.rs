//! A local Hugging Face Hub for tests and demos.
//!
//! [`Emulator`] is a real HTTP server on 127.0.0.1 speaking the Hub's wire protocol, so
//! the product, the Python `huggingface_hub` client and plain `git` can all run against
//! it. Repos are real bare git repositories under [`EmulatorConfig::root`], LFS content
//! lives in a content-addressed store beside them and is served from a "CDN" under
//! another host name ([`Emulator::cdn_origin`]). Tests put content in with
//! [`Emulator::seed`] and [`SeedRepo`], and can inject faults through
//! [`Emulator::faults`] and inspect traffic through [`Emulator::log`].
//!
//! The crate has three layers: [`http`] (a small HTTP/1.1 server that knows nothing of
//! the Hub), the Hub itself (storage and routes, private), and this facade.
//!
//! ```no_run
//! use hub_emulator::{Emulator, EmulatorConfig, Role, SeedRepo};
//!
//! let root = std::env::temp_dir().join("hub-example");
//! let hub = Emulator::start(EmulatorConfig::new(&root).token("hf_alice", "alice", Role::Write))?;
//! let commit = hub.seed(
//!     &SeedRepo::model("alice/tiny")
//!         .file("config.json", r#"{"hidden_size": 8}"#)
//!         .file("model.safetensors", vec![0u8; 4096])
//!         .tag("pytorch"),
//! )?;
//! println!("HF_ENDPOINT={} at {commit}", hub.endpoint());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod connect_proxy;
pub mod git_sandbox;
pub mod hostile_hub;
pub mod http;
pub mod test_hub;
pub mod tls;
pub mod tree_walk;
pub mod xet_objects;

mod chunk_hasher;
mod config;
mod emulator;
mod error;
mod hub;
mod seed;

pub use config::{DEFAULT_LFS_THRESHOLD, DEFAULT_PAGE_SIZE, EmulatorConfig, Org, Role, TokenGrant};
pub use emulator::{Emulator, RefKind};
pub use error::EmulatorError;
pub use hub::xet::counters::XetStats;
pub use seed::{SeedContent, SeedFile, SeedRepo, pseudo_random};
