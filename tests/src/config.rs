//! The emulator's settings: where it stores repos, where it listens, who may use it.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::http::TlsIdentity;

/// The Hub's threshold above which a file is stored with LFS: 10 MiB.
pub const DEFAULT_LFS_THRESHOLD: u64 = 10 * 1024 * 1024;

/// The Hub's page size for tree listings and repo listings.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// LFS uploads of at least this size go `multipart` when the client offers it: 5 GiB,
/// the largest single PUT object stores accept.
pub(crate) const DEFAULT_MULTIPART_THRESHOLD: u64 = 5 * 1024 * 1024 * 1024;

/// The size of each part of a `multipart` LFS upload (the last may be shorter): 64 MiB.
pub(crate) const DEFAULT_MULTIPART_PART_SIZE: u64 = 64 * 1024 * 1024;

/// How long Xet tokens and presigned Xet URLs live by default: one hour.
const DEFAULT_XET_TTL_SECS: i64 = 3600;

/// How to start an [`Emulator`](crate::Emulator).
///
/// ```no_run
/// use hub_emulator::{Emulator, EmulatorConfig, Role};
///
/// let config = EmulatorConfig::new("/tmp/hub")
///     .token("hf_alice", "alice", Role::Write)
///     .org("acme", &["alice"]);
/// let hub = Emulator::start(config)?;
/// println!("{}", hub.endpoint());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The folder holding the repos (`repos/`) and the LFS store (`lfs/`).
    pub root: PathBuf,
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub addr: SocketAddr,
    /// The tokens the emulator accepts and the users they stand for.
    pub tokens: Vec<TokenGrant>,
    /// Organisations and their members.
    pub orgs: Vec<Org>,
    /// Serve HTTPS with this identity instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
    /// Files larger than this many bytes are stored with LFS when seeded.
    pub lfs_threshold: u64,
    /// Items per page of tree listings and repo listings.
    pub page_size: usize,
    /// LFS uploads of at least this many bytes get `multipart` actions when the
    /// client offers that transfer (5 GiB by default).
    pub multipart_threshold: u64,
    /// The part size of `multipart` LFS uploads (64 MiB by default).
    pub multipart_part_size: u64,
    /// A simulated round-trip time: every response waits this long before it is
    /// sent, and every new connection waits it once (its handshake). Zero by default;
    /// 20 ms looks like a CDN 10 ms away.
    pub latency: Duration,
    /// Caps the body bytes a second of each connection, as a distant CDN does
    /// (about 180 MB/s); unlimited by default.
    pub per_connection_bytes_per_sec: Option<u64>,
    /// Serve Xet storage (the token routes and the CAS), as the Hub does; on by default.
    /// Off, the emulator is an LFS-only hub, as older mirrors are: the Xet routes answer
    /// 404 and no file carries Xet facts.
    pub xet: bool,
    /// How long Xet access tokens live, in seconds (one hour by default). A negative
    /// value hands out tokens that have already expired, for tests of refusals.
    pub xet_token_ttl_secs: i64,
    /// How long the presigned URLs of reconstructions and of the Xet bridge live, in
    /// seconds (one hour by default); negative hands out expired ones.
    pub xet_url_ttl_secs: i64,
    /// Serve `GET /v2/reconstructions/…` (on by default). Off, it answers 404 as older CAS
    /// deployments do, and clients fall back to `/v1/…`.
    pub xet_v2_reconstructions: bool,
}

impl EmulatorConfig {
    /// Settings with the Hub's defaults, storing everything under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        EmulatorConfig {
            root: root.into(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tokens: Vec::new(),
            orgs: Vec::new(),
            tls: None,
            lfs_threshold: DEFAULT_LFS_THRESHOLD,
            page_size: DEFAULT_PAGE_SIZE,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            multipart_part_size: DEFAULT_MULTIPART_PART_SIZE,
            latency: Duration::ZERO,
            per_connection_bytes_per_sec: None,
            xet: true,
            xet_token_ttl_secs: DEFAULT_XET_TTL_SECS,
            xet_url_ttl_secs: DEFAULT_XET_TTL_SECS,
            xet_v2_reconstructions: true,
        }
    }

    /// Accepts `token` as the user `user` with `role`.
    pub fn token(mut self, token: &str, user: &str, role: Role) -> Self {
        self.tokens.push(TokenGrant {
            token: token.to_string(),
            user: user.to_string(),
            role,
        });
        self
    }

    /// Declares the organisation `name` with these members.
    pub fn org(mut self, name: &str, members: &[&str]) -> Self {
        self.orgs.push(Org {
            name: name.to_string(),
            members: members.iter().map(|m| m.to_string()).collect(),
        });
        self
    }
}

/// A token the emulator accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The secret sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// The user name the token belongs to.
    pub user: String,
    /// What the token may do.
    pub role: Role,
}

/// The role of an access token, as the Hub names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read public repos and the user's own private repos.
    Read,
    /// Read and write.
    Write,
}

impl Role {
    /// The Hub's name for the role: `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }
}

/// An organisation: a namespace shared by its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// The organisation's name, used as a repo namespace.
    pub name: String,
    /// The user names of its members.
    pub members: Vec<String>,
}
