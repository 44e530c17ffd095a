//! The CAS on disk, under `{root}/xet/`:
//!
//! ```text
//! xorbs/{h[0..2]}/{h}      a xorb as uploaded (chunks and footer), by its hash string
//! files/{h[0..2]}/{h}      a registered file: size, sha256 and terms (JSON)
//! sha256/{s[0..2]}/{s}     the Xet hash of the file with this sha256
//! dedupe/{h[0..2]}/{h}     the xorb holding this chunk, for global dedupe
//! ```
//!
//! Xorb indexes (chunk hashes and offsets) are read from the xorb itself on first use and
//! kept in memory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::hash::XetHash;
use super::xorb::{self, XorbIndex};
use crate::EmulatorError;

/// A registered file: what a reconstruction needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    /// The content's size.
    pub(crate) size: u64,
    /// The content's sha256, lowercase hex.
    pub(crate) sha256: String,
    /// The terms in order.
    pub(crate) terms: Vec<StoredTerm>,
    /// The repos (`{type}/{id}`) whose Xet tokens may read it: those it was uploaded to
    /// and those a commit put it in.
    #[serde(default)]
    pub(crate) repos: Vec<String>,
}

/// One term of a registered file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredTerm {
    /// The xorb's hash string.
    pub(crate) xorb: String,
    /// First chunk.
    pub(crate) start: u32,
    /// End chunk (exclusive).
    pub(crate) end: u32,
}

/// The CAS's storage.
#[derive(Debug)]
pub(crate) struct CasStore {
    root: PathBuf,
    indexes: Mutex<HashMap<XetHash, Arc<XorbIndex>>>,
    /// Serialises the read-modify-write of file records.
    files: Mutex<()>,
    temp_counter: AtomicU64,
}

impl CasStore {
    /// A store under `{root}/xet`.
    pub(crate) fn new(root: &Path) -> Result<CasStore, EmulatorError> {
        let root = root.join("xet");
        for dir in ["xorbs", "files", "sha256", "dedupe", "tmp"] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|e| EmulatorError::io(&path, e))?;
        }
        Ok(CasStore {
            root,
            indexes: Mutex::default(),
            files: Mutex::default(),
            temp_counter: AtomicU64::new(0),
        })
    }

    fn path(&self, kind: &str, name: &str) -> PathBuf {
        self.root.join(kind).join(name.get(..2).unwrap_or("__")).join(name)
    }

    /// Where the xorb `hash` is kept.
    pub(crate) fn xorb_path(&self, hash: &XetHash) -> PathBuf {
        self.path("xorbs", &hash.to_string())
    }

    /// The serialized size of a stored xorb.
    pub(crate) fn xorb_len(&self, hash: &XetHash) -> Option<u64> {
        fs::metadata(self.xorb_path(hash)).ok().map(|m| m.len())
    }

    /// Stores a verified xorb; `false` when it was already stored.
    pub(crate) fn put_xorb(&self, index: XorbIndex, bytes: &[u8]) -> Result<bool, EmulatorError> {
        let hash = index.hash;
        let inserted = self.write_once(&self.xorb_path(&hash), bytes)?;
        self.lock().insert(hash, Arc::new(index));
        Ok(inserted)
    }

    /// The index of a stored xorb, `None` when it is not stored.
    pub(crate) fn xorb_index(&self, hash: &XetHash) -> Result<Option<Arc<XorbIndex>>, EmulatorError> {
        if let Some(index) = self.lock().get(hash) {
            return Ok(Some(index.clone()));
        }
        let path = self.xorb_path(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EmulatorError::io(&path, e)),
        };
        let index =
            xorb::verify(&bytes, hash).map_err(|reason| EmulatorError::io(&path, std::io::Error::other(reason)))?;
        let index = Arc::new(index);
        self.lock().insert(*hash, index.clone());
        Ok(Some(index))
    }

    /// Registers a file under its Xet hash and its sha256, readable from `repo` besides
    /// the repos it already was.
    pub(crate) fn put_file(&self, hash: &XetHash, record: &FileRecord, repo: &str) -> Result<(), EmulatorError> {
        let _guard = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = record.clone();
        record.repos = self.file(hash).map(|r| r.repos).unwrap_or_default();
        if !record.repos.iter().any(|r| r == repo) {
            record.repos.push(repo.to_string());
        }
        self.write_file(hash, &record)?;
        self.replace(&self.path("sha256", &record.sha256), hash.to_string().as_bytes())
    }

    /// Lets `repo`'s Xet tokens read a registered file (a commit put it there).
    pub(crate) fn grant(&self, hash: &XetHash, repo: &str) -> Result<(), EmulatorError> {
        let _guard = self.files.lock().unwrap_or_else(|e| e.into_inner());
        match self.file(hash) {
            Some(mut record) if !record.repos.iter().any(|r| r == repo) => {
                record.repos.push(repo.to_string());
                self.write_file(hash, &record)
            }
            _ => Ok(()),
        }
    }

    fn write_file(&self, hash: &XetHash, record: &FileRecord) -> Result<(), EmulatorError> {
        let json = serde_json::to_vec(record).map_err(|e| EmulatorError::io(&self.root, std::io::Error::other(e)))?;
        self.replace(&self.path("files", &hash.to_string()), &json)
    }

    /// A registered file.
    pub(crate) fn file(&self, hash: &XetHash) -> Option<FileRecord> {
        let bytes = fs::read(self.path("files", &hash.to_string())).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The Xet hash of the registered file with this sha256.
    pub(crate) fn file_by_sha256(&self, sha256: &str) -> Option<XetHash> {
        if !crate::hub::lfs_store::is_sha256(sha256) {
            return None;
        }
        XetHash::parse(fs::read_to_string(self.path("sha256", sha256)).ok()?.trim())
    }

    /// Records that `chunk` can be found in `xorb`.
    pub(crate) fn put_dedupe(&self, chunk: &XetHash, xorb: &XetHash) -> Result<(), EmulatorError> {
        self.replace(&self.path("dedupe", &chunk.to_string()), xorb.to_string().as_bytes())
    }

    /// The xorb holding `chunk`, when it was recorded for dedupe.
    pub(crate) fn dedupe(&self, chunk: &XetHash) -> Option<XetHash> {
        XetHash::parse(fs::read_to_string(self.path("dedupe", &chunk.to_string())).ok()?.trim())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<XetHash, Arc<XorbIndex>>> {
        self.indexes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn temp(&self) -> PathBuf {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        self.root.join("tmp").join(format!("{}-{n}.tmp", std::process::id()))
    }

    /// Writes `bytes` at `dest` through a temp file unless it exists; whether it wrote.
    fn write_once(&self, dest: &Path, bytes: &[u8]) -> Result<bool, EmulatorError> {
        if dest.is_file() {
            return Ok(false);
        }
        self.replace(dest, bytes)?;
        Ok(true)
    }

    /// Writes `bytes` at `dest` through a temp file and a rename.
    fn replace(&self, dest: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| EmulatorError::io(parent, e))?;
        }
        let temp = self.temp();
        fs::write(&temp, bytes).map_err(|e| EmulatorError::io(&temp, e))?;
        fs::rename(&temp, dest).map_err(|e| EmulatorError::io(dest, e))
    }
}
