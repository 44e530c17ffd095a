//! The Hub itself: repos on disk, the LFS store, users, and the routes answering requests.
//!
//! [`Hub`] owns the state every route shares; the routes live in [`routes`], one file a
//! family. Storage is real: each repo is a bare git repository written with git plumbing
//! ([`commit`]) and read through cached per-commit listings ([`snapshot`]).

pub(crate) mod auth;
pub(crate) mod base64;
pub(crate) mod clock;
pub(crate) mod commit;
pub(crate) mod git;
pub(crate) mod gitattributes;
pub(crate) mod history;
pub(crate) mod http_backend;
pub(crate) mod lfs_store;
pub(crate) mod lfs_uploads;
pub(crate) mod paging;
pub(crate) mod push_check;
pub(crate) mod range;
pub(crate) mod refs;
pub(crate) mod repo_id;
pub(crate) mod repos;
pub(crate) mod routes;
pub(crate) mod signing;
pub(crate) mod snapshot;
pub(crate) mod xet;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use self::auth::Users;
use self::commit::{CommitOp, CommitSpec, CommitTarget, Content};
use self::git::{Git, ZERO_OID};
use self::lfs_store::LfsStore;
use self::lfs_uploads::LfsUploads;
use self::repo_id::{RepoKey, is_valid_ref_name};
use self::repos::{RepoMeta, RepoStore};
use self::signing::UrlSigner;
use self::snapshot::{Snapshot, SnapshotCache};
use self::xet::XetCas;
use crate::http::{Handler, Request, Response};
use crate::{EmulatorConfig, EmulatorError};

/// The shared state of the emulated Hub.
#[derive(Debug)]
pub(crate) struct Hub {
    /// The emulator's root folder (absolute).
    pub(crate) root: PathBuf,
    /// Repos and their metadata.
    pub(crate) repos: RepoStore,
    /// LFS objects.
    pub(crate) lfs: LfsStore,
    /// LFS uploads in flight.
    pub(crate) uploads: LfsUploads,
    /// Per-commit listings.
    pub(crate) snapshots: SnapshotCache,
    /// Small blobs by id: blobs never change, so each is read from git once.
    pub(crate) blobs: BlobCache,
    /// Tokens, users and organisations.
    pub(crate) users: Users,
    /// Signs CDN (and upload) URLs.
    pub(crate) signer: UrlSigner,
    /// Seeded files above this size are stored with LFS.
    pub(crate) lfs_threshold: u64,
    /// Items per page of listings.
    pub(crate) page_size: usize,
    /// LFS uploads of at least this size go `multipart` when the client offers it.
    pub(crate) multipart_threshold: u64,
    /// The part size of `multipart` uploads.
    pub(crate) multipart_part_size: u64,
    /// Xet storage; `None` on a Hub that stores files with LFS only.
    pub(crate) xet: Option<XetCas>,
    request_ids: RequestIds,
}

impl Hub {
    /// Prepares the root folder and the state for `config`.
    pub(crate) fn new(config: &EmulatorConfig) -> Result<Hub, EmulatorError> {
        for dir in ["repos", "lfs/objects"] {
            let path = config.root.join(dir);
            fs::create_dir_all(&path).map_err(|e| EmulatorError::io(&path, e))?;
        }
        let root = fs::canonicalize(&config.root).map_err(|e| EmulatorError::io(&config.root, e))?;
        let xet = match config.xet {
            true => Some(XetCas::new(
                &root,
                config.xet_token_ttl_secs,
                config.xet_url_ttl_secs,
                config.xet_v2_reconstructions,
            )?),
            false => None,
        };
        Ok(Hub {
            xet,
            repos: RepoStore::new(&root),
            lfs: LfsStore::new(&root),
            uploads: LfsUploads::new(&root),
            snapshots: SnapshotCache::default(),
            blobs: BlobCache::default(),
            users: Users::new(&config.tokens, &config.orgs),
            signer: UrlSigner::new(),
            lfs_threshold: config.lfs_threshold,
            page_size: config.page_size.max(1),
            multipart_threshold: config.multipart_threshold,
            multipart_part_size: config.multipart_part_size.max(1),
            request_ids: RequestIds::new(),
            root,
        })
    }

    /// The bare git repository of `key`.
    pub(crate) fn git_dir(&self, key: &RepoKey) -> PathBuf {
        self.repos.git_dir(key)
    }

    /// Creates the repo as the Hub does (a first commit holding the default
    /// `.gitattributes` on `main`) unless it exists. Returns whether it was created.
    pub(crate) fn create_repo(&self, key: &RepoKey, meta: &RepoMeta) -> Result<bool, EmulatorError> {
        let lock = self.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.repos.read_meta(key)?.is_some() {
            return Ok(false);
        }
        let git_dir = self.git_dir(key);
        if let Some(parent) = git_dir.parent() {
            fs::create_dir_all(parent).map_err(|e| EmulatorError::io(parent, e))?;
        }
        git::init_bare(&git_dir)?;
        push_check::install_hook(&git_dir, self.lfs_threshold)?;
        // A crash between init and the metadata write leaves a repo to finish, not to redo.
        if Git::new(&git_dir).rev_parse_commit("refs/heads/main")?.is_none() {
            let spec = CommitSpec {
                reference: "refs/heads/main".into(),
                expected_parent: None,
                start_from: None,
                message: "initial commit".into(),
                author: None,
                ops: vec![CommitOp::Regular {
                    path: ".gitattributes".into(),
                    content: Content::Bytes(gitattributes::default_for(key.repo_type.singular()).into_bytes()),
                }],
            };
            commit::write_commit(self.commit_target(key, &git_dir), &spec)?;
        }
        self.repos.write_meta(key, meta)?;
        Ok(true)
    }

    /// Writes a commit on an existing repo; returns its sha.
    pub(crate) fn commit(&self, key: &RepoKey, spec: &CommitSpec) -> Result<String, EmulatorError> {
        self.require_repo(key)?;
        let lock = self.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let git_dir = self.git_dir(key);
        commit::write_commit(self.commit_target(key, &git_dir), spec)
    }

    /// Where commits to `key` go; for callers that already hold the repo's lock.
    pub(crate) fn commit_target<'a>(&'a self, key: &'a RepoKey, git_dir: &'a Path) -> CommitTarget<'a> {
        CommitTarget {
            repo_id: &key.repo_id,
            git_dir,
            lfs: &self.lfs,
            xet: self.xet.as_ref(),
            snapshots: &self.snapshots,
            lfs_threshold: self.lfs_threshold,
        }
    }

    /// Deletes the repo and forgets what was cached about it. Returns whether it existed.
    pub(crate) fn delete_repo(&self, key: &RepoKey) -> Result<bool, EmulatorError> {
        let lock = self.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let existed = self.repos.delete(key)?;
        self.snapshots.forget_repo(&self.git_dir(key));
        Ok(existed)
    }

    /// The metadata of an existing repo.
    pub(crate) fn require_repo(&self, key: &RepoKey) -> Result<RepoMeta, EmulatorError> {
        self.repos.read_meta(key)?.ok_or_else(|| EmulatorError::RepoNotFound {
            repo_type: key.repo_type.singular().into(),
            repo_id: key.repo_id.clone(),
        })
    }

    /// The commit a revision names: a 40-hex sha, a full ref (`refs/pr/1`), a branch or a
    /// tag (branches first, as the Hub does). `None` when it names nothing.
    pub(crate) fn resolve_revision(&self, key: &RepoKey, revision: &str) -> Result<Option<String>, EmulatorError> {
        let git_dir = self.git_dir(key);
        let git = Git::new(&git_dir);
        if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            let sha = revision.to_ascii_lowercase();
            if self.snapshots.contains(&git_dir, &sha) {
                return Ok(Some(sha));
            }
            return git.rev_parse_commit(&sha);
        }
        if !is_valid_ref_name(revision) {
            return Ok(None);
        }
        if revision.starts_with("refs/") {
            return git.rev_parse_commit(revision);
        }
        // A branch is a loose ref file the emulator wrote itself: read it without a process.
        if let Some(sha) = read_loose_ref(&git_dir, &format!("refs/heads/{revision}")) {
            return Ok(Some(sha));
        }
        match git.rev_parse_commit(&format!("refs/heads/{revision}"))? {
            Some(sha) => Ok(Some(sha)),
            None => git.rev_parse_commit(&format!("refs/tags/{revision}")),
        }
    }

    /// The listing of `commit` in the repo `key`.
    pub(crate) fn snapshot(&self, key: &RepoKey, commit: &str) -> Result<Arc<Snapshot>, EmulatorError> {
        self.snapshots.get(&self.git_dir(key), commit)
    }

    /// Creates the ref `reference` (full name) at the commit `from_revision` names.
    pub(crate) fn create_ref(
        &self,
        key: &RepoKey,
        reference: &str,
        from_revision: &str,
    ) -> Result<String, EmulatorError> {
        self.require_repo(key)?;
        if !is_valid_ref_name(reference) || !reference.starts_with("refs/") {
            return Err(EmulatorError::InvalidRefName {
                name: reference.to_string(),
            });
        }
        let lock = self.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let commit = self
            .resolve_revision(key, from_revision)?
            .ok_or_else(|| EmulatorError::RevisionNotFound {
                repo_id: key.repo_id.clone(),
                revision: from_revision.to_string(),
            })?;
        let git_dir = self.git_dir(key);
        let git = Git::new(&git_dir);
        let exists = || EmulatorError::RefExists {
            repo_id: key.repo_id.clone(),
            reference: reference.to_string(),
        };
        if git.rev_parse_commit(reference)?.is_some() {
            return Err(exists());
        }
        let output = git.output(&["update-ref", reference, commit.as_str(), ZERO_OID], None, &[])?;
        if !output.status.success() {
            return Err(exists());
        }
        Ok(commit)
    }
}

impl Handler for Hub {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let mut response = routes::route(self, request, base);
        response.headers.push(("X-Request-Id".into(), self.request_ids.next()));
        response
    }

    /// Large uploads are spooled beside the LFS store, so moving them in is a rename.
    fn spool_dir(&self, head: &Request) -> Option<PathBuf> {
        (head.method == "PUT").then(|| self.root.join("lfs").join("tmp"))
    }
}

/// Unique request ids: a random prefix per process and a counter.
#[derive(Debug)]
struct RequestIds {
    prefix: String,
    counter: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let seed = UrlSigner::new().sign(&["request-id"], 0);
        RequestIds {
            prefix: seed[..16].to_string(),
            counter: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("Root=1-{}-{n:08x}", self.prefix)
    }
}

/// The commit in a loose ref file (`refs/heads/main`), if there is one holding a sha.
fn read_loose_ref(git_dir: &std::path::Path, reference: &str) -> Option<String> {
    let text = std::fs::read_to_string(git_dir.join(reference)).ok()?;
    let sha = text.trim();
    (sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_ascii_lowercase())
}

/// Small blobs read from git, by blob id. Blob ids name their content, so an
/// entry never goes stale.
#[derive(Debug, Default)]
pub(crate) struct BlobCache {
    blobs: std::sync::Mutex<std::collections::HashMap<String, Arc<Vec<u8>>>>,
}

impl BlobCache {
    /// The blob's bytes, from memory or else from `git`.
    pub(crate) fn get(&self, git: &Git, oid: &str) -> Result<Arc<Vec<u8>>, EmulatorError> {
        if let Some(bytes) = self.blobs.lock().ok().and_then(|b| b.get(oid).cloned()) {
            return Ok(bytes);
        }
        let bytes = Arc::new(git.read_blob(oid)?);
        if let Ok(mut blobs) = self.blobs.lock() {
            blobs.insert(oid.to_string(), Arc::clone(&bytes));
        }
        Ok(bytes)
    }
}
