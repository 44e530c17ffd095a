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
    /// A Hub or CAS call failed; the source is the `hub_api::Error` that says how.
    #[error("failed to {action}")]
    Hub {
        /// What was being done (`ask for a Xet token`, `call the Xet CAS`, ...).
        action: &'static str,
        /// The HTTP status of the refusal, when the server answered with one.
        status: Option<u16>,
        /// The `hub_api::Error`.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Xet token answer whose values cannot be used.
    #[error("refusing the Xet token the Hub sent: {reason}")]
    InvalidXetToken {
        /// What is wrong with it.
        reason: String,
    },
    /// A CAS or xorb storage answer that breaks the protocol.
    #[error("unexpected answer from {url}: {reason}")]
    CasResponse {
        /// The URL that answered (without its query).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Downloaded or cached bytes that are not what the reconstruction describes.
    #[error("the data of Xet file {file} does not check: {reason}")]
    Integrity {
        /// The file hash being reconstructed.
        file: String,
        /// What did not match.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An upload stopped before its end: a thread of it failed or was stopped.
    #[error("the upload stopped: {what}")]
    UploadStopped {
        /// What stopped.
        what: &'static str,
    },
}

impl Error {
    /// Wraps a `hub_api::Error` of the step `action`.
    pub(crate) fn hub(action: &'static str) -> impl FnOnce(hub_api::Error) -> Error {
        move |source| {
            let status = match &source {
                hub_api::Error::Unauthorized { .. } => Some(401),
                other => other.status().or_else(|| other.is_not_found().then_some(404)),
            };
            Error::Hub {
                action,
                status,
                source: Box::new(source),
            }
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<std::path::PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }

    /// The HTTP status a Hub or CAS refusal came with.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Hub { status, .. } => *status,
            _ => None,
        }
    }
}
