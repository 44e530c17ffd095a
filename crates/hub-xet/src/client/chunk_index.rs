//! [`ChunkIndex`]: where the chunks of xorbs already lie on this machine, inside the files
//! rebuilt before (blobs of the cache, partial files of a download that was killed), so that
//! a file sharing chunks with one of them takes those chunks from the disk instead of the
//! network. It holds no bytes of its own: a rebuilt file's bytes are written once, into
//! the file, and the index records where they are.
//!
//! One record a xorb and a file: `{root}/{xorb hash}/{key of the file's path}`, naming the
//! file and, for each run of the xorb's chunks it holds, the first chunk's number, the
//! run's offset in the file and each chunk's length and hash. Records are written under a
//! temporary name and renamed into place, so a reader sees whole records only. Nothing in a
//! record is trusted when it is used: every chunk read from a file is hashed again and
//! compared with the record, and a record that does not check (the file changed, moved or
//! went) is removed. Each xorb keeps at most [`RECORDS_PER_XORB`] records, the newest.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::chunking::MAX_CHUNK_SIZE;
use crate::hash::{HashedChunk, XetHash, chunk_hash};
use crate::reconstruction::ChunkRange;
use crate::xorb::MAX_XORB_CHUNKS;

const MAGIC: &[u8; 8] = b"HUBCIDX1";
/// Bytes of one chunk's entry: length (u32) and hash.
const ENTRY_LEN: usize = 4 + 32;
/// Bytes of a run's header: first chunk (u32), offset (u64), chunk count (u32).
const RUN_HEADER_LEN: usize = 4 + 8 + 4;
/// The longest path a record names.
const MAX_PATH_LEN: usize = 4096;
/// Runs of one xorb in one file: a file uses a xorb's chunks a bounded number of times
/// (past it, the file is simply not recorded for that xorb).
const MAX_RUNS: usize = 4096;
/// The records kept for one xorb: the files that hold its chunks, the newest first.
pub const RECORDS_PER_XORB: usize = 16;
/// A temporary record this old was left by a killed process, and is removed.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A run of chunks of one xorb, one after the other in a file from `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkSpan {
    /// The xorb the chunks come from.
    pub xorb: XetHash,
    /// The number of the run's first chunk in the xorb.
    pub first_chunk: u32,
    /// Where the run starts in the file.
    pub offset: u64,
    /// The chunks, in order.
    pub chunks: Vec<HashedChunk>,
}

impl ChunkSpan {
    /// The xorb chunks the span holds.
    pub fn chunk_range(&self) -> ChunkRange {
        ChunkRange {
            start: self.first_chunk,
            end: self.first_chunk + self.chunks.len() as u32,
        }
    }

    /// The bytes the span covers in its file.
    pub fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len).sum()
    }

    /// Whether the span holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// A run of a record: first chunk, offset in the file, the chunks.
type Run = (u32, u64, Vec<HashedChunk>);

/// Where a run of chunks was found: the file, the offset of the run's first chunk, its
/// chunks, and the record that said so.
#[derive(Debug)]
pub(crate) struct FoundRun {
    pub(crate) file: PathBuf,
    pub(crate) offset: u64,
    pub(crate) chunks: Vec<HashedChunk>,
    pub(crate) record: PathBuf,
}

/// The index of chunks held in local files; cheap to share between threads.
#[derive(Debug)]
pub struct ChunkIndex {
    root: PathBuf,
    temp_counter: AtomicU64,
}

impl ChunkIndex {
    /// An index in `root` (made when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ChunkIndex {
            root: root.into(),
            temp_counter: AtomicU64::new(0),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Records that `file` holds `spans` (the runs of each xorb together), replacing what
    /// was recorded of `file` for those xorbs. A file whose path is not UTF-8 is not
    /// recorded.
    pub fn record(&self, file: &Path, spans: &[ChunkSpan]) -> std::io::Result<()> {
        let Some(file) = absolute_utf8(file) else {
            return Ok(());
        };
        for (xorb, runs) in by_xorb(spans) {
            if runs.len() > MAX_RUNS {
                continue;
            }
            let folder = self.root.join(xorb.to_string());
            std::fs::create_dir_all(&folder)?;
            let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
            let temp = folder.join(format!(".tmp-{}-{n}", std::process::id()));
            std::fs::write(&temp, encode(&file, &runs))?;
            let target = folder.join(record_name(&file));
            if let Err(error) = std::fs::rename(&temp, &target) {
                let _ = std::fs::remove_file(&temp);
                return Err(error);
            }
            keep_newest(&folder);
        }
        Ok(())
    }

    /// Forgets what is recorded of `file` for the xorbs of `spans` (the file went, or is
    /// not to be trusted).
    pub fn forget(&self, file: &Path, spans: &[ChunkSpan]) {
        let Some(file) = absolute_utf8(file) else {
            return;
        };
        let name = record_name(&file);
        for (xorb, _) in by_xorb(spans) {
            let _ = std::fs::remove_file(self.root.join(xorb.to_string()).join(&name));
        }
    }

    /// Records that the file at `from`, holding `spans`, is now at `to`.
    pub fn moved(&self, from: &Path, to: &Path, spans: &[ChunkSpan]) -> std::io::Result<()> {
        self.record(to, spans)?;
        self.forget(from, spans);
        Ok(())
    }

    /// A recorded run of `xorb` that holds all of `chunks`, narrowed to them.
    pub(crate) fn find(&self, xorb: &XetHash, chunks: ChunkRange) -> Option<FoundRun> {
        let folder = self.root.join(xorb.to_string());
        let entries = std::fs::read_dir(&folder).ok()?;
        for entry in entries.flatten().take(RECORDS_PER_XORB * 2) {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                continue;
            }
            let record = entry.path();
            let Some((file, runs)) = read_record(&record) else {
                let _ = std::fs::remove_file(&record);
                continue;
            };
            let found = runs.into_iter().find_map(|(first, offset, entries)| {
                let held = ChunkRange {
                    start: first,
                    end: first + entries.len() as u32,
                };
                if !held.contains(&chunks) {
                    return None;
                }
                let skip = (chunks.start - first) as usize;
                let at = offset + entries[..skip].iter().map(|c| c.len).sum::<u64>();
                Some((at, entries[skip..skip + chunks.len() as usize].to_vec()))
            });
            if let Some((offset, chunks)) = found {
                return Some(FoundRun {
                    file,
                    offset,
                    chunks,
                    record,
                });
            }
        }
        None
    }

    /// Removes a record found not to check.
    pub(crate) fn drop_record(&self, record: &Path) {
        if record.starts_with(&self.root) && std::fs::remove_file(record).is_ok() {
            log::debug!("removed the chunk index record {}", record.display());
        }
    }
}

/// Reads the chunks of `run` from its file, each hashed and compared with the record, and
/// hands their bytes to `each` in order; `Ok(false)` when a chunk does not check or the
/// file is shorter (nothing more is handed then).
pub(crate) fn read_run(run: &FoundRun, each: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<bool> {
    let mut file = match File::open(&run.file) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    file.seek(SeekFrom::Start(run.offset))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut buf = vec![0u8; MAX_CHUNK_SIZE];
    for entry in &run.chunks {
        let data = &mut buf[..entry.len as usize];
        match reader.read_exact(data) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(error) => return Err(error),
        }
        if chunk_hash(data) != entry.hash {
            return Ok(false);
        }
        each(data)?;
    }
    Ok(true)
}

/// The runs of each xorb in `spans`, adjacent ones (the next chunks at the next bytes)
/// joined.
fn by_xorb(spans: &[ChunkSpan]) -> HashMap<XetHash, Vec<Run>> {
    let mut runs: HashMap<XetHash, Vec<Run>> = HashMap::new();
    for span in spans.iter().filter(|s| !s.is_empty()) {
        let list = runs.entry(span.xorb).or_default();
        if let Some((first, offset, chunks)) = list.last_mut() {
            let end_chunk = *first + chunks.len() as u32;
            let end_offset = *offset + chunks.iter().map(|c| c.len).sum::<u64>();
            if end_chunk == span.first_chunk && end_offset == span.offset {
                chunks.extend_from_slice(&span.chunks);
                continue;
            }
        }
        list.push((span.first_chunk, span.offset, span.chunks.clone()));
    }
    runs
}

/// The path, absolute, when it is UTF-8 (records name files by text).
fn absolute_utf8(file: &Path) -> Option<String> {
    let absolute = std::path::absolute(file).ok()?;
    let text = absolute.to_str()?.to_string();
    (text.len() <= MAX_PATH_LEN).then_some(text)
}

/// A record's name: a hash of the file's path, so one file has one record a xorb.
fn record_name(file: &str) -> String {
    let hash = blake3::hash(file.as_bytes());
    hash.to_hex()[..32].to_string()
}

fn encode(file: &str, runs: &[Run]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(file.len() as u32).to_le_bytes());
    out.extend_from_slice(file.as_bytes());
    out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
    for (first, offset, chunks) in runs {
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
        for chunk in chunks {
            out.extend_from_slice(&(chunk.len as u32).to_le_bytes());
            out.extend_from_slice(chunk.hash.as_bytes());
        }
    }
    out
}

/// A record's file and runs; `None` when it is not one (damaged, or of another format).
fn read_record(path: &Path) -> Option<(PathBuf, Vec<Run>)> {
    let file = File::open(path).ok()?;
    let limit = (MAGIC.len() + 4 + MAX_PATH_LEN + 4) as u64
        + (MAX_RUNS * RUN_HEADER_LEN) as u64
        + (MAX_XORB_CHUNKS * ENTRY_LEN) as u64 * 2;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > limit {
        return None;
    }
    let mut at = Cursor { bytes: &bytes, at: 0 };
    if at.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let path_len = at.u32()? as usize;
    if path_len > MAX_PATH_LEN {
        return None;
    }
    let file = PathBuf::from(std::str::from_utf8(at.take(path_len)?).ok()?);
    let count = at.u32()? as usize;
    if count > MAX_RUNS {
        return None;
    }
    let mut runs = Vec::with_capacity(count);
    for _ in 0..count {
        let first = at.u32()?;
        let offset = at.u64()?;
        let n = at.u32()? as usize;
        if n > MAX_XORB_CHUNKS || first as usize + n > MAX_XORB_CHUNKS {
            return None;
        }
        let mut chunks = Vec::with_capacity(n);
        for _ in 0..n {
            let len = u64::from(at.u32()?);
            let mut hash = [0u8; 32];
            hash.copy_from_slice(at.take(32)?);
            if len as usize > MAX_CHUNK_SIZE {
                return None;
            }
            chunks.push(HashedChunk {
                hash: XetHash::from_bytes(hash),
                len,
            });
        }
        runs.push((first, offset, chunks));
    }
    (at.at == bytes.len()).then_some((file, runs))
}

/// Reads little-endian values off a record's bytes.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    fn take(&mut self, n: usize) -> Option<&'b [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Keeps the newest [`RECORDS_PER_XORB`] records of a xorb's folder, and removes temporary
/// records left by killed processes.
fn keep_newest(folder: &Path) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut records: Vec<(PathBuf, SystemTime)> = Vec::new();
    for entry in entries.flatten() {
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            if modified.elapsed().is_ok_and(|age| age > STALE_TEMP) {
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        records.push((entry.path(), modified));
    }
    if records.len() <= RECORDS_PER_XORB {
        return;
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (path, _) in records.drain(RECORDS_PER_XORB..) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
            .collect()
    }

    /// A file of `chunks` one after the other from `offset`, and its span.
    fn file_with(
        dir: &Path,
        name: &str,
        xorb: XetHash,
        first: u32,
        offset: u64,
        chunks: &[Vec<u8>],
    ) -> (PathBuf, ChunkSpan) {
        let path = dir.join(name);
        let mut bytes = vec![0u8; offset as usize];
        for data in chunks {
            bytes.extend_from_slice(data);
        }
        std::fs::write(&path, bytes).expect("write");
        let span = ChunkSpan {
            xorb,
            first_chunk: first,
            offset,
            chunks: chunks.iter().map(|d| HashedChunk::of(d)).collect(),
        };
        (path, span)
    }

    fn get(index: &ChunkIndex, xorb: &XetHash, start: u32, end: u32) -> Option<Vec<u8>> {
        let run = index.find(xorb, ChunkRange { start, end })?;
        let mut out = Vec::new();
        let ok = read_run(&run, &mut |data| {
            out.extend_from_slice(data);
            Ok(())
        })
        .ok()?;
        if !ok {
            index.drop_record(&run.record);
            return None;
        }
        Some(out)
    }

    #[test]
    fn runs_are_found_in_the_files_that_hold_them() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let index = ChunkIndex::new(dir.path().join("index"));
        let xorb = XetHash::from_bytes([3; 32]);
        let chunks: Vec<Vec<u8>> = (1..=4).map(|i| chunk(i, 1000 * i as usize)).collect();
        let (path, span) = file_with(dir.path(), "blob", xorb, 5, 100, &chunks);
        // Two halves of one run, recorded as such, are joined.
        let halves = [
            ChunkSpan {
                chunks: span.chunks[..2].to_vec(),
                ..span.clone()
            },
            ChunkSpan {
                first_chunk: 7,
                offset: 100 + 3000,
                chunks: span.chunks[2..].to_vec(),
                ..span.clone()
            },
        ];
        index.record(&path, &halves)?;
        assert_eq!(
            get(&index, &xorb, 6, 8),
            Some([chunks[1].clone(), chunks[2].clone()].concat())
        );
        assert_eq!(get(&index, &xorb, 5, 9).map(|d| d.len()), Some(10_000));
        assert_eq!(get(&index, &xorb, 4, 6), None);
        assert_eq!(get(&index, &xorb, 8, 10), None);
        assert_eq!(get(&index, &XetHash::from_bytes([4; 32]), 5, 6), None);

        // The file moved: the record follows it.
        let moved = dir.path().join("moved");
        std::fs::rename(&path, &moved)?;
        index.moved(&path, &moved, &[span])?;
        assert_eq!(get(&index, &xorb, 8, 9), Some(chunks[3].clone()));

        // A flipped byte: the run no longer checks, and its record goes.
        let mut bytes = std::fs::read(&moved)?;
        bytes[100 + 1500] ^= 1;
        std::fs::write(&moved, &bytes)?;
        assert_eq!(get(&index, &xorb, 6, 7), None);
        assert!(index.find(&xorb, ChunkRange { start: 5, end: 6 }).is_none());
        Ok(())
    }

    #[test]
    fn a_gone_or_forgotten_file_is_not_found() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let index = ChunkIndex::new(dir.path().join("index"));
        let xorb = XetHash::from_bytes([5; 32]);
        let (path, span) = file_with(dir.path(), "a", xorb, 0, 0, &[chunk(3, 500)]);
        index.record(&path, std::slice::from_ref(&span))?;
        std::fs::remove_file(&path)?;
        assert_eq!(get(&index, &xorb, 0, 1), None);

        let (path, span) = file_with(dir.path(), "b", xorb, 0, 0, &[chunk(3, 500)]);
        index.record(&path, std::slice::from_ref(&span))?;
        assert!(get(&index, &xorb, 0, 1).is_some());
        index.forget(&path, &[span]);
        assert_eq!(get(&index, &xorb, 0, 1), None);
        Ok(())
    }

    #[test]
    fn damaged_records_are_removed_and_each_xorb_keeps_a_bounded_number() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let index = ChunkIndex::new(dir.path().join("index"));
        let xorb = XetHash::from_bytes([6; 32]);
        let folder = index.root().join(xorb.to_string());
        std::fs::create_dir_all(&folder)?;
        let junk = folder.join("junk");
        std::fs::write(&junk, b"HUBCIDX1\xff\xff\xff\xff")?;
        assert!(index.find(&xorb, ChunkRange { start: 0, end: 1 }).is_none());
        assert!(!junk.exists());

        for i in 0..RECORDS_PER_XORB + 5 {
            let (path, span) = file_with(dir.path(), &format!("f{i}"), xorb, 0, 0, &[chunk(i as u8, 100)]);
            index.record(&path, &[span])?;
        }
        assert_eq!(std::fs::read_dir(&folder)?.count(), RECORDS_PER_XORB);
        Ok(())
    }
}
