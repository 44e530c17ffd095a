//! The Xet storage formats of the Hugging Face Hub, without network.
//!
//! The Hub keeps large files in Xet, a content-addressed store. A file is cut into chunks of
//! about 64 KiB by content-defined chunking ([`Chunker`]), each chunk is named by a keyed
//! BLAKE3 hash ([`XetHash`], [`chunk_hash`]), and the file by the root of a Merkle tree over
//! its chunks ([`file_hash`], or [`FileHasher`] as the bytes stream by). This crate is the
//! pure layer of that protocol, after the public Xet specification 1.1.0 and the behaviour of
//! the reference client `xet-core`: it reads and writes bytes and values only; the HTTP calls
//! belong to the client crates above it.
//!
//! ```
//! use hub_xet::{FileHasher, XetHash, chunk_boundaries};
//!
//! let data: Vec<u8> = (0..300_000u32).flat_map(|i| (i * 7919).to_le_bytes()).collect();
//! let ends = chunk_boundaries(&data);
//! assert_eq!(ends.last(), Some(&data.len()));
//!
//! let mut hasher = FileHasher::new();
//! for piece in data.chunks(10_000) {
//!     hasher.update(piece);
//! }
//! let outcome = hasher.finish();
//! assert_eq!(outcome.chunks.len(), ends.len());
//!
//! // The string form used in API paths round-trips.
//! let text = outcome.file_hash.to_string();
//! assert_eq!(text.parse::<XetHash>()?, outcome.file_hash);
//! # Ok::<(), hub_xet::Error>(())
//! ```

mod chunking;
mod compression;
mod dedupe;
mod error;
mod file_hasher;
mod gear_table;
mod hash;
mod merkle;
mod reconstruction;
mod shard;
mod xorb;

pub use chunking::{
    BoundaryScanner, Chunker, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TARGET_CHUNK_SIZE, chunk_boundaries, chunk_reader,
};
pub use compression::CompressionScheme;
pub use dedupe::{ChunkLocation, DedupeIndex, is_global_dedupe_eligible};
pub use error::Error;
pub use file_hasher::{FileHashOutcome, FileHasher, hash_reader};
pub use hash::{HashedChunk, XetHash, chunk_hash, internal_node_hash, verification_range_hash};
pub use merkle::{file_hash, xorb_hash};
pub use reconstruction::{
    ChunkRange, HttpRange, QueryReconstructionResponse, QueryReconstructionResponseV1, Term, XorbMultiRangeFetch,
    XorbRangeDescriptor, XorbReconstructionFetchInfo,
};
pub use shard::{FileInfo, Shard, ShardChunk, ShardFooter, XorbInfo};
pub use xorb::{
    CHUNK_HEADER_LEN, ChunkHeader, CompressionPolicy, DecodedChunk, MAX_XORB_BYTES, MAX_XORB_CHUNKS, ParsedXorb,
    SerializedXorb, XorbBuilder, XorbChunk, XorbChunkReader, parse_xorb,
};
