//! The compression schemes of xorb chunks, and the choice between them xet-core makes.
//!
//! LZ4 data is in the LZ4 *frame* format (magic `04 22 4D 18`, default frame settings), which
//! is what xet-core writes and reads, not a raw LZ4 block.

use std::fmt;
use std::io::{Read, Write};

use lz4_flex::frame::{FrameDecoder, FrameEncoder};

use crate::Error;

/// How a xorb chunk's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionScheme {
    /// Stored as they are (byte 0).
    None,
    /// One LZ4 frame (byte 1).
    Lz4,
    /// The bytes regrouped by their position modulo 4, then one LZ4 frame (byte 2): better for
    /// arrays of 4-byte numbers such as `f32` weights.
    ByteGrouping4Lz4,
}

impl CompressionScheme {
    /// The byte that names this scheme in a chunk header.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Lz4 => 1,
            Self::ByteGrouping4Lz4 => 2,
        }
    }

    /// The scheme a chunk header's byte names.
    pub fn from_byte(value: u8) -> Result<Self, Error> {
        match value {
            0 => Ok(Self::None),
            1 => Ok(Self::Lz4),
            2 => Ok(Self::ByteGrouping4Lz4),
            _ => Err(Error::UnknownCompressionScheme { value }),
        }
    }

    /// The scheme xet-core picks for data like `sample`: [`ByteGrouping4Lz4`](Self::ByteGrouping4Lz4)
    /// when the bytes at the four positions modulo 4 differ in their distribution of set bits
    /// (a Kullback-Leibler divergence above 0.02), else [`Lz4`](Self::Lz4).
    pub fn choose_for(sample: &[u8]) -> Self {
        if byte_grouping_pays(sample) {
            Self::ByteGrouping4Lz4
        } else {
            Self::Lz4
        }
    }

    /// Compresses `data`; `None` when this scheme is [`None`](Self::None) or does not make the
    /// data smaller, in which case the chunk is stored as it is.
    pub fn compress(self, data: &[u8]) -> Option<Vec<u8>> {
        let compressed = match self {
            Self::None => return None,
            Self::Lz4 => lz4_frame(data)?,
            Self::ByteGrouping4Lz4 => lz4_frame(&bg4_split(data))?,
        };
        (compressed.len() < data.len()).then_some(compressed)
    }

    /// Decompresses `stored` into `out` (appended), which must come to exactly `expected_len`
    /// bytes; never more than `expected_len + 1` bytes are produced, whatever `stored` says.
    pub fn decompress(self, stored: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            Self::None => {
                if stored.len() != expected_len {
                    return Err(Error::InvalidChunk {
                        reason: "an uncompressed chunk's two sizes differ",
                    });
                }
                out.extend_from_slice(stored);
            }
            Self::Lz4 => {
                let start = out.len();
                read_lz4_frame(self, stored, expected_len, out)?;
                check_len(out.len() - start, expected_len)?;
            }
            Self::ByteGrouping4Lz4 => {
                let mut grouped = Vec::with_capacity(expected_len);
                read_lz4_frame(self, stored, expected_len, &mut grouped)?;
                check_len(grouped.len(), expected_len)?;
                bg4_regroup(&grouped, out);
            }
        }
        Ok(())
    }
}

impl fmt::Display for CompressionScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "uncompressed",
            Self::Lz4 => "LZ4",
            Self::ByteGrouping4Lz4 => "byte-grouping LZ4",
        })
    }
}

fn check_len(actual: usize, expected: usize) -> Result<(), Error> {
    if actual == expected {
        Ok(())
    } else {
        Err(Error::InvalidChunk {
            reason: "the decompressed size differs from the header's",
        })
    }
}

/// One LZ4 frame of `data`; `None` only if the encoder fails, which writing to memory does not.
fn lz4_frame(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = FrameEncoder::new(Vec::with_capacity(data.len() / 2 + 64));
    encoder.write_all(data).ok()?;
    encoder.finish().ok()
}

/// Appends the frame's bytes to `out`, stopping one byte past `expected_len`.
fn read_lz4_frame(
    scheme: CompressionScheme,
    stored: &[u8],
    expected_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    if decode_frame_in_place(stored, expected_len, out) {
        return Ok(());
    }
    // Anything the short path does not take (linked blocks, a dictionary, a damaged frame)
    // goes through the frame decoder, which also says what is wrong.
    out.truncate(start);
    let limit = expected_len as u64 + 1;
    FrameDecoder::new(stored)
        .take(limit)
        .read_to_end(out)
        .map_err(|source| Error::Decompress { scheme, source })?;
    Ok(())
}

/// Decodes an LZ4 frame of independent blocks (or of one block: all a chunk needs) straight
/// into `out`, each block at its place, with none of the frame decoder's copies; `true` when
/// the frame decoded to exactly `expected_len` bytes. The frame's optional checksums are not
/// read: the chunk's hash, checked after, covers every byte.
fn decode_frame_in_place(stored: &[u8], expected_len: usize, out: &mut Vec<u8>) -> bool {
    const MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];
    let Some((header, mut rest)) = stored.split_first_chunk::<6>() else {
        return false;
    };
    let flags = header[4];
    let version = flags >> 6;
    let independent = flags & 0x20 != 0;
    let block_checksums = flags & 0x10 != 0;
    let content_size = flags & 0x08 != 0;
    let dictionary = flags & 0x01 != 0;
    if header[..4] != MAGIC || version != 1 || dictionary {
        return false;
    }
    // The content size, then the header checksum byte.
    let skip = if content_size { 8 } else { 0 } + 1;
    let Some(after) = rest.get(skip..) else {
        return false;
    };
    rest = after;
    let start = out.len();
    out.resize(start + expected_len, 0);
    let target = &mut out[start..];
    let mut at = 0;
    let mut blocks = 0;
    loop {
        let Some((size, after)) = rest.split_first_chunk::<4>() else {
            return false;
        };
        let size = u32::from_le_bytes(*size);
        if size == 0 {
            return at == expected_len;
        }
        blocks += 1;
        if blocks > 1 && !independent {
            return false;
        }
        let (stored_as_is, len) = (size & 0x8000_0000 != 0, (size & 0x7FFF_FFFF) as usize);
        let Some(block) = after.get(..len) else {
            return false;
        };
        let Some(room) = target.get_mut(at..) else {
            return false;
        };
        if stored_as_is {
            let Some(place) = room.get_mut(..len) else {
                return false;
            };
            place.copy_from_slice(block);
            at += len;
        } else {
            match lz4_flex::block::decompress_into(block, room) {
                Ok(n) => at += n,
                Err(_) => return false,
            }
        }
        let checksum = if block_checksums { 4 } else { 0 };
        let Some(after) = after.get(len + checksum..) else {
            return false;
        };
        rest = after;
    }
}

/// The start of each of the four groups in the split form of `len` bytes: group `k` holds the
/// bytes at positions `k`, `k + 4`, …, so the first `len % 4` groups are one byte longer.
fn group_starts(len: usize) -> [usize; 4] {
    let (quarter, rem) = (len / 4, len % 4);
    let mut starts = [0; 4];
    for k in 1..4 {
        starts[k] = starts[k - 1] + quarter + usize::from(k - 1 < rem);
    }
    starts
}

/// Groups the bytes by their position modulo 4.
fn bg4_split(data: &[u8]) -> Vec<u8> {
    let starts = group_starts(data.len());
    let mut out = vec![0u8; data.len()];
    let whole = data.len() / 4;
    let (g0, rest) = out.split_at_mut(starts[1]);
    let (g1, rest) = rest.split_at_mut(starts[2] - starts[1]);
    let (g2, g3) = rest.split_at_mut(starts[3] - starts[2]);
    // Four bytes at a time, one to each group, without a bounds check in the loop.
    for ((((quad, a), b), c), d) in data
        .chunks_exact(4)
        .zip(g0.iter_mut())
        .zip(g1.iter_mut())
        .zip(g2.iter_mut())
        .zip(g3.iter_mut())
    {
        (*a, *b, *c, *d) = (quad[0], quad[1], quad[2], quad[3]);
    }
    for (i, &byte) in data.iter().enumerate().skip(whole * 4) {
        out[starts[i % 4] + i / 4] = byte;
    }
    out
}

/// Undoes [`bg4_split`], appending to `out`.
fn bg4_regroup(grouped: &[u8], out: &mut Vec<u8>) {
    let starts = group_starts(grouped.len());
    let whole = grouped.len() / 4;
    let base = out.len();
    out.resize(base + grouped.len(), 0);
    let target = &mut out[base..];
    let (g0, g1, g2, g3) = (
        &grouped[..starts[1]],
        &grouped[starts[1]..starts[2]],
        &grouped[starts[2]..starts[3]],
        &grouped[starts[3]..],
    );
    for ((((quad, a), b), c), d) in target.chunks_exact_mut(4).zip(g0).zip(g1).zip(g2).zip(g3) {
        quad.copy_from_slice(&[*a, *b, *c, *d]);
    }
    for (i, byte) in target.iter_mut().enumerate().skip(whole * 4) {
        *byte = grouped[starts[i % 4] + i / 4];
    }
}

/// xet-core's predictor: histograms of the set-bit count of the bytes at each position modulo
/// 4, and the largest divergence of one from their pooled distribution.
fn byte_grouping_pays(sample: &[u8]) -> bool {
    let mut histograms = [[0u32; 9]; 4];
    for (i, &byte) in sample.iter().enumerate() {
        histograms[i % 4][byte.count_ones() as usize] += 1;
    }
    let mut pooled = [1u32; 9];
    let mut totals = [0u32; 4];
    for (group, histogram) in histograms.iter().enumerate() {
        for (bits, &count) in histogram.iter().enumerate() {
            pooled[bits] += count;
            totals[group] += count;
        }
    }
    let pooled_total: u32 = totals.iter().sum();
    // As in xet-core, a group with an empty bucket (0 · ln 0) or no bytes gives NaN, which
    // `f64::max` passes over: such a group does not count.
    let mut max_divergence = 0f64;
    for (group, histogram) in histograms.iter().enumerate() {
        let mut divergence = 0f64;
        for (bits, &count) in histogram.iter().enumerate() {
            let p = f64::from(count) / f64::from(totals[group]);
            let q = f64::from(pooled[bits]) / f64::from(pooled_total);
            divergence += p * (p / q).ln();
        }
        max_divergence = max_divergence.max(divergence);
    }
    max_divergence > 0.02
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_grouping_splits_by_position() {
        let data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        assert_eq!(bg4_split(&data), [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8]);
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut back = Vec::new();
            bg4_regroup(&bg4_split(&data), &mut back);
            assert_eq!(back, data);
        }
    }

    #[test]
    fn lz4_is_the_frame_format() -> Result<(), Error> {
        let data = vec![42u8; 10_000];
        let stored = CompressionScheme::Lz4.compress(&data).ok_or(Error::InvalidChunk {
            reason: "not compressed",
        })?;
        assert_eq!(stored[..4], [0x04, 0x22, 0x4D, 0x18]);
        let mut out = Vec::new();
        CompressionScheme::Lz4.decompress(&stored, data.len(), &mut out)?;
        assert_eq!(out, data);
        Ok(())
    }

    /// The frame `data` makes with these settings.
    fn frame_with(data: &[u8], info: lz4_flex::frame::FrameInfo) -> Vec<u8> {
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).expect("in memory");
        encoder.finish().expect("in memory")
    }

    #[test]
    fn frames_of_every_kind_decode_to_the_frame_decoders_bytes() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        // Compressible and not, over several 64 KiB blocks.
        let mut state = 7u64;
        let data: Vec<u8> = (0..150_000u32)
            .map(|i| match i % 3 {
                0 => (i / 7) as u8,
                _ => {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (state >> 56) as u8
                }
            })
            .collect();
        // Each with whether it is decoded in place: all but several linked blocks (which the
        // frame decoder takes, as it keeps the window between them).
        let settings = [
            (FrameInfo::new(), true),
            (FrameInfo::new().block_size(BlockSize::Max64KB), true),
            (
                FrameInfo::new()
                    .block_size(BlockSize::Max64KB)
                    .block_checksums(true)
                    .content_checksum(true),
                true,
            ),
            (FrameInfo::new().content_size(Some(data.len() as u64)), true),
            (
                FrameInfo::new()
                    .block_mode(BlockMode::Linked)
                    .block_size(BlockSize::Max64KB),
                false,
            ),
            (
                FrameInfo::new()
                    .block_mode(BlockMode::Linked)
                    .block_size(BlockSize::Max256KB),
                true,
            ),
        ];
        for (info, in_place) in settings {
            let stored = frame_with(&data, info);
            let mut direct = vec![9u8; 3];
            let took = decode_frame_in_place(&stored, data.len(), &mut direct);
            let mut out = vec![9u8; 3];
            let decoded = CompressionScheme::Lz4.decompress(&stored, data.len(), &mut out);
            assert!(decoded.is_ok(), "{decoded:?}");
            assert_eq!(out[3..], data[..]);
            if took {
                assert_eq!(direct, out);
            }
            assert_eq!(took, in_place);
            // A wrong length, or a damaged block, is refused either way.
            assert!(
                CompressionScheme::Lz4
                    .decompress(&stored, data.len() - 1, &mut Vec::new())
                    .is_err()
            );
            assert!(
                CompressionScheme::Lz4
                    .decompress(&stored, data.len() + 1, &mut Vec::new())
                    .is_err()
            );
            let mut damaged = stored.clone();
            damaged.truncate(stored.len() - 40);
            assert!(
                CompressionScheme::Lz4
                    .decompress(&damaged, data.len(), &mut Vec::new())
                    .is_err()
            );
        }
    }

    #[test]
    fn every_scheme_round_trips() -> Result<(), Error> {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| ((i % 64) as f32).to_le_bytes()).collect();
        for scheme in [CompressionScheme::Lz4, CompressionScheme::ByteGrouping4Lz4] {
            let stored = scheme.compress(&data).ok_or(Error::InvalidChunk {
                reason: "not compressed",
            })?;
            let mut out = Vec::new();
            scheme.decompress(&stored, data.len(), &mut out)?;
            assert_eq!(out, data);
        }
        Ok(())
    }

    #[test]
    fn decompression_stops_past_the_declared_size() {
        let stored = CompressionScheme::Lz4.compress(&[0u8; 100_000]);
        let Some(stored) = stored else {
            panic!("zeros compress");
        };
        let mut out = Vec::new();
        let result = CompressionScheme::Lz4.decompress(&stored, 10, &mut out);
        assert!(matches!(result, Err(Error::InvalidChunk { .. })));
        assert!(out.len() <= 11);
    }

    #[test]
    fn incompressible_data_is_stored() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        assert!(CompressionScheme::Lz4.compress(&data).is_none());
    }

    #[test]
    fn the_predictor_prefers_grouping_for_numbers() {
        let floats: Vec<u8> = (0..16_384u32)
            .flat_map(|i| (1.0f32 + i as f32 * 1e-4).to_le_bytes())
            .collect();
        assert_eq!(
            CompressionScheme::choose_for(&floats),
            CompressionScheme::ByteGrouping4Lz4
        );
        let text = "the quick brown fox jumps over the lazy dog. ".repeat(1000);
        assert_eq!(CompressionScheme::choose_for(text.as_bytes()), CompressionScheme::Lz4);
        assert_eq!(CompressionScheme::choose_for(&[]), CompressionScheme::Lz4);
    }
}
