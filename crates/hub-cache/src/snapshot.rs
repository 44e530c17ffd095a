//! `snapshot_download`: every file of a revision (or those the patterns pick),
//! fetched in parallel from one tree listing, with no request per file but the
//! transfer itself.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use hub_api::{HubClient, ListTreeOptions, RepoInfoOptions, RepoTreeEntry};
use hub_url::{HubConfig, RepoId, RepoType, Revision, hf_hub_url};

use crate::connection_budget::ConnectionBudget;
use crate::download::{
    FetchOptions, RemoteFile, cached_commit, fetch_setters, is_offline_failure, not_cached, place_in_cache, target,
    write_ref,
};
use crate::error::{Error, Result};
use crate::local_dir::{LocalPaths, place, read_metadata};
use crate::progress::Progress;
use crate::repo_cache::{RepoCache, safe_relative_path};
use crate::tree_cache::{self, TreeEntry};
use hub_url::filter_path;

/// Options of [`snapshot_download`]: which revision, which of its files, and
/// how to fetch them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SnapshotOptions<'a> {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The branch, tag or commit (default `main`).
    pub revision: Revision,
    /// Only paths matching one of these globs (all when empty).
    pub allow_patterns: Vec<String>,
    /// Leave out paths matching any of these globs.
    pub ignore_patterns: Vec<String>,
    /// Files fetched at once (16 by default: small files are bound by round
    /// trips, so more of them in flight hide the latency).
    pub max_workers: usize,
    /// Where the files go and how they are fetched.
    pub fetch: FetchOptions<'a>,
}

impl SnapshotOptions<'static> {
    /// Defaults with this cache root.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        SnapshotOptions::with_fetch(FetchOptions::new(cache_dir))
    }

    /// Defaults from the configuration: its cache, offline mode, symlink
    /// setting, metadata and download timeouts.
    pub fn from_config(config: &HubConfig) -> Self {
        SnapshotOptions::with_fetch(FetchOptions::from_config(config))
    }
}

impl<'a> SnapshotOptions<'a> {
    /// Defaults (a model at `main`, every file, 16 at once) with these fetch options.
    pub fn with_fetch(fetch: FetchOptions<'a>) -> Self {
        SnapshotOptions {
            repo_type: RepoType::Model,
            revision: Revision::main(),
            allow_patterns: Vec::new(),
            ignore_patterns: Vec::new(),
            max_workers: 16,
            fetch,
        }
    }

    /// The repo type.
    pub fn repo_type(mut self, repo_type: RepoType) -> Self {
        self.repo_type = repo_type;
        self
    }

    /// The branch, tag or commit.
    pub fn revision(mut self, revision: Revision) -> Self {
        self.revision = revision;
        self
    }

    /// Only paths matching one of these globs.
    pub fn allow_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allow_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Leave out paths matching any of these globs.
    pub fn ignore_patterns(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.ignore_patterns = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Files fetched at once (at least one).
    pub fn max_workers(mut self, workers: usize) -> Self {
        self.max_workers = workers;
        self
    }

    /// The same options reporting progress to `progress`.
    pub fn progress<'b>(self, progress: &'b dyn Progress) -> SnapshotOptions<'b> {
        SnapshotOptions {
            repo_type: self.repo_type,
            revision: self.revision,
            allow_patterns: self.allow_patterns,
            ignore_patterns: self.ignore_patterns,
            max_workers: self.max_workers,
            fetch: self.fetch.progress(progress),
        }
    }
}

fetch_setters!(SnapshotOptions, fetch);

/// A file of the tree to fetch.
struct TreeFile {
    path: String,
    etag: String,
    size: u64,
    is_lfs: bool,
    xet_hash: Option<String>,
}

/// Downloads a revision's files into the cache (or `local_dir`) and returns
/// the snapshot folder (or `local_dir`).
///
/// ```no_run
/// use hub_cache::{HubClient, HubConfig, RepoId, SnapshotOptions, snapshot_download};
///
/// # fn main() -> Result<(), hub_cache::Error> {
/// let config = HubConfig::from_env()?;
/// let client = HubClient::from_config(&config)?;
/// let options = SnapshotOptions::from_config(&config).allow_patterns(["*.json", "*.safetensors"]);
/// let folder = snapshot_download(&client, &RepoId::new("org/model")?, &options)?;
/// # Ok(())
/// # }
/// ```
pub fn snapshot_download(client: &HubClient, repo_id: &RepoId, options: &SnapshotOptions<'_>) -> Result<PathBuf> {
    let fetch = &options.fetch;
    let client = &client.for_call(&fetch.call);
    let revision = options.revision.clone();
    let cache = RepoCache::new(&fetch.cache_dir, options.repo_type, repo_id);
    if fetch.local_files_only {
        return cached_snapshot(&cache, &revision, options)
            .ok_or_else(|| not_cached(repo_id, &revision, "*", &fetch.cache_dir));
    }
    let commit = if revision.is_commit_hash() {
        revision.as_str().to_string()
    } else {
        let info_options = RepoInfoOptions::default()
            .repo_type(options.repo_type)
            .revision(revision.clone());
        match client.repo_info(repo_id, &info_options) {
            Ok(info) => info.sha.ok_or_else(|| hub_api::Error::InvalidResponse {
                url: client.endpoint().api_url(options.repo_type, repo_id),
                reason: "the repo info has no commit (sha)".into(),
            })?,
            Err(error) if is_offline_failure(&error) => {
                let cached = cached_snapshot(&cache, &revision, options);
                log::debug!(
                    "the Hub could not be reached for {repo_id} ({error}); {}",
                    match cached {
                        Some(_) => "serving the cached snapshot",
                        None => "no complete cached snapshot",
                    }
                );
                return cached.ok_or_else(|| error.into());
            }
            Err(error) => return Err(error.into()),
        }
    };
    let commit_revision = Revision::new(&commit)?;
    let listing = tree_listing(
        client,
        repo_id,
        &commit_revision,
        &tree_folder(&cache, options),
        options,
    )?;
    let files: Vec<TreeFile> = listing
        .into_iter()
        .map(|(path, entry)| TreeFile {
            etag: entry.etag().to_string(),
            is_lfs: entry.lfs_sha256.is_some(),
            size: entry.size,
            xet_hash: entry.xet_hash.clone(),
            path,
        })
        .collect();
    // Paths come from the server: refuse the whole snapshot before writing anything
    // if one of them would leave the folder.
    for file in &files {
        safe_relative_path(&file.path)?;
    }
    if fetch.local_dir.is_none() && revision.as_str() != commit {
        write_ref(&cache, revision.as_str(), &commit)?;
    }

    let budget = ConnectionBudget::new(fetch.transfer.connections.max(options.max_workers));
    let queue = Mutex::new(files.into_iter().collect::<VecDeque<_>>());
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let workers = options.max_workers.max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::SeqCst) {
                    let Some(file) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                        return;
                    };
                    let remote = RemoteFile {
                        path: &file.path,
                        commit: &commit,
                        etag: &file.etag,
                        size: Some(file.size),
                        is_lfs: file.is_lfs,
                        xet_hash: file.xet_hash.as_deref(),
                        // The read-token route of the repo at the commit.
                        xet_refresh_route: None,
                        url: hf_hub_url(
                            repo_id,
                            &file.path,
                            &commit_revision,
                            options.repo_type,
                            client.endpoint(),
                        ),
                        url_is_final: !file.is_lfs,
                        target: target(repo_id, options.repo_type, &revision, &file.path),
                    };
                    let placed = match &fetch.local_dir {
                        Some(dir) => LocalPaths::new(dir, &file.path).and_then(|paths| {
                            let known = read_metadata(&paths);
                            place(client, &paths, &remote, known, fetch, &budget)
                        }),
                        None => place_in_cache(client, &cache, &remote, fetch, &budget),
                    };
                    if let Err(error) = placed {
                        failed.store(true, Ordering::SeqCst);
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(error);
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = first_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(error);
    }
    match &fetch.local_dir {
        Some(dir) => Ok(dir.clone()),
        None => {
            let folder = cache.snapshot_dir(&commit)?;
            std::fs::create_dir_all(&folder).map_err(Error::io("create", &folder))?;
            Ok(folder)
        }
    }
}

/// The snapshot folder of a revision, when the cache has one; when the
/// commit's listing is cached too, only if every file the patterns pick is there.
fn cached_snapshot(cache: &RepoCache, revision: &Revision, options: &SnapshotOptions<'_>) -> Option<PathBuf> {
    if let Some(dir) = &options.fetch.local_dir {
        return dir.exists().then(|| dir.clone());
    }
    let commit = cached_commit(cache, revision)?;
    let folder = cache.snapshot_dir(&commit).ok()?;
    if !folder.is_dir() {
        return None;
    }
    let picked = |path: &str| filter_path(path, &options.allow_patterns, &options.ignore_patterns);
    if let Some(listing) = tree_cache::read(&cache.root(), &commit, &picked) {
        let complete = listing
            .keys()
            .all(|path| cache.snapshot_path(&commit, path).is_ok_and(|p| p.exists()));
        if !complete {
            return None;
        }
    }
    Some(folder)
}

/// Where the listing cache of this download lives: beside the snapshots, or
/// in `local_dir/.cache/huggingface`.
fn tree_folder(cache: &RepoCache, options: &SnapshotOptions<'_>) -> PathBuf {
    match &options.fetch.local_dir {
        Some(dir) => dir.join(".cache").join("huggingface"),
        None => cache.root(),
    }
}

/// The commit's files that the patterns pick: from the listing cache, else
/// from one paginated tree listing, saved to the cache entry by entry as it
/// arrives. Only the picked files are held: a listing of millions of files
/// costs the memory of the files asked for.
fn tree_listing(
    client: &HubClient,
    repo_id: &RepoId,
    commit: &Revision,
    folder: &std::path::Path,
    options: &SnapshotOptions<'_>,
) -> Result<BTreeMap<String, TreeEntry>> {
    let picked = |path: &str| filter_path(path, &options.allow_patterns, &options.ignore_patterns);
    if let Some(listing) = tree_cache::read(folder, commit.as_str(), &picked) {
        log::debug!("the file listing of {repo_id} at {commit} is in the cache: no listing request");
        return Ok(listing);
    }
    let tree_options = ListTreeOptions::default()
        .repo_type(options.repo_type)
        .revision(commit.clone())
        .recursive(true);
    let mut saved = tree_cache::ListingWriter::create(folder, commit.as_str());
    let mut listing = BTreeMap::new();
    for entry in client.list_repo_tree(repo_id, &tree_options) {
        if let RepoTreeEntry::File {
            path,
            size,
            oid,
            lfs,
            xet_hash,
            ..
        } = entry?
        {
            let entry = TreeEntry {
                size,
                blob_id: oid,
                lfs_sha256: lfs.as_ref().map(|l| l.sha256.clone()),
                lfs_size: lfs.as_ref().map(|l| l.size),
                xet_hash,
            };
            saved.add(&path, &entry);
            if picked(&path) {
                listing.insert(path, entry);
            }
        }
    }
    saved.finish();
    Ok(listing)
}
