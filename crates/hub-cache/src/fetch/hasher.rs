//! Hashes a file's bytes in order, on its own thread, as they become final,
//! so the transfer never waits for sha256.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::COPY_BUFFER;

#[derive(Default)]
struct Watermark {
    /// Bytes from the start of the file that are final.
    ready: u64,
    /// No more bytes will become final: hash what is ready, then stop.
    closed: bool,
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

    /// Says that the first `ready` bytes are final.
    pub(crate) fn advance(&self, ready: u64) {
        let (lock, cvar) = &*self.shared;
        if let Ok(mut w) = lock.lock()
            && ready > w.ready
        {
            w.ready = ready;
            cvar.notify_one();
        }
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
}

impl PrefixHasher {
    fn close(&self) {
        let (lock, cvar) = &*self.shared;
        let mut w = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        w.closed = true;
        cvar.notify_one();
    }
}

impl Drop for PrefixHasher {
    /// On every way out of a transfer, the thread stops waiting.
    fn drop(&mut self) {
        self.close();
    }
}

fn hash_prefix(file: &File, total: u64, shared: &(Mutex<Watermark>, Condvar)) -> std::io::Result<Option<String>> {
    let (lock, cvar) = shared;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut hashed = 0u64;
    while hashed < total {
        let ready = {
            let mut w = lock.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            while w.ready <= hashed && !w.closed {
                w = cvar.wait(w).map_err(|_| std::io::Error::other("poisoned"))?;
            }
            if w.closed && w.ready <= hashed {
                return Ok(None);
            }
            w.ready.min(total)
        };
        while hashed < ready {
            let n = ((ready - hashed) as usize).min(COPY_BUFFER);
            file.read_exact_at(&mut buffer[..n], hashed)?;
            hasher.update(&buffer[..n]);
            hashed += n as u64;
        }
    }
    Ok(Some(hex(&hasher.finalize())))
}

/// The sha256 of a whole reader (for files already on disk).
pub(crate) fn sha256_of(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
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
