//! Progress reporting for transfers: the library reports events, the caller draws them.

/// Something that happened during a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A file's transfer starts; `total` is its size when known.
    Started {
        /// The path in the repo.
        path: String,
        /// Its size in bytes.
        total: Option<u64>,
    },
    /// More bytes of a file went through.
    Advanced {
        /// The path in the repo.
        path: String,
        /// Bytes since the last event.
        bytes: u64,
    },
    /// A file is done.
    Finished {
        /// The path in the repo.
        path: String,
    },
}

/// Receives progress events; `()` ignores them.
pub trait Progress: Sync {
    /// Called for each event, from any thread.
    fn event(&self, event: &ProgressEvent);
}

impl Progress for () {
    fn event(&self, _: &ProgressEvent) {}
}
