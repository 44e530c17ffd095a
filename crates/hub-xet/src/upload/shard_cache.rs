//! The local shard cache: shards listing xorbs this client uploaded or learnt of from global
//! dedupe answers, kept on disk so that a later upload of the same content, or of content
//! that shares chunks with it, sends only what the CAS lacks without asking for it.
//!
//! One file a shard, `{blake3 of its bytes}.shard`, written under a temporary name and
//! renamed into place, so that a reader never sees a partial shard. The folder is kept
//! within a size limit by removing the oldest shards. The cache is an optimization: a
//! shard that cannot be read is passed over, and a cache that cannot be written costs a
//! later upload bytes, never an upload.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::shard::{Shard, ShardFooter};

use super::known::KnownChunks;

/// The extension of cached shards.
const EXTENSION: &str = "shard";

/// The most bytes of shards a session reads (about 18 MB once indexed): the newest, whatever
/// the cache keeps, so that an upload's memory stays bounded.
pub(crate) const LOAD_LIMIT: u64 = 16 * 1024 * 1024;

/// Distinguishes the temporary files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A folder of cached shards, at most `limit` bytes.
#[derive(Debug, Clone)]
pub(crate) struct ShardCache {
    dir: PathBuf,
    limit: u64,
}

/// A cached shard file.
struct Entry {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
}

impl ShardCache {
    /// The cache in `dir` (created when first written), kept within `limit` bytes.
    pub(crate) fn new(dir: impl Into<PathBuf>, limit: u64) -> Self {
        Self { dir: dir.into(), limit }
    }

    /// The cached shards, newest first.
    fn entries(&self) -> Vec<Entry> {
        let Ok(listing) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut entries: Vec<Entry> = listing
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                meta.is_file().then(|| Entry {
                    path: e.path(),
                    len: meta.len(),
                    modified: meta.modified().unwrap_or(UNIX_EPOCH),
                })
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.modified));
        entries
    }

    /// Indexes every cached shard that parses and has not expired, newest first, up to the
    /// size limit and [`LOAD_LIMIT`]; returns how many.
    pub(crate) fn load_into(&self, known: &mut KnownChunks) -> usize {
        let now = now_secs();
        let mut total = 0u64;
        let mut loaded = 0;
        for entry in self.entries() {
            total += entry.len;
            if total > self.limit.min(LOAD_LIMIT) {
                break;
            }
            let Ok(bytes) = fs::read(&entry.path) else { continue };
            let Ok(shard) = Shard::parse(&bytes) else { continue };
            if shard.footer.is_some_and(|f| f.key_expiry != 0 && f.key_expiry <= now) {
                continue;
            }
            known.add_shard(&shard);
            loaded += 1;
        }
        loaded
    }

    /// Writes `shard` (with a footer: one without is given one that never expires) into the
    /// cache, then removes the oldest shards beyond the size limit.
    pub(crate) fn store(&self, shard: &Shard) -> io::Result<PathBuf> {
        let mut shard = shard.clone();
        shard.footer.get_or_insert(ShardFooter {
            chunk_hash_hmac_key: [0; 32],
            created_at: now_secs(),
            key_expiry: u64::MAX,
        });
        let bytes = shard
            .to_bytes()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        fs::create_dir_all(&self.dir)?;
        let name = format!("{}.{EXTENSION}", blake3::hash(&bytes).to_hex());
        let path = self.dir.join(&name);
        let temp = self.dir.join(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::write(&temp, &bytes).and_then(|()| fs::rename(&temp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written?;
        self.evict(&path);
        Ok(path)
    }

    /// Removes the oldest shards until the cache is within its limit, keeping `newest`.
    fn evict(&self, newest: &Path) {
        let mut total = 0u64;
        for entry in self.entries() {
            total += entry.len;
            if total > self.limit && entry.path != newest {
                let _ = fs::remove_file(&entry.path);
                total -= entry.len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::chunk_hash;
    use crate::shard::{ShardChunk, XorbInfo};

    fn shard(seed: u8, chunks: u32) -> Shard {
        Shard {
            xorbs: vec![XorbInfo {
                xorb_hash: chunk_hash(&[seed]),
                chunks: (0..chunks)
                    .map(|i| ShardChunk {
                        hash: chunk_hash(&[seed, i as u8, 1]),
                        raw_offset: i * 100,
                        len: 100,
                        flags: 0,
                    })
                    .collect(),
                raw_len: chunks * 100,
                serialized_len: chunks * 108,
            }],
            ..Shard::default()
        }
    }

    #[test]
    fn stored_shards_are_found_again() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = ShardCache::new(dir.path().join("cache"), 1 << 20);
        cache.store(&shard(1, 5))?;
        let mut known = KnownChunks::default();
        assert_eq!(cache.load_into(&mut known), 1);
        assert!(known.find_run(&[chunk_hash(&[1, 2, 1])]).is_some());
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path().join("cache"))?.count(), 1);
        Ok(())
    }

    #[test]
    fn the_cache_keeps_within_its_limit_and_skips_damage() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let one = shard(1, 10).to_bytes().map(|b| b.len()).unwrap_or(0) as u64 + 200;
        let cache = ShardCache::new(dir.path(), one * 2);
        for seed in 0..5 {
            cache.store(&shard(seed, 10))?;
        }
        let total: u64 = cache.entries().iter().map(|e| e.len).sum();
        assert!(total <= one * 2, "{total} bytes cached");
        fs::write(dir.path().join("broken.shard"), b"not a shard")?;
        let mut known = KnownChunks::default();
        assert!(cache.load_into(&mut known) <= 2);
        Ok(())
    }

    #[test]
    fn expired_dedupe_answers_are_not_used() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let cache = ShardCache::new(dir.path(), 1 << 20);
        let mut expired = shard(3, 2);
        expired.footer = Some(ShardFooter {
            chunk_hash_hmac_key: [5; 32],
            created_at: 1,
            key_expiry: 2,
        });
        cache.store(&expired)?;
        let mut known = KnownChunks::default();
        assert_eq!(cache.load_into(&mut known), 0);
        Ok(())
    }
}
