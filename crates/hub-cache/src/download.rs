//! `hf_hub_download`: one file of a repo, through the cache.

use std::path::{Path, PathBuf};

use hub_api::{FileMetadata, HubClient, RequestTarget};
use hub_url::{HubConfig, RepoId, RepoType, Revision, hf_hub_url};

use crate::blob_lock::BlobLock;
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, TransferSettings, fetch_blob};
use crate::progress::Progress;
use crate::repo_cache::RepoCache;
use crate::snapshot_link::link_blob;

/// Options of [`hf_hub_download`].
#[derive(Clone)]
pub struct DownloadOptions<'a> {
    /// The repo type.
    pub repo_type: RepoType,
    /// The branch, tag or commit (default `main`).
    pub revision: Option<Revision>,
    /// A folder of the repo the filename is relative to.
    pub subfolder: Option<String>,
    /// The cache root (`HF_HUB_CACHE`).
    pub cache_dir: PathBuf,
    /// Fetch again even when cached.
    pub force_download: bool,
    /// Never use the network: serve from the cache or fail with [`Error::NotCached`].
    pub local_files_only: bool,
    /// Copy blobs into snapshots instead of linking them.
    pub disable_symlinks: bool,
    /// How blobs are fetched (connections, range size, verification).
    pub transfer: TransferSettings,
    /// Receives progress events.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for DownloadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("repo_type", &self.repo_type)
            .field("revision", &self.revision)
            .field("subfolder", &self.subfolder)
            .field("cache_dir", &self.cache_dir)
            .field("force_download", &self.force_download)
            .field("local_files_only", &self.local_files_only)
            .field("disable_symlinks", &self.disable_symlinks)
            .field("transfer", &self.transfer)
            .finish_non_exhaustive()
    }
}

impl DownloadOptions<'static> {
    /// Defaults with this cache root.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        DownloadOptions {
            repo_type: RepoType::Model,
            revision: None,
            subfolder: None,
            cache_dir: cache_dir.into(),
            force_download: false,
            local_files_only: false,
            disable_symlinks: false,
            transfer: TransferSettings::default(),
            progress: &(),
        }
    }

    /// Defaults from the configuration: its cache, offline mode and symlink setting.
    pub fn from_config(config: &HubConfig) -> Self {
        DownloadOptions {
            local_files_only: config.offline,
            disable_symlinks: config.disable_symlinks,
            ..Self::new(config.hub_cache.clone())
        }
    }
}

/// Downloads one file of a repo into the cache (or finds it there) and returns
/// its path inside `snapshots/{commit}/`, as the Python client does.
pub fn hf_hub_download(
    client: &HubClient,
    repo_id: &RepoId,
    filename: &str,
    options: &DownloadOptions<'_>,
) -> Result<PathBuf> {
    let revision = options.revision.clone().unwrap_or_default();
    let path = match options
        .subfolder
        .as_deref()
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty())
    {
        Some(sub) => format!("{sub}/{filename}"),
        None => filename.to_string(),
    };
    // A path that would leave the snapshot folder is refused before any request.
    crate::repo_cache::safe_relative_path(&path)?;
    let cache = RepoCache::new(&options.cache_dir, options.repo_type, repo_id);

    // A pinned commit whose file is cached costs no request.
    if revision.is_commit_hash() && !options.force_download {
        let pointer = cache.snapshot_path(revision.as_str(), &path)?;
        if pointer.exists() {
            return Ok(pointer);
        }
    }
    if options.local_files_only {
        return cached_pointer(&cache, &revision, &path)?
            .ok_or_else(|| not_cached(repo_id, &revision, &path, &options.cache_dir));
    }

    let url = hf_hub_url(
        repo_id,
        &path,
        Some(&revision),
        options.repo_type,
        client.endpoint(),
    );
    let target = RequestTarget::repo(options.repo_type, repo_id)
        .at(revision.as_str())
        .file(&path);
    let metadata = match client.file_metadata(&url, target.clone()) {
        Ok(metadata) => metadata,
        Err(error @ hub_api::Error::EntryNotFound { .. }) => {
            if let hub_api::Error::EntryNotFound {
                commit: Some(commit),
                ..
            } = &error
            {
                mark_absent(&cache, &revision, commit, &path);
            }
            return Err(error.into());
        }
        Err(error) if is_offline_failure(&error) => {
            // The network failed: a cached copy of the same revision still serves.
            return cached_pointer(&cache, &revision, &path)?.ok_or(Error::Api(error));
        }
        Err(error) => return Err(error.into()),
    };
    fetch_into_cache(client, &cache, &revision, &path, &metadata, target, options)
}

fn fetch_into_cache(
    client: &HubClient,
    cache: &RepoCache,
    revision: &Revision,
    path: &str,
    metadata: &FileMetadata,
    target: RequestTarget,
    options: &DownloadOptions<'_>,
) -> Result<PathBuf> {
    let commit = metadata.commit_hash.as_str();
    let pointer = cache.snapshot_path(commit, path)?;
    let blob = cache.blob_path(&metadata.etag);
    if revision.as_str() != commit {
        write_ref(cache, revision.as_str(), commit)?;
    }
    if pointer.exists() && !options.force_download {
        return Ok(pointer);
    }
    // One process at a time fetches or links a blob, Rust or Python alike.
    let _lock = BlobLock::acquire(&cache.lock_path(&metadata.etag))?;
    if !blob.exists() || options.force_download {
        let source = BlobSource {
            url: &metadata.location,
            target,
            repo_path: path,
            expected_size: metadata.size,
            expected_sha256: metadata
                .is_lfs
                .then_some(metadata.etag.as_str())
                .filter(|e| is_sha256(e)),
        };
        fetch_blob(client, &source, &blob, &options.transfer, options.progress)?;
    }
    link_blob(&blob, &pointer, options.disable_symlinks)?;
    Ok(pointer)
}

/// The snapshot file of a revision, when the cache has it.
fn cached_pointer(cache: &RepoCache, revision: &Revision, path: &str) -> Result<Option<PathBuf>> {
    let commit = if revision.is_commit_hash() {
        revision.as_str().to_string()
    } else {
        match cache.read_ref(revision.as_str()) {
            Some(commit) => commit,
            None => return Ok(None),
        }
    };
    let pointer = cache.snapshot_path(&commit, path)?;
    Ok(pointer.exists().then_some(pointer))
}

fn not_cached(repo_id: &RepoId, revision: &Revision, path: &str, cache_dir: &Path) -> Error {
    Error::NotCached {
        repo: repo_id.to_string(),
        revision: revision.to_string(),
        path: path.to_string(),
        cache_dir: cache_dir.to_path_buf(),
    }
}

/// Records that a file is absent at a commit (`.no_exist/`), as the Python client does.
fn mark_absent(cache: &RepoCache, revision: &Revision, commit: &str, path: &str) {
    // The marker is an optimisation: failing to write it changes nothing.
    if let Ok(marker) = cache.no_exist_path(commit, path) {
        if let Some(folder) = marker.parent() {
            let _ = std::fs::create_dir_all(folder);
        }
        let _ = std::fs::write(&marker, b"");
    }
    if revision.as_str() != commit {
        let _ = write_ref(cache, revision.as_str(), commit);
    }
}

/// Writes `refs/{revision}` = commit (no newline), by temp file and rename.
pub(crate) fn write_ref(cache: &RepoCache, revision: &str, commit: &str) -> Result<()> {
    let ref_path = cache.ref_path(revision);
    if cache.read_ref(revision).as_deref() == Some(commit) {
        return Ok(());
    }
    let folder = ref_path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let mut temp = tempfile::NamedTempFile::new_in(folder)
        .map_err(Error::io("create a temporary file in", folder))?;
    std::io::Write::write_all(&mut temp, commit.as_bytes())
        .map_err(Error::io("write", &ref_path))?;
    temp.persist(&ref_path).map_err(|e| Error::Io {
        action: "rename into",
        path: ref_path.clone(),
        source: e.error,
    })?;
    Ok(())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Failures that mean "the Hub could not be reached", where the cache may stand in.
fn is_offline_failure(error: &hub_api::Error) -> bool {
    match error {
        hub_api::Error::Transport { .. } => true,
        hub_api::Error::Http { status, .. } => *status >= 500,
        hub_api::Error::RateLimited { .. } => true,
        _ => false,
    }
}
