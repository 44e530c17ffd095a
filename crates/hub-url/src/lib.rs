//! Pure values and settings of the Hugging Face Hub, without network.
//!
//! This crate is the bottom layer of the workspace. It validates the Hub's names once, so the
//! rest of the code passes them around by reference: [`RepoId`] (`org/name`), [`RepoType`]
//! (model, dataset, space), [`Revision`] (branch, tag, commit, `refs/pr/N`), [`Endpoint`]
//! (the Hub's base URL) and [`Origin`] (the scheme, host and port a token is scoped to, from
//! one parse of a URL by [`parse_http_url`]). [`hf_hub_url`] builds the URL of a file exactly as the Python client
//! does, [`Token`] keeps an access token out of logs, and [`HubConfig`] holds the paths and
//! settings of `HF_HOME`, read from the environment in exactly one place.
//!
//! ```
//! use std::path::Path;
//!
//! use hub_url::{Endpoint, HubConfig, RepoId, RepoType, Revision, hf_hub_url};
//!
//! let repo = RepoId::new("google-bert/bert-base-uncased")?;
//! let revision = Revision::new("refs/pr/1")?;
//! let endpoint = Endpoint::new("https://huggingface.co/")?;
//! let url = hf_hub_url(&repo, "onnx/model file.onnx", &revision, RepoType::Model, &endpoint);
//! assert_eq!(
//!     url,
//!     "https://huggingface.co/google-bert/bert-base-uncased/resolve/refs%2Fpr%2F1/onnx/model%20file.onnx"
//! );
//! assert_eq!(repo.cache_folder_name(RepoType::Model), "models--google-bert--bert-base-uncased");
//! assert!(RepoId::new("datasets/org/name").is_err());
//!
//! // Settings from any source of variables; `HubConfig::from_env()` reads the process's.
//! let config = HubConfig::from_vars(|name| match name {
//!     "HF_HOME" => Some("/data/hf".to_owned()),
//!     "HF_ENDPOINT" => Some("http://127.0.0.1:8080/".to_owned()),
//!     _ => None,
//! })?;
//! assert_eq!(config.hub_cache, Path::new("/data/hf/hub"));
//! assert_eq!(config.endpoint.as_str(), "http://127.0.0.1:8080");
//! # Ok::<(), hub_url::Error>(())
//! ```

mod config;
mod endpoint;
mod error;
mod object_id;
mod origin;
mod pattern;
mod proxy;
mod quote;
mod redact;
mod repo_id;
mod repo_type;
mod resolve;
mod revision;
mod token;

pub use config::HubConfig;
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use object_id::{is_blob_id, is_commit_id, is_sha256};
pub use origin::{Origin, parse_http_url};
pub use pattern::{filter_path, fnmatch};
pub use proxy::ProxySettings;
pub use quote::{encode_path, encode_segment};
pub use redact::{redact_tokens, url_for_log};
pub use repo_id::RepoId;
pub use repo_type::RepoType;
pub use resolve::hf_hub_url;
pub use revision::Revision;
pub use token::Token;
/// The parsed URL that [`Origin::of`] and [`parse_http_url`] work on (the `url` crate's).
pub use url::Url;
