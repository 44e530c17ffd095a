//! Rebuilding a file from its reconstruction: terms from local files where the chunk index
//! finds them, the other xorb ranges fetched in parallel, every chunk decompressed, hashed
//! and written at its offset in the output file; the chunk hashes must make the file hash
//! asked for. The output file's own chunks are recorded in the index as they are written,
//! so that a rebuild cut short takes them from it the next time.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::cas::CasClient;
use super::chunk_index::{ChunkIndex, ChunkSpan, FoundRun, read_run};
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
    /// Where chunks are looked for first, and the output file's chunks recorded (none by
    /// default).
    pub chunk_index: Option<&'a ChunkIndex>,
    /// Called with the number of bytes written each time the file grows.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Runs each xorb request, body included (to hold a permit of a connection budget shared
    /// with other transfers meanwhile); none by default.
    pub connection_gate: Option<&'a ConnectionGate<'a>>,
}

/// Runs the request it is given, once: it may wait first (for a free connection) and hold
/// something until the request is done.
pub type ConnectionGate<'a> = dyn Fn(&mut dyn FnMut()) + Sync + 'a;

impl std::fmt::Debug for ReconstructOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconstructOptions")
            .field("workers", &self.workers)
            .field("chunk_index", &self.chunk_index.map(ChunkIndex::root))
            .finish_non_exhaustive()
    }
}

impl Default for ReconstructOptions<'_> {
    fn default() -> Self {
        ReconstructOptions {
            workers: 8,
            chunk_index: None,
            progress: &|_| {},
            connection_gate: None,
        }
    }
}

impl<'a> ReconstructOptions<'a> {
    /// Xorb fetches at once.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The chunk index to use.
    pub fn chunk_index(mut self, index: &'a ChunkIndex) -> Self {
        self.chunk_index = Some(index);
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
}

/// What a rebuild took from where, and where the file's chunks are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconstructOutcome {
    /// The file's size.
    pub size: u64,
    /// Bytes of the file found in local files (the output file included, when a rebuild
    /// cut short had written them).
    pub bytes_found_locally: u64,
    /// Xorb bytes (compressed, as stored) fetched from the network.
    pub xorb_bytes_fetched: u64,
    /// Xorb range requests sent.
    pub fetches: u64,
    /// The file's chunks, term by term: what to record in a [`ChunkIndex`] once the file is
    /// where it stays ([`ChunkIndex::moved`]).
    pub spans: Vec<ChunkSpan>,
}

/// Rebuilds the file whose Xet hash is `file_hash` and size `size` into `file` (its path
/// is `path`, for messages and the chunk index): the file is sized to `size`, and every
/// byte of it is checked or written again, so nothing that was in it is trusted. Terms are
/// taken from local files where the chunk index finds their chunks (a term the index says
/// is already in `file`, at its place, is only read and checked); the rest of the xorb
/// ranges are fetched, `options.workers` at once, each chunk decompressed and written at
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
/// use hub_xet::{CasClient, ChunkIndex, ReconstructOptions, XetHash, XetScope, XetTokenSource, reconstruct_file};
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
/// let index = ChunkIndex::new(config.xet_cache.join("chunk-index"));
/// let path = Path::new("model.safetensors");
/// let out = std::fs::File::options().read(true).write(true).create(true).truncate(false).open(path)?;
/// let options = ReconstructOptions::default().chunk_index(&index);
/// let outcome = reconstruct_file(&cas, &file_hash, size, &out, path, &options)?;
/// println!("{} bytes were found on this machine", outcome.bytes_found_locally);
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
    let mut used = Vec::new();
    let written = Written::new(options.chunk_index, path);
    let result = attempt(cas, file_hash, size, file, path, options, &mut used, &written);
    let Some(index) = options.chunk_index else {
        return result;
    };
    match result {
        Err(Error::Integrity { .. }) => {
            // A run the index pointed at (a file changed since in a way its chunk hashes
            // cannot tell, or a bad chunk a killed rebuild had left) or one just fetched may
            // hold the bad chunk: none of those records is kept, nor what this rebuild
            // recorded of the output file, and the file is fetched once more, from the
            // network alone.
            written.forget_all();
            for record in &used {
                index.drop_record(record);
            }
            let options = ReconstructOptions {
                chunk_index: None,
                ..*options
            };
            let unrecorded = Written::new(None, path);
            let retried = attempt(cas, file_hash, size, file, path, &options, &mut Vec::new(), &unrecorded);
            if let Ok(outcome) = &retried {
                let _ = index.record(path, &outcome.spans);
            }
            retried
        }
        other => other,
    }
}

/// One rebuild; the index records it used are added to `used`, and what it writes of the
/// output file is recorded through `written`.
#[allow(clippy::too_many_arguments)]
fn attempt(
    cas: &CasClient,
    file_hash: &XetHash,
    size: u64,
    file: &File,
    path: &Path,
    options: &ReconstructOptions<'_>,
    used: &mut Vec<PathBuf>,
    written: &Written<'_>,
) -> Result<ReconstructOutcome, Error> {
    let integrity = |reason: String| Error::Integrity {
        file: file_hash.to_string(),
        reason,
    };
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

    // Terms found on this machine cost no request; they are read (and checked) by several
    // threads, as the network's are.
    let mut needed = Vec::new();
    let found: Vec<(usize, LocalTerm)> = match options.chunk_index {
        Some(index) => read_local_terms(index, &plan.terms, &offsets, file, path, options.workers),
        None => (0..plan.terms.len()).map(|i| (i, Ok(None))).collect(),
    };
    let mut found_spans = Vec::new();
    for (i, term) in found {
        match term {
            Ok(Some((chunks, record))) => {
                used.push(record);
                let len = u64::from(plan.terms[i].unpacked_len);
                outcome.bytes_found_locally += len;
                (options.progress)(len);
                found_spans.push(span_of(&plan.terms[i], offsets[i], &chunks));
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
    written.add(found_spans);
    needed.sort_unstable();

    let jobs = plan_fetches(&plan, &needed).map_err(integrity)?;
    let fetched = AtomicU64::new(0);
    let fetches = AtomicU64::new(0);
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let context = FetchContext {
        cas,
        plan: &plan,
        offsets: &offsets,
        hashes: &hashes,
        file,
        path,
        file_hash,
        options,
        fetched: &fetched,
        written,
    };
    let workers = options.workers.max(1).min(lock(&queue).len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                // After a failure the other ranges are still fetched: written and recorded,
                // they are what the next try does not fetch again.
                loop {
                    // Taken in a statement of its own: the queue's lock must not be held
                    // while the job runs (a `while let` would hold it for the whole body).
                    let next = lock(&queue).pop_front();
                    let Some(job) = next else {
                        break;
                    };
                    fetches.fetch_add(1, Ordering::Relaxed);
                    if let Err(error) = context.run(&job) {
                        lock(&first_error).get_or_insert(error);
                    }
                }
            });
        }
    });
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
        outcome.spans.push(span_of(&plan.terms[i], offsets[i], &chunks));
        all.extend(chunks);
    }
    let actual = crate::merkle::file_hash(&all);
    if actual != *file_hash {
        return Err(integrity(format!("its chunks make the file hash {actual}")));
    }
    Ok(outcome)
}

/// The span a term's chunks make at `offset`.
fn span_of(term: &Term, offset: u64, chunks: &[HashedChunk]) -> ChunkSpan {
    ChunkSpan {
        xorb: term.xorb_hash,
        first_chunk: term.chunks.start,
        offset,
        chunks: chunks.to_vec(),
    }
}

/// The output file's spans written so far, by xorb, recorded in the index as they grow
/// (so that a rebuild cut short leaves a record of what it had written).
struct Written<'a> {
    index: Option<&'a ChunkIndex>,
    path: &'a Path,
    spans: Mutex<HashMap<XetHash, Vec<ChunkSpan>>>,
}

impl<'a> Written<'a> {
    fn new(index: Option<&'a ChunkIndex>, path: &'a Path) -> Self {
        Written {
            index,
            path,
            spans: Mutex::new(HashMap::new()),
        }
    }

    /// Adds spans, and records again the xorbs they are of. A record that cannot be
    /// written only means the next try fetches those chunks again.
    fn add(&self, new: Vec<ChunkSpan>) {
        let Some(index) = self.index else {
            return;
        };
        if new.is_empty() {
            return;
        }
        // Held while recording, so that two records of one xorb are never written at once
        // (the later would lose the other's spans).
        let mut spans = lock(&self.spans);
        let mut touched = Vec::new();
        for span in new {
            if !touched.contains(&span.xorb) {
                touched.push(span.xorb);
            }
            let list = spans.entry(span.xorb).or_default();
            list.push(span);
            list.sort_by_key(|s| s.offset);
        }
        for xorb in touched {
            if let Err(error) = index.record(self.path, &spans[&xorb]) {
                log::debug!(
                    "could not record the chunks of {} in the chunk index: {error}",
                    self.path.display()
                );
            }
        }
    }

    /// Forgets every record of the output file written so far.
    fn forget_all(&self) {
        if let Some(index) = self.index {
            let spans = lock(&self.spans);
            let all: Vec<ChunkSpan> = spans.values().flat_map(|list| list.iter().cloned()).collect();
            index.forget(self.path, &all);
        }
    }
}

/// A term found on this machine and written (or found in place): its chunks and the
/// record that pointed at them, or `None` when no recorded run holds them all (or the one
/// found does not check).
type LocalTerm = std::io::Result<Option<(Vec<HashedChunk>, PathBuf)>>;

/// Reads the terms the chunk index finds into `file`, `workers` threads at once; every
/// term comes back once, with what was found for it.
fn read_local_terms(
    index: &ChunkIndex,
    terms: &[Term],
    offsets: &[u64],
    file: &File,
    path: &Path,
    workers: usize,
) -> Vec<(usize, LocalTerm)> {
    let output = std::path::absolute(path).ok();
    let next = AtomicUsize::new(0);
    let read_one = |i: usize| -> LocalTerm {
        let term = &terms[i];
        let Some(run) = index.find(&term.xorb_hash, term.chunks) else {
            return Ok(None);
        };
        let in_place = Some(&run.file) == output.as_ref() && run.offset == offsets[i];
        let mut at = offsets[i];
        let checked = read_run(&run, &mut |data| {
            if !in_place {
                write_at(file, data, at)?;
            }
            at += data.len() as u64;
            Ok(())
        })?;
        // A run of the right chunks with the wrong length is no use either.
        if !checked || at - offsets[i] != u64::from(term.unpacked_len) {
            index.drop_record(&run.record);
            return Ok(None);
        }
        let FoundRun { chunks, record, .. } = run;
        Ok(Some((chunks, record)))
    };
    let mut results: Vec<(usize, LocalTerm)> = std::thread::scope(|scope| {
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
    written: &'a Written<'a>,
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
        }
        if reader.next_chunk(&mut data)?.is_some() {
            return Err(integrity(format!(
                "the range of xorb {xorb} holds more chunks than it says"
            )));
        }
        let mut spans = Vec::with_capacity(cursors.len());
        for (t, term, at, hashes) in cursors {
            let written = at - self.offsets[t];
            if written != u64::from(term.unpacked_len) {
                return Err(integrity(format!(
                    "term {t} decompressed to {written} bytes, not {}",
                    term.unpacked_len
                )));
            }
            spans.push(span_of(term, self.offsets[t], &hashes));
            *lock(&self.hashes[t]) = Some(hashes);
        }
        self.fetched.fetch_add(counted.count, Ordering::Relaxed);
        self.written.add(spans);
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
