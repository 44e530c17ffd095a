//! Uploading files to Xet storage, as the specification's upload protocol describes it.
//!
//! [`upload_files`] reads each file once, in bounded memory: content-defined chunks, their
//! hashes, the file's sha256 and its Xet hash all come from the same pass. Chunks are
//! deduplicated within the session, against the local shard cache (shards of earlier
//! uploads and of global dedupe answers, see [`UploadOptions::shard_cache`]) and against the
//! CAS's global dedupe for eligible chunks; the new ones are packed into xorbs of up to
//! 64 MiB, uploaded several at once while the files are read, and one shard then registers
//! every file with its terms, verification hashes and sha256.
//!
//! The CAS calls go through [`CasUpload`], so that the session is independent of how they
//! are made (and testable without a network).
//!
//! Memory is bounded whatever the files' sizes, and no xorb is ever held whole: a worker
//! appends the new chunks of the xorb it fills to a staged file on disk (see
//! [`UploadOptions::staging_dir`]), an upload thread compresses them chunk by chunk into
//! another and sends that one from disk. What is held: per file worker, an 8 MiB block of
//! chunks awaiting deduplication, the pieces read (1 MiB each, a few queued for the
//! sha256) and a write buffer; per xorb upload, a chunk and read and write buffers; per
//! file, 40 bytes a chunk (about 64 KiB of file) for its hash and terms; and the index of
//! known chunks (the newest 16 MiB of cached shards at most, about 18 MB, and the
//! session's xorbs). [`UploadStats::peak_buffered_bytes`] reports the most bytes
//! of buffers held at once.

mod cleaner;
mod commit;
mod defrag;
mod known;
mod shard_cache;
mod staged;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Mutex, RwLock};

use crate::Error;
use crate::client::cas::CasClient;
use crate::hash::{XetHash, verification_range_hash};
use crate::merkle::file_hash;
use crate::reconstruction::{ChunkRange, Term};
use crate::shard::{FileInfo, Shard, XorbInfo};

use self::cleaner::{CleanedFile, Counters, Lane, PendingXorb, Shared, Source, clean};
pub use self::commit::XetUploader;
use self::known::{KnownChunks, TermXorb};
use self::shard_cache::ShardCache;
use self::staged::{Held, remove_stale};

/// The largest shard the CAS takes; larger uploads are split.
pub const MAX_SHARD_BYTES: usize = 64 * 1024 * 1024;

/// The flag xet-core sets on the chunk that starts a file, in a shard's CAS section: such
/// chunks are offered to global dedupe whatever their hash.
const FILE_START_CHUNK_FLAG: u32 = 1 << 31;

/// The calls an upload makes to the CAS. Errors are the implementation's; a session stops
/// at the first.
pub trait CasUpload: Sync {
    /// The global dedupe query for a chunk (`GET /v1/chunks/default/{hash}`): the bytes of
    /// the shard that answers, or `None` when the CAS knows no xorb holding the chunk.
    fn query_dedupe(&self, chunk_hash: &XetHash) -> Result<Option<Vec<u8>>, Error>;

    /// Uploads a serialized xorb, the `len` bytes of the file at `xorb`
    /// (`POST /v1/xorbs/default/{hash}`). The file stays until the call returns, so it may
    /// be read more than once (a retry). A xorb the CAS already has is not an error.
    fn upload_xorb(&self, hash: &XetHash, xorb: &Path, len: u64) -> Result<(), Error>;

    /// Uploads a shard (`POST /v1/shards`), once every xorb it names is uploaded.
    fn upload_shard(&self, shard: Vec<u8>) -> Result<(), Error>;
}

/// Each xorb is streamed from the file it was built in.
impl CasUpload for CasClient {
    fn query_dedupe(&self, chunk_hash: &XetHash) -> Result<Option<Vec<u8>>, Error> {
        CasClient::query_dedupe(self, chunk_hash)
    }

    fn upload_xorb(&self, hash: &XetHash, xorb: &Path, len: u64) -> Result<(), Error> {
        CasClient::upload_xorb_file(self, hash, xorb, len).map(|_| ())
    }

    fn upload_shard(&self, shard: Vec<u8>) -> Result<(), Error> {
        CasClient::upload_shard(self, shard)
    }
}

/// Receives how far the files of an upload have been read (and so chunked, deduplicated and
/// packed): progress for a bar. `()` ignores it.
pub trait UploadProgress: Sync {
    /// `bytes` more bytes of file `file` (its index in the sources) were read.
    fn file_read(&self, file: usize, bytes: u64);
}

impl UploadProgress for () {
    fn file_read(&self, _file: usize, _bytes: u64) {}
}

/// The bytes of one file to upload.
#[derive(Clone, Copy, Debug)]
pub enum UploadSource<'a> {
    /// A file on disk, read once.
    File(&'a Path),
    /// Bytes in memory.
    Bytes(&'a [u8]),
}

/// Options of [`upload_files`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UploadOptions {
    /// The local shard cache's folder: chunks listed there are not sent again, and the
    /// session's shard and the global dedupe answers it gets are written there. `None`: no
    /// cache. Use one folder per CAS: xorbs of one CAS mean nothing to another.
    pub shard_cache: Option<PathBuf>,
    /// The most bytes of shards the cache keeps (the oldest go first; default 64 MiB). A
    /// session reads the newest 16 MiB of them at most (a chunk takes 48 bytes of shard and
    /// about 50 of memory), so that the index stays small whatever the limit.
    pub shard_cache_limit: u64,
    /// Files cleaned at once, each into its own xorbs.
    pub file_workers: usize,
    /// Xorbs compressed and uploaded at once (each from its staged file, in a few buffers).
    pub xorb_uploads: usize,
    /// Whether to ask the CAS's global dedupe about eligible chunks.
    pub global_dedupe: bool,
    /// The folder xorbs are staged in while they are built and sent (up to 64 MiB each, two
    /// files a xorb for a moment, removed once sent or when the session fails). `None`: the
    /// system's temporary folder.
    pub staging_dir: Option<PathBuf>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            shard_cache: None,
            // About 1.4 million chunks (90 GB of uploads).
            shard_cache_limit: 64 * 1024 * 1024,
            file_workers: 2,
            xorb_uploads: 2,
            global_dedupe: true,
            staging_dir: None,
        }
    }
}

impl UploadOptions {
    /// Keeps the shard cache in this folder.
    pub fn shard_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.shard_cache = Some(dir.into());
        self
    }

    /// The most bytes of shards the cache keeps.
    pub fn shard_cache_limit(mut self, bytes: u64) -> Self {
        self.shard_cache_limit = bytes;
        self
    }

    /// Files cleaned at once.
    pub fn file_workers(mut self, workers: usize) -> Self {
        self.file_workers = workers;
        self
    }

    /// Xorbs uploaded at once.
    pub fn xorb_uploads(mut self, uploads: usize) -> Self {
        self.xorb_uploads = uploads;
        self
    }

    /// Whether to ask the CAS's global dedupe.
    pub fn global_dedupe(mut self, enabled: bool) -> Self {
        self.global_dedupe = enabled;
        self
    }

    /// Stages xorbs in this folder.
    pub fn staging_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.staging_dir = Some(dir.into());
        self
    }
}

/// One uploaded file: what a commit names it by.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedFile {
    /// Its Xet hash (the `X-Xet-Hash` and tree `xetHash` the Hub will report).
    pub file_hash: XetHash,
    /// The sha256 of its bytes (the LFS oid a commit names it by).
    pub sha256: [u8; 32],
    /// Its size in bytes.
    pub size: u64,
}

impl UploadedFile {
    /// The sha256 in lowercase hex.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a session sent and saved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadStats {
    /// Bytes of the files.
    pub bytes: u64,
    /// Bytes of chunks packed into new xorbs (decompressed).
    pub new_bytes: u64,
    /// Bytes of chunks found in xorbs the CAS has or the session made.
    pub deduped_bytes: u64,
    /// Xorbs uploaded.
    pub xorbs_uploaded: u64,
    /// Bytes of those xorbs, as sent.
    pub xorb_bytes_uploaded: u64,
    /// Shards uploaded.
    pub shards_uploaded: u64,
    /// Global dedupe queries made.
    pub dedupe_queries: u64,
    /// Those answered with a shard.
    pub dedupe_hits: u64,
    /// The most bytes of buffers the session held at once: pieces read, blocks awaiting
    /// deduplication, chunks being compressed, read and write buffers of staged xorbs (not
    /// the index of known chunks, nor what the transport buffers).
    pub peak_buffered_bytes: u64,
}

/// What [`upload_files`] did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UploadOutcome {
    /// The files, in the order they were given.
    pub files: Vec<UploadedFile>,
    /// What was sent and saved.
    pub stats: UploadStats,
}

/// Uploads `sources` to the CAS: chunks, deduplication, xorbs (uploaded `xorb_uploads` at
/// once while `file_workers` files are read), then the shard registering the files. Once it
/// returns, the files can be committed by their sha256. Fails at the first error of a read
/// or a CAS call; the CAS then registers no file (xorbs already sent stay unreferenced).
/// `progress` hears of every piece of a file read.
pub fn upload_files(
    cas: &dyn CasUpload,
    sources: &[UploadSource<'_>],
    options: &UploadOptions,
    progress: &dyn UploadProgress,
) -> Result<UploadOutcome, Error> {
    let cache = options
        .shard_cache
        .as_ref()
        .map(|dir| ShardCache::new(dir, options.shard_cache_limit));
    let mut known = KnownChunks::default();
    if let Some(cache) = &cache {
        cache.load_into(&mut known);
    }
    let shared = Shared {
        cas,
        progress,
        known: RwLock::new(known),
        global_dedupe: options.global_dedupe,
        next_xorb: AtomicUsize::new(0),
        finished: Mutex::new(Vec::new()),
        answers: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
        counters: Counters::default(),
        staging_dir: options.staging_dir.clone().unwrap_or_else(std::env::temp_dir),
        held: Held::default(),
    };
    remove_stale(&shared.staging_dir);
    let cleaned = clean_all(&shared, sources, options)?;

    let xorbs: Vec<(usize, XorbInfo)> = shared.finished.into_inner().unwrap_or_default();
    let hashes: HashMap<usize, XetHash> = xorbs.iter().map(|(id, info)| (*id, info.xorb_hash)).collect();
    let mut new_xorbs: Vec<XorbInfo> = xorbs.into_iter().map(|(_, info)| info).collect();
    let mut files = Vec::with_capacity(cleaned.len());
    let mut infos = Vec::new();
    for file in &cleaned {
        let info = file_info(file, &hashes)?;
        files.push(UploadedFile {
            file_hash: info.file_hash,
            sha256: file.sha256,
            size: file.size,
        });
        if file.size > 0 {
            infos.push(info);
        }
    }
    mark_file_starts(&mut new_xorbs, &infos);

    let mut shards_uploaded = 0;
    let session_shard = Shard {
        files: infos,
        xorbs: new_xorbs,
        footer: None,
    };
    if !session_shard.files.is_empty() || !session_shard.xorbs.is_empty() {
        for part in split_shard(&session_shard) {
            cas.upload_shard(part.to_bytes()?)?;
            shards_uploaded += 1;
        }
    }

    // The cache is an optimization: failing to write it fails nothing.
    if let Some(cache) = &cache {
        if !session_shard.xorbs.is_empty() {
            let _ = cache.store(&Shard {
                files: Vec::new(),
                ..session_shard
            });
        }
        for answer in shared.answers.into_inner().unwrap_or_default() {
            let _ = cache.store(&answer);
        }
    }

    let counters = &shared.counters;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    Ok(UploadOutcome {
        files,
        stats: UploadStats {
            bytes: get(&counters.bytes),
            new_bytes: get(&counters.new_bytes),
            deduped_bytes: get(&counters.deduped_bytes),
            xorbs_uploaded: get(&counters.xorbs_uploaded),
            xorb_bytes_uploaded: get(&counters.xorb_bytes_uploaded),
            shards_uploaded,
            dedupe_queries: get(&counters.dedupe_queries),
            dedupe_hits: get(&counters.dedupe_hits),
            peak_buffered_bytes: shared.held.peak() as u64,
        },
    })
}

/// Cleans every source with `file_workers` threads while `xorb_uploads` threads upload the
/// xorbs they fill; returns the cleaned files in order once every xorb is uploaded.
fn clean_all(
    shared: &Shared<'_>,
    sources: &[UploadSource<'_>],
    options: &UploadOptions,
) -> Result<Vec<CleanedFile>, Error> {
    let uploads = options.xorb_uploads.max(1);
    // A rendezvous: a worker hands a full xorb straight to an upload thread, so that memory
    // holds the workers' xorbs and those being compressed or sent, no more.
    let (queue, queued) = sync_channel::<PendingXorb>(0);
    let queued = Mutex::new(queued);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |err: Error| {
        shared.failed.store(true, Ordering::Relaxed);
        if let Ok(mut first) = first_error.lock() {
            first.get_or_insert(err);
        }
    };
    let results: Vec<Mutex<Option<CleanedFile>>> = sources.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..uploads {
            scope.spawn(|| {
                loop {
                    let xorb = match queued.lock() {
                        Ok(queued) => queued.recv(),
                        Err(_) => return,
                    };
                    let Ok(xorb) = xorb else { return };
                    // After a failure, xorbs are drained so that no worker waits on the queue.
                    if shared.failed.load(Ordering::Relaxed) {
                        continue;
                    }
                    let id = xorb.id;
                    let built = match xorb.build(shared) {
                        Ok(built) => built,
                        Err(err) => {
                            fail(err);
                            continue;
                        }
                    };
                    let len = u64::from(built.info.serialized_len);
                    let hash = built.info.xorb_hash;
                    if let Ok(mut finished) = shared.finished.lock() {
                        finished.push((id, built.info));
                    }
                    match shared.cas.upload_xorb(&hash, built.file.path(), len) {
                        Ok(()) => {
                            shared.counters.xorbs_uploaded.fetch_add(1, Ordering::Relaxed);
                            shared.counters.xorb_bytes_uploaded.fetch_add(len, Ordering::Relaxed);
                        }
                        Err(err) => fail(err),
                    }
                }
            });
        }
        for _ in 0..options.file_workers.clamp(1, sources.len().max(1)) {
            let queue = queue.clone();
            let (next, results, fail) = (&next, &results, &fail);
            scope.spawn(move || {
                let mut lane = Lane::new(shared);
                loop {
                    if shared.failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(source) = sources.get(index) else { break };
                    let source = match source {
                        UploadSource::File(path) => Source::File(path),
                        UploadSource::Bytes(bytes) => Source::Bytes(bytes),
                    };
                    match clean(shared, &mut lane, index, &source, &queue) {
                        Ok(file) => {
                            if let Ok(mut slot) = results[index].lock() {
                                *slot = Some(file);
                            }
                        }
                        Err(err) => return fail(err),
                    }
                }
                if let Err(err) = lane.cut(shared, &queue) {
                    fail(err);
                }
            });
        }
        drop(queue);
    });
    if let Some(err) = first_error.into_inner().ok().flatten() {
        return Err(err);
    }
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().ok_or(Error::UploadStopped {
                what: "a file was not cleaned",
            })
        })
        .collect()
}

/// A cleaned file's record in the shard: terms with their xorbs' hashes, one verification
/// hash per term, the sha256 as xet-core stores it (each 8-byte group reversed, so that the
/// hash string form reads as the usual hex).
fn file_info(file: &CleanedFile, session_xorbs: &HashMap<usize, XetHash>) -> Result<FileInfo, Error> {
    let mut terms = Vec::with_capacity(file.terms.len());
    let mut verification = Vec::with_capacity(file.terms.len());
    let mut next_chunk = 0;
    for run in &file.terms {
        let xorb_hash = match run.xorb {
            TermXorb::Known(hash) => hash,
            TermXorb::Session(id) => *session_xorbs.get(&id).ok_or(Error::UploadStopped {
                what: "a xorb of the session was not finished",
            })?,
        };
        let chunks = file
            .chunks
            .get(next_chunk..next_chunk + run.len())
            .ok_or(Error::UploadStopped {
                what: "a file's terms do not cover its chunks",
            })?;
        next_chunk += run.len();
        let hashes: Vec<XetHash> = chunks.iter().map(|c| c.hash).collect();
        verification.push(verification_range_hash(&hashes));
        terms.push(Term {
            xorb_hash,
            chunks: ChunkRange {
                start: run.start,
                end: run.end,
            },
            // A term lies within one xorb: less than 64 MiB.
            unpacked_len: run.bytes as u32,
        });
    }
    let mut sha256 = file.sha256;
    for group in sha256.chunks_exact_mut(8) {
        group.reverse();
    }
    Ok(FileInfo {
        file_hash: file_hash(&file.chunks),
        terms,
        verification: Some(verification),
        sha256: Some(sha256),
    })
}

/// Flags the chunks of new xorbs that start a file, as xet-core does: the CAS offers them
/// to global dedupe.
fn mark_file_starts(xorbs: &mut [XorbInfo], files: &[FileInfo]) {
    for file in files {
        let Some(first) = file.terms.first() else { continue };
        if let Some(xorb) = xorbs.iter_mut().find(|x| x.xorb_hash == first.xorb_hash)
            && let Some(chunk) = xorb.chunks.get_mut(first.chunks.start as usize)
        {
            chunk.flags |= FILE_START_CHUNK_FLAG;
        }
    }
}

/// The shard in parts of at most [`MAX_SHARD_BYTES`]: xorbs first, then files (a file may
/// name xorbs of an earlier part, or ones the CAS had).
fn split_shard(shard: &Shard) -> Vec<Shard> {
    const RECORD: usize = 48;
    // The header and both bookends.
    let budget = MAX_SHARD_BYTES - 3 * RECORD;
    let mut parts = vec![Shard::default()];
    let mut used = 0;
    let mut take = |parts: &mut Vec<Shard>, size: usize| {
        if used + size > budget && used > 0 {
            parts.push(Shard::default());
            used = 0;
        }
        used += size;
    };
    for xorb in &shard.xorbs {
        take(&mut parts, RECORD * (1 + xorb.chunks.len()));
        if let Some(part) = parts.last_mut() {
            part.xorbs.push(xorb.clone());
        }
    }
    for file in &shard.files {
        let records = 1 + file.terms.len() * 2 + usize::from(file.sha256.is_some());
        take(&mut parts, RECORD * records);
        if let Some(part) = parts.last_mut() {
            part.files.push(file.clone());
        }
    }
    parts
}

#[cfg(test)]
mod tests;
