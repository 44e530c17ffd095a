//! Xet objects made by hand, for tests that speak to the emulator's CAS without `hf_xet`:
//! a xorb of given chunks (stored plainly, as LZ4 frames and byte-grouped, in turn) and
//! the shard that registers a file made of whole xorbs. They follow the Xet protocol
//! 1.1 (and xet-core's habits where it is silent), so the CAS takes them as it takes the
//! real client's.
//!
//! ```
//! use hub_emulator::xet_objects::{Xorb, file_shard};
//!
//! let xorb = Xorb::new(&[b"hello ".as_slice(), b"world".as_slice()]);
//! assert_eq!(xorb.hash.len(), 64);
//! let shard = file_shard(&[&xorb], &[0x11; 32]);
//! assert!(shard.len() > 48);
//! ```

use std::io::Write;

use crate::hub::xet::hash::{XetHash, chunk_hash, file_hash, merkle_root, verification_hash};
use crate::hub::xet::shard::{FileInfo, Shard, Term, upload_bytes};

/// A serialized xorb and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xorb {
    /// The xorb's hash as CAS paths spell it.
    pub hash: String,
    /// The bytes to upload.
    pub bytes: Vec<u8>,
    chunks: Vec<(XetHash, u64)>,
}

impl Xorb {
    /// How many chunks it holds.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The xorb of these chunks, in order.
    pub fn new(chunks: &[&[u8]]) -> Xorb {
        let mut bytes = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let scheme = (i % 3) as u8;
            let payload = match scheme {
                0 => chunk.to_vec(),
                1 => lz4(chunk),
                _ => lz4(&group(chunk)),
            };
            let stored = (payload.len() as u32).to_le_bytes();
            let len = (chunk.len() as u32).to_le_bytes();
            bytes.extend_from_slice(&[0, stored[0], stored[1], stored[2], scheme, len[0], len[1], len[2]]);
            bytes.extend_from_slice(&payload);
        }
        let chunks: Vec<(XetHash, u64)> = chunks.iter().map(|c| (chunk_hash(c), c.len() as u64)).collect();
        Xorb {
            hash: merkle_root(&chunks).to_string(),
            bytes,
            chunks,
        }
    }
}

/// The Xet hash (as CAS paths spell it) of a file made of these xorbs' chunks.
pub fn file_id(xorbs: &[&Xorb]) -> String {
    let leaves: Vec<(XetHash, u64)> = xorbs.iter().flat_map(|x| x.chunks.iter().copied()).collect();
    file_hash(&leaves).to_string()
}

/// The shard registering one file made of these whole xorbs, in order, with content
/// sha256 `sha256` (the raw digest), verification entries and no footer, as uploads are.
pub fn file_shard(xorbs: &[&Xorb], sha256: &[u8; 32]) -> Vec<u8> {
    let terms: Vec<(&Xorb, u32, u32)> = xorbs.iter().map(|x| (*x, 0, x.chunks.len() as u32)).collect();
    terms_shard(&terms, sha256).0
}

/// The shard registering one file made of chunk ranges of xorbs (`(xorb, start, end)`,
/// end excluded), in order, with content sha256 `sha256`; and the file's Xet hash. The
/// same chunks may be used by several terms, as deduplication makes files.
pub fn terms_shard(terms: &[(&Xorb, u32, u32)], sha256: &[u8; 32]) -> (Vec<u8>, String) {
    let chunks_of = |&(x, start, end): &(&Xorb, u32, u32)| x.chunks[start as usize..end as usize].to_vec();
    let leaves: Vec<(XetHash, u64)> = terms.iter().flat_map(chunks_of).collect();
    let file = file_hash(&leaves);
    let shard_terms: Vec<Term> = terms
        .iter()
        .map(|term| Term {
            xorb: XetHash::parse(&term.0.hash).unwrap_or_default(),
            unpacked: chunks_of(term).iter().map(|(_, len)| len).sum(),
            start: term.1,
            end: term.2,
        })
        .collect();
    let verification = terms
        .iter()
        .map(|term| verification_hash(&chunks_of(term).iter().map(|(h, _)| *h).collect::<Vec<_>>()))
        .collect();
    // xet-core writes the sha256 as it writes its hashes: each 8-byte group reversed.
    let mut stored_sha = [0u8; 32];
    for (group, out) in sha256.chunks_exact(8).zip(stored_sha.chunks_exact_mut(8)) {
        out.copy_from_slice(group);
        out.reverse();
    }
    let shard = Shard {
        files: vec![FileInfo {
            hash: file,
            terms: shard_terms,
            verification: Some(verification),
            sha256: Some(stored_sha),
        }],
        xorbs: Vec::new(),
    };
    (upload_bytes(&shard), file.to_string())
}

fn lz4(data: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    // Writing to memory cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// Byte grouping by four: bytes 0, 4, 8… then 1, 5, 9… and so on.
fn group(data: &[u8]) -> Vec<u8> {
    (0..4).flat_map(|g| data.iter().skip(g).step_by(4).copied()).collect()
}
