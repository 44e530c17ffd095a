//! Simulated network conditions: a round-trip delay and a per-connection
//! throughput cap, as a client far from a CDN sees them.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// How the server holds back its answers to look like a distant server.
/// The default (no delay, no cap) serves as fast as loopback allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkConditions {
    /// The round-trip time: every response waits this long before its first byte
    /// is sent, and a new connection waits it once before its first request is
    /// read (the TCP handshake).
    pub latency: Duration,
    /// The most body bytes a second one connection sends; unlimited when `None`.
    pub per_connection_bytes_per_sec: Option<u64>,
}

impl NetworkConditions {
    /// A distant CDN: 20 ms round trips (10 ms each way) and 180 MB/s per connection.
    pub fn wan() -> Self {
        NetworkConditions {
            latency: Duration::from_millis(20),
            per_connection_bytes_per_sec: Some(180_000_000),
        }
    }
}

/// The conditions of one server, changeable while it runs; clones share them.
#[derive(Clone, Default)]
pub(crate) struct SharedConditions {
    current: Arc<RwLock<NetworkConditions>>,
}

impl SharedConditions {
    pub(crate) fn get(&self) -> NetworkConditions {
        *self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set(&self, conditions: NetworkConditions) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = conditions;
    }
}
