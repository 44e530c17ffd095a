//! Where repos live on disk, their metadata files, and the per-repo write locks.
//!
//! A repo is a bare git repository `{root}/repos/{models|datasets|spaces}/{namespace or _}/{name}.git`
//! with its metadata beside it in `{name}.json`. The metadata file is written last when a
//! repo is created, so its presence is what makes the repo exist.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::repo_id::{RepoKey, RepoType, is_valid_repo_id};
use crate::EmulatorError;

/// What the Hub knows about a repo besides its git content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepoMeta {
    /// The user or organisation owning the repo (its namespace), if any.
    #[serde(default)]
    pub(crate) owner: Option<String>,
    /// Only the owner (or the organisation's members) can see it.
    #[serde(default)]
    pub(crate) private: bool,
    /// `None` when open, else the gating mode (`auto` or `manual`).
    #[serde(default)]
    pub(crate) gated: Option<String>,
    /// Disabled repos refuse downloads.
    #[serde(default)]
    pub(crate) disabled: bool,
    /// The Hub tags (`pytorch`, `text-generation`, `license:mit`, ...).
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Creation date, ISO 8601 with milliseconds.
    pub(crate) created_at: String,
    /// Like count.
    #[serde(default)]
    pub(crate) likes: u64,
    /// Download count.
    #[serde(default)]
    pub(crate) downloads: u64,
    /// The SDK of a space (`gradio`, `static`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sdk: Option<String>,
}

/// The repos under `{root}/repos`.
#[derive(Debug)]
pub(crate) struct RepoStore {
    root: PathBuf,
    locks: Mutex<HashMap<RepoKey, Arc<Mutex<()>>>>,
}

impl RepoStore {
    /// The store under `{root}/repos`.
    pub(crate) fn new(root: &Path) -> Self {
        RepoStore {
            root: root.join("repos"),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn folder(&self, key: &RepoKey) -> PathBuf {
        self.root
            .join(key.repo_type.plural())
            .join(key.namespace().unwrap_or("_"))
    }

    /// The bare git repository of `key`.
    pub(crate) fn git_dir(&self, key: &RepoKey) -> PathBuf {
        self.folder(key).join(format!("{}.git", key.name()))
    }

    /// The metadata file of `key`.
    pub(crate) fn meta_path(&self, key: &RepoKey) -> PathBuf {
        self.folder(key).join(format!("{}.json", key.name()))
    }

    /// The lock serialising writes to `key` (commits, ref updates, metadata).
    pub(crate) fn lock(&self, key: &RepoKey) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }

    /// The repo's metadata, or `None` when the repo does not exist.
    pub(crate) fn read_meta(&self, key: &RepoKey) -> Result<Option<RepoMeta>, EmulatorError> {
        let path = self.meta_path(key);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| EmulatorError::Metadata { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EmulatorError::io(path, e)),
        }
    }

    /// Writes the metadata through a temp file and a rename.
    pub(crate) fn write_meta(&self, key: &RepoKey, meta: &RepoMeta) -> Result<(), EmulatorError> {
        let path = self.meta_path(key);
        let temp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(meta).map_err(|source| EmulatorError::Metadata {
            path: path.clone(),
            source,
        })?;
        fs::write(&temp, bytes).map_err(|e| EmulatorError::io(&temp, e))?;
        fs::rename(&temp, &path).map_err(|e| EmulatorError::io(&path, e))
    }

    /// Deletes the repo: its metadata first (so it stops existing at once), then its
    /// git repository. Returns whether it existed. The caller holds the repo's lock.
    pub(crate) fn delete(&self, key: &RepoKey) -> Result<bool, EmulatorError> {
        let path = self.meta_path(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(EmulatorError::io(path, e)),
        }
        let git_dir = self.git_dir(key);
        match fs::remove_dir_all(&git_dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(EmulatorError::io(git_dir, e)),
        }
    }

    /// Every existing repo of `repo_type` with its metadata, sorted by id.
    pub(crate) fn list(&self, repo_type: RepoType) -> Result<Vec<(RepoKey, RepoMeta)>, EmulatorError> {
        let type_dir = self.root.join(repo_type.plural());
        let mut repos = Vec::new();
        for ns_dir in read_dir_names(&type_dir)? {
            let ns_path = type_dir.join(&ns_dir);
            for file in read_dir_names(&ns_path)? {
                let Some(name) = file.strip_suffix(".json") else {
                    continue;
                };
                let repo_id = if ns_dir == "_" {
                    name.to_string()
                } else {
                    format!("{ns_dir}/{name}")
                };
                if !is_valid_repo_id(&repo_id) {
                    continue;
                }
                let key = RepoKey { repo_type, repo_id };
                if let Some(meta) = self.read_meta(&key)? {
                    repos.push((key, meta));
                }
            }
        }
        repos.sort_by(|a, b| a.0.repo_id.cmp(&b.0.repo_id));
        Ok(repos)
    }
}

/// The entry names of a folder; an absent folder has none.
fn read_dir_names(dir: &Path) -> Result<Vec<String>, EmulatorError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EmulatorError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| EmulatorError::io(dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}
