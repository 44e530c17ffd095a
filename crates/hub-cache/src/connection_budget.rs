//! A counting semaphore over connections, shared by everything one call fetches,
//! so small files and the ranges of large ones share one budget.

use std::sync::{Condvar, Mutex};

/// At most `limit` transfers at once.
#[derive(Debug)]
pub(crate) struct ConnectionBudget {
    free: Mutex<usize>,
    released: Condvar,
}

/// One connection of the budget, given back on drop.
pub(crate) struct Permit<'a> {
    budget: &'a ConnectionBudget,
}

impl ConnectionBudget {
    pub(crate) fn new(limit: usize) -> Self {
        ConnectionBudget {
            free: Mutex::new(limit.max(1)),
            released: Condvar::new(),
        }
    }

    /// Waits for a free connection.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while *free == 0 {
            free = self
                .released
                .wait(free)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *free -= 1;
        Permit { budget: self }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self.budget.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *free += 1;
        self.budget.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn never_more_than_the_limit_at_once() {
        let budget = ConnectionBudget::new(3);
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
        assert_eq!(*budget.free.lock().expect("not poisoned"), 3);
    }
}
