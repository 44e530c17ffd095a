//! sha256 of a body that arrives in order, on its own thread, from the very
//! buffers the bytes were received into: each buffer, once written to the
//! file, is handed to the hasher and handed back when hashed. Nothing is read
//! back from the file (but a partial file's existing prefix, once), so a
//! verified stream costs one copy less than hashing what was written.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::COPY_BUFFER;
use super::hasher::{digest_all, hex};

/// Buffers in flight at most: enough for the hasher to lag a little behind
/// the socket, few enough that a stream holds 512 KiB (a snapshot runs up to
/// 16 streams at once).
const BUFFERS: usize = 512 * 1024 / COPY_BUFFER;

/// A filled buffer and how much of it holds bytes.
type Filled = (Vec<u8>, usize);

/// The hashing thread of one stream and the buffers it lends.
pub(super) struct StreamHasher {
    to_hash: Option<SyncSender<Filled>>,
    hashed: Receiver<Vec<u8>>,
    lent: usize,
    handle: Option<JoinHandle<std::io::Result<String>>>,
}

impl StreamHasher {
    /// Starts hashing: first the `prefix` bytes already in `partial` (read
    /// once), then every buffer given to [`StreamHasher::hash`].
    pub(super) fn start(partial: &Path, prefix: u64) -> std::io::Result<StreamHasher> {
        let file = match prefix {
            0 => None,
            _ => Some(File::open(partial)?),
        };
        let (to_hash, incoming) = sync_channel::<Filled>(BUFFERS);
        let (give_back, hashed) = sync_channel::<Vec<u8>>(BUFFERS);
        let handle = std::thread::Builder::new().name("sha256".into()).spawn(move || {
            let mut hasher = Sha256::new();
            if let Some(file) = file {
                digest_all(file.take(prefix), &mut hasher)?;
            }
            for (buffer, len) in incoming {
                hasher.update(&buffer[..len]);
                // The stream may have ended and stopped taking buffers back.
                let _ = give_back.try_send(buffer);
            }
            Ok(hex(&hasher.finalize()))
        })?;
        Ok(StreamHasher {
            to_hash: Some(to_hash),
            hashed,
            lent: 0,
            handle: Some(handle),
        })
    }

    /// A buffer to receive into: one the hasher is done with, a new one
    /// while fewer than [`BUFFERS`] are out, else the next one it gives back
    /// (the stream then waits for the hash: it cannot run ahead unbounded).
    pub(super) fn buffer(&mut self) -> Vec<u8> {
        if let Ok(buffer) = self.hashed.try_recv() {
            return buffer;
        }
        if self.lent < BUFFERS {
            self.lent += 1;
            return vec![0u8; COPY_BUFFER];
        }
        self.hashed.recv().unwrap_or_else(|_| vec![0u8; COPY_BUFFER])
    }

    /// Hands the first `len` bytes of `buffer`, the next bytes of the stream,
    /// to the hasher.
    pub(super) fn hash(&mut self, buffer: Vec<u8>, len: usize) {
        if let Some(sender) = &self.to_hash {
            // A hasher that stopped reports its error from `finish`.
            let _ = sender.send((buffer, len));
        }
    }

    /// The sha256 of every byte given (lowercase hex).
    pub(super) fn finish(mut self) -> std::io::Result<String> {
        self.to_hash = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(std::io::Error::other("the hashing thread failed")),
        }
    }
}

impl Drop for StreamHasher {
    /// On any way out, the thread sees the channel close and ends.
    fn drop(&mut self) {
        self.to_hash = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_prefix_then_the_buffers_in_order() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let partial = dir.path().join("partial");
        std::fs::write(&partial, b"ab")?;
        let mut hasher = StreamHasher::start(&partial, 2)?;
        for _ in 0..(3 * BUFFERS) {
            let mut buffer = hasher.buffer();
            buffer[0] = b'c';
            hasher.hash(buffer, 1);
        }
        let mut expected = b"ab".to_vec();
        expected.extend(std::iter::repeat_n(b'c', 3 * BUFFERS));
        assert_eq!(hasher.finish()?, hex(&Sha256::digest(&expected)));
        Ok(())
    }
}
