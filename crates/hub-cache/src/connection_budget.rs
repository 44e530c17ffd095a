//! Counting semaphores over connections, shared by everything one call
//! fetches: small files and the ranges of large ones share one budget of
//! transfers, and the ranges (and Xet requests) of every large file share a
//! smaller one, the connections a single large file may use. A snapshot with
//! many workers for small files thus never has more large-file connections
//! open than one large file alone would, however many large files are in flight.

use std::sync::{Condvar, Mutex, PoisonError};

/// At most `limit` holders at once.
#[derive(Debug)]
struct Semaphore {
    free: Mutex<usize>,
    released: Condvar,
}

impl Semaphore {
    fn new(limit: usize) -> Self {
        Semaphore {
            free: Mutex::new(limit.max(1)),
            released: Condvar::new(),
        }
    }

    fn acquire(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.released.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn release(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.released.notify_one();
    }
}

/// The connections one call may hold.
#[derive(Debug)]
pub(crate) struct ConnectionBudget {
    transfers: Semaphore,
    large_file: Semaphore,
}

/// One connection of the budget, given back on drop.
pub(crate) struct Permit<'a> {
    budget: &'a ConnectionBudget,
    large_file: bool,
}

impl ConnectionBudget {
    /// At most `transfers` connections at once, of which at most
    /// `large_file` (no more than `transfers`) fetch pieces of large files.
    pub(crate) fn new(transfers: usize, large_file: usize) -> Self {
        ConnectionBudget {
            transfers: Semaphore::new(transfers),
            large_file: Semaphore::new(large_file.min(transfers)),
        }
    }

    /// Waits for a connection for a whole file.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        self.transfers.acquire();
        Permit {
            budget: self,
            large_file: false,
        }
    }

    /// Waits for a connection for a piece of a large file: one of the large
    /// files' share, then one of all transfers (always in this order, so that
    /// no two waiters hold what the other waits for).
    pub(crate) fn acquire_large_file(&self) -> Permit<'_> {
        self.large_file.acquire();
        self.transfers.acquire();
        Permit {
            budget: self,
            large_file: true,
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.budget.transfers.release();
        if self.large_file {
            self.budget.large_file.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn free(semaphore: &Semaphore) -> usize {
        *semaphore.free.lock().expect("not poisoned")
    }

    #[test]
    fn never_more_than_the_limit_at_once() {
        let budget = ConnectionBudget::new(3, 3);
        let active = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    let _permit = budget.acquire();
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(free(&budget.transfers), 3);
    }

    #[test]
    fn large_file_pieces_keep_to_their_share_of_the_transfers() {
        let budget = ConnectionBudget::new(6, 2);
        let (active, large, peak, peak_large) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        std::thread::scope(|s| {
            for i in 0..24 {
                let (active, large, peak, peak_large, budget) = (&active, &large, &peak, &peak_large, &budget);
                s.spawn(move || {
                    let is_large = i % 2 == 0;
                    let _permit = match is_large {
                        true => budget.acquire_large_file(),
                        false => budget.acquire(),
                    };
                    peak.fetch_max(active.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    if is_large {
                        peak_large.fetch_max(large.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    if is_large {
                        large.fetch_sub(1, Ordering::SeqCst);
                    }
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 6, "{peak:?}");
        assert!(peak_large.load(Ordering::SeqCst) <= 2, "{peak_large:?}");
        assert_eq!(
            (free(&budget.transfers), free(&budget.large_file)),
            (6, 2),
            "all given back"
        );
    }

    #[test]
    fn the_large_file_share_is_never_above_the_transfers() {
        let budget = ConnectionBudget::new(2, 8);
        assert_eq!(free(&budget.large_file), 2);
    }
}
