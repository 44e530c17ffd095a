//! Rebuilding a file from its reconstruction: terms from the chunk cache where it holds them,
//! the other xorb ranges fetched in parallel, every chunk decompressed, hashed and written
//! at its offset in the output file; the chunk hashes must make the file hash asked for.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::cas::CasClient;
use super::chunk_cache::ChunkCache;
use crate::Error;
use crate::chunking::MAX_CHUNK_SIZE;
use crate::hash::{HashedChunk, XetHash, chunk_hash};
use crate::reconstruction::{QueryReconstructionResponse, Term, XorbMultiRangeFetch, XorbRangeDescriptor};
use crate::xorb::XorbChunkReader;

/// How many times the fetch of one xorb's ranges is tried when its body breaks (a failed
/// request is already retried by the HTTP client).
const FETCH_TRIES: u32 = 3;

/// How a file is rebuilt.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ReconstructOptions<'a> {
    /// Xorb fetches at once (at least one).
    pub workers: usize,
    /// Where chunks are looked for first and kept after (none by default).
    pub chunk_cache: Option<&'a ChunkCache>,
    /// Called with the number of bytes written each time the file grows.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Runs each xorb request, body included (to hold a permit of a connection budget shared
    /// with other transfers meanwhile); none by default.
    pub connection_gate: Option<&'a ConnectionGate<'a>>,
    /// Called with the offset and length of each term once all its bytes are written and
    /// their length checked (before the file hash is), so that the bytes can be hashed while
    /// the rest arrive. A term written again (its fetch broke off, or the file is fetched
    /// again after a failed check) is reported again. None by default.
    pub term_written: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

/// Runs the request it is given, once: it may wait first (for a free connection) and hold
/// something until the request is done.
pub type ConnectionGate<'a> = dyn Fn(&mut dyn FnMut()) + Sync + 'a;

impl std::fmt::Debug for ReconstructOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconstructOptions")
            .field("workers", &self.workers)
            .field("chunk_cache", &self.chunk_cache.map(ChunkCache::root))
            .finish_non_exhaustive()
    }
}

impl Default for ReconstructOptions<'_> {
    fn default() -> Self {
        ReconstructOptions {
            workers: 8,
            chunk_cache: None,
            progress: &|_| {},
            connection_gate: None,
            term_written: None,
        }
    }
}

impl<'a> ReconstructOptions<'a> {
    /// Xorb fetches at once.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The chunk cache to use.
    pub fn chunk_cache(mut self, cache: &'a ChunkCache) -> Self {
        self.chunk_cache = Some(cache);
        self
    }

    /// Where progress goes.
    pub fn progress(mut self, progress: &'a (dyn Fn(u64) + Sync)) -> Self {
        self.progress = progress;
        self
    }

    /// What runs each xorb request.
    pub fn connection_gate(mut self, gate: &'a ConnectionGate<'a>) -> Self {
        self.connection_gate = Some(gate);
        self
    }

    /// What is told of each term written.
    pub fn term_written(mut self, term_written: &'a (dyn Fn(u64, u64) + Sync)) -> Self {
        self.term_written = Some(term_written);
        self
    }
}

/// What a rebuild took from where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconstructOutcome {
    /// The file's size.
    pub size: u64,
    /// Bytes of the file that came from the chunk cache.
    pub bytes_from_cache: u64,
    /// Xorb bytes (compressed, as stored) fetched from the network.
    pub xorb_bytes_fetched: u64,
    /// Xorb range requests sent.
    pub fetches: u64,
}

/// Rebuilds the file whose Xet hash is `file_hash` and size `size` into `file` (its path
/// is `path`, for messages): the file is cut to `size` first, so nothing that was in it is
/// kept. Terms are filled from the chunk cache where it holds their chunks; the rest of the
/// xorb ranges are fetched, `options.workers` at once, each chunk decompressed and written at
/// its offset as it arrives (memory holds a chunk per worker, never the file). Each term
/// must decompress to its length, and the chunk hashes of the whole file must make
/// `file_hash`, or nothing is returned but an error.
///
/// ```no_run
/// use std::path::Path;
/// use std::sync::Arc;
///
/// use hub_api::HubClient;
/// use hub_url::{HubConfig, RepoId, RepoType};
/// use hub_xet::{CasClient, ChunkCache, ReconstructOptions, XetHash, XetScope, XetTokenSource, reconstruct_file};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = HubConfig::from_env()?;
/// let client = HubClient::from_config(&config)?;
/// let repo = RepoId::new("org/model")?;
/// let tokens = XetTokenSource::new(&client, RepoType::Model, &repo, "main", XetScope::Read);
/// let cas = CasClient::new(&client, Arc::new(tokens));
/// // The file's `X-Xet-Hash` and size, from its `HEAD`.
/// let file_hash: XetHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".parse()?;
/// let size = 1_000_000;
/// let cache = ChunkCache::new(config.xet_cache.join("chunks"), 1 << 30);
/// let path = Path::new("model.safetensors");
/// let out = std::fs::File::create(path)?;
/// let options = ReconstructOptions::default().chunk_cache(&cache);
/// let outcome = reconstruct_file(&cas, &file_hash, size, &out, path, &options)?;
/// println!("{} bytes came from the chunk cache", outcome.bytes_from_cache);
/// # Ok(())
/// # }
/// ```
pub fn reconstruct_file(
    cas: &CasClient,
    file_hash: &XetHash,
    size: u64,
    file: &File,
    path: &Path,
    options: &ReconstructOptions<'_>,
) -> Result<ReconstructOutcome, Error> {
    let mut cache_files = Vec::new();
    let result = attempt(cas, file_hash, size, file, path, options, &mut cache_files);
    let Some(cache) = options.chunk_cache else {
        return result;
    };
    match result {
        Err(Error::Integrity { .. }) if !cache_files.is_empty() => {
            // A cached range (left by a download that was killed before its check, or
            // damaged) or one just fetched may hold the bad chunk: none of them is kept, and
            // the file is fetched once more, from the network alone.
            cache.forget(&cache_files);
            let mut ignored = Vec::new();
            let options = ReconstructOptions {
                chunk_cache: None,
                ..*options
            };
            attempt(cas, file_hash, size, file, path, &options, &mut ignored)
        }
        other => other,
    }
}

/// One rebuild; the chunk cache files it read or wrote are added to `cache_files`.
fn attempt(
    cas: &CasClient,
    file_hash: &XetHash,
    size: u64,
    file: &File,
    path: &Path,
    options: &ReconstructOptions<'_>,
    cache_files: &mut Vec<PathBuf>,
) -> Result<ReconstructOutcome, Error> {
    let integrity = |reason: String| Error::Integrity {
        file: file_hash.to_string(),
        reason,
    };
    file.set_len(0).map_err(Error::io("truncate", path))?;
    file.set_len(size).map_err(Error::io("size", path))?;
    let mut outcome = ReconstructOutcome {
        size,
        ..ReconstructOutcome::default()
    };
    if size == 0 {
        return match *file_hash == XetHash::zero() {
            true => Ok(outcome),
            false => Err(integrity("an empty file has the zero hash".into())),
        };
    }
    let plan = cas
        .reconstruction(file_hash, None)?
        .ok_or_else(|| integrity("the CAS does not know the file".into()))?;
    let total: u64 = plan.terms.iter().map(|t| u64::from(t.unpacked_len)).sum();
    if total != size || plan.offset_into_first_range != 0 {
        return Err(integrity(format!(
            "its terms make {total} bytes from offset {}, the file has {size}",
            plan.offset_into_first_range
        )));
    }
    let offsets: Vec<u64> = plan
        .terms
        .iter()
        .scan(0u64, |at, term| {
            let start = *at;
            *at += u64::from(term.unpacked_len);
            Some(start)
        })
        .collect();
    let hashes: Vec<Mutex<Option<Vec<HashedChunk>>>> = plan.terms.iter().map(|_| Mutex::new(None)).collect();

    // Terms the chunk cache holds cost no request; they are read (and checked) by several
    // threads, as the network's are.
    let mut needed = Vec::new();
    let from_cache: Vec<(usize, CachedTerm)> = match options.chunk_cache {
        Some(cache) => read_cached_terms(cache, &plan.terms, &offsets, file, options.workers),
        None => (0..plan.terms.len()).map(|i| (i, Ok(None))).collect(),
    };
    for (i, found) in from_cache {
        match found {
            Ok(Some((chunks, cache_file))) => {
                cache_files.push(cache_file);
                let len = u64::from(plan.terms[i].unpacked_len);
                outcome.bytes_from_cache += len;
                (options.progress)(len);
                if let Some(term_written) = options.term_written {
                    term_written(offsets[i], len);
                }
                *lock(&hashes[i]) = Some(chunks);
            }
            Ok(None) => needed.push(i),
            Err(source) => {
                return Err(Error::Io {
                    action: "write",
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    needed.sort_unstable();

    let jobs = plan_fetches(&plan, &needed).map_err(integrity)?;
    let fetched = AtomicU64::new(0);
    let fetches = AtomicU64::new(0);
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let written_to_cache = Mutex::new(Vec::new());
    let context = FetchContext {
        written_to_cache: &written_to_cache,
        cas,
        plan: &plan,
        offsets: &offsets,
        hashes: &hashes,
        file,
        path,
        file_hash,
        options,
        fetched: &fetched,
    };
    let workers = options.workers.max(1).min(lock(&queue).len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // After a failure the other ranges are still fetched: into the chunk cache,
                // they are what the next try does not fetch again.
                while let Some(job) = lock(&queue).pop_front() {
                    fetches.fetch_add(1, Ordering::Relaxed);
                    if let Err(error) = context.run(&job) {
                        lock(&first_error).get_or_insert(error);
                    }
                }
            });
        }
    });
    cache_files.append(&mut lock(&written_to_cache));
    if let Some(error) = lock(&first_error).take() {
        return Err(error);
    }
    outcome.xorb_bytes_fetched = fetched.load(Ordering::Relaxed);
    outcome.fetches = fetches.load(Ordering::Relaxed);

    let mut all = Vec::new();
    for (i, slot) in hashes.iter().enumerate() {
        let chunks = lock(slot)
            .take()
            .ok_or_else(|| integrity(format!("term {i} was not filled")))?;
        all.extend(chunks);
    }
    let actual = crate::merkle::file_hash(&all);
    if actual != *file_hash {
        return Err(integrity(format!("its chunks make the file hash {actual}")));
    }
    Ok(outcome)
}

/// A term read from the chunk cache: its chunks and the cache file they came from, or
/// `None` when the cache does not hold them all (or they do not check).
type CachedTerm = std::io::Result<Option<(Vec<HashedChunk>, PathBuf)>>;

/// Reads the terms the chunk cache holds into `file`, `workers` threads at once; every term
/// comes back once, with what was found for it.
fn read_cached_terms(
    cache: &ChunkCache,
    terms: &[Term],
    offsets: &[u64],
    file: &File,
    workers: usize,
) -> Vec<(usize, CachedTerm)> {
    let next = AtomicUsize::new(0);
    let read_one = |i: usize| -> CachedTerm {
        let term = &terms[i];
        let mut at = offsets[i];
        let found = cache.read(&term.xorb_hash, term.chunks, &mut |data| {
            write_at(file, data, at)?;
            at += data.len() as u64;
            Ok(())
        })?;
        // A range of the right chunks with the wrong length is no use either.
        Ok(found.filter(|_| at - offsets[i] == u64::from(term.unpacked_len)))
    };
    let mut results: Vec<(usize, CachedTerm)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1).min(terms.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= terms.len() {
                            return mine;
                        }
                        mine.push((i, read_one(i)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results
}

/// The ranges of one fetch entry to request, and the terms each range fills.
struct FetchJob<'p> {
    xorb: XetHash,
    fetch: &'p XorbMultiRangeFetch,
    ranges: Vec<(&'p XorbRangeDescriptor, Vec<usize>)>,
}

/// Groups the terms to fetch by the range that holds them: a range shared by several terms
/// (the same chunks used twice) is fetched once.
fn plan_fetches<'p>(plan: &'p QueryReconstructionResponse, needed: &[usize]) -> Result<Vec<FetchJob<'p>>, String> {
    // (xorb, fetch index) -> range index -> terms.
    let mut grouped: HashMap<(XetHash, usize), HashMap<usize, Vec<usize>>> = HashMap::new();
    for &i in needed {
        let term = &plan.terms[i];
        let fetches = plan.xorbs.get(&term.xorb_hash).map(Vec::as_slice).unwrap_or_default();
        let place = fetches.iter().enumerate().find_map(|(f, fetch)| {
            let r = fetch.ranges.iter().position(|r| r.chunks.contains(&term.chunks))?;
            Some((f, r))
        });
        let (f, r) = place.ok_or_else(|| format!("no range of xorb {} holds term {i}", term.xorb_hash))?;
        grouped
            .entry((term.xorb_hash, f))
            .or_default()
            .entry(r)
            .or_default()
            .push(i);
    }
    let mut jobs: Vec<FetchJob<'p>> = grouped
        .into_iter()
        .map(|((xorb, f), ranges)| {
            let fetch = &plan.xorbs[&xorb][f];
            let mut ranges: Vec<(&XorbRangeDescriptor, Vec<usize>)> =
                ranges.into_iter().map(|(r, terms)| (&fetch.ranges[r], terms)).collect();
            ranges.sort_by_key(|(range, _)| range.bytes.start);
            FetchJob { xorb, fetch, ranges }
        })
        .collect();
    // The file's order, roughly: the first terms arrive first.
    jobs.sort_by_key(|job| job.ranges.iter().flat_map(|(_, t)| t.iter().copied()).min());
    Ok(jobs)
}

/// What every fetch of one rebuild shares.
struct FetchContext<'a> {
    cas: &'a CasClient,
    plan: &'a QueryReconstructionResponse,
    offsets: &'a [u64],
    hashes: &'a [Mutex<Option<Vec<HashedChunk>>>],
    file: &'a File,
    path: &'a Path,
    file_hash: &'a XetHash,
    options: &'a ReconstructOptions<'a>,
    fetched: &'a AtomicU64,
    written_to_cache: &'a Mutex<Vec<PathBuf>>,
}

impl FetchContext<'_> {
    /// Fetches a job's ranges, again when the body breaks (its terms are written again
    /// whole: a write is idempotent), and with a new URL when the presigned one is refused
    /// (it expired while the file was being fetched).
    fn run(&self, job: &FetchJob<'_>) -> Result<(), Error> {
        let mut fetch = job.fetch.clone();
        let mut tries = 0;
        loop {
            tries += 1;
            let ranges: Vec<&XorbRangeDescriptor> = job.ranges.iter().map(|(r, _)| *r).collect();
            let mut result = None;
            let mut request = || {
                result = Some(self.cas.fetch_ranges(&fetch, &ranges, &mut |range, body| {
                    let terms = job
                        .ranges
                        .iter()
                        .find(|(r, _)| std::ptr::eq(*r, range))
                        .map(|(_, terms)| terms.as_slice())
                        .unwrap_or_default();
                    self.fill(job.xorb, range, terms, body)
                }));
            };
            match self.options.connection_gate {
                Some(gate) => gate(&mut request),
                None => request(),
            }
            let result = result.unwrap_or_else(|| {
                Err(Error::Integrity {
                    file: self.file_hash.to_string(),
                    reason: format!("the fetch of xorb {} did not run", job.xorb),
                })
            });
            match result {
                Err(Error::Read { source }) if tries < FETCH_TRIES => {
                    log::debug!("xorb {} broke off ({source}), fetching it again", job.xorb);
                }
                Err(error @ Error::Hub { status: Some(403), .. }) if tries < FETCH_TRIES => {
                    log::debug!("the URL of xorb {} was refused, asking for a new one", job.xorb);
                    fetch = self.fresh_url(job, &ranges).ok_or(error)?;
                }
                other => return other,
            }
        }
    }

    /// A new presigned URL for the job's ranges, from a new reconstruction of the file.
    fn fresh_url(&self, job: &FetchJob<'_>, ranges: &[&XorbRangeDescriptor]) -> Option<XorbMultiRangeFetch> {
        let plan = self.cas.reconstruction(self.file_hash, None).ok()??;
        let fetches = plan.xorbs.get(&job.xorb)?;
        fetches
            .iter()
            .find(|fetch| ranges.iter().all(|wanted| fetch.ranges.iter().any(|r| r == *wanted)))
            .cloned()
    }

    /// Reads the chunks of one range and writes each where the terms it fills want it.
    fn fill(
        &self,
        xorb: XetHash,
        range: &XorbRangeDescriptor,
        terms: &[usize],
        body: &mut dyn std::io::Read,
    ) -> Result<(), Error> {
        let integrity = |reason: String| Error::Integrity {
            file: self.file_hash.to_string(),
            reason,
        };
        let mut counted = CountingReader { inner: body, count: 0 };
        let mut reader = XorbChunkReader::new(&mut counted);
        let mut cursors: Vec<(usize, &Term, u64, Vec<HashedChunk>)> = terms
            .iter()
            .map(|&t| (t, &self.plan.terms[t], self.offsets[t], Vec::new()))
            .collect();
        let mut cache = self
            .options
            .chunk_cache
            .and_then(|cache| cache.writer(&xorb, range.chunks.start));
        let mut data = Vec::with_capacity(MAX_CHUNK_SIZE);
        for index in range.chunks.start..range.chunks.end {
            let header = reader.next_chunk(&mut data).map_err(|err| match err {
                Error::Read { source } => Error::Read { source },
                other => integrity(format!("chunk {index} of xorb {xorb}: {other}")),
            })?;
            if header.is_none() {
                return Err(integrity(format!("the bytes of xorb {xorb} end before chunk {index}")));
            }
            let chunk = HashedChunk {
                hash: chunk_hash(&data),
                len: data.len() as u64,
            };
            for (_, term, at, hashes) in cursors.iter_mut() {
                if term.chunks.start <= index && index < term.chunks.end {
                    write_at(self.file, &data, *at).map_err(Error::io("write", self.path))?;
                    *at += chunk.len;
                    hashes.push(chunk);
                    (self.options.progress)(chunk.len);
                }
            }
            if let Some(cache) = cache.as_mut() {
                cache.push(&chunk, &data);
            }
        }
        if reader.next_chunk(&mut data)?.is_some() {
            return Err(integrity(format!(
                "the range of xorb {xorb} holds more chunks than it says"
            )));
        }
        for (t, term, at, hashes) in cursors {
            let written = at - self.offsets[t];
            if written != u64::from(term.unpacked_len) {
                return Err(integrity(format!(
                    "term {t} decompressed to {written} bytes, not {}",
                    term.unpacked_len
                )));
            }
            *lock(&self.hashes[t]) = Some(hashes);
            if let Some(term_written) = self.options.term_written {
                term_written(self.offsets[t], written);
            }
        }
        self.fetched.fetch_add(counted.count, Ordering::Relaxed);
        if let Some(written) = cache.and_then(|cache| cache.finish()) {
            lock(self.written_to_cache).push(written);
        }
        Ok(())
    }
}

/// Counts the bytes read through it.
struct CountingReader<'r> {
    inner: &'r mut dyn std::io::Read,
    count: u64,
}

impl std::io::Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes all of `data` at `offset`, leaving the file's position alone (threads share it).
#[cfg(unix)]
fn write_at(file: &File, data: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

/// Writes all of `data` at `offset`, leaving the file's position alone (threads share it).
#[cfg(windows)]
fn write_at(file: &File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !data.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, data, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}
