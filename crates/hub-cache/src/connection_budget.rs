//! A counting semaphore over connections, shared by everything one call fetches,
//! so small files and the ranges of large ones share one budget. It also counts
//! the large files being fetched in ranges, each of which finds its own number of
//! connections: one of several shares the machine with the others.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// At most `limit` transfers at once.
#[derive(Debug)]
pub(crate) struct ConnectionBudget {
    free: Mutex<usize>,
    released: Condvar,
    ranged: AtomicUsize,
}

/// A file fetched in ranges, counted while it lives.
pub(crate) struct RangedFile<'a> {
    budget: &'a ConnectionBudget,
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
            ranged: AtomicUsize::new(0),
        }
    }

    /// Counts a file fetched in ranges until the guard is dropped.
    pub(crate) fn ranged_file(&self) -> RangedFile<'_> {
        self.ranged.fetch_add(1, Ordering::Relaxed);
        RangedFile { budget: self }
    }

    /// How many files are being fetched in ranges.
    pub(crate) fn ranged_files(&self) -> usize {
        self.ranged.load(Ordering::Relaxed)
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

impl Drop for RangedFile<'_> {
    fn drop(&mut self) {
        self.budget.ranged.fetch_sub(1, Ordering::Relaxed);
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

    #[test]
    fn ranged_files_are_counted_while_their_guards_live() {
        let budget = ConnectionBudget::new(4);
        assert_eq!(budget.ranged_files(), 0);
        let first = budget.ranged_file();
        let second = budget.ranged_file();
        assert_eq!(budget.ranged_files(), 2);
        drop(first);
        assert_eq!(budget.ranged_files(), 1);
        drop(second);
        assert_eq!(budget.ranged_files(), 0);
    }

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
