//! The one error type of this crate.

use crate::CompressionScheme;

/// Everything that can go wrong while reading or building Xet data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that is not the string form of a Xet hash (64 hex digits).
    #[error("invalid Xet hash {value:?}: expected 64 hex digits")]
    InvalidHash {
        /// The rejected text (cut to 80 characters).
        value: String,
    },
    /// Bytes that end inside a structure.
    #[error("truncated {what}: the data ends inside it")]
    Truncated {
        /// The structure being read.
        what: &'static str,
    },
    /// A xorb chunk header of a version this crate does not know.
    #[error("unsupported xorb chunk header version {version}")]
    UnsupportedChunkVersion {
        /// The version byte read.
        version: u8,
    },
    /// A xorb chunk header naming an unknown compression scheme.
    #[error("unknown xorb chunk compression scheme {value}")]
    UnknownCompressionScheme {
        /// The scheme byte read.
        value: u8,
    },
    /// A chunk larger than the format allows.
    #[error("{what} of {size} bytes exceeds the limit of {max} bytes")]
    ChunkTooLarge {
        /// Which size is too large.
        what: &'static str,
        /// The size found.
        size: usize,
        /// The largest size allowed.
        max: usize,
    },
    /// A xorb chunk whose header and data disagree.
    #[error("invalid xorb chunk: {reason}")]
    InvalidChunk {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A compressed xorb chunk that does not decompress.
    #[error("failed to decompress a {scheme} xorb chunk")]
    Decompress {
        /// The chunk's compression scheme.
        scheme: CompressionScheme,
        /// What the decompressor reported.
        #[source]
        source: std::io::Error,
    },
    /// A xorb that cannot take the chunk: it would pass 64 MiB serialized or 8192 chunks.
    #[error("the xorb is full ({chunks} chunks, {bytes} bytes serialized)")]
    XorbFull {
        /// Chunks already in the xorb.
        chunks: usize,
        /// Serialized bytes already in the xorb.
        bytes: usize,
    },
    /// Xorb bytes without a single chunk.
    #[error("the xorb holds no chunk")]
    EmptyXorb,
    /// Xorb bytes with more bytes or chunks than a xorb may have.
    #[error("the xorb exceeds the limit of {max} {what}")]
    XorbLimit {
        /// `bytes` or `chunks`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A failure of the reader that xorb bytes came from.
    #[error("failed to read xorb bytes")]
    Read {
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// Bytes that do not start with the shard's magic tag.
    #[error("not a Xet shard: wrong magic tag")]
    NotAShard,
    /// A shard header or footer of a version this crate does not know.
    #[error("unsupported shard {part} version {version}")]
    UnsupportedShardVersion {
        /// `header` or `footer`.
        part: &'static str,
        /// The version read.
        version: u64,
    },
    /// A shard whose structure breaks the format.
    #[error("invalid shard: {reason}")]
    InvalidShard {
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A reconstruction response that is not the JSON the API defines.
    #[error("invalid reconstruction response JSON")]
    ReconstructionJson {
        /// What the JSON parser reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A reconstruction response whose values do not hold together.
    #[error("invalid reconstruction response: {reason}")]
    InvalidReconstruction {
        /// The rule it breaks, with the values.
        reason: String,
    },
}
