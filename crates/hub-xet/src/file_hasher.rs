//! The Xet hash of a file's bytes, computed as they stream by.

use std::io::{self, Read};

use crate::chunking::{Chunker, chunk_reader};
use crate::hash::{HashedChunk, XetHash};
use crate::merkle::file_hash;

/// Chunks and hashes a file fed piece by piece, for its Xet file hash (the `X-Xet-Hash` of a
/// Hub file). It keeps one chunk's bytes at most, and 40 bytes per chunk (about 64 KiB) for
/// the Merkle tree.
///
/// ```
/// use hub_xet::FileHasher;
///
/// let mut hasher = FileHasher::new();
/// hasher.update(b"hello ");
/// hasher.update(b"world");
/// let outcome = hasher.finish();
/// assert_eq!(outcome.chunks.len(), 1);
/// assert_eq!(outcome.size, 11);
/// assert_eq!(outcome.file_hash, hub_xet::file_hash(&outcome.chunks));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FileHasher {
    chunker: Chunker,
    chunks: Vec<HashedChunk>,
}

/// What [`FileHasher::finish`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileHashOutcome {
    /// The file's Xet hash.
    pub file_hash: XetHash,
    /// The file's chunks, in order.
    pub chunks: Vec<HashedChunk>,
    /// The file's size in bytes.
    pub size: u64,
}

impl FileHasher {
    /// A hasher at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the file's next bytes.
    pub fn update(&mut self, data: &[u8]) {
        let chunks = &mut self.chunks;
        self.chunker.update(data, |chunk| chunks.push(HashedChunk::of(chunk)));
    }

    /// Ends the file.
    pub fn finish(mut self) -> FileHashOutcome {
        let chunks = &mut self.chunks;
        self.chunker.finish(|chunk| chunks.push(HashedChunk::of(chunk)));
        FileHashOutcome {
            file_hash: file_hash(&self.chunks),
            size: self.chunks.iter().map(|c| c.len).sum(),
            chunks: self.chunks,
        }
    }
}

/// Reads `reader` to its end and returns its Xet file hash, chunks and size.
pub fn hash_reader<R: Read>(reader: R) -> io::Result<FileHashOutcome> {
    let mut chunks = Vec::new();
    chunk_reader(reader, |chunk| chunks.push(HashedChunk::of(chunk)))?;
    Ok(FileHasher {
        chunker: Chunker::new(),
        chunks,
    }
    .finish())
}
