//! The file tree of one commit, with LFS pointers already read, cached by commit sha
//! (commits never change, so a listing never goes stale).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::git::Git;
use super::lfs_store::{LfsPointer, MAX_POINTER_SIZE};
use crate::EmulatorError;

/// An LFS file's facts, as the Hub reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LfsInfo {
    /// The sha256 of the content.
    pub(crate) oid: String,
    /// The content's size.
    pub(crate) size: u64,
    /// The size of the pointer file git stores.
    pub(crate) pointer_size: u64,
}

/// A file or folder of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The path from the repo root, `/`-separated.
    pub(crate) path: String,
    /// The git object id: blob sha for files (of the pointer for LFS files), tree sha for folders.
    pub(crate) oid: String,
    /// What it is.
    pub(crate) kind: EntryKind,
}

/// File or folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A file.
    File {
        /// The size of the content (of the LFS content for LFS files).
        size: u64,
        /// Set for LFS files.
        lfs: Option<LfsInfo>,
    },
    /// A folder.
    Directory,
}

impl Entry {
    /// Whether this is a file.
    pub(crate) fn is_file(&self) -> bool {
        matches!(self.kind, EntryKind::File { .. })
    }

    /// The content size of a file, 0 for a folder.
    pub(crate) fn size(&self) -> u64 {
        match &self.kind {
            EntryKind::File { size, .. } => *size,
            EntryKind::Directory => 0,
        }
    }

    /// The LFS facts of an LFS file.
    pub(crate) fn lfs(&self) -> Option<&LfsInfo> {
        match &self.kind {
            EntryKind::File { lfs, .. } => lfs.as_ref(),
            EntryKind::Directory => None,
        }
    }

    /// The folder holding this entry (`""` for the root).
    pub(crate) fn parent(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(parent, _)| parent)
    }
}

/// Every file and folder of one commit, in git's tree order (a folder before its content).
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The commit sha.
    pub(crate) commit: String,
    /// The committer date, milliseconds since the epoch.
    pub(crate) committed_at_millis: i64,
    /// The entries.
    pub(crate) entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Snapshot {
    /// The entry at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<&Entry> {
        self.index.get(path).map(|i| &self.entries[*i])
    }

    /// Every file, in tree order.
    pub(crate) fn files(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_file())
    }

    /// The entries under folder `dir` (`""` for the root): direct children, or all
    /// descendants when `recursive`.
    pub(crate) fn list(&self, dir: &str, recursive: bool) -> Vec<&Entry> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .iter()
            .filter(|e| {
                if recursive {
                    e.path.starts_with(&prefix)
                } else {
                    e.parent() == dir
                }
            })
            .collect()
    }

    /// The sum of the files' content sizes.
    pub(crate) fn total_size(&self) -> u64 {
        self.files().map(Entry::size).sum()
    }

    /// Reads the commit's tree with `git ls-tree` and its small blobs with `git cat-file --batch`.
    pub(crate) fn load(git: Git<'_>, commit: &str) -> Result<Snapshot, EmulatorError> {
        let listing = git.run(&["ls-tree", "-r", "-t", "-l", "--full-tree", "-z", commit], None)?;
        let mut entries = Vec::new();
        let mut candidates: Vec<(usize, String)> = Vec::new();
        for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let tab = record
                .iter()
                .position(|b| *b == b'\t')
                .ok_or_else(|| git.bad_output("ls-tree"))?;
            let head = std::str::from_utf8(&record[..tab]).map_err(|_| git.bad_output("ls-tree"))?;
            let path = String::from_utf8_lossy(&record[tab + 1..]).into_owned();
            let fields: Vec<&str> = head.split_whitespace().collect();
            let [_mode, kind, oid, size] = fields.as_slice() else {
                return Err(git.bad_output("ls-tree"));
            };
            match *kind {
                "tree" => entries.push(Entry {
                    path,
                    oid: oid.to_string(),
                    kind: EntryKind::Directory,
                }),
                "blob" => {
                    let size: u64 = size.parse().map_err(|_| git.bad_output("ls-tree"))?;
                    if size <= MAX_POINTER_SIZE {
                        candidates.push((entries.len(), oid.to_string()));
                    }
                    entries.push(Entry {
                        path,
                        oid: oid.to_string(),
                        kind: EntryKind::File { size, lfs: None },
                    });
                }
                // Submodules have no content to serve.
                _ => {}
            }
        }

        let mut oids: Vec<&str> = vec![commit];
        oids.extend(candidates.iter().map(|(_, oid)| oid.as_str()));
        let objects = git.cat_file_batch(&oids)?;
        let committed_at_millis = match objects.first() {
            Some(Some(object)) if object.kind == "commit" => committer_time(&object.content)
                .ok_or_else(|| git.bad_output("cat-file"))?
                .saturating_mul(1000),
            _ => return Err(git.bad_output("cat-file")),
        };
        for ((index, _), object) in candidates.iter().zip(objects.iter().skip(1)) {
            let Some(content) = object.as_ref().map(|o| &o.content) else {
                continue;
            };
            if let Some(pointer) = LfsPointer::parse(content) {
                entries[*index].kind = EntryKind::File {
                    size: pointer.size,
                    lfs: Some(LfsInfo {
                        oid: pointer.oid,
                        size: pointer.size,
                        pointer_size: content.len() as u64,
                    }),
                };
            }
        }
        let index = entries.iter().enumerate().map(|(i, e)| (e.path.clone(), i)).collect();
        Ok(Snapshot {
            commit: commit.to_string(),
            committed_at_millis,
            entries,
            index,
        })
    }
}

/// The committer timestamp (seconds) of a raw commit object.
fn committer_time(commit: &[u8]) -> Option<i64> {
    let text = String::from_utf8_lossy(commit);
    let line = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.starts_with("committer "))?;
    let mut fields = line.rsplit(' ');
    let _tz = fields.next()?;
    fields.next()?.parse().ok()
}

/// Snapshots by repository and commit.
#[derive(Debug, Default)]
pub(crate) struct SnapshotCache {
    map: Mutex<HashMap<(PathBuf, String), Arc<Snapshot>>>,
}

/// Beyond this many snapshots the cache starts over, bounding memory in long runs.
const MAX_CACHED: usize = 4096;

impl SnapshotCache {
    /// The snapshot of `commit` (a full sha) in the repository at `git_dir`.
    pub(crate) fn get(&self, git_dir: &Path, commit: &str) -> Result<Arc<Snapshot>, EmulatorError> {
        let key = (git_dir.to_path_buf(), commit.to_string());
        if let Some(hit) = self.lock().get(&key) {
            return Ok(hit.clone());
        }
        let snapshot = Arc::new(Snapshot::load(Git::new(git_dir), commit)?);
        let mut map = self.lock();
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(key, snapshot.clone());
        Ok(snapshot)
    }

    /// Whether the snapshot of `commit` in `git_dir` is cached (so the commit exists).
    pub(crate) fn contains(&self, git_dir: &Path, commit: &str) -> bool {
        self.lock().contains_key(&(git_dir.to_path_buf(), commit.to_string()))
    }

    /// Forgets every snapshot of the repository at `git_dir` (it was deleted: a repo
    /// created again at the same place must not find the old commits here).
    pub(crate) fn forget_repo(&self, git_dir: &Path) {
        self.lock().retain(|(dir, _), _| dir != git_dir);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, String), Arc<Snapshot>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
