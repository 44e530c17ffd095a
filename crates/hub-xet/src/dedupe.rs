//! Global deduplication: which chunks to ask about, and finding chunks in the shard that
//! answers, whose chunk hashes are keyed with the shard's HMAC key.

use std::collections::HashMap;

use crate::hash::XetHash;
use crate::shard::Shard;

/// One chunk in 1024 (by hash) may be asked about, besides the first chunk of each file.
const GLOBAL_DEDUPE_MODULUS: u64 = 1024;

/// Whether a chunk may be asked about with the global dedupe query: its hash's last 8 bytes,
/// read as a little-endian integer, are a multiple of 1024. (A file's first chunk may be asked
/// about whatever its hash.)
pub fn is_global_dedupe_eligible(chunk_hash: &XetHash) -> bool {
    chunk_hash.word(3).is_multiple_of(GLOBAL_DEDUPE_MODULUS)
}

/// Where a chunk is stored: a xorb and the chunk's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChunkLocation {
    /// The xorb's hash.
    pub xorb_hash: XetHash,
    /// The chunk's index in the xorb.
    pub chunk_index: u32,
    /// The chunk's length, decompressed.
    pub len: u32,
}

/// The chunks of a shard's CAS info section, found by their plain hash even when the shard
/// keys them with an HMAC key (a global dedupe answer).
///
/// ```
/// use hub_xet::{DedupeIndex, Shard, ShardChunk, ShardFooter, XorbInfo, chunk_hash};
///
/// let key = [9u8; 32];
/// let mine = chunk_hash(b"a chunk I have");
/// let shard = Shard {
///     xorbs: vec![XorbInfo {
///         xorb_hash: chunk_hash(b"a xorb"),
///         chunks: vec![ShardChunk { hash: mine.keyed(&key), raw_offset: 0, len: 14, flags: 0 }],
///         raw_len: 14,
///         serialized_len: 22,
///     }],
///     footer: Some(ShardFooter { chunk_hash_hmac_key: key, ..ShardFooter::default() }),
///     ..Shard::default()
/// };
/// let index = DedupeIndex::new(&shard);
/// assert_eq!(index.find(&mine).map(|at| at.chunk_index), Some(0));
/// assert_eq!(index.find(&chunk_hash(b"another")), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct DedupeIndex {
    key: Option<[u8; 32]>,
    chunks: HashMap<XetHash, ChunkLocation>,
}

impl DedupeIndex {
    /// Indexes the chunks of `shard` by the hashes it stores.
    pub fn new(shard: &Shard) -> Self {
        let mut chunks = HashMap::new();
        for xorb in &shard.xorbs {
            for (index, chunk) in (0u32..).zip(&xorb.chunks) {
                chunks.entry(chunk.hash).or_insert(ChunkLocation {
                    xorb_hash: xorb.xorb_hash,
                    chunk_index: index,
                    len: chunk.len,
                });
            }
        }
        Self {
            key: shard.chunk_hash_hmac_key(),
            chunks,
        }
    }

    /// Where the chunk with this (plain) hash is stored, if the shard lists it.
    pub fn find(&self, chunk_hash: &XetHash) -> Option<ChunkLocation> {
        let stored = match &self.key {
            Some(key) => chunk_hash.keyed(key),
            None => *chunk_hash,
        };
        self.chunks.get(&stored).copied()
    }

    /// The number of chunks indexed.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no chunk is indexed.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{ShardChunk, XorbInfo};

    #[test]
    fn eligibility_reads_the_last_eight_bytes() {
        let mut bytes = [0xffu8; 32];
        bytes[24..].copy_from_slice(&(1024u64 * 77).to_le_bytes());
        assert!(is_global_dedupe_eligible(&XetHash::from_bytes(bytes)));
        bytes[24..].copy_from_slice(&(1024u64 * 77 + 512).to_le_bytes());
        assert!(!is_global_dedupe_eligible(&XetHash::from_bytes(bytes)));
        // The first 24 bytes do not matter.
        let mut zeros = [0u8; 32];
        zeros[0] = 1;
        assert!(is_global_dedupe_eligible(&XetHash::from_bytes(zeros)));
    }

    #[test]
    fn unkeyed_shards_are_found_by_plain_hash() {
        let hash = XetHash::from_bytes([5; 32]);
        let shard = Shard {
            xorbs: vec![XorbInfo {
                xorb_hash: XetHash::from_bytes([1; 32]),
                chunks: vec![
                    ShardChunk {
                        hash: XetHash::from_bytes([4; 32]),
                        raw_offset: 0,
                        len: 10,
                        flags: 0,
                    },
                    ShardChunk {
                        hash,
                        raw_offset: 10,
                        len: 20,
                        flags: 0,
                    },
                ],
                raw_len: 30,
                serialized_len: 46,
            }],
            ..Shard::default()
        };
        let index = DedupeIndex::new(&shard);
        assert_eq!(index.len(), 2);
        let found = index.find(&hash);
        assert_eq!(found.map(|at| (at.chunk_index, at.len)), Some((1, 20)));
        assert_eq!(index.find(&hash.keyed(&[0; 32])), None);
    }
}
