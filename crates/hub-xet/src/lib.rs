//! The Xet storage of the Hugging Face Hub: its formats, and the client of its CAS.
//!
//! The Hub keeps large files in Xet, a content-addressed store. Most of this crate is the
//! pure layer of that protocol, after the public Xet specification 1.1.0 and the behaviour
//! of the reference client `xet-core`: values and bytes in, values and bytes out. On top of
//! it sit the network calls, made through `hub-api`'s one `HubClient` (its pool, retries
//! and error mapping): the token exchange with the Hub ([`XetTokenSource`]) and the CAS's
//! calls ([`CasClient`]: reconstructions, xorb ranges, xorb and shard uploads, the global
//! dedupe query). It sits on `hub-url` and `hub-api`, below `hub-cache`.
//!
//! - Chunking: [`Chunker`] (streaming, bounded memory), [`chunk_boundaries`],
//!   [`chunk_reader`]: gear-hash content-defined chunks of 8 to 128 KiB, 64 KiB on average.
//! - Hashes: [`XetHash`] and its API string form; [`chunk_hash`], [`xorb_hash`],
//!   [`file_hash`] (or [`FileHasher`] as the bytes stream by, [`hash_reader`]: the
//!   `X-Xet-Hash` of a Hub file), [`verification_range_hash`].
//! - Xorbs: [`XorbBuilder`] makes the body of a xorb upload; [`XorbChunkReader`] reads the
//!   chunks of a downloaded xorb range, [`parse_xorb`] a whole xorb.
//! - Shards: [`Shard`] writes an upload shard and reads the global dedupe answer;
//!   [`DedupeIndex`] finds chunks in it through its HMAC key.
//! - Reconstructions: [`Term`] and [`QueryReconstructionResponse`], the answer of the
//!   reconstruction API, validated.
//! - The network: [`XetTokenSource`] exchanges the Hub token for short-lived Xet tokens
//!   ([`XetToken`], checked, cached, refreshed before they expire); [`CasClient`] sends the
//!   Xet token, and only it, to the CAS, and none to the presigned xorb URLs.
//! - Downloads: [`reconstruct_file`] rebuilds a file from its reconstruction into a file
//!   (xorb ranges fetched in parallel, chunks checked and written at their offsets, the
//!   file hash checked), taking the chunks a [`ChunkIndex`] finds in files on this machine
//!   (blobs rebuilt before, the partial file of a rebuild cut short) from the disk.
//! - Uploads: [`upload_files`] reads each file once into chunks, its sha256 and its Xet
//!   hash, deduplicates the chunks (within the session, against a local shard cache and
//!   through the CAS's global dedupe), uploads the new ones in xorbs and registers the files
//!   in a shard; [`XetUploader`] does it for a commit's large files (hub-api's
//!   `ContentUploader`), with LFS where the Hub has no Xet storage.
//!
//! Everything that parses reads untrusted bytes: sizes are checked before they are
//! allocated, and errors are values of the one [`Error`], never panics.
//!
//! ```
//! use hub_xet::{FileHasher, XetHash, XorbBuilder, XorbChunkReader, chunk_boundaries};
//!
//! let data: Vec<u8> = (0..300_000u32).flat_map(|i| (i * 7919).to_le_bytes()).collect();
//! let ends = chunk_boundaries(&data);
//! assert_eq!(ends.last(), Some(&data.len()));
//!
//! // The file hash, as the bytes stream by.
//! let mut hasher = FileHasher::new();
//! for piece in data.chunks(10_000) {
//!     hasher.update(piece);
//! }
//! let outcome = hasher.finish();
//! assert_eq!(outcome.chunks.len(), ends.len());
//! let text = outcome.file_hash.to_string(); // The form of API paths.
//! assert_eq!(text.parse::<XetHash>()?, outcome.file_hash);
//!
//! // The chunks in a xorb, and back.
//! let mut builder = XorbBuilder::new();
//! let mut start = 0;
//! for &end in &ends {
//!     builder.push(&data[start..end])?;
//!     start = end;
//! }
//! let xorb = builder.finish().expect("the data has chunks");
//! let mut back = Vec::new();
//! for chunk in XorbChunkReader::new(&xorb.bytes[..]) {
//!     back.extend_from_slice(&chunk?.data);
//! }
//! assert_eq!(back, data);
//! # Ok::<(), hub_xet::Error>(())
//! ```

mod chunking;
mod client;
mod compression;
mod dedupe;
mod error;
mod file_hasher;
mod gear_table;
mod hash;
mod merkle;
mod reconstruction;
mod shard;
mod upload;
mod xorb;

pub use chunking::{
    BoundaryScanner, Chunker, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, TARGET_CHUNK_SIZE, chunk_boundaries, chunk_reader,
};
pub use client::cas::{CasClient, UploadXorbOutcome};
pub use client::chunk_index::{ChunkIndex, ChunkSpan, RECORDS_PER_XORB};
pub use client::download::{ConnectionGate, ReconstructOptions, ReconstructOutcome, reconstruct_file};
pub use client::token::{TOKEN_REFRESH_MARGIN, XetScope, XetToken, XetTokenSource, xet_token_url};
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
pub use upload::{
    CasUpload, MAX_SHARD_BYTES, UploadOptions, UploadOutcome, UploadProgress, UploadSource, UploadStats, UploadedFile,
    XetUploader, upload_files,
};
pub use xorb::{
    CHUNK_HEADER_LEN, ChunkHeader, CompressionPolicy, DecodedChunk, MAX_XORB_BYTES, MAX_XORB_CHUNKS, ParsedXorb,
    SerializedXorb, XorbBuilder, XorbChunk, XorbChunkReader, parse_xorb,
};
