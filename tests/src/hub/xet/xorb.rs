//! Xorbs as the CAS receives them: a run of chunks (an 8-byte header, then the chunk's
//! bytes stored plainly, as an LZ4 frame, or byte-grouped by four then LZ4), optionally
//! followed by the client's `XETBLOB` footer. Checked the way the CAS checks an upload:
//! every chunk decompresses to its declared size, and the Merkle hash of the chunk
//! hashes is the hash the upload is named by.

use std::io::Read;

use super::hash::{XetHash, chunk_hash, merkle_root};

/// The largest serialized xorb the CAS takes: 64 MiB of chunks plus their headers and the
/// footer's per-chunk entries.
pub(crate) const MAX_XORB_BYTES: usize = 65 * 1024 * 1024;

/// No chunk is larger than this once decompressed.
pub(crate) const MAX_CHUNK_BYTES: usize = 128 * 1024;

/// A chunk header's length.
const HEADER_LEN: usize = 8;

/// The first bytes of the footer xet-core appends.
const FOOTER_IDENT: &[u8; 7] = b"XETBLOB";

/// The first bytes of the footer's chunk hash section.
const HASHES_IDENT: &[u8; 7] = b"XBLBHSH";

/// One chunk of a stored xorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkEntry {
    /// The chunk's hash.
    pub(crate) hash: XetHash,
    /// Where its header starts in the xorb.
    pub(crate) start: u64,
    /// Where its stored bytes end (exclusive).
    pub(crate) end: u64,
    /// Its size once decompressed.
    pub(crate) len: u64,
}

/// What the CAS knows of a stored xorb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XorbIndex {
    /// The xorb's hash.
    pub(crate) hash: XetHash,
    /// Its chunks in order.
    pub(crate) chunks: Vec<ChunkEntry>,
}

impl XorbIndex {
    /// The decompressed size of chunks `start..end`.
    pub(crate) fn unpacked_len(&self, start: usize, end: usize) -> u64 {
        self.chunks[start..end].iter().map(|c| c.len).sum()
    }
}

/// How a chunk's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    None,
    Lz4,
    ByteGrouping4Lz4,
}

/// Reads a xorb and checks it names itself `expected`; the reason when it does not.
pub(crate) fn verify(body: &[u8], expected: &XetHash) -> Result<XorbIndex, String> {
    if body.len() > MAX_XORB_BYTES {
        return Err(format!(
            "xorb of {} bytes exceeds the limit of {MAX_XORB_BYTES}",
            body.len()
        ));
    }
    let mut chunks = Vec::new();
    let mut offset = 0usize;
    let mut footer = None;
    while offset < body.len() {
        if body[offset..].starts_with(FOOTER_IDENT) {
            footer = Some(offset);
            break;
        }
        let (entry, data) = read_chunk(body, offset).map_err(|e| format!("chunk {}: {e}", chunks.len()))?;
        chunks.push(ChunkEntry {
            hash: chunk_hash(&data),
            ..entry
        });
        offset = usize::try_from(entry.end).map_err(|_| "chunk offset overflows".to_string())?;
    }
    if chunks.is_empty() {
        return Err("the xorb holds no chunk".into());
    }
    let leaves: Vec<(XetHash, u64)> = chunks.iter().map(|c| (c.hash, c.len)).collect();
    let hash = merkle_root(&leaves);
    if hash != *expected {
        return Err(format!("the xorb's chunks hash to {hash}, not {expected}"));
    }
    if let Some(start) = footer {
        check_footer(&body[start..], &chunks, &hash)?;
    }
    Ok(XorbIndex { hash, chunks })
}

/// The chunk at `offset`: its place and decompressed bytes.
fn read_chunk(body: &[u8], offset: usize) -> Result<(ChunkEntry, Vec<u8>), String> {
    let header = body.get(offset..offset + HEADER_LEN).ok_or("truncated chunk header")?;
    if header[0] != 0 {
        return Err(format!("unknown chunk header version {}", header[0]));
    }
    let stored_len = u32::from_le_bytes([header[1], header[2], header[3], 0]) as usize;
    let scheme = match header[4] {
        0 => Scheme::None,
        1 => Scheme::Lz4,
        2 => Scheme::ByteGrouping4Lz4,
        other => return Err(format!("unknown compression scheme {other}")),
    };
    let len = u32::from_le_bytes([header[5], header[6], header[7], 0]) as usize;
    if len == 0 || len > MAX_CHUNK_BYTES {
        return Err(format!("chunk size {len} is outside 1..={MAX_CHUNK_BYTES}"));
    }
    if stored_len > 2 * MAX_CHUNK_BYTES {
        return Err(format!("stored chunk size {stored_len} is too large"));
    }
    let data_start = offset + HEADER_LEN;
    let stored = body
        .get(data_start..data_start + stored_len)
        .ok_or("truncated chunk data")?;
    let data = decompress(scheme, stored, len)?;
    let entry = ChunkEntry {
        hash: XetHash::default(),
        start: offset as u64,
        end: (data_start + stored_len) as u64,
        len: len as u64,
    };
    Ok((entry, data))
}

/// A chunk's bytes, decompressed; refused unless exactly `len` bytes come out.
fn decompress(scheme: Scheme, stored: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let data = match scheme {
        Scheme::None => stored.to_vec(),
        Scheme::Lz4 => lz4_frame(stored, len)?,
        Scheme::ByteGrouping4Lz4 => ungroup(&lz4_frame(stored, len)?),
    };
    if data.len() != len {
        return Err(format!("chunk decompresses to {} bytes, not {len}", data.len()));
    }
    Ok(data)
}

/// Decodes an LZ4 frame, reading at most one byte past `len` so a lying header cannot
/// make the CAS inflate without bound.
fn lz4_frame(stored: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(len);
    lz4_flex::frame::FrameDecoder::new(stored)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad LZ4 frame: {e}"))?;
    Ok(out)
}

/// Undoes byte grouping: the data was split into four groups (bytes 0, 1, 2, 3 of every
/// four), the first groups one longer when the length is not a multiple of four.
fn ungroup(grouped: &[u8]) -> Vec<u8> {
    let n = grouped.len();
    let (split, rem) = (n / 4, n % 4);
    let sizes: [usize; 4] = std::array::from_fn(|i| split + usize::from(i < rem));
    let mut starts = [0usize; 4];
    for i in 1..4 {
        starts[i] = starts[i - 1] + sizes[i - 1];
    }
    let mut out = vec![0u8; n];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = grouped[starts[i % 4] + i / 4];
    }
    out
}

/// Checks the client's footer against what the chunks say: its length field, the xorb
/// hash, the chunk count and every chunk hash.
fn check_footer(footer: &[u8], chunks: &[ChunkEntry], hash: &XetHash) -> Result<(), String> {
    let bad = |what: &str| Err(format!("xorb footer: {what}"));
    let Some(len_bytes) = footer.len().checked_sub(4).map(|at| &footer[at..]) else {
        return bad("truncated");
    };
    let info_len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    if info_len != footer.len() - 4 {
        return bad("its length field does not match its size");
    }
    // ident (7), version (1), xorb hash (32), hash section ident (7), version (1), count (4).
    let Some(fixed) = footer.get(..52) else {
        return bad("truncated");
    };
    if XetHash::from_slice(&fixed[8..40]) != Some(*hash) {
        return bad("it names another xorb hash");
    }
    if &fixed[40..47] != HASHES_IDENT {
        return bad("no chunk hash section");
    }
    let count = u32::from_le_bytes([fixed[48], fixed[49], fixed[50], fixed[51]]) as usize;
    if count != chunks.len() {
        return bad("its chunk count differs from the chunks");
    }
    let hashes = footer.get(52..52 + 32 * count).ok_or("xorb footer: truncated hashes")?;
    for (listed, chunk) in hashes.chunks_exact(32).zip(chunks) {
        if XetHash::from_slice(listed) != Some(chunk.hash) {
            return bad("a chunk hash differs from the chunk");
        }
    }
    Ok(())
}

/// Decompresses chunks `first..` of a stored xorb from `bytes`, the xorb's bytes starting
/// at `chunks[first].start`, calling `sink` with each chunk's data.
pub(crate) fn decode_chunks(
    bytes: &[u8],
    index: &XorbIndex,
    first: usize,
    end: usize,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    let base = index.chunks.get(first).ok_or("chunk index out of range")?.start;
    for chunk in index.chunks.get(first..end).ok_or("chunk range out of range")? {
        let at = usize::try_from(chunk.start - base).map_err(|_| "offset overflows")?;
        let (_, data) = read_chunk(bytes, at)?;
        sink(&data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{XorbIndex, decode_chunks, ungroup, verify};
    use crate::hub::xet::hash::{XetHash, chunk_hash};
    use crate::xet_objects::Xorb;

    fn group(data: &[u8]) -> Vec<u8> {
        (0..4).flat_map(|g| data.iter().skip(g).step_by(4).copied()).collect()
    }

    fn xorb_of(chunks: &[Vec<u8>]) -> (XetHash, Vec<u8>) {
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let xorb = Xorb::new(&refs);
        (XetHash::parse(&xorb.hash).unwrap_or_default(), xorb.bytes)
    }

    #[test]
    fn byte_grouping_round_trips_any_length() {
        for n in 0..11 {
            let data: Vec<u8> = (0..n).map(|i| i as u8 * 7).collect();
            assert_eq!(ungroup(&group(&data)), data, "{n}");
        }
    }

    #[test]
    fn xorbs_verify_and_decode_back() -> Result<(), String> {
        let chunks: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 1000 + usize::from(i)]).collect();
        let (hash, bytes) = xorb_of(&chunks);
        let index: XorbIndex = verify(&bytes, &hash)?;
        assert_eq!(index.chunks.len(), 5);
        assert_eq!(index.unpacked_len(1, 3), 1001 + 1002);
        let mut out = Vec::new();
        let from = usize::try_from(index.chunks[2].start).map_err(|e| e.to_string())?;
        decode_chunks(&bytes[from..], &index, 2, 5, &mut |c| out.push(c.to_vec()))?;
        assert_eq!(out, chunks[2..].to_vec());
        Ok(())
    }

    #[test]
    fn xorbs_with_wrong_hashes_or_bytes_are_refused() {
        let chunks = vec![b"abc".to_vec(), b"defg".to_vec()];
        let (hash, bytes) = xorb_of(&chunks);
        assert!(verify(&bytes, &chunk_hash(b"other")).is_err());
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(verify(&flipped, &hash).is_err());
        assert!(verify(&bytes[..bytes.len() - 1], &hash).is_err());
        assert!(verify(&[], &hash).is_err());
    }
}
