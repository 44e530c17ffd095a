//! [`Emulator`]: the Hub routes served by an [`HttpServer`], plus direct access for tests.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::http::{Faults, HttpServer, NetworkConditions, RequestLog, ServerOptions};
use crate::hub::Hub;
use crate::hub::clock;
use crate::hub::commit::{CommitOp, CommitSpec, Content};
use crate::hub::git::Git;
use crate::hub::repo_id::{RepoKey, RepoType, is_valid_ref_name};
use crate::hub::repos::RepoMeta;
use crate::hub::routes::cdn_origin;
use crate::hub::xet::XetError;
use crate::hub::xet::hash::XetHash;
use crate::hub::xet::token::repo_scope;
use crate::{EmulatorConfig, EmulatorError, SeedContent, SeedRepo, XetStats};

/// The kind of ref [`Emulator::create_ref`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `refs/heads/{name}`.
    Branch,
    /// `refs/tags/{name}` (lightweight).
    Tag,
    /// `refs/pr/{n}`, the ref of the Hub's pull request number `n`.
    PullRequest(u32),
}

/// A running local Hub. It stops when dropped.
///
/// ```no_run
/// use hub_emulator::{Emulator, EmulatorConfig, SeedRepo};
///
/// let hub = Emulator::start(EmulatorConfig::new("/tmp/hub"))?;
/// let commit = hub.seed(&SeedRepo::model("org/tiny").file("config.json", "{}"))?;
/// // GET {endpoint}/org/tiny/resolve/main/config.json now answers "{}".
/// # let _ = commit;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Emulator {
    hub: Arc<Hub>,
    server: HttpServer,
    endpoint: String,
    cdn_origin: String,
}

impl Emulator {
    /// Prepares `config.root` and starts serving on `config.addr`.
    pub fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        let hub = Arc::new(Hub::new(&config)?);
        let tls = config.tls.is_some();
        let server = HttpServer::start(
            ServerOptions {
                addr: config.addr,
                tls: config.tls,
            },
            hub.clone(),
        )?;
        server.set_network_conditions(NetworkConditions {
            latency: config.latency,
            per_connection_bytes_per_sec: config.per_connection_bytes_per_sec,
        });
        let mut addr = server.local_addr();
        if addr.ip().is_unspecified() {
            // Listening everywhere: clients reach it on the loopback address.
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
                IpAddr::V6(_) => IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
            });
        }
        let endpoint = format!("{}://{addr}", if tls { "https" } else { "http" });
        let cdn_origin = cdn_origin(&endpoint);
        Ok(Emulator {
            hub,
            server,
            endpoint,
            cdn_origin,
        })
    }

    /// The Hub's URL, `http://127.0.0.1:PORT` (`https://…` with TLS): the value of `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// `http://localhost:PORT`: the same server under another host name, where LFS
    /// downloads are redirected (so clients must drop their `Authorization` header).
    pub fn cdn_origin(&self) -> String {
        self.cdn_origin.clone()
    }

    /// The root folder holding `repos/` and `lfs/`.
    pub fn root(&self) -> &Path {
        &self.hub.root
    }

    /// Fault injection for the next requests.
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }

    /// Every request received so far.
    pub fn log(&self) -> &RequestLog {
        self.server.log()
    }

    /// What the Xet CAS has received and served so far; all zero on an LFS-only hub.
    pub fn xet_stats(&self) -> XetStats {
        self.hub
            .xet
            .as_ref()
            .map(|xet| xet.counters.snapshot())
            .unwrap_or_default()
    }

    /// The CAS's URL, as the Xet token routes hand it out (`None` on an LFS-only hub).
    pub fn cas_url(&self) -> Option<String> {
        self.hub
            .xet
            .as_ref()
            .map(|_| format!("{}{}", self.endpoint, crate::hub::xet::CAS_PREFIX))
    }

    /// Changes how the server holds back its answers (round trips, a cap a connection),
    /// from the next response on.
    pub fn set_network_conditions(&self, conditions: NetworkConditions) {
        self.server.set_network_conditions(conditions);
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        self.server.shutdown();
    }

    /// Stores `content` in the Xet CAS as an upload of `repo` would (chunks of `chunk_len`
    /// bytes, `chunks_per_xorb` to a xorb, a shard registering the file for the repo), then
    /// commits it as `path` on `main`, named by its sha256 as the Hub names Xet files.
    /// Returns the file's Xet hash and the xorbs' hashes in file order. Nothing goes through
    /// HTTP, so the request log and the transfer counters but the CAS's upload ones stay
    /// as they were. On an LFS-only hub the file is only committed.
    pub fn seed_xet_file(
        &self,
        repo: &SeedRepo,
        path: &str,
        content: &[u8],
        chunk_len: usize,
        chunks_per_xorb: usize,
    ) -> Result<(String, Vec<String>), EmulatorError> {
        use crate::xet_objects::{Xorb, terms_shard};
        let key = RepoKey::new(RepoType::from_singular(&repo.repo_type)?, &repo.repo_id)?;
        let chunks: Vec<&[u8]> = content.chunks(chunk_len.max(1)).collect();
        let xorbs: Vec<Xorb> = chunks.chunks(chunks_per_xorb.max(1)).map(Xorb::new).collect();
        let terms: Vec<(&Xorb, u32, u32)> = xorbs.iter().map(|x| (x, 0, x.chunk_count() as u32)).collect();
        let sha256: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(content).into();
        let (shard, file) = terms_shard(&terms, &sha256);
        if let Some(xet) = &self.hub.xet {
            let refused = |err: XetError| match err {
                XetError::Storage(err) => err,
                XetError::Refused(reason) => EmulatorError::io(path, io::Error::other(reason)),
            };
            for xorb in &xorbs {
                let hash = XetHash::parse(&xorb.hash).unwrap_or_default();
                xet.put_xorb(&hash, &xorb.bytes).map_err(refused)?;
            }
            xet.put_shard(&shard, &repo_scope(&key)).map_err(refused)?;
        }
        self.seed(&repo.clone().file(path, content.to_vec()))?;
        Ok((file, xorbs.into_iter().map(|x| x.hash).collect()))
    }

    /// Creates the repo if needed, then commits `repo.files` (and removes `repo.delete`)
    /// on `repo.branch` in one commit. Returns the sha the branch points at afterwards.
    pub fn seed(&self, repo: &SeedRepo) -> Result<String, EmulatorError> {
        let key = RepoKey::new(RepoType::from_singular(&repo.repo_type)?, &repo.repo_id)?;
        let reference = if repo.branch.starts_with("refs/") {
            repo.branch.clone()
        } else {
            format!("refs/heads/{}", repo.branch)
        };
        if !is_valid_ref_name(&reference) {
            return Err(EmulatorError::InvalidRefName {
                name: repo.branch.clone(),
            });
        }
        let meta = RepoMeta {
            owner: key.namespace().map(str::to_string),
            private: repo.private,
            gated: repo.gated.then(|| "auto".to_string()),
            disabled: false,
            tags: dedup(&repo.tags),
            created_at: clock::iso8601(clock::now_millis()),
            likes: repo.likes,
            downloads: repo.downloads,
            sdk: (key.repo_type == RepoType::Space).then(|| "static".to_string()),
        };
        if !self.hub.create_repo(&key, &meta)? {
            self.update_meta(&key, repo)?;
        }

        let git_dir = self.hub.git_dir(&key);
        let current = Git::new(&git_dir).rev_parse_commit(&reference)?;
        if repo.files.is_empty() && repo.delete.is_empty() {
            return match current {
                Some(commit) => Ok(commit),
                None => self.hub.create_ref(&key, &reference, "main"),
            };
        }
        let start_from = match current {
            Some(_) => None,
            None => self.hub.resolve_revision(&key, "main")?,
        };
        let mut ops: Vec<CommitOp> = repo
            .delete
            .iter()
            .map(|path| CommitOp::Delete { path: path.clone() })
            .collect();
        ops.extend(repo.files.iter().map(|file| CommitOp::Auto {
            path: file.path.clone(),
            content: match &file.content {
                SeedContent::Bytes(bytes) => Content::Bytes(bytes.clone()),
                SeedContent::Path(path) => Content::File(path.clone()),
            },
        }));
        let spec = CommitSpec {
            reference,
            expected_parent: None,
            start_from,
            message: repo.message.clone(),
            author: None,
            ops,
        };
        self.hub.commit(&key, &spec)
    }

    /// Seeding an existing repo adds tags and can switch it to private or gated.
    fn update_meta(&self, key: &RepoKey, repo: &SeedRepo) -> Result<(), EmulatorError> {
        let lock = self.hub.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut meta = self.hub.require_repo(key)?;
        let before = meta.clone();
        meta.private |= repo.private;
        if repo.gated && meta.gated.is_none() {
            meta.gated = Some("auto".to_string());
        }
        for tag in &repo.tags {
            if !meta.tags.contains(tag) {
                meta.tags.push(tag.clone());
            }
        }
        meta.downloads = meta.downloads.max(repo.downloads);
        meta.likes = meta.likes.max(repo.likes);
        if meta != before {
            self.hub.repos.write_meta(key, &meta)
        } else {
            Ok(())
        }
    }

    /// Creates a branch, tag or pull-request ref at `from_revision`; returns its commit.
    /// `name` is the branch or tag name (unused for pull requests, named by number).
    pub fn create_ref(
        &self,
        repo_type: &str,
        repo_id: &str,
        kind: RefKind,
        name: &str,
        from_revision: &str,
    ) -> Result<String, EmulatorError> {
        let key = RepoKey::new(RepoType::from_singular(repo_type)?, repo_id)?;
        let reference = match kind {
            RefKind::Branch => format!("refs/heads/{name}"),
            RefKind::Tag => format!("refs/tags/{name}"),
            RefKind::PullRequest(n) => format!("refs/pr/{n}"),
        };
        self.hub.create_ref(&key, &reference, from_revision)
    }

    /// The content of `path` at `revision`, as a client downloading it would get it
    /// (the LFS content for LFS files).
    pub fn file_content(
        &self,
        repo_type: &str,
        repo_id: &str,
        revision: &str,
        path: &str,
    ) -> Result<Vec<u8>, EmulatorError> {
        let key = RepoKey::new(RepoType::from_singular(repo_type)?, repo_id)?;
        self.hub.require_repo(&key)?;
        let commit = self
            .hub
            .resolve_revision(&key, revision)?
            .ok_or_else(|| EmulatorError::RevisionNotFound {
                repo_id: repo_id.to_string(),
                revision: revision.to_string(),
            })?;
        let snapshot = self.hub.snapshot(&key, &commit)?;
        let entry = snapshot
            .get(path)
            .filter(|e| e.is_file())
            .ok_or_else(|| EmulatorError::EntryNotFound {
                repo_id: repo_id.to_string(),
                path: path.to_string(),
            })?;
        match entry.lfs() {
            Some(lfs) if self.hub.lfs.object_size(&lfs.oid).is_none() => {
                // Uploaded through Xet: rebuilt from the CAS.
                let xet = self.hub.xet.as_ref();
                let found = xet.and_then(|xet| xet.file_by_sha256(&lfs.oid).map(|(hash, _)| (xet, hash)));
                let missing = || EmulatorError::LfsObjectNotFound {
                    repo_id: repo_id.to_string(),
                    path: path.to_string(),
                    oid: lfs.oid.clone(),
                };
                let (xet, hash) = found.ok_or_else(missing)?;
                xet.read_file(&hash)?.ok_or_else(missing)
            }
            Some(lfs) => {
                let object = self.hub.lfs.object_path(&lfs.oid);
                std::fs::read(&object).map_err(|e| EmulatorError::io(object, e))
            }
            None => Git::new(&self.hub.git_dir(&key)).read_blob(&entry.oid),
        }
    }

    /// The commit `revision` (branch, tag, `refs/pr/N` or sha) points at.
    pub fn resolve_revision(&self, repo_type: &str, repo_id: &str, revision: &str) -> Result<String, EmulatorError> {
        let key = RepoKey::new(RepoType::from_singular(repo_type)?, repo_id)?;
        self.hub.require_repo(&key)?;
        self.hub
            .resolve_revision(&key, revision)?
            .ok_or_else(|| EmulatorError::RevisionNotFound {
                repo_id: repo_id.to_string(),
                revision: revision.to_string(),
            })
    }

    /// The bare git repository of a repo (whether or not it exists yet).
    pub fn git_dir(&self, repo_type: &str, repo_id: &str) -> Result<PathBuf, EmulatorError> {
        let key = RepoKey::new(RepoType::from_singular(repo_type)?, repo_id)?;
        Ok(self.hub.git_dir(&key))
    }

    /// Where the LFS store keeps the object with this sha256.
    pub fn lfs_object_path(&self, oid: &str) -> PathBuf {
        self.hub.lfs.object_path(oid)
    }
}

fn dedup(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    out
}
