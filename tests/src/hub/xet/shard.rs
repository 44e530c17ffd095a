//! Shards (MDB shard format, header version 2): reading the ones clients upload (file
//! reconstructions with verification and sha256 entries, and their new xorbs' chunk
//! lists), and writing the ones the global dedupe query answers with.

use super::hash::XetHash;
use super::xorb::XorbIndex;

/// The shard format's magic first 32 bytes.
const HEADER_TAG: [u8; 32] = [
    b'H', b'F', b'R', b'e', b'p', b'o', b'M', b'e', b't', b'a', b'D', b'a', b't', b'a', 0, 85, 105, 103, 69, 106, 123,
    129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169,
];

/// The only header version.
const HEADER_VERSION: u64 = 2;

/// The only footer version.
const FOOTER_VERSION: u64 = 1;

/// The footer's size.
const FOOTER_SIZE: usize = 200;

/// Every entry of the file and CAS sections is this long.
const ENTRY: usize = 48;

/// The largest shard the CAS takes.
pub(crate) const MAX_SHARD_BYTES: usize = 64 * 1024 * 1024;

/// File flag: verification entries follow the terms.
const WITH_VERIFICATION: u32 = 1 << 31;

/// File flag: a metadata entry (the sha256) ends the file's block.
const WITH_METADATA: u32 = 1 << 30;

/// One term of a file: chunks `start..end` of a xorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Term {
    /// The xorb.
    pub(crate) xorb: XetHash,
    /// The term's size once decompressed, as the client declares it.
    pub(crate) unpacked: u64,
    /// First chunk.
    pub(crate) start: u32,
    /// End chunk (exclusive).
    pub(crate) end: u32,
}

/// A file reconstruction as a shard declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileInfo {
    /// The file's Xet hash.
    pub(crate) hash: XetHash,
    /// Its terms in order.
    pub(crate) terms: Vec<Term>,
    /// One verification hash a term, when the file has them.
    pub(crate) verification: Option<Vec<XetHash>>,
    /// The sha256 of the content, when the file has it.
    pub(crate) sha256: Option<[u8; 32]>,
}

/// A xorb's chunk list as a shard declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CasInfo {
    /// The xorb.
    pub(crate) hash: XetHash,
    /// Its chunks' hashes in order.
    pub(crate) chunks: Vec<XetHash>,
}

/// A parsed shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shard {
    /// File reconstructions.
    pub(crate) files: Vec<FileInfo>,
    /// Xorb chunk lists.
    pub(crate) xorbs: Vec<CasInfo>,
}

/// A cursor over the shard's 48-byte entries.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn entry(&mut self) -> Result<&'a [u8], String> {
        let entry = self
            .bytes
            .get(self.at..self.at + ENTRY)
            .ok_or_else(|| format!("the shard ends inside an entry at byte {}", self.at))?;
        self.at += ENTRY;
        Ok(entry)
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn hash_at(bytes: &[u8], at: usize) -> XetHash {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[at..at + 32]);
    XetHash(hash)
}

/// A section ends with an entry whose hash is all ones and the rest zero.
fn is_bookend(entry: &[u8]) -> bool {
    entry[..32].iter().all(|b| *b == 0xff)
}

/// Reads an uploaded shard; the reason when it is malformed.
pub(crate) fn parse(bytes: &[u8]) -> Result<Shard, String> {
    if bytes.len() > MAX_SHARD_BYTES {
        return Err(format!(
            "shard of {} bytes exceeds the limit of {MAX_SHARD_BYTES}",
            bytes.len()
        ));
    }
    let header = bytes.get(..ENTRY).ok_or("the shard is shorter than its header")?;
    if header[..32] != HEADER_TAG {
        return Err("not a shard: wrong magic tag".into());
    }
    if u64_at(header, 32) != HEADER_VERSION {
        return Err(format!("unsupported shard version {}", u64_at(header, 32)));
    }
    let footer_size = u64_at(header, 40);
    if footer_size != 0 && footer_size != FOOTER_SIZE as u64 {
        return Err(format!("unsupported footer size {footer_size}"));
    }
    let mut reader = Reader { bytes, at: ENTRY };

    let mut files = Vec::new();
    loop {
        let entry = reader.entry()?;
        if is_bookend(entry) {
            break;
        }
        let flags = u32_at(entry, 32);
        let count = u32_at(entry, 36) as usize;
        if count > bytes.len() / ENTRY {
            return Err("a file declares more terms than the shard holds".into());
        }
        let mut terms = Vec::with_capacity(count);
        for _ in 0..count {
            let term = reader.entry()?;
            terms.push(Term {
                xorb: hash_at(term, 0),
                unpacked: u64::from(u32_at(term, 36)),
                start: u32_at(term, 40),
                end: u32_at(term, 44),
            });
        }
        let verification = if flags & WITH_VERIFICATION != 0 {
            let mut hashes = Vec::with_capacity(count);
            for _ in 0..count {
                hashes.push(hash_at(reader.entry()?, 0));
            }
            Some(hashes)
        } else {
            None
        };
        let sha256 = if flags & WITH_METADATA != 0 {
            Some(hash_at(reader.entry()?, 0).0)
        } else {
            None
        };
        files.push(FileInfo {
            hash: hash_at(entry, 0),
            terms,
            verification,
            sha256,
        });
    }

    let mut xorbs = Vec::new();
    loop {
        let entry = reader.entry()?;
        if is_bookend(entry) {
            break;
        }
        let count = u32_at(entry, 36) as usize;
        if count > bytes.len() / ENTRY {
            return Err("a xorb declares more chunks than the shard holds".into());
        }
        let mut chunks = Vec::with_capacity(count);
        for _ in 0..count {
            chunks.push(hash_at(reader.entry()?, 0));
        }
        xorbs.push(CasInfo {
            hash: hash_at(entry, 0),
            chunks,
        });
    }
    // Uploads carry nothing after the sections; a full shard has lookup tables and the
    // footer, which the sections' readers need not look at.
    if footer_size == 0 && reader.at != bytes.len() {
        return Err(format!(
            "{} bytes follow the sections of a shard without footer",
            bytes.len() - reader.at
        ));
    }
    if footer_size != 0 && bytes.len() < reader.at + FOOTER_SIZE {
        return Err("the shard ends before its footer".into());
    }
    Ok(Shard { files, xorbs })
}

/// A stored xorb as a dedupe answer describes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DedupeXorb<'a> {
    /// Its chunks.
    pub(crate) index: &'a XorbIndex,
    /// Its serialized size.
    pub(crate) stored_len: u64,
}

/// The shard a dedupe query answers with: no files, the xorbs' chunk lists with each
/// chunk hash keyed by `key` (so the answer reveals only what the client can match), and
/// xet-core's footer: the lookup tables it searches (xorbs and chunks by the first 8 bytes
/// of their hashes), the key, creation time and expiry, and the byte totals.
pub(crate) fn dedupe_shard(xorbs: &[DedupeXorb<'_>], key: &XetHash, now: u64, expires: u64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&HEADER_TAG);
    out.extend_from_slice(&HEADER_VERSION.to_le_bytes());
    out.extend_from_slice(&(FOOTER_SIZE as u64).to_le_bytes());
    let file_info_offset = out.len() as u64;
    push_bookend(&mut out);
    let xorb_info_offset = out.len() as u64;
    // Entry indexes count 48-byte entries from the section's start.
    let mut xorb_lookup: Vec<(u64, u32)> = Vec::new();
    let mut chunk_lookup: Vec<(u64, u32, u32)> = Vec::new();
    let (mut entry, mut stored_on_disk, mut stored) = (0u32, 0u64, 0u64);
    for xorb in xorbs {
        let index = xorb.index;
        let total: u64 = index.chunks.iter().map(|c| c.len).sum();
        xorb_lookup.push((index.hash.word(0), entry));
        out.extend_from_slice(&index.hash.0);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(index.chunks.len() as u32).to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(xorb.stored_len as u32).to_le_bytes());
        let mut offset = 0u64;
        for (i, chunk) in index.chunks.iter().enumerate() {
            let keyed = chunk.hash.keyed(key);
            chunk_lookup.push((keyed.word(0), entry, i as u32));
            out.extend_from_slice(&keyed.0);
            out.extend_from_slice(&(offset as u32).to_le_bytes());
            out.extend_from_slice(&(chunk.len as u32).to_le_bytes());
            out.extend_from_slice(&[0u8; 8]);
            offset += chunk.len;
        }
        entry += 1 + index.chunks.len() as u32;
        stored_on_disk += xorb.stored_len;
        stored += total;
    }
    push_bookend(&mut out);
    xorb_lookup.sort_unstable();
    chunk_lookup.sort_unstable();
    // No files: an empty file lookup table.
    let file_lookup_offset = out.len() as u64;
    let xorb_lookup_offset = file_lookup_offset;
    for (key, entry) in &xorb_lookup {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
    }
    let chunk_lookup_offset = out.len() as u64;
    for (key, entry, chunk) in &chunk_lookup {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&chunk.to_le_bytes());
    }
    let footer_offset = out.len() as u64;
    for field in [
        FOOTER_VERSION,
        file_info_offset,
        xorb_info_offset,
        file_lookup_offset,
        0,
        xorb_lookup_offset,
        xorb_lookup.len() as u64,
        chunk_lookup_offset,
        chunk_lookup.len() as u64,
    ] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&now.to_le_bytes());
    out.extend_from_slice(&expires.to_le_bytes());
    out.extend_from_slice(&[0u8; 48]);
    // Bytes on disk, bytes the files would materialise (none), bytes in the xorbs.
    for field in [stored_on_disk, 0, stored, footer_offset] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out
}

/// Serializes a shard for upload (no footer), as xet-core does.
pub(crate) fn upload_bytes(shard: &Shard) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&HEADER_TAG);
    out.extend_from_slice(&HEADER_VERSION.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    for file in &shard.files {
        let mut flags = 0u32;
        if file.verification.is_some() {
            flags |= WITH_VERIFICATION;
        }
        if file.sha256.is_some() {
            flags |= WITH_METADATA;
        }
        out.extend_from_slice(&file.hash.0);
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&(file.terms.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        for term in &file.terms {
            out.extend_from_slice(&term.xorb.0);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(term.unpacked as u32).to_le_bytes());
            out.extend_from_slice(&term.start.to_le_bytes());
            out.extend_from_slice(&term.end.to_le_bytes());
        }
        for hash in file.verification.iter().flatten() {
            out.extend_from_slice(&hash.0);
            out.extend_from_slice(&[0u8; 16]);
        }
        if let Some(sha) = file.sha256 {
            out.extend_from_slice(&sha);
            out.extend_from_slice(&[0u8; 16]);
        }
    }
    push_bookend(&mut out);
    for xorb in &shard.xorbs {
        out.extend_from_slice(&xorb.hash.0);
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(xorb.chunks.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
        for chunk in &xorb.chunks {
            out.extend_from_slice(&chunk.0);
            out.extend_from_slice(&[0u8; 16]);
        }
    }
    push_bookend(&mut out);
    out
}

fn push_bookend(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xffu8; 32]);
    out.extend_from_slice(&[0u8; 16]);
}

#[cfg(test)]
mod tests {
    use super::{CasInfo, DedupeXorb, FileInfo, Shard, dedupe_shard, parse, upload_bytes};
    use crate::hub::xet::hash::XetHash;
    use crate::hub::xet::xorb::{ChunkEntry, XorbIndex};

    #[test]
    fn uploaded_shards_parse_back() -> Result<(), String> {
        let shard = Shard {
            files: vec![FileInfo {
                hash: XetHash([1; 32]),
                terms: vec![super::Term {
                    xorb: XetHash([2; 32]),
                    unpacked: 10,
                    start: 0,
                    end: 2,
                }],
                verification: Some(vec![XetHash([3; 32])]),
                sha256: Some([4; 32]),
            }],
            xorbs: vec![CasInfo {
                hash: XetHash([2; 32]),
                chunks: vec![XetHash([5; 32]), XetHash([6; 32])],
            }],
        };
        let bytes = upload_bytes(&shard);
        assert_eq!(parse(&bytes)?, shard);
        assert!(parse(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse(&bytes[1..]).is_err());
        Ok(())
    }

    #[test]
    fn dedupe_answers_are_shards_with_a_footer() -> Result<(), String> {
        let chunk = ChunkEntry {
            hash: XetHash([7; 32]),
            start: 0,
            end: 20,
            len: 12,
        };
        let index = XorbIndex {
            hash: XetHash([8; 32]),
            chunks: vec![chunk],
        };
        let key = XetHash([9; 32]);
        let bytes = dedupe_shard(
            &[DedupeXorb {
                index: &index,
                stored_len: 20,
            }],
            &key,
            1,
            2,
        );
        let parsed = parse(&bytes)?;
        assert!(parsed.files.is_empty());
        assert_eq!(parsed.xorbs[0].chunks, vec![chunk.hash.keyed(&key)]);
        Ok(())
    }
}
