//! Content-defined chunking with the gear rolling hash, as the Xet specification defines it.
//!
//! A boundary falls after a byte where the rolling hash has its top 16 bits zero, once the
//! chunk holds [`MIN_CHUNK_SIZE`] bytes; a chunk never exceeds [`MAX_CHUNK_SIZE`]. The hash at
//! any byte depends only on the 64 bytes before it, so the first `MIN_CHUNK_SIZE - 65` bytes
//! of a chunk are skipped without hashing: the boundaries are those of hashing every byte.

use std::io::{self, Read};

use crate::gear_table::GEAR_TABLE;

/// The mean chunk size the mask aims at: 64 KiB.
pub const TARGET_CHUNK_SIZE: usize = 64 * 1024;
/// The smallest chunk, but for the last one of a file: 8 KiB.
pub const MIN_CHUNK_SIZE: usize = TARGET_CHUNK_SIZE / 8;
/// The largest chunk: 128 KiB.
pub const MAX_CHUNK_SIZE: usize = TARGET_CHUNK_SIZE * 2;
/// A boundary is a byte after which `hash & MASK == 0`: the 16 top bits.
const MASK: u64 = 0xFFFF_0000_0000_0000;
/// The bytes a hash value depends on: it is shifted left once per byte.
const HASH_WINDOW: usize = 64;
/// Bytes at the start of a chunk that need not be hashed: the hash at the first testable
/// byte (the `MIN_CHUNK_SIZE`-th) is already a full window of the chunk's own bytes.
const SKIP: usize = MIN_CHUNK_SIZE - HASH_WINDOW - 1;

/// Finds chunk boundaries in a stream fed piece by piece; it holds no data, only the length of
/// the chunk under way and the rolling hash.
#[derive(Clone, Debug, Default)]
pub struct BoundaryScanner {
    /// Bytes of the current chunk seen before the slice being scanned.
    len: usize,
    /// The rolling gear hash.
    hash: u64,
}

impl BoundaryScanner {
    /// A scanner at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of the chunk under way seen so far.
    pub fn pending_len(&self) -> usize {
        self.len
    }

    /// Scans the next bytes of the stream. Returns `Some(n)` when the chunk under way ends
    /// after `data[..n]` (the scanner then starts a new chunk: scan `data[n..]` next), or
    /// `None` when all of `data` belongs to it.
    pub fn scan(&mut self, data: &[u8]) -> Option<usize> {
        // How many of these bytes the chunk can still take.
        let room = (MAX_CHUNK_SIZE - self.len).min(data.len());
        let skip = SKIP.saturating_sub(self.len).min(room);
        // The first byte whose chunk size reaches the minimum, where testing starts.
        let test_from = (MIN_CHUNK_SIZE - 1).saturating_sub(self.len).clamp(skip, room);

        let mut hash = self.hash;
        for &byte in &data[skip..test_from] {
            hash = (hash << 1).wrapping_add(GEAR_TABLE[usize::from(byte)]);
        }
        let (found, hash) = find_match(hash, &data[test_from..room]);
        let found = found.map(|end| test_from + end);
        match found {
            Some(end) => Some(self.cut(end)),
            None if self.len + room == MAX_CHUNK_SIZE => Some(self.cut(room)),
            None => {
                self.len += room;
                self.hash = hash;
                None
            }
        }
    }

    /// Ends the chunk under way after `end` more bytes.
    fn cut(&mut self, end: usize) -> usize {
        self.len = 0;
        self.hash = 0;
        end
    }
}

/// Rolls the hash over `data`, stopping after the first byte where it matches the mask.
/// Returns the number of bytes taken up to that match, if any, and the hash.
///
/// Four bytes at a time: the hash after each of them is computed from the hash before the
/// four, so the one serial dependency (shift and add) is paid once per four bytes.
#[inline]
fn find_match(mut hash: u64, data: &[u8]) -> (Option<usize>, u64) {
    let gear = |byte: u8| GEAR_TABLE[usize::from(byte)];
    let mut quads = data.chunks_exact(4);
    for (index, quad) in quads.by_ref().enumerate() {
        let (t0, t1, t2, t3) = (gear(quad[0]), gear(quad[1]), gear(quad[2]), gear(quad[3]));
        let h0 = (hash << 1).wrapping_add(t0);
        let h1 = (hash << 2).wrapping_add(t0 << 1).wrapping_add(t1);
        let h2 = (hash << 3)
            .wrapping_add((t0 << 2).wrapping_add(t1 << 1))
            .wrapping_add(t2);
        let h3 = (hash << 4)
            .wrapping_add((t0 << 3).wrapping_add(t1 << 2))
            .wrapping_add((t2 << 1).wrapping_add(t3));
        // `h & MASK == 0` is `h` below 2^48.
        if h0.min(h1).min(h2).min(h3) & MASK == 0 {
            let at = [h0, h1, h2, h3].iter().position(|h| h & MASK == 0).unwrap_or(3);
            return (Some(index * 4 + at + 1), [h0, h1, h2, h3][at]);
        }
        hash = h3;
    }
    let done = data.len() - quads.remainder().len();
    for (i, &byte) in quads.remainder().iter().enumerate() {
        hash = (hash << 1).wrapping_add(gear(byte));
        if hash & MASK == 0 {
            return (Some(done + i + 1), hash);
        }
    }
    (None, hash)
}

/// Cuts a stream fed piece by piece into chunks, holding at most one chunk's bytes
/// ([`MAX_CHUNK_SIZE`]) between calls.
///
/// ```
/// use hub_xet::Chunker;
///
/// let mut sizes = Vec::new();
/// let mut chunker = Chunker::new();
/// for piece in vec![7u8; 300_000].chunks(1000) {
///     chunker.update(piece, |chunk| sizes.push(chunk.len()));
/// }
/// chunker.finish(|chunk| sizes.push(chunk.len()));
/// // Constant data never matches the mask: chunks are cut at the maximum.
/// assert_eq!(sizes, [131072, 131072, 37856]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Chunker {
    scanner: BoundaryScanner,
    /// The bytes of the chunk under way that came in earlier slices.
    pending: Vec<u8>,
}

impl Chunker {
    /// A chunker at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the stream, calling `on_chunk` with every chunk they complete.
    /// A chunk that lies within `data` is passed without copying.
    pub fn update(&mut self, mut data: &[u8], mut on_chunk: impl FnMut(&[u8])) {
        while !data.is_empty() {
            if self.pending.capacity() == 0 {
                // Once, and exactly: the chunk under way never outgrows it.
                self.pending.reserve_exact(MAX_CHUNK_SIZE);
            }
            let Some(end) = self.scanner.scan(data) else {
                self.pending.extend_from_slice(data);
                return;
            };
            let (chunk, rest) = data.split_at(end);
            if self.pending.is_empty() {
                on_chunk(chunk);
            } else {
                self.pending.extend_from_slice(chunk);
                on_chunk(&self.pending);
                self.pending.clear();
            }
            data = rest;
        }
    }

    /// Ends the stream: calls `on_chunk` with the last chunk, if any bytes are left, and makes
    /// the chunker ready for a new stream.
    pub fn finish(&mut self, mut on_chunk: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            on_chunk(&self.pending);
        }
        self.pending.clear();
        self.scanner = BoundaryScanner::new();
    }
}

/// The end offsets of the chunks of `data`, in order (the last is `data.len()`; none for empty
/// data).
pub fn chunk_boundaries(data: &[u8]) -> Vec<usize> {
    let mut scanner = BoundaryScanner::new();
    let mut ends = Vec::with_capacity(data.len() / TARGET_CHUNK_SIZE + 1);
    let mut start = 0;
    while start < data.len() {
        match scanner.scan(&data[start..]) {
            Some(len) => start += len,
            None => start = data.len(),
        }
        ends.push(start);
    }
    ends
}

/// Reads `reader` to its end and calls `on_chunk` with each of its chunks, in order. Memory
/// stays bounded (one read buffer and at most one chunk) whatever the input's size.
pub fn chunk_reader<R: Read>(mut reader: R, mut on_chunk: impl FnMut(&[u8])) -> io::Result<()> {
    let mut chunker = Chunker::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        chunker.update(&buffer[..read], &mut on_chunk);
    }
    chunker.finish(on_chunk);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's pseudocode, byte by byte, without the skip.
    pub(crate) fn reference_boundaries(data: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut hash = 0u64;
        let mut start = 0;
        for (i, &byte) in data.iter().enumerate() {
            hash = (hash << 1).wrapping_add(GEAR_TABLE[usize::from(byte)]);
            let size = i + 1 - start;
            if size < MIN_CHUNK_SIZE {
                continue;
            }
            if size >= MAX_CHUNK_SIZE || hash & MASK == 0 {
                ends.push(i + 1);
                start = i + 1;
                hash = 0;
            }
        }
        if start < data.len() {
            ends.push(data.len());
        }
        ends
    }

    /// Deterministic bytes of mixed entropy: random runs and repeated runs.
    pub(crate) fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let run = (next() % 50_000) as usize + 1;
            if next() % 4 == 0 {
                let byte = next() as u8;
                out.extend(std::iter::repeat_n(byte, run));
            } else {
                out.extend((0..run).map(|_| next() as u8));
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn skip_ahead_keeps_the_boundaries_of_hashing_every_byte() {
        for (len, seed) in [(3_000_000, 1), (1_000_000, 2), (200_000, 3), (8_191, 4)] {
            let data = sample(len, seed);
            assert_eq!(chunk_boundaries(&data), reference_boundaries(&data));
        }
    }

    #[test]
    fn small_inputs_are_one_chunk() {
        assert_eq!(chunk_boundaries(&[]), Vec::<usize>::new());
        assert_eq!(chunk_boundaries(&[1]), [1]);
        let data = sample(MIN_CHUNK_SIZE, 9);
        assert_eq!(chunk_boundaries(&data), [MIN_CHUNK_SIZE]);
    }

    #[test]
    fn chunks_respect_the_size_limits() {
        let data = sample(5_000_000, 5);
        let ends = chunk_boundaries(&data);
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let size = end - start;
            assert!(size <= MAX_CHUNK_SIZE);
            assert!(size >= MIN_CHUNK_SIZE || i + 1 == ends.len());
            start = end;
        }
        assert_eq!(start, data.len());
    }

    #[test]
    fn feeding_in_pieces_gives_the_same_chunks() {
        let data = sample(2_000_000, 6);
        let whole = chunk_boundaries(&data);
        for piece in [1, 63, 64, 65, 4096, 8127, 8128, 65_537, 300_000] {
            let mut ends = Vec::new();
            let mut total = 0;
            let mut chunker = Chunker::new();
            for part in data.chunks(piece) {
                chunker.update(part, |chunk| {
                    total += chunk.len();
                    ends.push(total);
                });
                assert!(chunker.pending.len() < MAX_CHUNK_SIZE);
                assert_eq!(chunker.pending.capacity(), MAX_CHUNK_SIZE);
            }
            chunker.finish(|chunk| {
                total += chunk.len();
                ends.push(total);
            });
            assert_eq!(ends, whole, "pieces of {piece}");
        }
    }

    #[test]
    fn a_chunker_is_reusable_after_finish() {
        let data = sample(400_000, 7);
        let mut chunker = Chunker::new();
        let mut first = Vec::new();
        chunker.update(&data, |c| first.push(c.to_vec()));
        chunker.finish(|c| first.push(c.to_vec()));
        let mut second = Vec::new();
        chunker.update(&data, |c| second.push(c.to_vec()));
        chunker.finish(|c| second.push(c.to_vec()));
        assert_eq!(first, second);
        assert_eq!(first.concat(), data);
    }

    #[test]
    fn chunk_reader_sees_every_byte_once() -> io::Result<()> {
        let data = sample(1_500_000, 8);
        let mut out = Vec::new();
        chunk_reader(&data[..], |chunk| out.extend_from_slice(chunk))?;
        assert_eq!(out, data);
        Ok(())
    }
}
