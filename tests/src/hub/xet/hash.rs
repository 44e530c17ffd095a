//! Xet's hashes: keyed BLAKE3 of chunks, the aggregated Merkle hash of xorbs and files,
//! term verification hashes, and the string form used in CAS paths (each 8-byte group
//! read as a little-endian `u64` and printed as 16 hex digits).

use std::fmt;

/// The key of chunk hashes (the spec's `DATA_KEY`).
const DATA_KEY: [u8; 32] = [
    102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155, 235, 43, 88, 180,
    208, 176, 75, 147, 173, 242, 41,
];

/// The key of internal Merkle nodes (the spec's `INTERNAL_NODE_KEY`).
const INTERNAL_NODE_KEY: [u8; 32] = [
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83, 111, 55, 199, 109, 210, 248,
    99, 82, 230, 74, 83, 113, 63,
];

/// The key of term verification hashes (the spec's `VERIFICATION_KEY`).
const VERIFICATION_KEY: [u8; 32] = [
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38, 213, 181, 219, 73, 230,
    65, 36, 152, 127, 40, 251, 148, 195,
];

/// Internal nodes have on average this many children.
const MEAN_BRANCHING: u64 = 4;

/// A 32-byte Xet hash, kept as the raw bytes that shards and xorb footers carry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct XetHash(pub(crate) [u8; 32]);

impl XetHash {
    /// The hash of 32 raw bytes; `None` for another length.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<XetHash> {
        bytes.try_into().ok().map(XetHash)
    }

    /// The `i`th 8-byte group as a little-endian integer.
    pub(crate) fn word(&self, i: usize) -> u64 {
        let mut group = [0u8; 8];
        group.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
        u64::from_le_bytes(group)
    }

    /// Parses the string form of a CAS path (64 hex digits, either case).
    pub(crate) fn parse(text: &str) -> Option<XetHash> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for i in 0..4 {
            let word = u64::from_str_radix(&text[i * 16..i * 16 + 16], 16).ok()?;
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        Some(XetHash(out))
    }

    /// The value the aggregation and dedupe rules take the remainder of: the last group.
    pub(crate) fn tail(&self) -> u64 {
        self.word(3)
    }

    /// BLAKE3 keyed with `key` over this hash's bytes (the file hash's last step, and the
    /// dedupe answer's protection of chunk hashes).
    pub(crate) fn keyed(&self, key: &XetHash) -> XetHash {
        XetHash(*blake3::keyed_hash(&key.0, &self.0).as_bytes())
    }
}

impl fmt::Display for XetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..4 {
            write!(f, "{:016x}", self.word(i))?;
        }
        Ok(())
    }
}

impl fmt::Debug for XetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XetHash({self})")
    }
}

/// The hash of one chunk's bytes.
pub(crate) fn chunk_hash(data: &[u8]) -> XetHash {
    XetHash(*blake3::keyed_hash(&DATA_KEY, data).as_bytes())
}

/// Where the group starting at `nodes[0]` ends: after the first node from the third on
/// whose hash is a multiple of the branching factor, with at least two and at most
/// `2 × factor + 1` nodes a group.
fn group_end(nodes: &[(XetHash, u64)]) -> usize {
    if nodes.len() <= 2 {
        return nodes.len();
    }
    let max = (2 * MEAN_BRANCHING as usize + 1).min(nodes.len());
    (2..max)
        .find(|&i| nodes[i].0.tail().is_multiple_of(MEAN_BRANCHING))
        .map_or(max, |i| i + 1)
}

/// An internal node: its children as `"{hash} : {size}\n"` lines, hashed with the node key.
fn merge(nodes: &[(XetHash, u64)]) -> (XetHash, u64) {
    let mut text = String::with_capacity(nodes.len() * 88);
    let mut size = 0u64;
    for (hash, len) in nodes {
        text.push_str(&format!("{hash} : {len}\n"));
        size += len;
    }
    (
        XetHash(*blake3::keyed_hash(&INTERNAL_NODE_KEY, text.as_bytes()).as_bytes()),
        size,
    )
}

/// The root of the aggregated Merkle tree over `(chunk hash, chunk size)` leaves: a xorb's
/// hash. Zero for no chunks.
pub(crate) fn merkle_root(chunks: &[(XetHash, u64)]) -> XetHash {
    if chunks.is_empty() {
        return XetHash::default();
    }
    let mut level = chunks.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len() / 2 + 1);
        let mut start = 0;
        while start < level.len() {
            let end = start + group_end(&level[start..]);
            next.push(merge(&level[start..end]));
            start = end;
        }
        level = next;
    }
    level[0].0
}

/// A file's hash: the Merkle root of its chunks, keyed once more with a zero key.
pub(crate) fn file_hash(chunks: &[(XetHash, u64)]) -> XetHash {
    if chunks.is_empty() {
        return XetHash::default();
    }
    merkle_root(chunks).keyed(&XetHash::default())
}

/// The verification hash of a term: its chunks' raw hashes, concatenated, keyed with the
/// verification key.
pub(crate) fn verification_hash(chunk_hashes: &[XetHash]) -> XetHash {
    let mut hasher = blake3::Hasher::new_keyed(&VERIFICATION_KEY);
    for hash in chunk_hashes {
        hasher.update(&hash.0);
    }
    XetHash(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{XetHash, chunk_hash, file_hash, merkle_root};

    #[test]
    fn strings_reverse_each_eight_byte_group() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        let hash = XetHash(bytes);
        let text = hash.to_string();
        // The spec's example (its printed string drops the "10" of the third group).
        assert_eq!(text, "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918");
        assert_eq!(XetHash::parse(&text), Some(hash));
        assert_eq!(XetHash::parse("zz"), None);
    }

    #[test]
    fn one_chunk_xorb_hash_is_a_single_node_and_file_hash_differs() {
        let leaf = (chunk_hash(b"hello"), 5);
        // A single leaf is its own root.
        assert_eq!(merkle_root(&[leaf]), leaf.0);
        assert_ne!(file_hash(&[leaf]), leaf.0);
        let two = merkle_root(&[leaf, leaf]);
        assert_ne!(two, leaf.0);
        assert_eq!(merkle_root(&[]), XetHash::default());
    }
}
