//! Shards: the binary lists of file reconstructions and xorb contents that a client uploads
//! (`POST /v1/shards`) and that the global dedupe query answers with.
//!
//! Layout: a 48-byte header; the file info section (per file a header, its terms, optionally
//! one verification entry per term and a sha256 entry), closed by a bookend; the CAS info
//! section (per xorb a header and one entry per chunk), closed by a bookend; and a 200-byte
//! footer, which an upload omits (xet-core may put lookup tables before it). Every record is
//! 48 bytes, integers little-endian.

use crate::Error;
use crate::hash::{XetHash, verification_range_hash};
use crate::reconstruction::{ChunkRange, Term};
use crate::xorb::SerializedXorb;

/// The magic tag that opens every shard.
const HEADER_TAG: [u8; 32] = [
    b'H', b'F', b'R', b'e', b'p', b'o', b'M', b'e', b't', b'a', b'D', b'a', b't', b'a', 0, 85, 105, 103, 69, 106, 123,
    129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169,
];
const HEADER_VERSION: u64 = 2;
const FOOTER_VERSION: u64 = 1;
const HEADER_LEN: usize = 48;
const FOOTER_LEN: usize = 200;
/// The size of every record of both sections.
const RECORD: usize = 48;
/// A file has verification entries, one per term.
const FLAG_WITH_VERIFICATION: u32 = 1 << 31;
/// A file has a metadata extension (its sha256).
const FLAG_WITH_METADATA_EXT: u32 = 1 << 30;

/// A file's reconstruction as a shard records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's Xet hash.
    pub file_hash: XetHash,
    /// The file's terms, in order.
    pub terms: Vec<Term>,
    /// The verification hash of each term ([`verification_range_hash`] of the term's chunk
    /// hashes); required in an upload.
    pub verification: Option<Vec<XetHash>>,
    /// The sha256 of the file's bytes; required when the file goes to a git repository (its
    /// LFS pointer names it).
    pub sha256: Option<[u8; 32]>,
}

/// One chunk of a xorb as a shard records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardChunk {
    /// The chunk's hash; in a global dedupe answer, keyed with the footer's HMAC key.
    pub hash: XetHash,
    /// The offset of the chunk's first byte in the xorb's decompressed data.
    pub raw_offset: u32,
    /// The chunk's length, decompressed.
    pub len: u32,
    /// Flags (bit 31: xet-core's mark of a chunk eligible for global dedupe).
    pub flags: u32,
}

/// A xorb as a shard records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XorbInfo {
    /// The xorb's hash.
    pub xorb_hash: XetHash,
    /// Its chunks, in order.
    pub chunks: Vec<ShardChunk>,
    /// The length of its chunks, decompressed.
    pub raw_len: u32,
    /// The length of the xorb as serialized (uploaded).
    pub serialized_len: u32,
}

impl XorbInfo {
    /// The record of a xorb built for upload.
    pub fn of(xorb: &SerializedXorb) -> Self {
        Self {
            xorb_hash: xorb.hash,
            chunks: xorb
                .chunks
                .iter()
                .map(|c| ShardChunk {
                    hash: c.hash,
                    raw_offset: c.raw_offset,
                    len: c.len,
                    flags: 0,
                })
                .collect(),
            // A xorb is at most 64 MiB serialized, and so less than 4 GiB decompressed.
            raw_len: xorb.raw_len() as u32,
            serialized_len: xorb.bytes.len() as u32,
        }
    }

    /// The verification hash of a term over chunks `range` of this xorb; `None` when the
    /// range is empty or past its chunks.
    pub fn verification_hash(&self, range: ChunkRange) -> Option<XetHash> {
        let chunks = self.chunks.get(range.start as usize..range.end as usize)?;
        if chunks.is_empty() {
            return None;
        }
        let hashes: Vec<XetHash> = chunks.iter().map(|c| c.hash).collect();
        Some(verification_range_hash(&hashes))
    }
}

/// The footer's values that are not offsets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardFooter {
    /// The key the CAS section's chunk hashes are keyed with; all zero when they are not.
    pub chunk_hash_hmac_key: [u8; 32],
    /// When the shard was made (seconds since the Unix epoch).
    pub created_at: u64,
    /// When the dedupe information expires (seconds since the Unix epoch): do not dedupe
    /// against it afterwards.
    pub key_expiry: u64,
}

/// A shard: files and xorbs, and the footer when it has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shard {
    /// The file info section.
    pub files: Vec<FileInfo>,
    /// The CAS info section.
    pub xorbs: Vec<XorbInfo>,
    /// The footer; `None` in an upload.
    pub footer: Option<ShardFooter>,
}

impl Shard {
    /// The key of the CAS section's chunk hashes, when the footer has a non-zero one (a global
    /// dedupe answer).
    pub fn chunk_hash_hmac_key(&self) -> Option<[u8; 32]> {
        self.footer
            .map(|f| f.chunk_hash_hmac_key)
            .filter(|key| key.iter().any(|&b| b != 0))
    }

    /// The bytes of this shard: with the footer when [`footer`](Self::footer) is set, without
    /// (an upload's body) when not. Fails on values the format cannot say: verification
    /// entries that do not match the terms one to one, some files verified and others not, or
    /// counts beyond `u32`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        check_verification(&self.files)?;
        let mut out = Vec::new();
        out.extend_from_slice(&HEADER_TAG);
        out.extend_from_slice(&HEADER_VERSION.to_le_bytes());
        let footer_len = if self.footer.is_some() { FOOTER_LEN } else { 0 };
        out.extend_from_slice(&(footer_len as u64).to_le_bytes());

        for file in &self.files {
            write_file(&mut out, file)?;
        }
        write_bookend(&mut out);
        let cas_info_offset = out.len();
        for xorb in &self.xorbs {
            write_xorb(&mut out, xorb)?;
        }
        write_bookend(&mut out);

        if let Some(footer) = &self.footer {
            let footer_offset = out.len() as u64;
            // xet-core's lookup tables (offset, entries) for files, xorbs and chunks: none.
            let lookups = [footer_offset, 0, footer_offset, 0, footer_offset, 0];
            let stored_bytes_on_disk: u64 = self.xorbs.iter().map(|x| u64::from(x.serialized_len)).sum();
            let materialized_bytes: u64 = self
                .files
                .iter()
                .flat_map(|f| &f.terms)
                .map(|t| u64::from(t.unpacked_len))
                .sum();
            let stored_bytes: u64 = self.xorbs.iter().map(|x| u64::from(x.raw_len)).sum();
            let mut words = vec![FOOTER_VERSION, HEADER_LEN as u64, cas_info_offset as u64];
            words.extend(lookups);
            for word in words {
                out.extend_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(&footer.chunk_hash_hmac_key);
            for word in [footer.created_at, footer.key_expiry, 0, 0, 0, 0, 0, 0] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            for word in [stored_bytes_on_disk, materialized_bytes, stored_bytes, footer_offset] {
                out.extend_from_slice(&word.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Reads and checks shard bytes, which come from the network: the tag and versions, each
    /// count against the bytes left before anything is allocated, both bookends, the
    /// verification rule, each term's chunk range, each xorb's chunk offsets against its
    /// chunks' lengths, and the footer's offsets. Without a footer, nothing may follow the CAS
    /// section; with one, the footer is the last 200 bytes, and what lies between the CAS
    /// section and it (xet-core's lookup tables) is not read.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(Error::Truncated { what: "shard header" })?;
        if header[..32] != HEADER_TAG {
            return Err(Error::NotAShard);
        }
        let version = le_u64(&header[32..40]);
        if version != HEADER_VERSION {
            return Err(Error::UnsupportedShardVersion {
                part: "header",
                version,
            });
        }
        let footer_len = match le_u64(&header[40..48]) {
            0 => 0,
            200 => FOOTER_LEN,
            _ => {
                return Err(Error::InvalidShard {
                    reason: "the header's footer size is neither 0 nor 200",
                });
            }
        };
        let body_end = bytes
            .len()
            .checked_sub(footer_len)
            .filter(|&end| end >= HEADER_LEN)
            .ok_or(Error::Truncated { what: "shard footer" })?;

        // The sections cannot reach into the footer.
        let mut cursor = Cursor {
            bytes: &bytes[..body_end],
            pos: HEADER_LEN,
        };
        let mut files = Vec::new();
        while let Some(file) = read_file(&mut cursor)? {
            files.push(file);
        }
        check_verification(&files)?;
        let cas_info_offset = cursor.pos;
        let mut xorbs = Vec::new();
        while let Some(xorb) = read_xorb(&mut cursor)? {
            xorbs.push(xorb);
        }

        let footer = if footer_len == 0 {
            if cursor.pos != bytes.len() {
                return Err(Error::InvalidShard {
                    reason: "bytes follow the CAS info section of a shard without footer",
                });
            }
            None
        } else {
            Some(read_footer(&bytes[body_end..], cas_info_offset, body_end)?)
        };
        Ok(Self { files, xorbs, footer })
    }
}

/// A shard verifies all its files or none.
fn check_verification(files: &[FileInfo]) -> Result<(), Error> {
    let verified = files.iter().filter(|f| f.verification.is_some()).count();
    if verified == 0 || verified == files.len() {
        Ok(())
    } else {
        Err(Error::InvalidShard {
            reason: "some files have verification entries and others not",
        })
    }
}

/// Reads bytes front to back; every read is checked against what is left.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Error::Truncated { what })?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    /// The next record of a section, `None` at its bookend (a hash of all one bits).
    fn section_header(&mut self, what: &'static str) -> Result<Option<&'a [u8]>, Error> {
        let record = self.take(RECORD, what)?;
        Ok((!record[..32].iter().all(|&b| b == 0xff)).then_some(record))
    }

    /// Fails unless `records` records are left, before they are allocated.
    fn ensure_records(&self, records: u64, what: &'static str) -> Result<(), Error> {
        let left = (self.bytes.len() - self.pos) as u64;
        match records.checked_mul(RECORD as u64) {
            Some(needed) if needed <= left => Ok(()),
            _ => Err(Error::Truncated { what }),
        }
    }
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

fn hash_at(record: &[u8]) -> XetHash {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&record[..32]);
    XetHash::from_bytes(hash)
}

fn write_bookend(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xff; 32]);
    out.extend_from_slice(&[0; 16]);
}

fn count_u32(len: usize, reason: &'static str) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::InvalidShard { reason })
}

fn write_file(out: &mut Vec<u8>, file: &FileInfo) -> Result<(), Error> {
    let entries = count_u32(file.terms.len(), "a file has more than 2^32 terms")?;
    let mut flags = 0;
    if let Some(verification) = &file.verification {
        if verification.len() != file.terms.len() {
            return Err(Error::InvalidShard {
                reason: "a file's verification entries do not match its terms",
            });
        }
        flags |= FLAG_WITH_VERIFICATION;
    }
    if file.sha256.is_some() {
        flags |= FLAG_WITH_METADATA_EXT;
    }
    out.extend_from_slice(file.file_hash.as_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&entries.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    for term in &file.terms {
        out.extend_from_slice(term.xorb_hash.as_bytes());
        for value in [0, term.unpacked_len, term.chunks.start, term.chunks.end] {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    for hash in file.verification.iter().flatten() {
        out.extend_from_slice(hash.as_bytes());
        out.extend_from_slice(&[0; 16]);
    }
    if let Some(sha256) = &file.sha256 {
        out.extend_from_slice(sha256);
        out.extend_from_slice(&[0; 16]);
    }
    Ok(())
}

fn read_file(cursor: &mut Cursor<'_>) -> Result<Option<FileInfo>, Error> {
    let Some(header) = cursor.section_header("shard file info section")? else {
        return Ok(None);
    };
    let flags = le_u32(&header[32..]);
    let entries = le_u32(&header[36..]);
    let verified = flags & FLAG_WITH_VERIFICATION != 0;
    let with_sha256 = flags & FLAG_WITH_METADATA_EXT != 0;
    let records = u64::from(entries) * (1 + u64::from(verified)) + u64::from(with_sha256);
    cursor.ensure_records(records, "shard file info")?;

    let mut terms = Vec::with_capacity(entries as usize);
    for _ in 0..entries {
        let record = cursor.take(RECORD, "shard file term")?;
        let term = Term {
            xorb_hash: hash_at(record),
            unpacked_len: le_u32(&record[36..]),
            chunks: ChunkRange {
                start: le_u32(&record[40..]),
                end: le_u32(&record[44..]),
            },
        };
        if term.chunks.is_empty() {
            return Err(Error::InvalidShard {
                reason: "a file term has an empty chunk range",
            });
        }
        terms.push(term);
    }
    let verification = if verified {
        let mut hashes = Vec::with_capacity(entries as usize);
        for _ in 0..entries {
            hashes.push(hash_at(cursor.take(RECORD, "shard verification entry")?));
        }
        Some(hashes)
    } else {
        None
    };
    let sha256 = if with_sha256 {
        let record = cursor.take(RECORD, "shard metadata extension")?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&record[..32]);
        Some(sha256)
    } else {
        None
    };
    Ok(Some(FileInfo {
        file_hash: hash_at(header),
        terms,
        verification,
        sha256,
    }))
}

fn write_xorb(out: &mut Vec<u8>, xorb: &XorbInfo) -> Result<(), Error> {
    let entries = count_u32(xorb.chunks.len(), "a xorb has more than 2^32 chunks")?;
    out.extend_from_slice(xorb.xorb_hash.as_bytes());
    for value in [0, entries, xorb.raw_len, xorb.serialized_len] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    for chunk in &xorb.chunks {
        out.extend_from_slice(chunk.hash.as_bytes());
        for value in [chunk.raw_offset, chunk.len, chunk.flags, 0] {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    Ok(())
}

fn read_xorb(cursor: &mut Cursor<'_>) -> Result<Option<XorbInfo>, Error> {
    let Some(header) = cursor.section_header("shard CAS info section")? else {
        return Ok(None);
    };
    let entries = le_u32(&header[36..]);
    cursor.ensure_records(u64::from(entries), "shard CAS info")?;
    let mut chunks = Vec::with_capacity(entries as usize);
    let mut raw_offset = 0u64;
    for _ in 0..entries {
        let record = cursor.take(RECORD, "shard CAS chunk entry")?;
        let chunk = ShardChunk {
            hash: hash_at(record),
            raw_offset: le_u32(&record[32..]),
            len: le_u32(&record[36..]),
            flags: le_u32(&record[40..]),
        };
        if u64::from(chunk.raw_offset) != raw_offset {
            return Err(Error::InvalidShard {
                reason: "a xorb's chunk offsets do not follow its chunk lengths",
            });
        }
        raw_offset += u64::from(chunk.len);
        chunks.push(chunk);
    }
    let raw_len = le_u32(&header[40..]);
    if u64::from(raw_len) != raw_offset {
        return Err(Error::InvalidShard {
            reason: "a xorb's length is not the sum of its chunks' lengths",
        });
    }
    Ok(Some(XorbInfo {
        xorb_hash: hash_at(header),
        chunks,
        raw_len,
        serialized_len: le_u32(&header[44..]),
    }))
}

fn read_footer(footer: &[u8], cas_info_offset: usize, footer_offset: usize) -> Result<ShardFooter, Error> {
    let version = le_u64(footer);
    if version != FOOTER_VERSION {
        return Err(Error::UnsupportedShardVersion {
            part: "footer",
            version,
        });
    }
    if le_u64(&footer[8..]) != HEADER_LEN as u64
        || le_u64(&footer[16..]) != cas_info_offset as u64
        || le_u64(&footer[192..]) != footer_offset as u64
    {
        return Err(Error::InvalidShard {
            reason: "the footer's offsets do not match the sections",
        });
    }
    let mut chunk_hash_hmac_key = [0u8; 32];
    chunk_hash_hmac_key.copy_from_slice(&footer[72..104]);
    Ok(ShardFooter {
        chunk_hash_hmac_key,
        created_at: le_u64(&footer[104..]),
        key_expiry: le_u64(&footer[112..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::chunk_hash;

    fn sample_xorb(seed: u8, chunks: u32) -> XorbInfo {
        let chunks: Vec<ShardChunk> = (0..chunks)
            .map(|i| ShardChunk {
                hash: chunk_hash(&[seed, i as u8]),
                raw_offset: i * 1000,
                len: 1000,
                flags: 0,
            })
            .collect();
        XorbInfo {
            xorb_hash: chunk_hash(&[seed]),
            raw_len: chunks.len() as u32 * 1000,
            serialized_len: 12_345,
            chunks,
        }
    }

    fn sample_shard(footer: Option<ShardFooter>) -> Shard {
        let xorb = sample_xorb(1, 5);
        let terms = vec![
            Term {
                xorb_hash: xorb.xorb_hash,
                chunks: ChunkRange { start: 0, end: 3 },
                unpacked_len: 3000,
            },
            Term {
                xorb_hash: xorb.xorb_hash,
                chunks: ChunkRange { start: 4, end: 5 },
                unpacked_len: 1000,
            },
        ];
        let verification = terms.iter().filter_map(|t| xorb.verification_hash(t.chunks)).collect();
        Shard {
            files: vec![
                FileInfo {
                    file_hash: chunk_hash(b"file one"),
                    terms: terms.clone(),
                    verification: Some(verification),
                    sha256: Some([0xab; 32]),
                },
                FileInfo {
                    file_hash: chunk_hash(b"file two"),
                    terms: terms[1..].to_vec(),
                    verification: Some(vec![xorb.verification_hash(terms[1].chunks).unwrap_or_default()]),
                    sha256: None,
                },
            ],
            xorbs: vec![xorb, sample_xorb(2, 1)],
            footer,
        }
    }

    #[test]
    fn upload_shards_round_trip_without_footer() -> Result<(), Error> {
        let shard = sample_shard(None);
        let bytes = shard.to_bytes()?;
        assert_eq!(bytes[..32], HEADER_TAG);
        assert_eq!(le_u64(&bytes[40..]), 0, "footer size");
        // Header, file 1 (1 + 2 + 2 + 1), file 2 (1 + 1 + 1), bookend, xorb 1 (1 + 5),
        // xorb 2 (1 + 1), bookend.
        assert_eq!(bytes.len(), 48 * (1 + 6 + 3 + 1 + 6 + 2 + 1));
        assert_eq!(
            le_u32(&bytes[48 + 32..]),
            FLAG_WITH_VERIFICATION | FLAG_WITH_METADATA_EXT
        );
        assert_eq!(Shard::parse(&bytes)?, shard);
        Ok(())
    }

    #[test]
    fn shards_round_trip_with_footer() -> Result<(), Error> {
        let footer = ShardFooter {
            chunk_hash_hmac_key: [3; 32],
            created_at: 1_700_000_000,
            key_expiry: 1_800_000_000,
        };
        let shard = sample_shard(Some(footer));
        let bytes = shard.to_bytes()?;
        assert_eq!(le_u64(&bytes[40..]), 200);
        let footer_at = bytes.len() - 200;
        assert_eq!(le_u64(&bytes[footer_at + 192..]), footer_at as u64);
        let parsed = Shard::parse(&bytes)?;
        assert_eq!(parsed, shard);
        assert_eq!(parsed.chunk_hash_hmac_key(), Some([3; 32]));

        // Lookup tables between the CAS section and the footer are passed over.
        let mut with_tables = bytes[..footer_at].to_vec();
        with_tables.extend_from_slice(&[0x5a; 96]);
        with_tables.extend_from_slice(&bytes[footer_at..]);
        let end = with_tables.len();
        with_tables[end - 8..].copy_from_slice(&((footer_at + 96) as u64).to_le_bytes());
        assert_eq!(Shard::parse(&with_tables)?, shard);
        Ok(())
    }

    #[test]
    fn damaged_shards_are_refused() -> Result<(), Error> {
        let bytes = sample_shard(Some(ShardFooter::default())).to_bytes()?;
        for cut in [0, 47, 48, 100, bytes.len() - 201, bytes.len() - 1] {
            assert!(Shard::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(Shard::parse(&extra).is_err());

        let mut tag = bytes.clone();
        tag[0] = b'h';
        assert!(matches!(Shard::parse(&tag), Err(Error::NotAShard)));

        let mut version = bytes.clone();
        version[32] = 3;
        assert!(matches!(
            Shard::parse(&version),
            Err(Error::UnsupportedShardVersion { .. })
        ));

        // A term count far beyond the bytes.
        let mut count = bytes.clone();
        count[48 + 36..48 + 40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Shard::parse(&count), Err(Error::Truncated { .. })));

        // A chunk offset that does not follow the lengths.
        let upload = sample_shard(None).to_bytes()?;
        let first_chunk = 48 * 12;
        let mut offset = upload.clone();
        offset[first_chunk + 32] = 1;
        assert!(matches!(Shard::parse(&offset), Err(Error::InvalidShard { .. })));
        Ok(())
    }

    #[test]
    fn mixed_verification_is_refused() {
        let mut shard = sample_shard(None);
        shard.files[1].verification = None;
        assert!(shard.to_bytes().is_err());
        shard.files[1].verification = Some(Vec::new());
        assert!(shard.to_bytes().is_err());
    }

    #[test]
    fn an_empty_shard_is_two_bookends() -> Result<(), Error> {
        let bytes = Shard::default().to_bytes()?;
        assert_eq!(bytes.len(), 48 * 3);
        assert_eq!(Shard::parse(&bytes)?, Shard::default());
        Ok(())
    }
}
