//! [`ChunkCache`]: decompressed chunks of xorb ranges kept on disk, shared between files,
//! revisions and repos, so that a file that shares chunks with one downloaded before fetches
//! only the ranges it does not share.
//!
//! One file a downloaded range: `{root}/{xorb hash}/{first chunk}-{end chunk}`, the chunks'
//! bytes one after the other, then an index (each chunk's length and hash), the index's
//! entry count, the first chunk's number and a magic tag. Files are written under a
//! temporary name and renamed into place, so a reader sees whole files only; every chunk
//! read back is hashed again and compared with its index entry, and a file that does not
//! check is removed. The total size is bounded: past the limit, the least recently used
//! files go first.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::chunking::MAX_CHUNK_SIZE;
use crate::hash::{HashedChunk, XetHash, chunk_hash};
use crate::reconstruction::ChunkRange;
use crate::xorb::MAX_XORB_CHUNKS;

/// The default limit of a chunk cache's size on disk: 10 GB, as xet-core's.
pub const DEFAULT_CHUNK_CACHE_BYTES: u64 = 10_000_000_000;

const MAGIC: &[u8; 8] = b"HUBCHNK1";
/// Bytes of one index entry: length (u32) and hash.
const ENTRY_LEN: usize = 4 + 32;
/// Bytes after the index: entry count, first chunk (u32 each) and the magic tag.
const TRAILER_LEN: usize = 4 + 4 + MAGIC.len();

/// A temporary file this old was left by a killed process, and is removed when the cache
/// counts its files.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Chunks kept on disk, bounded in size; cheap to share between threads.
#[derive(Debug)]
pub struct ChunkCache {
    root: PathBuf,
    limit: u64,
    /// The bytes the cache holds, once counted (counted on first write).
    total: Mutex<Option<u64>>,
    temp_counter: AtomicU64,
}

impl ChunkCache {
    /// A cache in `root` (made when first written) of at most `limit` bytes; a limit of 0
    /// keeps nothing.
    pub fn new(root: impl Into<PathBuf>, limit: u64) -> Self {
        ChunkCache {
            root: root.into(),
            limit,
            total: Mutex::new(None),
            temp_counter: AtomicU64::new(0),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the cache keeps anything.
    pub fn is_enabled(&self) -> bool {
        self.limit > 0
    }

    /// Reads chunks `chunks` of `xorb` from a cached range that holds them, each checked
    /// against its hash, handing their bytes to `each` in order; `None` when no cached range
    /// holds them all or the one found does not check (it is removed then).
    pub(crate) fn read(
        &self,
        xorb: &XetHash,
        chunks: ChunkRange,
        each: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Option<(Vec<HashedChunk>, PathBuf)>, std::io::Error> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let Some(path) = self.find(xorb, chunks) else {
            return Ok(None);
        };
        match read_range(&path, chunks, each) {
            Ok(Some(hashes)) => {
                // Used now: the last to be evicted.
                let _ = File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Ok(Some((hashes, path)))
            }
            Ok(None) => {
                log::debug!("removing the damaged chunk cache file {}", path.display());
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The cached file of `xorb` that holds all of `chunks`, if any.
    fn find(&self, xorb: &XetHash, chunks: ChunkRange) -> Option<PathBuf> {
        let folder = self.root.join(xorb.to_string());
        let entries = std::fs::read_dir(&folder).ok()?;
        entries.flatten().find_map(|entry| {
            let name = entry.file_name();
            let (start, end) = name.to_str()?.split_once('-')?;
            let held = ChunkRange {
                start: start.parse().ok()?,
                end: end.parse().ok()?,
            };
            held.contains(&chunks).then(|| entry.path())
        })
    }

    /// A writer of the chunks `first..` of `xorb` as they are downloaded; `None` when the
    /// cache keeps nothing or cannot write.
    pub(crate) fn writer(&self, xorb: &XetHash, first: u32) -> Option<RangeWriter<'_>> {
        if !self.is_enabled() {
            return None;
        }
        let folder = self.root.join(xorb.to_string());
        std::fs::create_dir_all(&folder).ok()?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = folder.join(format!(".tmp-{}-{n}", std::process::id()));
        let file = File::create(&temp).ok()?;
        Some(RangeWriter {
            cache: self,
            folder,
            temp,
            out: BufWriter::with_capacity(256 * 1024, file),
            first,
            index: Vec::new(),
            bytes: 0,
            failed: false,
        })
    }

    /// Counts a new file's bytes, and evicts the least recently used files past the limit.
    fn added(&self, bytes: u64, keep: &Path) {
        let mut total = self.total.lock().unwrap_or_else(|p| p.into_inner());
        let now = match *total {
            Some(held) => held + bytes,
            None => self.files().iter().map(|f| f.1).sum(),
        };
        *total = Some(now);
        if now <= self.limit {
            return;
        }
        let mut files = self.files();
        files.sort_by_key(|f| f.2);
        let mut held: u64 = files.iter().map(|f| f.1).sum();
        for (path, len, _) in files {
            if held <= self.limit {
                break;
            }
            if path == keep {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                held -= len;
                if let Some(folder) = path.parent() {
                    // Only succeeds once the folder is empty.
                    let _ = std::fs::remove_dir(folder);
                }
            }
        }
        *total = Some(held);
    }

    /// Removes cached files (ranges a rebuild that failed its file hash used or wrote).
    pub(crate) fn forget(&self, paths: &[PathBuf]) {
        for path in paths {
            if path.starts_with(&self.root) && std::fs::remove_file(path).is_ok() {
                log::debug!("removed the chunk cache file {}", path.display());
            }
        }
        // Counted again at the next write.
        *self.total.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Every cached file: path, length and last use.
    fn files(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(folders) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        folders
            .flatten()
            .filter_map(|folder| std::fs::read_dir(folder.path()).ok())
            .flat_map(|files| files.flatten())
            .filter_map(|file| {
                let meta = file.metadata().ok()?;
                let modified = meta.modified().ok()?;
                if file.file_name().to_string_lossy().starts_with(".tmp-") {
                    // Left by a process killed while writing it: no writer takes this long.
                    let stale = modified.elapsed().is_ok_and(|age| age > STALE_TEMP);
                    if stale {
                        let _ = std::fs::remove_file(file.path());
                    }
                    return None;
                }
                Some((file.path(), meta.len(), modified))
            })
            .collect()
    }
}

/// A range being written: chunks go to a temporary file, which [`RangeWriter::finish`]
/// names after the chunks it holds. Dropped unfinished, it removes its file.
pub(crate) struct RangeWriter<'a> {
    cache: &'a ChunkCache,
    folder: PathBuf,
    temp: PathBuf,
    out: BufWriter<File>,
    first: u32,
    index: Vec<HashedChunk>,
    bytes: u64,
    failed: bool,
}

impl RangeWriter<'_> {
    /// Appends the next chunk. A failure to write only means the range is not cached.
    pub(crate) fn push(&mut self, chunk: &HashedChunk, data: &[u8]) {
        if !self.failed {
            self.failed = self.out.write_all(data).is_err();
            self.index.push(*chunk);
            self.bytes += data.len() as u64;
        }
    }

    /// Writes the index and puts the file in place; its path, unless that failed.
    pub(crate) fn finish(mut self) -> Option<PathBuf> {
        if self.failed || self.index.is_empty() {
            return None;
        }
        let mut trailer = Vec::with_capacity(self.index.len() * ENTRY_LEN + TRAILER_LEN);
        for chunk in &self.index {
            trailer.extend_from_slice(&(chunk.len as u32).to_le_bytes());
            trailer.extend_from_slice(chunk.hash.as_bytes());
        }
        trailer.extend_from_slice(&(self.index.len() as u32).to_le_bytes());
        trailer.extend_from_slice(&self.first.to_le_bytes());
        trailer.extend_from_slice(MAGIC);
        let end = self.first + self.index.len() as u32;
        let target = self.folder.join(format!("{}-{end}", self.first));
        let written = self.out.write_all(&trailer).and_then(|()| self.out.flush());
        if written.is_ok() && std::fs::rename(&self.temp, &target).is_ok() {
            self.cache.added(self.bytes + trailer.len() as u64, &target);
            return Some(target);
        }
        None
    }
}

impl Drop for RangeWriter<'_> {
    fn drop(&mut self) {
        // After a rename there is nothing left to remove.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Reads and checks `chunks` from a cached file; `Ok(None)` when the file does not check.
fn read_range(
    path: &Path,
    chunks: ChunkRange,
    each: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<Option<Vec<HashedChunk>>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < TRAILER_LEN as u64 {
        return Ok(None);
    }
    let mut trailer = [0u8; TRAILER_LEN];
    file.seek(SeekFrom::Start(len - TRAILER_LEN as u64))?;
    file.read_exact(&mut trailer)?;
    let count = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let first = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    let index_len = count as u64 * ENTRY_LEN as u64;
    if &trailer[8..] != MAGIC
        || count as usize > MAX_XORB_CHUNKS
        || index_len + TRAILER_LEN as u64 > len
        || !(ChunkRange {
            start: first,
            end: first + count,
        })
        .contains(&chunks)
    {
        return Ok(None);
    }
    let mut index = vec![0u8; index_len as usize];
    file.seek(SeekFrom::Start(len - TRAILER_LEN as u64 - index_len))?;
    file.read_exact(&mut index)?;
    let entries: Vec<HashedChunk> = index
        .chunks_exact(ENTRY_LEN)
        .map(|entry| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&entry[4..]);
            HashedChunk {
                hash: XetHash::from_bytes(hash),
                len: u64::from(u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]])),
            }
        })
        .collect();
    let data_len: u64 = entries.iter().map(|e| e.len).sum();
    if data_len + index_len + TRAILER_LEN as u64 != len || entries.iter().any(|e| e.len as usize > MAX_CHUNK_SIZE) {
        return Ok(None);
    }
    let skip = (chunks.start - first) as usize;
    let offset: u64 = entries[..skip].iter().map(|e| e.len).sum();
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let wanted = &entries[skip..skip + chunks.len() as usize];
    let mut buf = vec![0u8; MAX_CHUNK_SIZE];
    for entry in wanted {
        let data = &mut buf[..entry.len as usize];
        reader.read_exact(data)?;
        if chunk_hash(data) != entry.hash {
            return Ok(None);
        }
        each(data)?;
    }
    Ok(Some(wanted.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
            .collect()
    }

    fn put(cache: &ChunkCache, xorb: &XetHash, first: u32, chunks: &[Vec<u8>]) {
        let mut writer = cache.writer(xorb, first).expect("writable");
        for data in chunks {
            writer.push(&HashedChunk::of(data), data);
        }
        writer.finish();
    }

    fn get(cache: &ChunkCache, xorb: &XetHash, start: u32, end: u32) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let found = cache
            .read(xorb, ChunkRange { start, end }, &mut |data| {
                out.extend_from_slice(data);
                Ok(())
            })
            .ok()??;
        assert_eq!(found.0.iter().map(|c| c.len).sum::<u64>(), out.len() as u64);
        Some(out)
    }

    #[test]
    fn ranges_come_back_and_damage_is_noticed() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = ChunkCache::new(dir.path(), 1 << 30);
        let xorb = XetHash::from_bytes([3; 32]);
        let chunks: Vec<Vec<u8>> = (1..=4).map(|i| chunk(i, 1000 * i as usize)).collect();
        put(&cache, &xorb, 5, &chunks);
        assert_eq!(
            get(&cache, &xorb, 6, 8),
            Some([chunks[1].clone(), chunks[2].clone()].concat())
        );
        assert_eq!(get(&cache, &xorb, 5, 9).map(|d| d.len()), Some(10_000));
        assert_eq!(get(&cache, &xorb, 4, 6), None);
        assert_eq!(get(&cache, &xorb, 8, 10), None);
        assert_eq!(get(&cache, &XetHash::from_bytes([4; 32]), 5, 6), None);

        // A flipped byte: the file no longer checks, and goes.
        let path = dir.path().join(xorb.to_string()).join("5-9");
        let mut bytes = std::fs::read(&path)?;
        bytes[1500] ^= 1;
        std::fs::write(&path, &bytes)?;
        assert_eq!(get(&cache, &xorb, 6, 7), None);
        assert!(!path.exists());
        Ok(())
    }

    #[test]
    fn temporary_files_of_killed_writers_go_once_stale() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = ChunkCache::new(dir.path(), 1 << 30);
        let folder = dir.path().join(XetHash::from_bytes([5; 32]).to_string());
        std::fs::create_dir_all(&folder)?;
        let (stale, fresh) = (folder.join(".tmp-1-0"), folder.join(".tmp-2-0"));
        std::fs::write(&stale, b"x")?;
        std::fs::write(&fresh, b"x")?;
        let old = SystemTime::now() - STALE_TEMP - std::time::Duration::from_secs(60);
        File::options().write(true).open(&stale)?.set_modified(old)?;
        put(&cache, &XetHash::from_bytes([6; 32]), 0, &[chunk(3, 100)]);
        assert!(!stale.exists());
        assert!(fresh.exists(), "a writer may still be at work");
        Ok(())
    }

    #[test]
    fn the_limit_evicts_the_least_recently_used() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = ChunkCache::new(dir.path(), 25_000);
        let xorbs: Vec<XetHash> = (0..4).map(|i| XetHash::from_bytes([i; 32])).collect();
        for xorb in &xorbs {
            put(&cache, xorb, 0, &[chunk(7, 10_000)]);
        }
        let held: Vec<bool> = xorbs.iter().map(|x| get(&cache, x, 0, 1).is_some()).collect();
        assert_eq!(held.iter().filter(|h| **h).count(), 2, "{held:?}");
        assert!(held[3], "the newest stays");
        let disabled = ChunkCache::new(dir.path().join("off"), 0);
        assert!(disabled.writer(&xorbs[0], 0).is_none());
        Ok(())
    }
}
