//! Faults injected on demand: error statuses, cut connections, wrong bytes, slow answers
//! and slow bodies.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The queue of armed faults of one server; clones share the queue.
///
/// Each request takes the first armed fault that matches it, if any, and uses
/// it up once; a request gets at most one fault.
#[derive(Clone, Default)]
pub struct Faults {
    armed: Arc<Mutex<Vec<Fault>>>,
}

impl Faults {
    /// Arms a fault after those already armed. A fault with `times == 0` never fires.
    pub fn push(&self, fault: Fault) {
        if fault.times > 0 {
            self.lock().push(fault);
        }
    }

    /// Disarms every fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many more times armed faults will fire, summed over all of them.
    pub fn pending(&self) -> usize {
        self.lock().iter().map(|f| f.times).sum()
    }

    /// Uses up the first fault matching this request, returning its action.
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<FaultAction> {
        let mut armed = self.lock();
        let index = armed.iter().position(|f| f.matches(method, path))?;
        let fault = &mut armed[index];
        fault.times -= 1;
        let action = fault.action.clone();
        if fault.times == 0 {
            armed.remove(index);
        }
        Some(action)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Fault>> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

/// One fault: which requests it hits, what it does, how many times.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only requests with this method (compared case-insensitively); any method when `None`.
    pub method: Option<String>,
    /// Only requests whose path (still percent-encoded, without the query) contains this.
    pub path_contains: String,
    /// What happens to a matching request.
    pub action: FaultAction,
    /// How many matching requests it hits before it is used up.
    pub times: usize,
}

impl Fault {
    /// A fault hitting the next request of any method whose path contains `path_contains`.
    pub fn new(path_contains: &str, action: FaultAction) -> Fault {
        Fault {
            method: None,
            path_contains: path_contains.to_string(),
            action,
            times: 1,
        }
    }

    /// Restricts the fault to requests with this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }

    /// Makes the fault hit `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.contains(self.path_contains.as_str())
    }
}

/// What a fault does to the request it hits.
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answers with this status and a Hub-style JSON error body, plus
    /// `Retry-After` when given; the route is not run.
    Status {
        /// The status code.
        status: u16,
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Runs the route and sends the full head, then only `bytes` body bytes,
    /// then closes the connection: the client sees an incomplete body.
    DropAfter {
        /// How many body bytes get through.
        bytes: u64,
    },
    /// Runs the route and flips every bit of the body byte at `offset` (when
    /// the body is that long): the right length with wrong content.
    Corrupt {
        /// The position of the damaged byte in the body.
        offset: u64,
    },
    /// Waits this long before answering.
    Delay {
        /// The wait in milliseconds.
        millis: u64,
    },
    /// Runs the route and sends the body at most this fast (instead of the
    /// connection's usual cap, if any): a slow body, to stop a client mid-transfer.
    Throttle {
        /// The body's rate in bytes a second.
        bytes_per_sec: u64,
    },
}
