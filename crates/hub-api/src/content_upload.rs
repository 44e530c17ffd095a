//! Who uploads the content of a commit's large files: the files the preupload sends to
//! large-file storage go up through a [`ContentUploader`] before the commit names them by
//! sha256. [`LfsUploader`], the git-lfs batch API with `basic` and `multipart` uploads, is
//! the default; `hub-xet` provides one that uploads through Xet storage when the Hub
//! offers it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hub_url::{RepoId, RepoType, Revision};

use crate::client::HubClient;
use crate::commit_operation::AddSource;
use crate::error::{Error, Result};
use crate::lfs_upload::{BATCH_SIZE, LfsContent, LfsObject};
use crate::progress::Progress;

/// A file of a commit whose content goes to large-file storage.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LargeFile<'a> {
    /// Where it goes in the repo (normalized).
    pub path_in_repo: &'a str,
    /// Its content.
    pub source: &'a AddSource,
    /// Its size in bytes.
    pub size: u64,
}

/// The commit a content upload is for, and how to go about it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ContentTarget<'a> {
    /// The repo.
    pub repo_id: &'a RepoId,
    /// Its type.
    pub repo_type: RepoType,
    /// The branch the commit goes to.
    pub revision: &'a Revision,
    /// Whether the commit opens a pull request.
    pub create_pr: bool,
    /// Files uploaded at once.
    pub upload_workers: usize,
    /// Parts of one multipart upload sent at once.
    pub part_workers: usize,
    /// Receives progress events.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for ContentTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentTarget")
            .field("repo_id", &self.repo_id)
            .field("repo_type", &self.repo_type)
            .field("revision", &self.revision)
            .field("create_pr", &self.create_pr)
            .finish_non_exhaustive()
    }
}

/// The storage that took a commit's large files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentTransfer {
    /// The git-lfs batch API (`basic` and `multipart` uploads).
    Lfs,
    /// Xet storage (xorbs and a shard sent to the CAS).
    Xet,
}

/// What a [`ContentUploader`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedContent {
    /// The sha256 of each file, in the order given, lowercase hex: the commit names the
    /// files by them.
    pub sha256: Vec<String>,
    /// Where the bytes went.
    pub transfer: ContentTransfer,
}

impl UploadedContent {
    /// The outcome of an upload of files with these sha256s through `transfer`.
    pub fn new(sha256: Vec<String>, transfer: ContentTransfer) -> Self {
        Self { sha256, transfer }
    }
}

/// Uploads the content of a commit's large files, so that the commit can name them by
/// their sha256 (`lfsFile` lines). Set one with
/// [`CommitOptions::content_uploader`](crate::CommitOptions::content_uploader).
pub trait ContentUploader: Sync {
    /// Uploads `files` (all of them, or fails) and returns their sha256s.
    fn upload_content(
        &self,
        client: &HubClient,
        target: &ContentTarget<'_>,
        files: &[LargeFile<'_>],
    ) -> Result<UploadedContent>;
}

/// The git-lfs batch API: each file hashed (sha256, `upload_workers` at once), the objects
/// the Hub lacks uploaded with `basic` PUTs or `multipart` parts, then verified.
#[derive(Debug, Clone, Copy, Default)]
pub struct LfsUploader;

impl ContentUploader for LfsUploader {
    fn upload_content(
        &self,
        client: &HubClient,
        target: &ContentTarget<'_>,
        files: &[LargeFile<'_>],
    ) -> Result<UploadedContent> {
        let sha256 = parallel(files, target.upload_workers, |file| {
            file.source.upload_info().map(|info| info.sha256)
        })?;
        client.upload_lfs_files(target, files, &sha256)?;
        Ok(UploadedContent::new(sha256, ContentTransfer::Lfs))
    }
}

/// `work` on every item, `workers` at once; the results in order, or the first error.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let results: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = Mutex::new(0usize);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let index = {
                        let Ok(mut n) = next.lock() else { return };
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(index) else { return };
                    let result = work(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slot) = results[index].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let mut results: Vec<Option<Result<R>>> = results.into_iter().map(|r| r.into_inner().ok().flatten()).collect();
    // The first error, rather than an item a stopped worker left undone.
    if let Some(index) = results.iter().position(|r| matches!(r, Some(Err(_))))
        && let Some(Some(Err(error))) = results.get_mut(index).map(Option::take)
    {
        return Err(error);
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| {
                Err(Error::CommitBody {
                    reason: "a file was left unprocessed".into(),
                })
            })
        })
        .collect()
}

impl HubClient {
    /// Uploads the LFS objects the Hub does not have yet, `upload_workers` at once.
    fn upload_lfs_files(&self, target: &ContentTarget<'_>, files: &[LargeFile<'_>], sha256: &[String]) -> Result<()> {
        let mut jobs = Vec::new();
        let indexed: Vec<(&LargeFile<'_>, &String)> = files.iter().zip(sha256).collect();
        for chunk in indexed.chunks(BATCH_SIZE) {
            let objects: Vec<(String, u64)> = chunk.iter().map(|(f, sha)| ((*sha).clone(), f.size)).collect();
            let batch = self.lfs_batch(target.repo_id, target.repo_type, target.revision.as_str(), &objects)?;
            for object in batch.objects {
                if let Some(error) = object.error {
                    return Err(Error::Http {
                        status: u16::try_from(error.code).unwrap_or(500),
                        url: self.endpoint().repo_url(target.repo_type, target.repo_id),
                        server_message: Some(format!("LFS object {}: {}", object.oid, error.message)),
                        request_id: None,
                    });
                }
                let Some(actions) = object.actions else { continue };
                let Some(upload) = actions.upload else { continue };
                if let Some((file, sha)) = chunk.iter().find(|(_, sha)| **sha == object.oid) {
                    jobs.push((*file, *sha, upload, actions.verify));
                }
            }
        }
        parallel(&jobs, target.upload_workers, |(file, sha, upload, verify)| {
            let content = match file.source {
                AddSource::File(path) => LfsContent::File(path.clone()),
                AddSource::Bytes(bytes) => LfsContent::Bytes(Arc::new(bytes.clone())),
            };
            let object = LfsObject {
                oid: sha,
                size: file.size,
                content,
                label: file.path_in_repo,
            };
            self.upload_lfs_object(&object, upload, verify.as_ref(), target.part_workers, target.progress)
        })?;
        Ok(())
    }
}
