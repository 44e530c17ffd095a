//! The record of every request a server answered, for tests to inspect.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// The oldest records are dropped beyond this many, so that long benchmarks
/// do not grow the log without bound.
const MAX_RECORDS: usize = 100_000;

/// The requests a server answered, oldest first; clones share the log.
#[derive(Clone, Default)]
pub struct RequestLog {
    records: Arc<Mutex<VecDeque<RequestRecord>>>,
    in_flight: Arc<AtomicUsize>,
}

impl RequestLog {
    /// A copy of the records so far (at most the latest 100,000).
    pub fn records(&self) -> Vec<RequestRecord> {
        self.lock().iter().cloned().collect()
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many requests are being handled now: read in full, their answer
    /// not yet written (or given up). A test that killed a client waits for 0
    /// before it looks at what the client's last request changed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Counts a request as being handled until the guard drops.
    pub(crate) fn handling(&self) -> Handling {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Handling {
            in_flight: self.in_flight.clone(),
        }
    }

    /// Adds a record; the server does this before the first response byte is
    /// written, so a client that has seen a response always finds it here.
    pub(crate) fn push(&self, record: RequestRecord) {
        let mut records = self.lock();
        if records.len() == MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(record);
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<RequestRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

/// A request being handled, counted by [`RequestLog::in_flight`] until dropped.
pub(crate) struct Handling {
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The method as sent.
    pub method: String,
    /// The path, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string without `?` (empty when absent).
    pub query: String,
    /// The `Host` header (empty when absent).
    pub host: String,
    /// The `Authorization` header exactly as received.
    pub authorization: Option<String>,
    /// The `Range` header.
    pub range: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Every header as received, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// Which TCP connection carried the request: the same number for every
    /// request of one kept-alive connection, a new one for each connection.
    pub connection: u64,
    /// The status answered (after faults).
    pub status: u16,
    /// The body bytes the server set out to send: 0 for `HEAD`, 204 and 304,
    /// the cut-off point for a dropped connection, else the body's length.
    pub body_bytes_sent: u64,
    /// When the answer was ready to go (just before its first byte was written).
    pub answered_at: Instant,
}
