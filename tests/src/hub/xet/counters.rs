//! What the CAS has received and served, for tests to measure deduplication and to tell
//! which path a transfer took.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the Xet CAS's counters ([`Emulator::xet_stats`](crate::Emulator::xet_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct XetStats {
    /// Xorb uploads received (`POST /v1/xorbs/…`), accepted or not.
    pub xorb_uploads: u64,
    /// Body bytes of those uploads.
    pub xorb_bytes_received: u64,
    /// Xorbs newly stored (uploads of a xorb already held do not count).
    pub xorbs_stored: u64,
    /// Shard uploads received (`POST /v1/shards`), accepted or not.
    pub shard_uploads: u64,
    /// Shards accepted.
    pub shards_stored: u64,
    /// Files registered by accepted shards (a file registered again counts again).
    pub files_registered: u64,
    /// Reconstructions answered (`GET /v1|v2/reconstructions/…` with 200).
    pub reconstructions: u64,
    /// Global dedupe queries received (`GET /v1/chunks/…`).
    pub dedupe_queries: u64,
    /// Those answered with a shard.
    pub dedupe_hits: u64,
    /// Bytes of xorb ranges served from presigned URLs.
    pub xorb_bytes_served: u64,
    /// Bytes of Xet-backed files served whole by the plain-HTTP bridge.
    pub bridge_bytes_served: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) xorb_uploads: AtomicU64,
    pub(crate) xorb_bytes_received: AtomicU64,
    pub(crate) xorbs_stored: AtomicU64,
    pub(crate) shard_uploads: AtomicU64,
    pub(crate) shards_stored: AtomicU64,
    pub(crate) files_registered: AtomicU64,
    pub(crate) reconstructions: AtomicU64,
    pub(crate) dedupe_queries: AtomicU64,
    pub(crate) dedupe_hits: AtomicU64,
    pub(crate) xorb_bytes_served: AtomicU64,
    pub(crate) bridge_bytes_served: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    /// The values now.
    pub(crate) fn snapshot(&self) -> XetStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        XetStats {
            xorb_uploads: get(&self.xorb_uploads),
            xorb_bytes_received: get(&self.xorb_bytes_received),
            xorbs_stored: get(&self.xorbs_stored),
            shard_uploads: get(&self.shard_uploads),
            shards_stored: get(&self.shards_stored),
            files_registered: get(&self.files_registered),
            reconstructions: get(&self.reconstructions),
            dedupe_queries: get(&self.dedupe_queries),
            dedupe_hits: get(&self.dedupe_hits),
            xorb_bytes_served: get(&self.xorb_bytes_served),
            bridge_bytes_served: get(&self.bridge_bytes_served),
        }
    }
}
