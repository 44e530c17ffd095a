//! How many connections one large file uses, found by trying rather than set:
//! it starts on one, and doubles them while each doubling brings a quarter
//! more throughput. On loopback or a fast link one stream already takes what
//! the machine can write, and more connections only cost CPU; behind a
//! per-connection cap or a long round trip, each one adds its share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// How long each measurement lasts.
pub(super) const WINDOW: Duration = Duration::from_millis(150);

/// What a doubling must bring to be kept: a quarter more.
const GAIN: f64 = 1.25;

/// A first connection slower than this (bytes a second) is held back by its
/// link, not by the machine: loopback and fast links bring several times more.
const SLOW_CONNECTION: f64 = 256.0 * 1024.0 * 1024.0;

/// The decision, window after window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RampState {
    /// Connections allowed now.
    pub(super) allowed: usize,
    max: usize,
    /// The best rate seen, and with how many connections.
    best: Option<(f64, usize)>,
    settled: bool,
}

impl RampState {
    pub(super) fn new(max: usize) -> RampState {
        RampState {
            allowed: 1,
            max: max.max(1),
            best: None,
            settled: max <= 1,
        }
    }

    /// Takes the rate (bytes a second) of the window that just ended.
    pub(super) fn observe(&mut self, rate: f64) {
        if self.settled {
            return;
        }
        match self.best {
            // One connection far below what a machine writes is bound by its
            // link (a per-connection cap, a long round trip): all of them at once.
            None if rate < SLOW_CONNECTION => {
                self.best = Some((rate, self.allowed));
                self.allowed = self.max;
            }
            Some((best, with)) if rate < best * GAIN => {
                // More connections did not pay: go back to the count that did.
                self.allowed = with;
                self.settled = true;
            }
            _ => {
                self.best = Some((rate, self.allowed));
                if self.allowed == self.max {
                    self.settled = true;
                } else {
                    self.allowed = (self.allowed * 2).min(self.max);
                }
            }
        }
    }
}

/// The ramp shared by a file's workers and the thread that measures.
pub(super) struct Ramp {
    state: Mutex<(RampState, bool)>,
    changed: Condvar,
    received: AtomicU64,
}

impl Ramp {
    pub(super) fn new(max: usize) -> Ramp {
        Ramp {
            state: Mutex::new((RampState::new(max), false)),
            changed: Condvar::new(),
            received: AtomicU64::new(0),
        }
    }

    /// Counts bytes received.
    pub(super) fn received(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Waits until worker `index` may take a range: `false` once the file is
    /// done or the ramp settled without it.
    pub(super) fn wait_turn(&self, index: usize) -> bool {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (state, done) = *guard;
            if done || (state.settled && index >= state.allowed) {
                return false;
            }
            if index < state.allowed {
                return true;
            }
            guard = self.changed.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Says that the workers are all done (or failed): waiting ones leave,
    /// and [`Ramp::measure`] returns.
    pub(super) fn finish(&self) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1 = true;
        self.changed.notify_all();
    }

    /// Measures window after window and lets more workers in while they pay;
    /// returns when [`Ramp::finish`] is called.
    pub(super) fn measure(&self) {
        let mut last = 0;
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let (next, timeout) = self
                .changed
                .wait_timeout(guard, WINDOW)
                .unwrap_or_else(PoisonError::into_inner);
            guard = next;
            if guard.1 {
                return;
            }
            if !timeout.timed_out() {
                continue;
            }
            let now = self.received.load(Ordering::Relaxed);
            let rate = (now - last) as f64 / WINDOW.as_secs_f64();
            last = now;
            let before = guard.0.allowed;
            guard.0.observe(rate);
            log::debug!(
                "{before} connection(s): {:.0} MB/s; now {}{}",
                rate / 1e6,
                guard.0.allowed,
                if guard.0.settled { ", settled" } else { "" }
            );
            if guard.0.allowed != before || guard.0.settled {
                self.changed.notify_all();
            }
            if guard.0.settled {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_that_one_stream_fills_stays_on_one() {
        let mut ramp = RampState::new(8);
        ramp.observe(1000.0 * MB);
        assert_eq!(ramp.allowed, 2, "a second connection is tried");
        ramp.observe(1100.0 * MB);
        assert_eq!((ramp.allowed, ramp.settled), (1, true));
    }

    const MB: f64 = 1024.0 * 1024.0;

    #[test]
    fn a_slow_first_connection_opens_them_all() {
        let mut ramp = RampState::new(8);
        ramp.observe(180.0 * MB);
        assert_eq!(ramp.allowed, 8);
        ramp.observe(1300.0 * MB);
        assert_eq!((ramp.allowed, ramp.settled), (8, true));
    }

    #[test]
    fn fast_connections_double_while_it_pays() {
        let mut ramp = RampState::new(8);
        for (rate, allowed) in [(300.0, 2), (600.0, 4), (1200.0, 8), (2000.0, 8)] {
            ramp.observe(rate * MB);
            assert_eq!(ramp.allowed, allowed);
        }
        assert!(ramp.settled);
    }

    #[test]
    fn it_settles_where_doubling_stopped_paying() {
        let mut ramp = RampState::new(16);
        for rate in [300.0, 600.0, 1200.0, 1250.0] {
            ramp.observe(rate * MB);
        }
        assert_eq!((ramp.allowed, ramp.settled), (4, true));
        ramp.observe(10_000.0);
        assert_eq!(ramp.allowed, 4, "settled for good");
    }

    #[test]
    fn one_connection_at_most_is_settled_at_once() {
        let ramp = RampState::new(1);
        assert_eq!((ramp.allowed, ramp.settled), (1, true));
    }
}
