//! Content-defined chunking with the gear rolling hash, as the Xet specification defines it.
//!
//! A boundary falls after a byte where the rolling hash has its top 16 bits zero, once the
//! chunk holds [`MIN_CHUNK_SIZE`] bytes; a chunk never exceeds [`MAX_CHUNK_SIZE`]. The hash at
//! any byte depends only on the 64 bytes before it, so the first `MIN_CHUNK_SIZE - 65` bytes
//! of a chunk are skipped without hashing, and a long stretch is hashed as four strips side by
//! side: the boundaries are those of hashing every byte, one after the other.

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

        let hash = roll(self.hash, &data[skip..test_from]);
        match find_match(hash, &data[..room], test_from) {
            (Some(end), _) => Some(self.cut(end)),
            (None, _) if self.len + room == MAX_CHUNK_SIZE => Some(self.cut(room)),
            (None, hash) => {
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

/// Bytes each lane of [`find_match`] hashes in one block.
const STRIP: usize = 2048;
/// Lanes hashed side by side: independent chains of shifts and adds keep a core's units busy.
const LANES: usize = 4;

/// Rolls the hash over `data[from..]`, stopping after the first byte where it matches the
/// mask. Returns the end of that byte in `data`, if any, and the hash there (or at the end).
/// `hash` must already cover the [`HASH_WINDOW`] bytes before `from`.
///
/// Since the hash at a byte depends only on the 64 bytes before it, a block of
/// `LANES * STRIP` bytes is cut into strips hashed side by side: each strip but the first
/// starts from the hash of the 64 bytes before it, and the earliest match of the block wins.
/// A block costs `(LANES - 1) * 64` bytes of hashing more than one chain would, and saves the
/// chain's latency on every byte.
#[inline]
fn find_match(mut hash: u64, data: &[u8], from: usize) -> (Option<usize>, u64) {
    let mut at = from;
    while data.len() - at >= LANES * STRIP {
        let start = |lane: usize| at + lane * STRIP;
        let warm = |lane: usize| roll(0, &data[start(lane) - HASH_WINDOW..start(lane)]);
        let strip = |lane: usize| &data[start(lane)..start(lane) + STRIP];
        let (s0, s1, s2, s3) = (strip(0), strip(1), strip(2), strip(3));
        let (mut h0, mut h1, mut h2, mut h3) = (hash, warm(1), warm(2), warm(3));
        // The earliest match in a lane other than the first: its offset in the block and hash.
        let mut later: Option<(usize, u64)> = None;
        for i in 0..STRIP {
            h0 = (h0 << 1).wrapping_add(gear(s0[i]));
            h1 = (h1 << 1).wrapping_add(gear(s1[i]));
            h2 = (h2 << 1).wrapping_add(gear(s2[i]));
            h3 = (h3 << 1).wrapping_add(gear(s3[i]));
            // Tested without branching on each lane: a match is one byte in 65536.
            if (h0 & MASK == 0) | (h1 & MASK == 0) | (h2 & MASK == 0) | (h3 & MASK == 0) {
                if h0 & MASK == 0 {
                    return (Some(at + i + 1), h0);
                }
                for (lane, h) in [(1, h1), (2, h2), (3, h3)] {
                    let offset = lane * STRIP + i;
                    if h & MASK == 0 && later.is_none_or(|(first, _)| offset < first) {
                        later = Some((offset, h));
                    }
                }
            }
        }
        if let Some((offset, h)) = later {
            return (Some(at + offset + 1), h);
        }
        hash = h3;
        at += LANES * STRIP;
    }
    for (i, &byte) in data[at..].iter().enumerate() {
        hash = (hash << 1).wrapping_add(gear(byte));
        if hash & MASK == 0 {
            return (Some(at + i + 1), hash);
        }
    }
    (None, hash)
}

/// The table value of one byte.
#[inline(always)]
fn gear(byte: u8) -> u64 {
    GEAR_TABLE[usize::from(byte)]
}

/// Rolls `hash` over every byte of `data`, testing none.
#[inline]
fn roll(hash: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(hash, |hash, &byte| (hash << 1).wrapping_add(gear(byte)))
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
    fn a_match_in_any_lane_of_a_block_is_found_first_in_the_stream() {
        // Random bytes match the mask everywhere: over these streams the cuts fall in every
        // lane of a block (counted below), so each lane's match, and the earliest of several,
        // is compared with hashing byte by byte.
        let mut lanes_hit = [0usize; LANES];
        for seed in 0..24 {
            let mut state = seed * 2 + 1;
            let data: Vec<u8> = (0..700_000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let ends = reference_boundaries(&data);
            assert_eq!(chunk_boundaries(&data), ends, "seed {seed}");
            let mut start = 0;
            for &end in &ends {
                let searched = end - start;
                if (MIN_CHUNK_SIZE..MAX_CHUNK_SIZE).contains(&searched) {
                    lanes_hit[(searched - MIN_CHUNK_SIZE) % (LANES * STRIP) / STRIP] += 1;
                }
                start = end;
            }
        }
        assert!(lanes_hit.iter().all(|&hits| hits > 5), "cuts per lane: {lanes_hit:?}");
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
