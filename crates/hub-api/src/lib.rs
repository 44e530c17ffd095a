//! The Hugging Face Hub's HTTP client and API.
//!
//! [`HubClient`] is the one client every request of the workspace goes
//! through: one connection pool, the user agent, the token (sent only to the
//! endpoint's own origin, never across a redirect to another host), retries
//! with backoff on transient failures, a hand-written redirect policy, and the
//! mapping of the Hub's error responses (`X-Error-Code`, `X-Error-Message`,
//! `X-Request-Id`) into [`Error`] variants such as [`Error::RepoNotFound`].
//! On top of it sit the Hub's read API ([`HubClient::whoami`],
//! [`HubClient::repo_info`], [`HubClient::list_repo_tree`],
//! [`HubClient::list_models`], [`HubClient::file_metadata`]), its write API
//! ([`HubClient::create_repo`], branches and tags, and
//! [`HubClient::create_commit`] with [`HubClient::upload_file`] and
//! [`HubClient::upload_folder`]: preupload, LFS `basic` and parallel
//! `multipart` uploads, then one commit), and [`TokenStore`], the token files
//! shared with the Python client.
//!
//! It sits on `hub-url` (ids, revisions, endpoints, configuration) and below
//! `hub-cache`, `hub-lfs` and the CLI.
//!
//! ```no_run
//! use hub_api::HubClient;
//! use hub_url::{HubConfig, RepoId};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = HubConfig::from_env()?;
//! let client = HubClient::from_config(&config)?;
//! let repo = RepoId::new("openai-community/gpt2")?;
//! let info = client.model_info(&repo)?;
//! for file in &info.siblings {
//!     println!("{}", file.rfilename);
//! }
//! # Ok(())
//! # }
//! ```

mod base64;
mod call_settings;
mod client;
mod commit_operation;
mod content_upload;
mod create_commit;
mod error;
mod error_response;
mod file_metadata;
mod git_refs;
mod json_array;
mod lfs_upload;
mod list_repos;
mod login;
mod pagination;
mod progress;
mod proxy;
mod read_ahead;
mod redirect;
mod repo_info;
mod repo_management;
mod repo_tree;
mod request;
mod request_body;
mod retry;
mod secret_file;
mod server_ids;
mod target;
mod tcp_transport;
mod tls;
mod tls_transport;
mod token_file;
mod token_store;
mod upload;
mod user_agent;
mod whoami;

pub use call_settings::CallSettings;
pub use client::{HubClient, HubClientBuilder};
pub use commit_operation::{AddSource, CommitOperation};
pub use content_upload::{ContentTarget, ContentTransfer, ContentUploader, LargeFile, LfsUploader, UploadedContent};
pub use create_commit::{CommitInfo, CommitOptions};
pub use error::{Error, Result, UnauthorizedReason};
pub use file_metadata::{FileMetadata, normalize_etag};
pub use git_refs::{
    CommitAuthor, CreateBranchOptions, CreateTagOptions, GitCommitInfo, GitRef, GitRefs, ListRefsOptions,
};
pub use lfs_upload::{DEFAULT_PART_WORKERS, LfsAction, LfsContent, LfsObject};
pub use list_repos::ListReposOptions;
pub use login::LoginOutcome;
pub use pagination::{MAX_EMPTY_PAGES, MAX_ENTRIES, MAX_PAGES, PageLimits, Paginated, next_link};
pub use progress::{Progress, ProgressEvent};
pub use redirect::{MAX_REDIRECTS, RedirectPolicy};
pub use repo_info::{Gated, LfsInfo, RepoInfo, RepoInfoOptions, RepoSibling};
pub use repo_management::{CreateRepoOptions, DeleteRepoOptions, RepoOptions, RevisionOptions, SPACE_SDKS, Visibility};
pub use repo_tree::{ListTreeOptions, RepoTreeEntry};
pub use request::{HubRequest, HubResponse, Method};
pub use request_body::{RequestBody, SentBytes};
pub use retry::RetryPolicy;
pub use target::RequestTarget;
pub use token_file::resolve_token;
pub use token_store::{Logout, LogoutFrom, TokenStore};
pub use upload::{DEFAULT_IGNORE_PATTERNS, UploadFolderOptions};
pub use user_agent::{HF_HUB_VERSION, RUST_VERSION};
pub use whoami::{AccessTokenInfo, AuthInfo, OrgMembership, WhoAmI};
