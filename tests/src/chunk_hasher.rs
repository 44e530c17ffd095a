//! sha256 on a helper thread, for code that copies bytes through chunks: the
//! caller fills a chunk, writes it wherever it goes and hands it over; the
//! helper hashes the chunks in order and gives them back to be filled again.
//! Copying and hashing so run on two cores, with at most [`IN_FLIGHT`] chunks.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

use sha2::{Digest, Sha256};

/// Chunks filled ahead of the hasher, at most.
pub(crate) const IN_FLIGHT: usize = 16;

/// A running hasher and its pool of chunks.
pub(crate) struct ChunkHasher {
    chunks: Option<SyncSender<Vec<u8>>>,
    hashed: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<[u8; 32]>>,
    /// Chunks handed out and not used, ready to be filled again.
    free: Vec<Vec<u8>>,
    /// Chunks made so far (at most [`IN_FLIGHT`]).
    allocated: usize,
    chunk_size: usize,
}

impl ChunkHasher {
    /// Starts the helper thread; chunks are `chunk_size` bytes.
    pub(crate) fn start(chunk_size: usize) -> io::Result<ChunkHasher> {
        let (chunks, to_hash) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (give_back, hashed) = sync_channel::<Vec<u8>>(IN_FLIGHT);
        let thread = thread::Builder::new().name("hub-emulator-hash".into()).spawn(move || {
            let mut hasher = Sha256::new();
            for chunk in to_hash {
                hasher.update(&chunk);
                // The caller may have stopped already; then the chunk is just dropped.
                let _ = give_back.send(chunk);
            }
            hasher.finalize().into()
        })?;
        Ok(ChunkHasher {
            chunks: Some(chunks),
            hashed,
            thread: Some(thread),
            free: Vec::new(),
            allocated: 0,
            chunk_size,
        })
    }

    /// A chunk of `chunk_size` bytes to fill: an unused one, a fresh one while
    /// fewer than [`IN_FLIGHT`] exist, else one the hasher is done with.
    pub(crate) fn buffer(&mut self) -> io::Result<Vec<u8>> {
        let mut chunk = match self.free.pop() {
            Some(chunk) => chunk,
            None if self.allocated < IN_FLIGHT => {
                self.allocated += 1;
                Vec::new()
            }
            None => self.hashed.recv().map_err(|_| gone())?,
        };
        chunk.resize(self.chunk_size, 0);
        Ok(chunk)
    }

    /// Hashes the chunk's bytes (all of them: truncate it to what was filled).
    pub(crate) fn hash(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        let chunks = self.chunks.as_ref().ok_or_else(gone)?;
        chunks.send(chunk).map_err(|_| gone())
    }

    /// Puts back a chunk that was not filled after all.
    pub(crate) fn unused(&mut self, chunk: Vec<u8>) {
        self.free.push(chunk);
    }

    /// The sha256 of everything handed over, once the hasher has caught up.
    pub(crate) fn finish(mut self) -> io::Result<[u8; 32]> {
        drop(self.chunks.take());
        let thread = self.thread.take().ok_or_else(gone)?;
        thread.join().map_err(|_| gone())
    }
}

fn gone() -> io::Error {
    io::Error::other("the hashing thread stopped")
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{ChunkHasher, IN_FLIGHT};

    #[test]
    fn hashes_chunks_in_order_and_reuses_them() -> std::io::Result<()> {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = ChunkHasher::start(1000)?;
        for piece in data.chunks(700) {
            let mut chunk = hasher.buffer()?;
            chunk[..piece.len()].copy_from_slice(piece);
            chunk.truncate(piece.len());
            hasher.hash(chunk)?;
        }
        let spare = hasher.buffer()?;
        assert_eq!(spare.len(), 1000);
        hasher.unused(spare);
        assert!(hasher.allocated <= IN_FLIGHT);
        assert_eq!(hasher.finish()?, <[u8; 32]>::from(Sha256::digest(&data)));
        Ok(())
    }
}
