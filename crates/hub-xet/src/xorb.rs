//! Xorbs: runs of compressed chunks, each behind an 8-byte header. Building one for upload,
//! and reading chunks from xorb bytes or from a byte range of a xorb (what a download gets).

use std::io::{self, Read, Write};

use crate::Error;
use crate::chunking::MAX_CHUNK_SIZE;
use crate::compression::CompressionScheme;
use crate::hash::{HashedChunk, XetHash};
use crate::merkle::xorb_hash;

/// The most bytes a serialized xorb may have: the CAS refuses larger uploads.
pub const MAX_XORB_BYTES: usize = 64 * 1024 * 1024;
/// The most chunks a xorb may hold.
pub const MAX_XORB_CHUNKS: usize = 8 * 1024;
/// The size of a chunk header.
pub const CHUNK_HEADER_LEN: usize = 8;
/// The only chunk header version.
const CHUNK_HEADER_VERSION: u8 = 0;
/// The largest stored size a header may declare, as xet-core accepts it: twice a chunk.
const MAX_STORED_CHUNK: usize = 2 * MAX_CHUNK_SIZE;
/// The first bytes of xet-core's optional xorb footer, which follows the last chunk. A chunk
/// header never starts so: its first byte is the version, 0.
const FOOTER_IDENT: &[u8; 7] = b"XETBLOB";
/// xet-core chooses the compression scheme again after this many chunks of one file.
const SCHEME_RETEST_INTERVAL: usize = 32;

/// The header in front of each chunk of a xorb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    /// How the chunk's bytes are stored.
    pub scheme: CompressionScheme,
    /// The length of the stored (compressed) bytes that follow the header.
    pub stored_len: u32,
    /// The length of the chunk once decompressed.
    pub len: u32,
}

impl ChunkHeader {
    /// The 8 bytes of this header: version 0, the stored length (3 bytes, little-endian), the
    /// scheme, the chunk's length (3 bytes, little-endian).
    pub fn to_bytes(&self) -> [u8; CHUNK_HEADER_LEN] {
        let stored = self.stored_len.to_le_bytes();
        let len = self.len.to_le_bytes();
        [
            CHUNK_HEADER_VERSION,
            stored[0],
            stored[1],
            stored[2],
            self.scheme.as_byte(),
            len[0],
            len[1],
            len[2],
        ]
    }

    /// Reads and checks a header: known version and scheme, sizes within a chunk's limits,
    /// and equal sizes for an uncompressed chunk.
    pub fn parse(bytes: &[u8; CHUNK_HEADER_LEN]) -> Result<Self, Error> {
        if bytes[0] != CHUNK_HEADER_VERSION {
            return Err(Error::UnsupportedChunkVersion { version: bytes[0] });
        }
        let header = Self {
            scheme: CompressionScheme::from_byte(bytes[4])?,
            stored_len: u32::from_le_bytes([bytes[1], bytes[2], bytes[3], 0]),
            len: u32::from_le_bytes([bytes[5], bytes[6], bytes[7], 0]),
        };
        if header.len as usize > MAX_CHUNK_SIZE {
            return Err(Error::ChunkTooLarge {
                what: "a xorb chunk",
                size: header.len as usize,
                max: MAX_CHUNK_SIZE,
            });
        }
        if header.stored_len as usize > MAX_STORED_CHUNK {
            return Err(Error::ChunkTooLarge {
                what: "a compressed xorb chunk",
                size: header.stored_len as usize,
                max: MAX_STORED_CHUNK,
            });
        }
        if header.scheme == CompressionScheme::None && header.stored_len != header.len {
            return Err(Error::InvalidChunk {
                reason: "an uncompressed chunk's two sizes differ",
            });
        }
        Ok(header)
    }
}

/// Which compression a [`XorbBuilder`] applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressionPolicy {
    /// As xet-core does: for each run of 32 chunks of a file, the scheme
    /// [`CompressionScheme::choose_for`] picks from the run's first chunk.
    #[default]
    Auto,
    /// This scheme for every chunk.
    Always(CompressionScheme),
}

/// Where a chunk sits in a xorb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XorbChunk {
    /// The chunk's hash.
    pub hash: XetHash,
    /// The chunk's length, decompressed.
    pub len: u32,
    /// The offset of the chunk's first byte in the xorb's decompressed data.
    pub raw_offset: u32,
    /// The offset of the chunk's header in the serialized xorb.
    pub stored_offset: u32,
}

/// A serialized xorb, ready to upload (`POST /v1/xorbs/default/{hash}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerializedXorb {
    /// The xorb's hash: the Merkle root of its chunks.
    pub hash: XetHash,
    /// The chunks, each behind its header; no footer, as the reference client uploads them.
    pub bytes: Vec<u8>,
    /// The chunks, in order.
    pub chunks: Vec<XorbChunk>,
}

impl SerializedXorb {
    /// The total length of the chunks, decompressed.
    pub fn raw_len(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.len)).sum()
    }
}

/// Builds a xorb from chunks, compressing each as it comes, within the limits of
/// [`MAX_XORB_BYTES`] (decompressed and serialized) and [`MAX_XORB_CHUNKS`] chunks.
///
/// ```
/// use hub_xet::{XorbBuilder, chunk_hash, parse_xorb};
///
/// let mut builder = XorbBuilder::new();
/// builder.push(&[1u8; 9000])?;
/// builder.push(b"the second chunk")?;
/// let xorb = builder.finish().expect("two chunks");
/// let read = parse_xorb(&xorb.bytes)?;
/// assert_eq!(read.hash, xorb.hash);
/// assert_eq!(read.chunks[1].hash, chunk_hash(b"the second chunk"));
/// # Ok::<(), hub_xet::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct XorbBuilder {
    policy: CompressionPolicy,
    bytes: Vec<u8>,
    /// Serialized bytes already handed out by [`drain_serialized`](Self::drain_serialized).
    drained: usize,
    chunks: Vec<XorbChunk>,
    raw_len: u64,
    /// The scheme of the current run of chunks, and how many it has had.
    run: Option<(CompressionScheme, usize)>,
}

impl XorbBuilder {
    /// An empty xorb with the [`CompressionPolicy::Auto`] policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty xorb with this compression policy.
    pub fn with_policy(policy: CompressionPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Marks the start of another file's chunks: the automatic policy chooses its scheme anew.
    pub fn start_file(&mut self) {
        self.run = None;
    }

    /// The number of chunks so far.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no chunk was pushed.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The serialized size so far.
    pub fn serialized_len(&self) -> usize {
        self.drained + self.bytes.len()
    }

    /// Writes the serialized bytes so far to `out` and lets them go, so that a xorb can be
    /// built into a file in the memory of one chunk; [`finish`](Self::finish) then returns
    /// only the bytes not yet drained.
    pub fn drain_serialized(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.bytes)?;
        self.drained += self.bytes.len();
        self.bytes.clear();
        Ok(())
    }

    /// Whether a chunk of `len` bytes fits whatever its compression: the chunk count stays
    /// within [`MAX_XORB_CHUNKS`], and both the decompressed data (xet-core's rule) and the
    /// serialized xorb (the CAS's rule) within [`MAX_XORB_BYTES`].
    pub fn fits(&self, len: usize) -> bool {
        self.chunks.len() < MAX_XORB_CHUNKS
            && self.raw_len + len as u64 <= MAX_XORB_BYTES as u64
            && self.serialized_len() + CHUNK_HEADER_LEN + len <= MAX_XORB_BYTES
    }

    /// Appends a chunk, compressed by the policy (stored as it is when that is not smaller),
    /// and returns its hash and length. Fails, leaving the xorb as it was, when the chunk is
    /// larger than [`MAX_CHUNK_SIZE`] or does not [fit](Self::fits).
    pub fn push(&mut self, data: &[u8]) -> Result<HashedChunk, Error> {
        let chunk = HashedChunk::of(data);
        self.push_hashed(data, chunk)?;
        Ok(chunk)
    }

    /// Appends a chunk whose hash the caller has already computed (an upload hashes each
    /// chunk to deduplicate it before it knows the chunk is new), as [`push`](Self::push)
    /// does but without hashing it again. `chunk` must be [`HashedChunk::of`] `data`: the
    /// xorb's hash is computed from it, and the CAS refuses a xorb whose chunks do not hash
    /// to it.
    pub fn push_hashed(&mut self, data: &[u8], chunk: HashedChunk) -> Result<(), Error> {
        debug_assert_eq!(chunk.len, data.len() as u64);
        if data.len() > MAX_CHUNK_SIZE {
            return Err(Error::ChunkTooLarge {
                what: "a xorb chunk",
                size: data.len(),
                max: MAX_CHUNK_SIZE,
            });
        }
        if !self.fits(data.len()) {
            return Err(Error::XorbFull {
                chunks: self.chunks.len(),
                bytes: self.serialized_len(),
            });
        }
        let scheme = self.scheme_for(data);
        let compressed = scheme.compress(data);
        let (scheme, stored) = match &compressed {
            Some(compressed) => (scheme, &compressed[..]),
            None => (CompressionScheme::None, data),
        };
        // Both sizes fit in 3 bytes: a chunk is at most 128 KiB and is stored at most as is.
        let header = ChunkHeader {
            scheme,
            stored_len: stored.len() as u32,
            len: data.len() as u32,
        };
        self.chunks.push(XorbChunk {
            hash: chunk.hash,
            len: header.len,
            // Below 64 MiB: `fits` bounds the decompressed size.
            raw_offset: self.raw_len as u32,
            stored_offset: self.serialized_len() as u32,
        });
        self.bytes.extend_from_slice(&header.to_bytes());
        self.bytes.extend_from_slice(stored);
        self.raw_len += chunk.len;
        Ok(())
    }

    fn scheme_for(&mut self, data: &[u8]) -> CompressionScheme {
        match self.policy {
            CompressionPolicy::Always(scheme) => scheme,
            CompressionPolicy::Auto => {
                let (scheme, count) = match self.run {
                    Some((scheme, count)) if count < SCHEME_RETEST_INTERVAL => (scheme, count),
                    _ => (CompressionScheme::choose_for(data), 0),
                };
                self.run = Some((scheme, count + 1));
                scheme
            }
        }
    }

    /// The serialized xorb (the bytes not [drained](Self::drain_serialized)) and its hash;
    /// `None` when no chunk was pushed.
    pub fn finish(self) -> Option<SerializedXorb> {
        if self.chunks.is_empty() {
            return None;
        }
        let hashed: Vec<HashedChunk> = self
            .chunks
            .iter()
            .map(|c| HashedChunk {
                hash: c.hash,
                len: u64::from(c.len),
            })
            .collect();
        Some(SerializedXorb {
            hash: xorb_hash(&hashed),
            bytes: self.bytes,
            chunks: self.chunks,
        })
    }
}

/// One chunk read from xorb bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedChunk {
    /// Its header.
    pub header: ChunkHeader,
    /// Its bytes, decompressed.
    pub data: Vec<u8>,
}

/// Reads chunks one at a time from xorb bytes: a whole xorb, or a byte range of one that
/// starts at a chunk header (a download's range). It stops at the end of the input or at
/// xet-core's footer. Input from the network is untrusted: each header is checked before
/// anything is allocated, and a chunk never takes more than 128 KiB decompressed (256 KiB
/// stored), so memory stays bounded whatever the input.
#[derive(Debug)]
pub struct XorbChunkReader<R> {
    reader: R,
    stored: Vec<u8>,
    done: bool,
}

impl<R: Read> XorbChunkReader<R> {
    /// A reader of the chunks in `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            stored: Vec::new(),
            done: false,
        }
    }

    /// Reads the next chunk, decompressed, into `out` (cleared first), and returns its
    /// header; `None` at the end of the chunks.
    pub fn next_chunk(&mut self, out: &mut Vec<u8>) -> Result<Option<ChunkHeader>, Error> {
        out.clear();
        if self.done {
            return Ok(None);
        }
        let result = self.read_chunk(out);
        if !matches!(result, Ok(Some(_))) {
            self.done = true;
        }
        result
    }

    fn read_chunk(&mut self, out: &mut Vec<u8>) -> Result<Option<ChunkHeader>, Error> {
        let mut header = [0u8; CHUNK_HEADER_LEN];
        let got = read_full(&mut self.reader, &mut header)?;
        if got == 0 || (got >= FOOTER_IDENT.len() && header.starts_with(FOOTER_IDENT)) {
            return Ok(None);
        }
        if got < CHUNK_HEADER_LEN {
            return Err(Error::Truncated {
                what: "xorb chunk header",
            });
        }
        let header = ChunkHeader::parse(&header)?;
        if header.scheme == CompressionScheme::None {
            // Stored as is (its two sizes are equal, `parse` checked): read straight into
            // `out`, with no copy in between.
            out.resize(header.len as usize, 0);
            if read_full(&mut self.reader, out)? < out.len() {
                return Err(Error::Truncated { what: "xorb chunk" });
            }
            return Ok(Some(header));
        }
        self.stored.resize(header.stored_len as usize, 0);
        if read_full(&mut self.reader, &mut self.stored)? < self.stored.len() {
            return Err(Error::Truncated { what: "xorb chunk" });
        }
        header.scheme.decompress(&self.stored, header.len as usize, out)?;
        Ok(Some(header))
    }
}

impl<R: Read> Iterator for XorbChunkReader<R> {
    type Item = Result<DecodedChunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut data = Vec::new();
        match self.next_chunk(&mut data) {
            Ok(Some(header)) => Some(Ok(DecodedChunk { header, data })),
            Ok(None) => None,
            Err(err) => Some(Err(err)),
        }
    }
}

/// Fills `buf` as far as the reader goes; returns how many bytes it read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(Error::Read { source }),
        }
    }
    Ok(filled)
}

/// What [`parse_xorb`] found in a whole xorb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedXorb {
    /// The xorb's hash, computed from its chunks.
    pub hash: XetHash,
    /// The chunks, in order.
    pub chunks: Vec<XorbChunk>,
}

/// Reads a whole serialized xorb, decompressing each chunk in turn to hash it, and computes
/// the xorb's hash (to check an upload against the hash it claims). Refuses more than
/// [`MAX_XORB_BYTES`] bytes or [`MAX_XORB_CHUNKS`] chunks, and a xorb without chunks.
pub fn parse_xorb(bytes: &[u8]) -> Result<ParsedXorb, Error> {
    if bytes.len() > MAX_XORB_BYTES {
        return Err(Error::XorbLimit {
            what: "bytes",
            max: MAX_XORB_BYTES,
        });
    }
    let mut reader = XorbChunkReader::new(bytes);
    let mut chunks = Vec::new();
    let mut hashed = Vec::new();
    let mut data = Vec::with_capacity(MAX_CHUNK_SIZE);
    let (mut raw_offset, mut stored_offset) = (0u32, 0u32);
    while let Some(header) = reader.next_chunk(&mut data)? {
        if chunks.len() == MAX_XORB_CHUNKS {
            return Err(Error::XorbLimit {
                what: "chunks",
                max: MAX_XORB_CHUNKS,
            });
        }
        let chunk = HashedChunk::of(&data);
        chunks.push(XorbChunk {
            hash: chunk.hash,
            len: header.len,
            raw_offset,
            stored_offset,
        });
        hashed.push(chunk);
        // Within a 64 MiB input, a chunk expanding at most 128 KiB per 8-byte header.
        raw_offset = raw_offset.saturating_add(header.len);
        stored_offset += (CHUNK_HEADER_LEN as u32) + header.stored_len;
    }
    if chunks.is_empty() {
        return Err(Error::EmptyXorb);
    }
    Ok(ParsedXorb {
        hash: xorb_hash(&hashed),
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn header_layout_is_little_endian_three_byte_sizes() -> Result<(), Error> {
        let header = ChunkHeader {
            scheme: CompressionScheme::Lz4,
            stored_len: 0x01_02_03,
            len: 0x01_ff_fe,
        };
        let bytes = header.to_bytes();
        assert_eq!(bytes, [0, 0x03, 0x02, 0x01, 1, 0xfe, 0xff, 0x01]);
        assert_eq!(ChunkHeader::parse(&bytes)?, header);
        Ok(())
    }

    #[test]
    fn bad_headers_are_refused() {
        let cases: [([u8; 8], &str); 5] = [
            ([1, 0, 0, 0, 0, 0, 0, 0], "version"),
            ([0, 0, 0, 0, 3, 0, 0, 0], "scheme"),
            ([0, 1, 0, 0, 0, 2, 0, 0], "none sizes"),
            ([0, 0, 0, 0, 1, 1, 0, 2], "uncompressed too large"),
            ([0, 1, 0, 4, 1, 0, 0, 1], "stored too large"),
        ];
        for (bytes, what) in cases {
            assert!(ChunkHeader::parse(&bytes).is_err(), "{what}");
        }
    }

    #[test]
    fn built_xorbs_read_back_chunk_by_chunk() -> Result<(), Error> {
        let chunks = [
            noise(70_000, 1),
            vec![5u8; 100_000],
            (0..20_000u32).flat_map(|i| (i as f32).to_le_bytes()).collect(),
            b"tiny".to_vec(),
        ];
        for policy in [
            CompressionPolicy::Auto,
            CompressionPolicy::Always(CompressionScheme::None),
            CompressionPolicy::Always(CompressionScheme::Lz4),
            CompressionPolicy::Always(CompressionScheme::ByteGrouping4Lz4),
        ] {
            let mut builder = XorbBuilder::with_policy(policy);
            for chunk in &chunks {
                builder.push(chunk)?;
            }
            let xorb = builder.finish().ok_or(Error::InvalidChunk { reason: "empty" })?;
            let decoded: Vec<Vec<u8>> = XorbChunkReader::new(&xorb.bytes[..])
                .map(|c| c.map(|c| c.data))
                .collect::<Result<_, _>>()?;
            assert_eq!(decoded, chunks);
            let parsed = parse_xorb(&xorb.bytes)?;
            assert_eq!(parsed.hash, xorb.hash);
            assert_eq!(parsed.chunks, xorb.chunks);
            assert_eq!(xorb.raw_len(), chunks.iter().map(|c| c.len() as u64).sum::<u64>());
            // Incompressible noise is stored as it is, whatever the policy.
            assert_eq!(xorb.bytes[4], 0);
            // A download's range: from the third chunk's header to the end.
            let from = xorb.chunks[2].stored_offset as usize;
            let tail: Vec<Vec<u8>> = XorbChunkReader::new(&xorb.bytes[from..])
                .map(|c| c.map(|c| c.data))
                .collect::<Result<_, _>>()?;
            assert_eq!(tail, chunks[2..]);
        }
        Ok(())
    }

    #[test]
    fn reading_stops_at_the_footer() -> Result<(), Error> {
        let mut builder = XorbBuilder::new();
        builder.push(b"abc")?;
        let mut bytes = builder.finish().ok_or(Error::InvalidChunk { reason: "empty" })?.bytes;
        bytes.extend_from_slice(b"XETBLOB\x01 and the rest of a footer");
        assert_eq!(parse_xorb(&bytes)?.chunks.len(), 1);
        Ok(())
    }

    #[test]
    fn truncated_xorbs_are_refused() -> Result<(), Error> {
        let mut builder = XorbBuilder::new();
        builder.push(&vec![9u8; 50_000])?;
        let xorb = builder.finish().ok_or(Error::InvalidChunk { reason: "empty" })?;
        for cut in [1, 7, 9, xorb.bytes.len() - 1] {
            assert!(matches!(parse_xorb(&xorb.bytes[..cut]), Err(Error::Truncated { .. })));
        }
        assert!(matches!(parse_xorb(&[]), Err(Error::EmptyXorb)));
        Ok(())
    }

    #[test]
    fn the_builder_keeps_to_the_limits() -> Result<(), Error> {
        let mut builder = XorbBuilder::with_policy(CompressionPolicy::Always(CompressionScheme::None));
        assert!(builder.push(&vec![0u8; MAX_CHUNK_SIZE + 1]).is_err());
        let chunk = vec![0u8; MAX_CHUNK_SIZE];
        while builder.fits(chunk.len()) {
            builder.push(&chunk)?;
        }
        assert!(matches!(builder.push(&chunk), Err(Error::XorbFull { .. })));
        assert!(builder.serialized_len() <= MAX_XORB_BYTES);
        assert_eq!(builder.len(), MAX_XORB_BYTES / (MAX_CHUNK_SIZE + 8));

        // Compressible chunks: the decompressed size is the limit.
        let mut builder = XorbBuilder::new();
        while builder.fits(chunk.len()) {
            builder.push(&chunk)?;
        }
        assert_eq!(builder.len(), MAX_XORB_BYTES / MAX_CHUNK_SIZE);
        assert!(builder.serialized_len() < MAX_XORB_BYTES / 100);

        let mut builder = XorbBuilder::new();
        for _ in 0..MAX_XORB_CHUNKS {
            builder.push(b"x")?;
        }
        assert!(matches!(builder.push(b"x"), Err(Error::XorbFull { .. })));
        Ok(())
    }

    #[test]
    fn auto_rechooses_per_file_and_every_32_chunks() -> Result<(), Error> {
        let text = b"some text, some text, some text, some text. ".repeat(100);
        let floats: Vec<u8> = (0..4000u32)
            .flat_map(|i| (1.0 + (i % 2000) as f32 * 1e-4).to_le_bytes())
            .collect();
        let mut builder = XorbBuilder::new();
        builder.push(&text)?;
        for _ in 0..31 {
            builder.push(&floats)?; // The same run of 32: still LZ4.
        }
        builder.push(&floats)?; // The 33rd chunk starts a run: chosen anew.
        builder.push(&text)?;
        builder.start_file();
        builder.push(&floats)?; // A new file: chosen anew.
        let xorb = builder.finish().ok_or(Error::InvalidChunk { reason: "empty" })?;
        let schemes: Vec<CompressionScheme> = XorbChunkReader::new(&xorb.bytes[..])
            .map(|c| c.map(|c| c.header.scheme))
            .collect::<Result<_, _>>()?;
        let mut expected = vec![CompressionScheme::Lz4; 32];
        expected.extend([CompressionScheme::ByteGrouping4Lz4; 2]);
        expected.push(CompressionScheme::ByteGrouping4Lz4);
        assert_eq!(schemes, expected);
        Ok(())
    }
}
