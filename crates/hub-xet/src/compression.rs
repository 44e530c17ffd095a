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
    let limit = expected_len as u64 + 1;
    FrameDecoder::new(stored)
        .take(limit)
        .read_to_end(out)
        .map_err(|source| Error::Decompress { scheme, source })?;
    Ok(())
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
    for (i, &byte) in data.iter().enumerate() {
        out[starts[i % 4] + i / 4] = byte;
    }
    out
}

/// Undoes [`bg4_split`], appending to `out`.
fn bg4_regroup(grouped: &[u8], out: &mut Vec<u8>) {
    let starts = group_starts(grouped.len());
    out.extend((0..grouped.len()).map(|i| grouped[starts[i % 4] + i / 4]));
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
