//! `hf_hub_download`: one file of a repo, through the cache.

use std::path::{Path, PathBuf};

use hub_api::{CallSettings, FileMetadata, HubClient, RequestTarget};
use hub_url::{HubConfig, RepoId, RepoType, Revision, hf_hub_url};

use crate::blob_lock::BlobLock;
use crate::cachedir_tag::tag_cache_dir;
use crate::connection_budget::ConnectionBudget;
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, TransferSettings, XetBlob, fetch_blob};
use crate::progress::Progress;
use crate::repo_cache::{RepoCache, safe_relative_path};
use crate::shared_blobs::{StoreLink, StoreUse};
use crate::snapshot_link::{link_blob, move_blob};
use crate::staging::staging_path;

/// What every download call reads: where files go, when the network is used,
/// and how bytes are fetched. [`cached_download`](crate::cached_download)
/// takes it alone; [`DownloadOptions`] and [`SnapshotOptions`](crate::SnapshotOptions) hold one as
/// their `fetch` field and offer its setters too.
#[derive(Clone)]
#[non_exhaustive]
pub struct FetchOptions<'a> {
    /// The cache root (`HF_HUB_CACHE`).
    pub cache_dir: PathBuf,
    /// Write real files into this folder instead of the cache (with the
    /// Python client's `.cache/huggingface/download/*.metadata` bookkeeping).
    pub local_dir: Option<PathBuf>,
    /// Fetch again even when cached.
    pub force_download: bool,
    /// Never use the network: serve from the cache or fail with [`Error::NotCached`].
    pub local_files_only: bool,
    /// Real files in snapshots instead of symlinks, as the Python client makes
    /// them: a blob fetched for the file is moved there, one already cached is copied.
    pub disable_symlinks: bool,
    /// Keep files that have a Xet hash once per cache, in the store the
    /// Python client 2.4 shares between repos (`{cache}/blobs/`): a file
    /// stored there already is linked instead of fetched (once its bytes,
    /// read from disk, are checked against the file's sha256), a fetched one
    /// is moved there. Off with `disable_symlinks`. On by default;
    /// [`FetchOptions::from_config`] turns it off as `HF_HUB_DISABLE_SHARED_BLOBS`
    /// or `HF_HUB_DISABLE_XET` do the Python client's.
    pub shared_blobs: bool,
    /// Fetch files in Xet storage from their reconstruction (the CAS's xorb ranges)
    /// instead of over plain HTTP: on by default, off with `HF_HUB_DISABLE_XET`
    /// ([`FetchOptions::from_config`]). A hub that offers no Xet token is read over HTTP.
    pub xet: bool,
    /// The index of where the chunks of files rebuilt from Xet storage lie on this machine,
    /// so that a new revision of a file fetches only the chunks it does not share, and a
    /// download cut short keeps what it had written (`{HF_XET_CACHE}/hub-rs-chunk-index`
    /// from the configuration, none by default). It holds no bytes: it points into the
    /// cache's blobs.
    pub xet_chunk_index: Option<PathBuf>,
    /// How blobs are fetched (connections, range size, verification).
    pub transfer: TransferSettings,
    /// This call's token, headers, user agent parts and metadata timeout
    /// (the Python client's `token`, `headers`, `library_name`,
    /// `library_version`, `user_agent` and `etag_timeout`).
    pub call: CallSettings,
    /// Receives progress events (nothing by default).
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for FetchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("cache_dir", &self.cache_dir)
            .field("local_dir", &self.local_dir)
            .field("force_download", &self.force_download)
            .field("local_files_only", &self.local_files_only)
            .field("disable_symlinks", &self.disable_symlinks)
            .field("shared_blobs", &self.shared_blobs)
            .field("xet", &self.xet)
            .field("xet_chunk_index", &self.xet_chunk_index)
            .field("transfer", &self.transfer)
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl FetchOptions<'static> {
    /// Defaults with this cache root.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        FetchOptions {
            cache_dir: cache_dir.into(),
            local_dir: None,
            force_download: false,
            local_files_only: false,
            disable_symlinks: false,
            shared_blobs: true,
            xet: true,
            xet_chunk_index: None,
            transfer: TransferSettings::default(),
            call: CallSettings::default(),
            progress: &(),
        }
    }

    /// Defaults from the configuration: its cache, offline mode, symlink
    /// and shared store settings, metadata and download timeouts.
    pub fn from_config(config: &HubConfig) -> Self {
        let mut options = FetchOptions {
            local_files_only: config.offline,
            disable_symlinks: config.disable_symlinks,
            shared_blobs: !config.disable_shared_blobs && !config.disable_xet,
            xet: !config.disable_xet,
            xet_chunk_index: Some(config.xet_cache.join(crate::fetch::CHUNK_INDEX_FOLDER)),
            ..Self::new(config.hub_cache.clone())
        };
        options.call.etag_timeout = Some(config.etag_timeout);
        options.transfer.stall_timeout = config.download_timeout;
        options
    }
}

impl<'a> FetchOptions<'a> {
    /// The same options reporting progress to `progress`.
    pub fn progress<'b>(self, progress: &'b dyn Progress) -> FetchOptions<'b> {
        FetchOptions {
            cache_dir: self.cache_dir,
            local_dir: self.local_dir,
            force_download: self.force_download,
            local_files_only: self.local_files_only,
            disable_symlinks: self.disable_symlinks,
            shared_blobs: self.shared_blobs,
            xet: self.xet,
            xet_chunk_index: self.xet_chunk_index,
            transfer: self.transfer,
            call: self.call,
            progress,
        }
    }
}

/// The setters of the [`FetchOptions`] fields, on the options that hold one as `fetch`.
macro_rules! fetch_setters {
    ($options:ident $(, $field:ident)?) => {
        impl<'a> $options<'a> {
            /// The cache root.
            pub fn cache_dir(mut self, cache_dir: impl Into<std::path::PathBuf>) -> Self {
                self$(.$field)?.cache_dir = cache_dir.into();
                self
            }

            /// Write real files into this folder instead of the cache.
            pub fn local_dir(mut self, local_dir: impl Into<std::path::PathBuf>) -> Self {
                self$(.$field)?.local_dir = Some(local_dir.into());
                self
            }

            /// Whether to fetch again even when cached.
            pub fn force_download(mut self, force_download: bool) -> Self {
                self$(.$field)?.force_download = force_download;
                self
            }

            /// Whether to serve from the cache only, never using the network.
            pub fn local_files_only(mut self, local_files_only: bool) -> Self {
                self$(.$field)?.local_files_only = local_files_only;
                self
            }

            /// Whether snapshots hold real files instead of symlinks.
            pub fn disable_symlinks(mut self, disable_symlinks: bool) -> Self {
                self$(.$field)?.disable_symlinks = disable_symlinks;
                self
            }

            /// Whether files with a Xet hash are kept once per cache, in the shared store.
            pub fn shared_blobs(mut self, shared_blobs: bool) -> Self {
                self$(.$field)?.shared_blobs = shared_blobs;
                self
            }

            /// Whether files in Xet storage are fetched from their reconstruction.
            pub fn xet(mut self, xet: bool) -> Self {
                self$(.$field)?.xet = xet;
                self
            }

            /// Where chunks of Xet downloads are kept.
            pub fn xet_chunk_index(mut self, folder: impl Into<std::path::PathBuf>) -> Self {
                self$(.$field)?.xet_chunk_index = Some(folder.into());
                self
            }

            /// How blobs are fetched.
            pub fn transfer(mut self, transfer: $crate::TransferSettings) -> Self {
                self$(.$field)?.transfer = transfer;
                self
            }

            /// This call's token, headers, user agent parts and metadata timeout.
            pub fn call(mut self, call: hub_api::CallSettings) -> Self {
                self$(.$field)?.call = call;
                self
            }
        }
    };
}

fetch_setters!(FetchOptions);
pub(crate) use fetch_setters;

/// Options of [`hf_hub_download`]: which file, and how to fetch it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DownloadOptions<'a> {
    /// The repo type (default: model).
    pub repo_type: RepoType,
    /// The branch, tag or commit (default `main`).
    pub revision: Revision,
    /// A folder of the repo the filename is relative to (default: the root).
    pub subfolder: Option<String>,
    /// Where the file goes and how it is fetched.
    pub fetch: FetchOptions<'a>,
}

impl DownloadOptions<'static> {
    /// Defaults with this cache root.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        DownloadOptions::with_fetch(FetchOptions::new(cache_dir))
    }

    /// Defaults from the configuration: its cache, offline mode, symlink
    /// setting, metadata and download timeouts.
    pub fn from_config(config: &HubConfig) -> Self {
        DownloadOptions::with_fetch(FetchOptions::from_config(config))
    }
}

impl<'a> DownloadOptions<'a> {
    /// Defaults (a model, at `main`) with these fetch options.
    pub fn with_fetch(fetch: FetchOptions<'a>) -> Self {
        DownloadOptions {
            repo_type: RepoType::Model,
            revision: Revision::main(),
            subfolder: None,
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

    /// The folder of the repo the filename is relative to.
    pub fn subfolder(mut self, subfolder: impl Into<String>) -> Self {
        self.subfolder = Some(subfolder.into());
        self
    }

    /// The same options reporting progress to `progress`.
    pub fn progress<'b>(self, progress: &'b dyn Progress) -> DownloadOptions<'b> {
        DownloadOptions {
            repo_type: self.repo_type,
            revision: self.revision,
            subfolder: self.subfolder,
            fetch: self.fetch.progress(progress),
        }
    }
}

fetch_setters!(DownloadOptions, fetch);

/// Downloads one file of a repo into the cache (or finds it there) and returns
/// its path inside `snapshots/{commit}/`, as the Python client does. With
/// `local_dir`, the file is written there instead and that path is returned.
///
/// ```no_run
/// use hub_cache::{DownloadOptions, HubClient, HubConfig, RepoId, Revision, hf_hub_download};
///
/// # fn main() -> Result<(), hub_cache::Error> {
/// let config = HubConfig::from_env()?;
/// let client = HubClient::from_config(&config)?;
/// let options = DownloadOptions::from_config(&config).revision(Revision::new("v1.0")?);
/// let path = hf_hub_download(&client, &RepoId::new("org/model")?, "config.json", &options)?;
/// # Ok(())
/// # }
/// ```
pub fn hf_hub_download(
    client: &HubClient,
    repo_id: &RepoId,
    filename: &str,
    options: &DownloadOptions<'_>,
) -> Result<PathBuf> {
    download_file(&client.for_call(&options.fetch.call), repo_id, filename, options)
}

/// [`hf_hub_download`] with a client the call's settings are applied to.
pub(crate) fn download_file(
    client: &HubClient,
    repo_id: &RepoId,
    filename: &str,
    options: &DownloadOptions<'_>,
) -> Result<PathBuf> {
    let revision = &options.revision;
    let fetch = &options.fetch;
    let path = match options
        .subfolder
        .as_deref()
        .map(|s| s.trim_matches('/'))
        .filter(|s| !s.is_empty())
    {
        Some(sub) => format!("{sub}/{filename}"),
        None => filename.to_string(),
    };
    // A path that would leave its folder is refused before any request.
    safe_relative_path(&path)?;
    if let Some(local_dir) = &fetch.local_dir {
        return crate::local_dir::download(client, repo_id, &path, options.repo_type, revision, local_dir, fetch);
    }
    let cache = RepoCache::new(&fetch.cache_dir, options.repo_type, repo_id);

    // A pinned commit whose file is cached costs no request.
    if revision.is_commit_hash() && !fetch.force_download {
        let pointer = cache.snapshot_path(revision.as_str(), &path)?;
        if pointer.exists() {
            log::debug!("{path} of {repo_id} at commit {revision}: in the cache, no request");
            return Ok(pointer);
        }
    }
    if fetch.local_files_only {
        log::debug!("{path} of {repo_id} at {revision}: looked up in the cache only (offline)");
        return cached_pointer(&cache, revision, &path)?
            .ok_or_else(|| not_cached(repo_id, revision, &path, &fetch.cache_dir));
    }
    let metadata = match head_file(client, repo_id, &path, revision, options.repo_type) {
        Ok(metadata) => metadata,
        Err(error @ hub_api::Error::EntryNotFound { .. }) => {
            if let hub_api::Error::EntryNotFound {
                commit: Some(commit), ..
            } = &error
            {
                mark_absent(&cache, revision, commit, &path);
            }
            return Err(error.into());
        }
        Err(error) if is_offline_failure(&error) => {
            // The network failed: a cached copy of the same revision still serves.
            let cached = cached_pointer(&cache, revision, &path)?;
            log::debug!(
                "the Hub could not be reached for {path} of {repo_id} ({error}); {}",
                match cached {
                    Some(_) => "serving the cached copy",
                    None => "no cached copy",
                }
            );
            return cached.ok_or_else(|| error.into());
        }
        Err(error) => return Err(error.into()),
    };
    if revision.as_str() != metadata.commit_hash {
        write_ref(&cache, revision.as_str(), &metadata.commit_hash)?;
    }
    let file = RemoteFile::from_metadata(&path, &metadata, target(repo_id, options.repo_type, revision, &path));
    let budget = ConnectionBudget::new(fetch.transfer.connections);
    place_in_cache(client, &cache, &file, fetch, &budget)
}

/// `HEAD` on a file's resolve URL.
pub(crate) fn head_file(
    client: &HubClient,
    repo_id: &RepoId,
    path: &str,
    revision: &Revision,
    repo_type: RepoType,
) -> hub_api::Result<FileMetadata> {
    let url = hf_hub_url(repo_id, path, revision, repo_type, client.endpoint());
    client.file_metadata(&url, target(repo_id, repo_type, revision, path))
}

pub(crate) fn target(repo_id: &RepoId, repo_type: RepoType, revision: &Revision, path: &str) -> RequestTarget {
    RequestTarget::repo(repo_type, repo_id).at(revision.as_str()).file(path)
}

/// A file of a commit, as the Hub described it.
pub(crate) struct RemoteFile<'a> {
    pub(crate) path: &'a str,
    pub(crate) commit: &'a str,
    /// The blob's name in the cache: the sha256 for LFS files, the git blob id otherwise.
    pub(crate) etag: &'a str,
    pub(crate) size: Option<u64>,
    pub(crate) is_lfs: bool,
    /// The Xet hash the Hub gave, for files in Xet storage.
    pub(crate) xet_hash: Option<&'a str>,
    /// Where Xet read tokens come from, when the `HEAD` said.
    pub(crate) xet_refresh_route: Option<&'a str>,
    /// Where to get the bytes.
    pub(crate) url: String,
    /// Whether `url` is already where the bytes are (no redirect to follow).
    pub(crate) url_is_final: bool,
    pub(crate) target: RequestTarget,
}

impl<'a> RemoteFile<'a> {
    pub(crate) fn from_metadata(path: &'a str, metadata: &'a FileMetadata, target: RequestTarget) -> Self {
        RemoteFile {
            path,
            commit: &metadata.commit_hash,
            etag: &metadata.etag,
            size: metadata.size,
            is_lfs: metadata.is_lfs,
            xet_hash: metadata.xet_hash.as_deref(),
            xet_refresh_route: metadata.xet_refresh_route.as_deref(),
            url: metadata.location.clone(),
            url_is_final: true,
            target,
        }
    }

    /// The sha256 the bytes must have, for LFS files.
    pub(crate) fn sha256(&self) -> Option<&str> {
        self.is_lfs.then_some(self.etag).filter(|e| hub_url::is_sha256(e))
    }

    /// The git blob id the bytes must have, for regular files.
    pub(crate) fn git_blob_id(&self) -> Option<&str> {
        (!self.is_lfs && self.etag.len() == 40).then_some(self.etag)
    }

    pub(crate) fn source<'s>(&'s self, options: &'s FetchOptions<'_>) -> BlobSource<'s> {
        BlobSource {
            url: &self.url,
            target: self.target.clone(),
            repo_path: self.path,
            expected_size: self.size,
            expected_sha256: self.sha256(),
            expected_git_blob: self.git_blob_id(),
            url_is_final: self.url_is_final,
            xet: self.xet_hash.filter(|_| options.xet).map(|file_hash| XetBlob {
                file_hash,
                refresh_route: self.xet_refresh_route,
                commit: self.commit,
                chunk_index: options.xet_chunk_index.as_deref(),
            }),
        }
    }
}

/// Makes `snapshots/{commit}/{path}` exist for this file: fetches the blob
/// unless it is already there, under its lock, then links it.
pub(crate) fn place_in_cache(
    client: &HubClient,
    cache: &RepoCache,
    file: &RemoteFile<'_>,
    options: &FetchOptions<'_>,
    budget: &ConnectionBudget,
) -> Result<PathBuf> {
    let pointer = cache.snapshot_path(file.commit, file.path)?;
    if pointer.exists() && !options.force_download {
        log::debug!("{} at {}: already in the cache", file.path, file.commit);
        return Ok(pointer);
    }
    let blob = cache.blob_path(file.etag)?;
    tag_cache_dir(cache.cache_dir());
    // One process at a time fetches or links a blob, Rust or Python alike.
    let _lock = BlobLock::acquire(&cache.lock_path(file.etag)?)?;
    // Another process may have placed the file while this one waited.
    if pointer.exists() && !options.force_download {
        return Ok(pointer);
    }
    let blob_was_there = blob.exists();
    if blob_was_there && !options.force_download {
        log::debug!(
            "{} at {}: its blob is in the cache, only linked",
            file.path,
            file.commit
        );
    }
    let shared = StoreUse::for_file(options, file.xet_hash);
    let store_link = match &shared {
        Some(shared) if !blob_was_there && !options.force_download => {
            shared.link_existing(&blob, &file.source(options), &options.transfer)
        }
        _ => StoreLink::Missing,
    };
    if store_link != StoreLink::Linked && (!blob_was_there || options.force_download) {
        let fetched = fetch_blob(
            client,
            &file.source(options),
            &blob,
            &options.transfer,
            budget,
            options.progress,
        )?;
        if let Some(shared) = &shared {
            let replace = options.force_download || store_link == StoreLink::Damaged;
            shared.publish_fetched(&blob, file.size, fetched, replace)?;
        }
    }
    if options.disable_symlinks && !blob_was_there {
        // As the Python client does: a blob fetched for a copy becomes the
        // copy, rather than staying behind where no snapshot refers to it.
        move_blob(&blob, &pointer)?;
    } else {
        link_blob(&blob, &pointer, options.disable_symlinks)?;
    }
    Ok(pointer)
}

/// The snapshot file of a revision, when the cache has it.
fn cached_pointer(cache: &RepoCache, revision: &Revision, path: &str) -> Result<Option<PathBuf>> {
    let Some(commit) = cached_commit(cache, revision) else {
        return Ok(None);
    };
    let pointer = cache.snapshot_path(&commit, path)?;
    Ok(pointer.exists().then_some(pointer))
}

/// The commit a revision is known to be at, without the network.
pub(crate) fn cached_commit(cache: &RepoCache, revision: &Revision) -> Option<String> {
    if revision.is_commit_hash() {
        Some(revision.as_str().to_string())
    } else {
        cache.read_ref(revision.as_str())
    }
}

pub(crate) fn not_cached(repo_id: &RepoId, revision: &Revision, path: &str, cache_dir: &Path) -> Error {
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

/// Writes `refs/{revision}` = commit (no newline), by a file made in the
/// repo's staging folder and renamed into place.
pub(crate) fn write_ref(cache: &RepoCache, revision: &str, commit: &str) -> Result<()> {
    let ref_path = cache.ref_path(revision);
    if cache.read_ref(revision).as_deref() == Some(commit) {
        return Ok(());
    }
    // The snapshot folder first, as the Python client makes it: a ref never
    // names a commit the cache has no folder for, even if this process dies
    // before the first file is placed.
    let snapshot = cache.snapshot_dir(commit)?;
    std::fs::create_dir_all(&snapshot).map_err(Error::io("create", &snapshot))?;
    let folder = ref_path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let staging = cache.staging_dir();
    std::fs::create_dir_all(&staging).map_err(Error::io("create", &staging))?;
    write_new_file(&staging_path(&staging), commit.as_bytes(), &ref_path)
}

/// Writes `content` to the new file `temp`, then renames it to `destination`;
/// on failure nothing is left behind and `destination` is as it was.
///
/// A plain new file, so that the umask sets its mode as for the Python
/// client's files (a `tempfile` would be private to its owner).
pub(crate) fn write_new_file(temp: &Path, content: &[u8], destination: &Path) -> Result<()> {
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .and_then(|mut file| std::io::Write::write_all(&mut file, content));
    if let Err(source) = written {
        let _ = std::fs::remove_file(temp);
        return Err(Error::Io {
            action: "write",
            path: temp.to_path_buf(),
            source,
        });
    }
    std::fs::rename(temp, destination).map_err(|source| {
        let _ = std::fs::remove_file(temp);
        Error::Io {
            action: "rename into",
            path: destination.to_path_buf(),
            source,
        }
    })
}

/// Failures that mean "the Hub could not be reached", where the cache may stand in.
pub(crate) fn is_offline_failure(error: &hub_api::Error) -> bool {
    match error {
        hub_api::Error::Transport { .. } => true,
        hub_api::Error::Http { status, .. } => *status >= 500,
        hub_api::Error::RateLimited { .. } => true,
        _ => false,
    }
}
