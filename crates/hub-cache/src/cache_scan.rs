//! `scan_cache` and `delete_revisions`: what the cache holds and how to free
//! space, with the Python client's `scan_cache_dir` rules and warnings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hub_url::{RepoId, RepoType};

use crate::error::{Error, Result};
use crate::shared_blobs::{STORE_DIR, SharedStore, absolute};

/// Names the Python client ignores when scanning.
const FILES_TO_IGNORE: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// Everything in a cache folder.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CacheInfo {
    /// The cache folder.
    pub cache_dir: PathBuf,
    /// The repos, sorted by type and id.
    pub repos: Vec<CachedRepo>,
    /// Bytes of all blobs, each counted once: a file of the shared store
    /// once however many repos link to it, and also when none does any more.
    /// It can be less than the sum of the repos' sizes.
    pub size_on_disk: u64,
    /// What could not be read as a cache entry (the folder, and why).
    pub warnings: Vec<String>,
}

/// One repo of the cache.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CachedRepo {
    /// The repo id.
    pub repo_id: RepoId,
    /// The repo type.
    pub repo_type: RepoType,
    /// `{cache}/models--org--name`.
    pub repo_path: PathBuf,
    /// Bytes of its blobs that snapshots use (a blob linked to the shared
    /// store counts with the size of the file it links to, in every repo
    /// that links to it).
    pub size_on_disk: u64,
    /// How many distinct blobs its snapshots use.
    pub nb_files: usize,
    /// Its cached revisions, sorted by commit.
    pub revisions: Vec<CachedRevision>,
    /// Refs (`main`, `refs/pr/1`) and the commit each points to.
    pub refs: BTreeMap<String, String>,
    /// The newest access time of its blobs.
    pub last_accessed: Option<SystemTime>,
    /// The newest modification time of its blobs (or of the folder).
    pub last_modified: Option<SystemTime>,
}

/// One snapshot of a repo.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CachedRevision {
    /// The commit.
    pub commit_hash: String,
    /// `snapshots/{commit}`.
    pub snapshot_path: PathBuf,
    /// Bytes of the blobs it uses.
    pub size_on_disk: u64,
    /// Its files, sorted by path.
    pub files: Vec<CachedFile>,
    /// The refs that point to it.
    pub refs: BTreeSet<String>,
    /// The newest modification time of its blobs.
    pub last_modified: Option<SystemTime>,
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CachedFile {
    /// The path in the repo.
    pub file_name: String,
    /// The path in the snapshot.
    pub file_path: PathBuf,
    /// The blob it points to (itself, where symlinks are off): the repo's
    /// `blobs/{etag}`, even when that is itself a link to the shared store.
    pub blob_path: PathBuf,
    /// The blob's size.
    pub size_on_disk: u64,
    /// When the blob was last read.
    pub blob_last_accessed: Option<SystemTime>,
    /// When the blob was last written.
    pub blob_last_modified: Option<SystemTime>,
}

/// What deleting some revisions would remove, to show before doing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteStrategy {
    /// Bytes that would be freed.
    pub expected_freed_size: u64,
    /// Blobs no remaining revision uses.
    pub blobs: BTreeSet<PathBuf>,
    /// Refs that point to deleted revisions.
    pub refs: BTreeSet<PathBuf>,
    /// Whole repo folders (all their revisions are deleted).
    pub repos: BTreeSet<PathBuf>,
    /// Snapshot folders.
    pub snapshots: BTreeSet<PathBuf>,
    /// Revisions asked for that the cache does not hold.
    pub not_found: Vec<String>,
    /// Files of the shared store (`{cache}/blobs/{xx}/{hash}`) that deleted
    /// blobs link to: once the links are gone, each is removed if its
    /// manifest names no other live link.
    pub shared_blobs: BTreeSet<PathBuf>,
}

/// Reads a cache folder like the Python client's `scan_cache_dir`. Entries
/// that are not valid cache entries become warnings, not errors.
///
/// ```no_run
/// use hub_cache::{HubConfig, scan_cache};
///
/// # fn main() -> Result<(), hub_cache::Error> {
/// let info = scan_cache(&HubConfig::from_env()?.hub_cache)?;
/// for repo in &info.repos {
///     println!("{} {} bytes", repo.repo_id, repo.size_on_disk);
/// }
/// # Ok(())
/// # }
/// ```
pub fn scan_cache(cache_dir: &Path) -> Result<CacheInfo> {
    let entries = std::fs::read_dir(cache_dir).map_err(Error::io("read the cache folder", cache_dir))?;
    let mut repos = Vec::new();
    let mut warnings = Vec::new();
    let mut all_blobs = BTreeMap::new();
    let store = SharedStore::new(cache_dir);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if FILES_TO_IGNORE.contains(&name.as_str()) || name == ".locks" || name == "CACHEDIR.TAG" {
            continue;
        }
        if name == STORE_DIR && store.is_marked() {
            continue;
        }
        match scan_repo(&entry.path()) {
            Ok((repo, blobs)) => {
                all_blobs.extend(blobs);
                repos.push(repo);
            }
            Err(warning) => warnings.push(warning),
        }
    }
    repos.sort_by(|a, b| (a.repo_type.as_str(), &a.repo_id).cmp(&(b.repo_type.as_str(), &b.repo_id)));
    if store.is_marked() {
        // Links to the store count as the store's files, each once, with
        // those no repo links to any more.
        all_blobs.retain(|blob, _| store.target_of(blob).is_none());
        for blob in store.blobs() {
            if let Ok(meta) = std::fs::metadata(&blob) {
                all_blobs.insert(blob, meta.len());
            }
        }
    }
    Ok(CacheInfo {
        cache_dir: cache_dir.to_path_buf(),
        repos,
        size_on_disk: all_blobs.values().sum(),
        warnings,
    })
}

type BlobSizes = BTreeMap<PathBuf, u64>;

fn scan_repo(repo_path: &Path) -> std::result::Result<(CachedRepo, BlobSizes), String> {
    let show = repo_path.display();
    if !repo_path.is_dir() {
        return Err(format!("Repo path is not a directory: {show}"));
    }
    let folder = repo_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((prefix, rest)) = folder.split_once("--") else {
        return Err(format!("Repo path is not a valid HuggingFace cache directory: {show}"));
    };
    let repo_type = match prefix {
        "models" => RepoType::Model,
        "datasets" => RepoType::Dataset,
        "spaces" => RepoType::Space,
        _ => {
            return Err(format!(
                "Repo type must be `dataset`, `model` or `space`, found `{prefix}` ({show})"
            ));
        }
    };
    let repo_id = RepoId::new(&rest.replace("--", "/")).map_err(|e| format!("{e} ({show})"))?;
    let snapshots = repo_path.join("snapshots");
    if !snapshots.is_dir() {
        return Err(format!(
            "Snapshots dir doesn't exist in cached repo: {}",
            snapshots.display()
        ));
    }

    let mut refs = BTreeMap::new();
    let refs_path = repo_path.join("refs");
    if refs_path.is_file() {
        return Err(format!("Refs directory cannot be a file: {}", refs_path.display()));
    }
    for file in walk_files(&refs_path) {
        let name = file
            .strip_prefix(&refs_path)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if FILES_TO_IGNORE.iter().any(|i| name.ends_with(i)) {
            continue;
        }
        let commit = std::fs::read_to_string(&file).map_err(|e| format!("{e} ({})", file.display()))?;
        refs.insert(name, commit.trim().to_string());
    }

    let mut blob_sizes = BlobSizes::new();
    let mut blob_times = BTreeMap::new();
    let mut revisions = Vec::new();
    let revision_dirs = std::fs::read_dir(&snapshots).map_err(|e| format!("{e} ({})", snapshots.display()))?;
    for revision_dir in revision_dirs.flatten() {
        let revision_path = revision_dir.path();
        let commit = revision_dir.file_name().to_string_lossy().into_owned();
        if FILES_TO_IGNORE.contains(&commit.as_str()) {
            continue;
        }
        if revision_path.is_file() {
            return Err(format!(
                "Snapshots folder corrupted. Found a file: {}",
                revision_path.display()
            ));
        }
        let mut files = Vec::new();
        for file_path in walk_files(&revision_path) {
            let blob_path = match std::fs::read_link(&file_path) {
                Ok(target) => normalize(&file_path.parent().unwrap_or(Path::new("/")).join(target)),
                Err(_) => file_path.clone(),
            };
            let meta = std::fs::metadata(&blob_path)
                .map_err(|_| format!("Blob missing (broken symlink): {}", blob_path.display()))?;
            blob_sizes.insert(blob_path.clone(), meta.len());
            blob_times.insert(blob_path.clone(), (meta.accessed().ok(), meta.modified().ok()));
            files.push(CachedFile {
                file_name: file_path
                    .strip_prefix(&revision_path)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default(),
                file_path,
                size_on_disk: meta.len(),
                blob_last_accessed: meta.accessed().ok(),
                blob_last_modified: meta.modified().ok(),
                blob_path,
            });
        }
        files.sort_by(|a, b| a.file_name.cmp(&b.file_name));
        let unique: BTreeMap<_, _> = files.iter().map(|f| (&f.blob_path, f.size_on_disk)).collect();
        let last_modified = files.iter().filter_map(|f| f.blob_last_modified).max();
        revisions.push(CachedRevision {
            refs: refs
                .iter()
                .filter(|(_, c)| **c == commit)
                .map(|(name, _)| name.clone())
                .collect(),
            commit_hash: commit,
            snapshot_path: revision_path,
            size_on_disk: unique.values().sum(),
            files,
            last_modified,
        });
    }
    revisions.sort_by(|a, b| a.commit_hash.cmp(&b.commit_hash));
    let dangling: Vec<_> = refs
        .iter()
        .filter(|(_, c)| !revisions.iter().any(|r| &r.commit_hash == *c))
        .collect();
    if !dangling.is_empty() {
        return Err(format!(
            "Reference(s) refer to missing commit hashes: {dangling:?} ({show})."
        ));
    }
    let folder_modified = std::fs::metadata(repo_path).and_then(|m| m.modified()).ok();
    let repo = CachedRepo {
        repo_id,
        repo_type,
        repo_path: repo_path.to_path_buf(),
        size_on_disk: blob_sizes.values().sum(),
        nb_files: blob_sizes.len(),
        revisions,
        refs,
        last_accessed: blob_times.values().filter_map(|t| t.0).max().or(folder_modified),
        last_modified: blob_times.values().filter_map(|t| t.1).max().or(folder_modified),
    };
    Ok((repo, blob_sizes))
}

/// Every file (or symlink) below a folder; none when it does not exist.
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out
}

/// Removes `.` and `..` without touching the disk (symlink targets are relative).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl CacheInfo {
    /// What deleting these revisions (commit hashes) would remove. Blobs still
    /// used by another revision stay; a repo whose every revision goes is
    /// removed whole.
    pub fn delete_revisions(&self, commits: &[&str]) -> DeleteStrategy {
        let mut wanted: BTreeSet<&str> = commits.iter().copied().collect();
        let mut strategy = DeleteStrategy::default();
        let mut freed: BTreeMap<PathBuf, u64> = BTreeMap::new();
        for repo in &self.repos {
            let (gone, kept): (Vec<_>, Vec<_>) = repo
                .revisions
                .iter()
                .partition(|r| wanted.contains(r.commit_hash.as_str()));
            if gone.is_empty() {
                continue;
            }
            for revision in &gone {
                wanted.remove(revision.commit_hash.as_str());
            }
            if kept.is_empty() {
                strategy.repos.insert(repo.repo_path.clone());
                for file in gone.iter().flat_map(|r| &r.files) {
                    freed.insert(file.blob_path.clone(), file.size_on_disk);
                }
                continue;
            }
            let kept_blobs: BTreeSet<&PathBuf> = kept.iter().flat_map(|r| &r.files).map(|f| &f.blob_path).collect();
            for revision in gone {
                strategy.snapshots.insert(revision.snapshot_path.clone());
                for name in &revision.refs {
                    strategy.refs.insert(repo.repo_path.join("refs").join(name));
                }
                // A snapshot link may point anywhere; only the repo's own blobs are deleted.
                let own_blobs = repo.repo_path.join("blobs");
                for file in &revision.files {
                    if !kept_blobs.contains(&file.blob_path) && file.blob_path.starts_with(&own_blobs) {
                        strategy.blobs.insert(file.blob_path.clone());
                        freed.insert(file.blob_path.clone(), file.size_on_disk);
                    }
                }
            }
        }
        strategy.not_found = wanted.into_iter().map(str::to_string).collect();
        let store = SharedStore::new(&self.cache_dir);
        if !store.is_marked() {
            strategy.expected_freed_size = freed.values().sum();
            return strategy;
        }
        // A link to the store frees its file only when every live link to
        // it goes, and then once.
        // As the manifests name them: absolute, whatever path the scan was given.
        let unlinked: BTreeSet<PathBuf> = freed.keys().map(|blob| absolute(blob)).collect();
        let mut shared = BTreeSet::new();
        for (blob, size) in &freed {
            match store.target_of(blob) {
                Some(target) => {
                    shared.insert(target);
                }
                None => strategy.expected_freed_size += size,
            }
        }
        strategy.expected_freed_size += shared
            .iter()
            .map(|target| store.freed_by_deleting(target, &unlinked))
            .sum::<u64>();
        // Every link a deleted repo folder holds, used by a snapshot or not.
        let in_deleted_repos = strategy
            .repos
            .iter()
            .flat_map(|repo| std::fs::read_dir(repo.join("blobs")).into_iter().flatten().flatten())
            .map(|entry| entry.path());
        for blob in in_deleted_repos.chain(strategy.blobs.iter().cloned()) {
            if let Some(target) = store.target_of(&blob) {
                shared.insert(target);
            }
        }
        strategy.shared_blobs = shared;
        strategy
    }
}

impl CacheInfo {
    /// What removing the shared store's files that no repo links to any more
    /// would free (left behind when a repo folder is deleted by hand or by
    /// an older client), as the Python client's `hf cache prune` collects
    /// them. A file whose manifest is missing or unreadable is never listed.
    pub fn prune_shared_blobs(&self) -> DeleteStrategy {
        let unreferenced = SharedStore::new(&self.cache_dir).unreferenced();
        DeleteStrategy {
            expected_freed_size: unreferenced.values().sum(),
            shared_blobs: unreferenced.into_keys().collect(),
            ..DeleteStrategy::default()
        }
    }
}

impl DeleteStrategy {
    /// Deletes what the strategy lists. Files already gone are not an error.
    pub fn execute(&self) -> Result<()> {
        let ignore_missing = |path: &Path, result: std::io::Result<()>| match result {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
                action: "delete",
                path: path.to_path_buf(),
                source: e,
            }),
            _ => Ok(()),
        };
        for repo in &self.repos {
            ignore_missing(repo, std::fs::remove_dir_all(repo))?;
        }
        for snapshot in &self.snapshots {
            ignore_missing(snapshot, std::fs::remove_dir_all(snapshot))?;
        }
        for path in self.refs.iter().chain(&self.blobs) {
            ignore_missing(path, std::fs::remove_file(path))?;
        }
        for shared in &self.shared_blobs {
            // `{cache}/blobs/{xx}/{hash}`: the store checks that it is one of its files.
            if let Some(cache_dir) = shared.ancestors().nth(3) {
                SharedStore::new(cache_dir).sweep(shared);
            }
        }
        Ok(())
    }
}
