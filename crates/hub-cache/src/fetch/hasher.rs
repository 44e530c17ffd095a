//! Hashes a file's bytes in order, on its own thread, as they become final,
//! so the transfer never waits for sha256.
//!
//! Bytes written at the hashing frontier (the next byte nobody has claimed
//! yet: with one connection, every byte) are handed over in the buffer they
//! arrived in and hashed from memory; bytes written ahead of it by other
//! ranges are read back from the file once the frontier reaches them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::COPY_BUFFER;

/// The next bytes to hash, in file order.
enum Segment {
    /// Bytes handed over in their receive buffer.
    Memory(Vec<u8>, usize),
    /// Bytes to read back from the file: `[from, to)`.
    File(u64, u64),
}

#[derive(Default)]
struct Watermark {
    /// Bytes from the start of the file that are final.
    ready: u64,
    /// The end of what is hashed or queued to be: the frontier.
    claimed: u64,
    queue: VecDeque<Segment>,
    /// Buffers the thread is done with, for the writers to receive into.
    free: Vec<Vec<u8>>,
    /// No more bytes will become final: hash what is ready, then stop.
    closed: bool,
    /// How long the thread has waited with nothing to hash.
    hungry: Duration,
    /// Since when it has been waiting, if it is now.
    waiting_since: Option<Instant>,
    /// The thread sleeps until told of more bytes: only then is it woken (a
    /// wake is a system call, and bytes come 32 KiB at a time).
    asleep: bool,
}

/// A background sha256 of a file's prefix `[0, ready)` as `ready` grows to `total`.
pub(crate) struct PrefixHasher {
    shared: Arc<(Mutex<Watermark>, Condvar)>,
    handle: Option<JoinHandle<std::io::Result<Option<String>>>>,
}

impl PrefixHasher {
    /// Starts hashing `path` (opened now), which will hold `total` bytes.
    pub(crate) fn start(path: &Path, total: u64) -> std::io::Result<PrefixHasher> {
        let file = File::open(path)?;
        let shared = Arc::new((Mutex::new(Watermark::default()), Condvar::new()));
        let state = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("sha256".into())
            .spawn(move || hash_prefix(&file, total, &state))?;
        Ok(PrefixHasher {
            shared,
            handle: Some(handle),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watermark> {
        self.shared.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Says that the first `ready` bytes are final.
    pub(crate) fn advance(&self, ready: u64) {
        let mut w = self.lock();
        if ready > w.ready {
            w.ready = ready;
            if w.asleep {
                self.shared.1.notify_one();
            }
        }
    }

    /// Offers the first `len` bytes of `buffer`, just written at `offset`:
    /// taken (and a buffer to go on with given back) when they start at the
    /// frontier; otherwise the caller keeps its buffer, and the bytes are read
    /// back from the file later. Call it before [`PrefixHasher::advance`]
    /// covers these bytes.
    pub(crate) fn offer(&self, offset: u64, buffer: &mut Vec<u8>, len: usize) -> bool {
        let mut w = self.lock();
        // A hasher that lags keeps at most a few buffers: the rest of the
        // bytes wait in the file, so memory does not grow with the file.
        if offset != w.claimed || w.closed || w.queue.len() >= QUEUED_BUFFERS {
            return false;
        }
        let replacement = w.free.pop().unwrap_or_else(|| vec![0u8; buffer.len()]);
        let taken = std::mem::replace(buffer, replacement);
        w.claimed += len as u64;
        w.queue.push_back(Segment::Memory(taken, len));
        if w.asleep {
            self.shared.1.notify_one();
        }
        true
    }

    /// How long the thread has waited, so far, with nothing to hash: a hasher
    /// that never waits is what holds the file back.
    pub(crate) fn hungry(&self) -> Duration {
        let w = self.lock();
        w.hungry + w.waiting_since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    /// Waits for the hash of all `total` bytes (lowercase hex). The transfer
    /// is over, so the thread is told that no more bytes will come: if fewer
    /// than `total` are ready, it stops instead of waiting for them forever.
    pub(crate) fn finish(mut self) -> std::io::Result<String> {
        self.close();
        let handle = self
            .handle
            .take()
            .ok_or_else(|| std::io::Error::other("hashing already finished"))?;
        match handle.join() {
            Ok(Ok(Some(hex))) => Ok(hex),
            Ok(Ok(None)) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the transfer ended before every byte was hashed",
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(std::io::Error::other("the hashing thread panicked")),
        }
    }

    fn close(&self) {
        let mut w = self.lock();
        w.closed = true;
        self.shared.1.notify_one();
    }
}

impl Drop for PrefixHasher {
    /// On every way out of a transfer, the thread stops waiting.
    fn drop(&mut self) {
        self.close();
    }
}

/// Buffers kept for reuse at most (256 KiB): the frontier's writer holds one,
/// the thread one, and a few wait in between.
const FREE_BUFFERS: usize = 256 * 1024 / COPY_BUFFER;

/// Buffers waiting to be hashed at most (256 KiB).
const QUEUED_BUFFERS: usize = 256 * 1024 / COPY_BUFFER;

fn hash_prefix(file: &File, total: u64, shared: &(Mutex<Watermark>, Condvar)) -> std::io::Result<Option<String>> {
    let (lock, cvar) = shared;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut hashed = 0u64;
    let mut read_back = 0u64;
    while hashed < total {
        let segment = {
            let mut w = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(segment) = w.queue.pop_front() {
                    break segment;
                }
                if w.ready > w.claimed {
                    // Written ahead by other ranges: read back.
                    let segment = Segment::File(w.claimed, w.ready.min(total));
                    w.claimed = w.ready;
                    break segment;
                }
                if w.closed {
                    return Ok(None);
                }
                // Waiting for the first bytes is waiting for the server, not
                // hunger: only waits between bytes count.
                let since = (hashed > 0).then(Instant::now);
                w.waiting_since = since;
                w.asleep = true;
                w = cvar.wait(w).unwrap_or_else(PoisonError::into_inner);
                w.asleep = false;
                w.waiting_since = None;
                w.hungry += since.map_or(Duration::ZERO, |since| since.elapsed());
            }
        };
        match segment {
            Segment::Memory(bytes, len) => {
                hasher.update(&bytes[..len]);
                hashed += len as u64;
                let mut w = lock.lock().unwrap_or_else(PoisonError::into_inner);
                if w.free.len() < FREE_BUFFERS {
                    w.free.push(bytes);
                }
            }
            Segment::File(from, to) => {
                let mut at = from;
                while at < to {
                    let n = ((to - at) as usize).min(COPY_BUFFER);
                    file.read_exact_at(&mut buffer[..n], at)?;
                    hasher.update(&buffer[..n]);
                    at += n as u64;
                }
                hashed = to;
                read_back += to - from;
            }
        }
    }
    log::debug!("sha256 of {total} bytes: {read_back} read back from the file, the rest from receive buffers");
    Ok(Some(hex(&hasher.finalize())))
}

/// The sha256 of a whole reader (for files already on disk).
pub(crate) fn sha256_of(reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    digest_all(reader, &mut hasher)?;
    Ok(hex(&hasher.finalize()))
}

/// Feeds everything `reader` holds to `digest`, through one copy buffer;
/// returns how many bytes it read.
pub(crate) fn digest_all(mut reader: impl Read, digest: &mut impl Digest) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            return Ok(total);
        }
        digest.update(&buffer[..n]);
        total += n as u64;
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_with_bytes_missing_returns_instead_of_waiting() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("partial");
        std::fs::write(&path, b"0123456789")?;
        let hasher = PrefixHasher::start(&path, 17)?;
        hasher.advance(10);
        let err = hasher.finish().expect_err("7 bytes never came");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        Ok(())
    }

    #[test]
    fn bytes_handed_over_and_bytes_read_back_hash_in_file_order() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("partial");
        let bytes: Vec<u8> = (0..400u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes)?;
        let hasher = PrefixHasher::start(&path, 400)?;
        let segment = |from: usize| {
            let mut buffer = vec![0u8; 128];
            buffer[..100].copy_from_slice(&bytes[from..from + 100]);
            buffer
        };
        // The frontier's bytes are taken; bytes ahead of it are not.
        assert!(hasher.offer(0, &mut segment(0), 100));
        assert!(!hasher.offer(200, &mut segment(200), 100));
        hasher.advance(100);
        // The second range's bytes arrive too: [100, 300) is read back.
        hasher.advance(300);
        // Taken if the read-back has claimed up to 300 by now, else read back
        // too: the hash is the file's either way.
        let _ = hasher.offer(300, &mut segment(300), 100);
        hasher.advance(400);
        assert_eq!(hasher.finish()?, hex(&Sha256::digest(&bytes)));
        Ok(())
    }

    #[test]
    fn waiting_for_more_bytes_after_the_first_counts_as_hunger() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("partial");
        std::fs::write(&path, [7u8; 200])?;
        let hasher = PrefixHasher::start(&path, 200)?;
        assert_eq!(hasher.hungry(), Duration::ZERO, "no byte has come yet");
        hasher.advance(100);
        // The thread hashes the first 100 bytes, then waits for the rest:
        // that wait shows, and keeps growing while it lasts.
        let deadline = Instant::now() + Duration::from_secs(30);
        while hasher.hungry() == Duration::ZERO {
            assert!(Instant::now() < deadline, "the wait never showed");
            std::thread::yield_now();
        }
        let first = hasher.hungry();
        while hasher.hungry() == first {
            assert!(Instant::now() < deadline, "the wait stopped growing");
            std::thread::yield_now();
        }
        hasher.advance(200);
        assert_eq!(hasher.finish()?, hex(&Sha256::digest([7u8; 200])));
        Ok(())
    }

    #[test]
    fn finishing_with_every_byte_ready_gives_the_hash() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("whole");
        std::fs::write(&path, b"abc")?;
        let hasher = PrefixHasher::start(&path, 3)?;
        hasher.advance(3);
        assert_eq!(
            hasher.finish()?,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        Ok(())
    }
}
