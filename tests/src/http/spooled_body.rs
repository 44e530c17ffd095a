//! Large request bodies written to disk while they arrive, so that a
//! multi-gigabyte upload costs the server a file, not its size in memory.
//!
//! The connection code streams such a body into a [`Spool`] (a temp file,
//! hashed with sha256 on the way) and hands the route a [`SpooledBody`]: the
//! finished file, its length and digest. A route keeps the bytes by moving the
//! file where it belongs ([`SpooledBody::persist`]); otherwise the file is
//! removed when the request is dropped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chunk_hasher::ChunkHasher;

/// Bodies larger than this are spooled to disk when the handler gives a spool folder.
pub const SPOOL_THRESHOLD: u64 = 8 << 20;

/// Bytes read from the connection before each write to the spool file: small
/// enough to stay in a core's L2 cache while it is written and hashed.
const SPOOL_CHUNK: usize = 128 * 1024;

/// A request body that was written to a temp file as it arrived.
///
/// Cheap to clone; the file is removed when the last clone is dropped, unless
/// [`persist`](SpooledBody::persist) moved it away first.
#[derive(Clone, Debug)]
pub struct SpooledBody(Arc<SpoolFile>);

#[derive(Debug)]
struct SpoolFile {
    path: PathBuf,
    len: u64,
    sha256: [u8; 32],
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        // Already gone when a route persisted it.
        let _ = fs::remove_file(&self.path);
    }
}

impl SpooledBody {
    /// Where the body is on disk, until it is persisted.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The body's length in bytes (de-chunked).
    pub fn len(&self) -> u64 {
        self.0.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The body's sha256, computed while it was spooled, so that routes storing
    /// content by its hash need not read it again.
    pub fn sha256(&self) -> [u8; 32] {
        self.0.sha256
    }

    /// Opens the body for reading.
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.0.path)
    }

    /// Moves the body's file to `dest`: a rename, or a copy when `dest` is on
    /// another file system (so `dest` should be a temp name the caller renames
    /// into place). Afterwards the body has no file of its own any more.
    pub fn persist(&self, dest: &Path) -> io::Result<()> {
        match fs::rename(&self.0.path, dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                fs::copy(&self.0.path, dest)?;
                let _ = fs::remove_file(&self.0.path);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Why spooling stopped.
pub(crate) enum SpoolError {
    /// Reading from the connection failed or it closed early.
    Read,
    /// The spool file could not be created or written.
    Write,
}

/// A body being written to its temp file; removed if dropped unfinished.
///
/// The connection thread reads and writes; a [`ChunkHasher`] hashes the same
/// chunks meanwhile, so that hashing does not slow the transfer down, and
/// memory stays bounded.
pub(crate) struct Spool {
    file: File,
    path: PathBuf,
    len: u64,
    hasher: Option<ChunkHasher>,
    finished: bool,
}

impl Spool {
    /// A new, empty spool file in `dir` (created if missing).
    pub(crate) fn create(dir: &Path) -> io::Result<Spool> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(dir)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("request-body-{}-{n}.spool", std::process::id()));
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let mut spool = Spool {
            file,
            path,
            len: 0,
            hasher: None,
            finished: false,
        };
        // Set after the file exists, so that a failure here still removes it.
        spool.hasher = Some(ChunkHasher::start(SPOOL_CHUNK)?);
        Ok(spool)
    }

    /// The bytes spooled so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn hasher(&mut self) -> io::Result<&mut ChunkHasher> {
        self.hasher
            .as_mut()
            .ok_or_else(|| io::Error::other("the spool is finished"))
    }

    /// Writes the first `filled` bytes of `chunk` and hands them to the hasher.
    fn commit(&mut self, mut chunk: Vec<u8>, filled: usize) -> io::Result<()> {
        self.file.write_all(&chunk[..filled])?;
        self.len += filled as u64;
        chunk.truncate(filled);
        self.hasher()?.hash(chunk)
    }

    /// Appends bytes already in memory.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let mut chunk = self.hasher()?.buffer()?;
            let n = bytes.len().min(SPOOL_CHUNK);
            chunk[..n].copy_from_slice(&bytes[..n]);
            self.commit(chunk, n)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Appends exactly `n` bytes read from `reader`, in large chunks.
    pub(crate) fn copy_from<R: BufRead>(&mut self, reader: &mut R, mut n: u64) -> Result<(), SpoolError> {
        while n > 0 {
            let mut chunk = self
                .hasher()
                .and_then(ChunkHasher::buffer)
                .map_err(|_| SpoolError::Write)?;
            let want = n.min(SPOOL_CHUNK as u64) as usize;
            let mut filled = 0;
            // Fill the chunk, so the file sees few large writes.
            while filled < want {
                match reader.read(&mut chunk[filled..want]) {
                    Ok(0) => return Err(SpoolError::Read),
                    Ok(got) => filled += got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Err(SpoolError::Read),
                }
            }
            self.commit(chunk, filled).map_err(|_| SpoolError::Write)?;
            n -= filled as u64;
        }
        Ok(())
    }

    /// The complete body, once the hasher has caught up.
    pub(crate) fn finish(mut self) -> io::Result<SpooledBody> {
        let sha256 = self
            .hasher
            .take()
            .map_or_else(|| Err(io::Error::other("the spool is finished")), ChunkHasher::finish)?;
        self.finished = true;
        let path = std::mem::take(&mut self.path);
        Ok(SpooledBody(Arc::new(SpoolFile {
            path,
            len: self.len,
            sha256,
        })))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_file(&self.path);
        }
    }
}
