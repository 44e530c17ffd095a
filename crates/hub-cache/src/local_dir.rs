//! Downloads into a plain folder (`local_dir`): real files, plus the Python
//! client's bookkeeping in `.cache/huggingface/download/{path}.metadata`
//! (`commit\netag\ntimestamp\n`), so files already up to date are skipped.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use hub_api::HubClient;
use hub_url::{RepoId, RepoType, Revision};
use sha2::{Digest, Sha256};

use crate::blob_lock::BlobLock;
use crate::cachedir_tag::CACHEDIR_TAG;
use crate::connection_budget::ConnectionBudget;
use crate::download::{FetchOptions, RemoteFile, head_file, target, write_new_file};
use crate::error::{Error, Result};
use crate::fetch::{fetch_blob, hex, sha256_of};
use crate::repo_cache::safe_relative_path;
use crate::staging::staging_path;

/// The paths of one file of a local folder.
pub(crate) struct LocalPaths {
    pub(crate) file: PathBuf,
    metadata: PathBuf,
    lock: PathBuf,
}

impl LocalPaths {
    pub(crate) fn new(local_dir: &Path, path: &str) -> Result<LocalPaths> {
        let relative = safe_relative_path(path)?;
        let bookkeeping = prepare_bookkeeping(local_dir)?;
        let metadata = bookkeeping
            .join("download")
            .join(format!("{}.metadata", relative.display()));
        // The Python client's lock name, unless the file's own name leaves no room for it.
        let lock = match metadata.file_name().map(|n| n.len()) {
            Some(len) if len - ".metadata".len() + ".lock".len() <= MAX_NAME => metadata.with_extension("lock"),
            _ => metadata.with_file_name(format!("{}.lock", short_name_hash(&metadata))),
        };
        Ok(LocalPaths {
            file: local_dir.join(&relative),
            metadata,
            lock,
        })
    }

    /// The staging name of the blob, beside the metadata (same file system as
    /// the file), named as the Python client names it: a short hash of the
    /// file's name and the etag, so that a 255-byte name still fits and a later
    /// call resumes the same partial file.
    fn staging(&self, etag: &str) -> PathBuf {
        let short = short_name_hash(&self.metadata);
        self.metadata.with_file_name(format!("{short}.{etag}"))
    }
}

/// The longest file name most file systems take, in bytes.
const MAX_NAME: usize = 255;

/// 16 hex digits of the sha256 of a path's file name.
fn short_name_hash(path: &Path) -> String {
    let name = path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
    hex(&Sha256::digest(name))[..16].to_string()
}

/// What the metadata file says, when the file has not changed since.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LocalMetadata {
    pub(crate) commit: String,
    pub(crate) etag: String,
}

/// Makes `.cache/huggingface/` with its `.gitignore` and `CACHEDIR.TAG`,
/// each written whole by rename, and written again when found empty (as a
/// full disk may have left it).
fn prepare_bookkeeping(local_dir: &Path) -> Result<PathBuf> {
    let dir = local_dir.join(".cache").join("huggingface");
    std::fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
    for (name, content) in [(".gitignore", "*"), ("CACHEDIR.TAG", CACHEDIR_TAG)] {
        let path = dir.join(name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            continue;
        }
        write_new_file(&staging_path(&dir), content.as_bytes(), &path)?;
    }
    Ok(dir)
}

/// Reads the metadata, trusting it only if the file was not modified after it was written.
pub(crate) fn read_metadata(paths: &LocalPaths) -> Option<LocalMetadata> {
    let text = std::fs::read_to_string(&paths.metadata).ok()?;
    let mut lines = text.lines();
    let commit = lines.next()?.trim().to_string();
    let etag = lines.next()?.trim().to_string();
    let timestamp: f64 = lines.next()?.trim().parse().ok()?;
    let modified = std::fs::metadata(&paths.file).ok()?.modified().ok()?;
    let modified = modified.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    (modified - 1.0 <= timestamp).then_some(LocalMetadata { commit, etag })
}

/// Records the file's commit and etag. A file whose name is too long for
/// `{name}.metadata` has no record (the Python client cannot make one
/// either): it is then checked against the Hub at every call.
fn write_metadata(paths: &LocalPaths, commit: &str, etag: &str) -> Result<()> {
    if paths.metadata.file_name().is_some_and(|n| n.len() > MAX_NAME) {
        return Ok(());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let folder = paths.metadata.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let content = format!("{commit}\n{etag}\n{now}\n");
    write_new_file(&staging_path(folder), content.as_bytes(), &paths.metadata)
}

/// `hf_hub_download` with `local_dir`.
pub(crate) fn download(
    client: &HubClient,
    repo_id: &RepoId,
    path: &str,
    repo_type: RepoType,
    revision: &Revision,
    local_dir: &Path,
    options: &FetchOptions<'_>,
) -> Result<PathBuf> {
    let paths = LocalPaths::new(local_dir, path)?;
    let known = read_metadata(&paths);
    if !options.force_download
        && revision.is_commit_hash()
        && known.as_ref().is_some_and(|m| m.commit == revision.as_str())
    {
        return Ok(paths.file);
    }
    if options.local_files_only {
        return match paths.file.exists() {
            true => Ok(paths.file),
            false => Err(crate::download::not_cached(repo_id, revision, path, local_dir)),
        };
    }
    let metadata = head_file(client, repo_id, path, revision, repo_type)?;
    let file = RemoteFile::from_metadata(path, &metadata, target(repo_id, repo_type, revision, path));
    let budget = ConnectionBudget::new(options.transfer.connections);
    place(client, &paths, &file, known, options, &budget)
}

/// Puts one file into the local folder unless it is already up to date.
pub(crate) fn place(
    client: &HubClient,
    paths: &LocalPaths,
    file: &RemoteFile<'_>,
    known: Option<LocalMetadata>,
    options: &FetchOptions<'_>,
    budget: &ConnectionBudget,
) -> Result<PathBuf> {
    if !options.force_download {
        if known.as_ref().is_some_and(|m| m.etag == file.etag) {
            write_metadata(paths, file.commit, file.etag)?;
            return Ok(paths.file.clone());
        }
        // A file put there some other way counts if its bytes are the right ones.
        if let (Some(sha256), Ok(existing)) = (file.sha256(), std::fs::File::open(&paths.file))
            && sha256_of(existing).is_ok_and(|actual| actual == sha256)
        {
            write_metadata(paths, file.commit, file.etag)?;
            return Ok(paths.file.clone());
        }
    }
    let _lock = BlobLock::acquire(&paths.lock)?;
    let staging = paths.staging(file.etag);
    fetch_blob(
        client,
        &file.source(options),
        &staging,
        &options.transfer,
        budget,
        options.progress,
    )?;
    if let Some(folder) = paths.file.parent() {
        std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    }
    std::fs::rename(&staging, &paths.file).map_err(Error::io("rename into", &paths.file))?;
    write_metadata(paths, file.commit, file.etag)?;
    Ok(paths.file.clone())
}
