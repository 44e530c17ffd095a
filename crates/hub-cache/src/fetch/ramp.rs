//! How many connections one large file uses, found by trying rather than set:
//! it starts on one, and doubles them while each doubling brings a quarter
//! more throughput (a tenth, when the doubling started with a core idle: the
//! new connections then run on CPU nothing else wanted). On loopback or a
//! fast link one or two streams already take what the machine can write, and
//! more connections only cost CPU: fast connections on a machine with no core
//! to spare are not doubled. Behind a per-connection cap or a long round
//! trip, each one adds its share.
//!
//! A file fetched beside other large ones shares the machine with them: what
//! its connections gain once no core is idle, theirs lose. It doubles instead
//! of opening every connection at once, and once it has doubled, stops when
//! no core is idle, so that the files together hold a few connections each rather than
//! the whole budget. It is held there, not settled: once it is the only one
//! left, it is judged again, as a file alone.
//!
//! A file whose sha256 cannot keep up with its bytes is held where it is: it
//! is done when its last byte is hashed, so more connections would not finish
//! it sooner, and would take from the hashing thread the CPU it lacks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::idle_cpu::CpuTimes;

/// How long each measurement lasts.
pub(super) const WINDOW: Duration = Duration::from_millis(150);

/// What a doubling must bring to be kept: a quarter more.
const GAIN: f64 = 1.25;

/// What a doubling that started with a core idle must bring to be kept: a
/// tenth more, above a window's noise. The connections it added ran on CPU
/// that nothing else wanted, so even that much is worth its cost.
const GAIN_ON_SPARE_CPU: f64 = 1.1;

/// A hashing thread that waited less than this share of a window for bytes
/// is what bounds the file.
const HASH_BOUND: f64 = 0.1;

/// Idle cores, on average over a window, that count as CPU to spare.
const SPARE_CORES: f64 = 0.5;

/// A first connection slower than this (bytes a second) is held back by its
/// link, not by the machine: loopback and fast links bring several times more.
const SLOW_CONNECTION: f64 = 256.0 * 1024.0 * 1024.0;

/// What one window showed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Window {
    /// Bytes a second received.
    pub(super) rate: f64,
    /// The file's hashing thread barely waited for bytes: hashing, not the
    /// transfer, bounds the file.
    pub(super) hash_bound: bool,
    /// Cores sat idle (or nothing says they did not).
    pub(super) spare_cpu: bool,
    /// Other large files were being fetched too, sharing the machine.
    pub(super) sharing: bool,
}

impl Window {
    /// A window's reading: `hunger` is the share of it the hashing thread
    /// spent waiting for bytes (none without verification), `idle_cores` how
    /// many cores sat idle on average (none where the system does not say).
    pub(super) fn judge(rate: f64, hunger: Option<f64>, idle_cores: Option<f64>) -> Window {
        Window {
            rate,
            hash_bound: hunger.is_some_and(|hunger| hunger < HASH_BOUND),
            spare_cpu: idle_cores.is_none_or(|idle| idle >= SPARE_CORES),
            sharing: false,
        }
    }

    /// The same reading, taken while other large files were fetched too.
    pub(super) fn sharing(self, sharing: bool) -> Window {
        Window { sharing, ..self }
    }
}

/// The decision, window after window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RampState {
    /// Connections allowed now.
    pub(super) allowed: usize,
    max: usize,
    /// The best rate seen, and with how many connections.
    best: Option<(f64, usize)>,
    /// What the doubling under way must bring to be kept.
    gain: f64,
    /// Connections were just added: the window they started in is not judged.
    warming: bool,
    /// No window has been judged yet.
    first: bool,
    /// Stopped while other files share the machine: judged again once they
    /// are done.
    held: bool,
    settled: bool,
}

impl RampState {
    pub(super) fn new(max: usize) -> RampState {
        RampState {
            allowed: 1,
            max: max.max(1),
            best: None,
            gain: GAIN,
            warming: false,
            first: true,
            held: false,
            settled: max <= 1,
        }
    }

    /// Stops here: for good, or while other files share the machine.
    fn stop(&mut self, window: Window) {
        if window.sharing {
            self.held = true;
        } else {
            self.settled = true;
        }
    }

    /// Takes what the window that just ended showed.
    pub(super) fn observe(&mut self, window: Window) {
        if self.settled || window.hash_bound {
            return;
        }
        if self.held {
            if window.sharing {
                return;
            }
            // The other files are done: what they held is this one's now.
            self.held = false;
            self.best = None;
        }
        // The new connections spent part of that window connecting, and
        // one window's rate is noisy: judge them on the next.
        if std::mem::take(&mut self.warming) {
            return;
        }
        let rate = window.rate;
        let first = std::mem::take(&mut self.first);
        match self.best {
            // One connection far below what a machine writes, while cores sit
            // idle, is bound by its link (a per-connection cap, a long round
            // trip): all of them at once. On a machine with no core to spare,
            // it may be bound by the machine: doubling finds out. Beside
            // other files, it doubles too: they all saw the same idle cores,
            // and all of them opening every connection would take the whole
            // budget.
            None if rate < SLOW_CONNECTION && window.spare_cpu && !window.sharing => {
                self.best = Some((rate, self.allowed));
                self.try_with(self.max);
            }
            // A fast first window also holds the connection's setup and the
            // transfer's start, which leave cores idle that the transfer
            // then uses: one that doubled on that took longer and more CPU
            // on loopback. It is judged on the next window.
            None if first && rate >= SLOW_CONNECTION => {}
            Some((best, with)) if rate < best * self.gain => {
                // More connections did not pay: go back to the count that did.
                self.allowed = with;
                self.stop(window);
            }
            _ => {
                self.best = Some((rate, self.allowed));
                let each = rate / self.allowed as f64;
                // Fast connections with no core idle are bound by the
                // machine: more would only share its CPU thinner. So are
                // slow ones beside other files, once they have doubled:
                // their rate is their share of a machine with nothing to
                // spare, and more would take from the other files what this
                // one gains. A single slow one may still be its link's (the
                // files' start keeps the cores busy too): it doubles first.
                if self.allowed == self.max || (!window.spare_cpu && each >= SLOW_CONNECTION) {
                    self.settled = true;
                } else if !window.spare_cpu && window.sharing && self.allowed > 1 {
                    self.stop(window);
                } else {
                    self.gain = if window.spare_cpu { GAIN_ON_SPARE_CPU } else { GAIN };
                    self.try_with((self.allowed * 2).min(self.max));
                }
            }
        }
    }

    /// Lets `connections` in, to be judged on the window after the next.
    fn try_with(&mut self, connections: usize) {
        self.allowed = connections;
        self.warming = true;
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

    /// Whether one connection is all the file has now: its worker may then
    /// ask for every range left in one request.
    pub(super) fn alone(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).0.allowed == 1
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
    /// returns when [`Ramp::finish`] is called. `hungry` says how long the
    /// file's hashing thread has waited for bytes so far, when there is one;
    /// `sharing` whether other large files are being fetched now.
    pub(super) fn measure(&self, hungry: &dyn Fn() -> Option<Duration>, sharing: &dyn Fn() -> bool) {
        let mut last = 0;
        let mut last_hungry = hungry();
        let mut last_cpu = CpuTimes::now();
        let mut since = Instant::now();
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
            let elapsed = since.elapsed().as_secs_f64().max(f64::EPSILON);
            since = Instant::now();
            let rate = (now - last) as f64 / elapsed;
            last = now;
            let hungry_now = hungry();
            let hunger = match (last_hungry, hungry_now) {
                (Some(before), Some(now)) => Some(now.saturating_sub(before).as_secs_f64() / elapsed),
                _ => None,
            };
            last_hungry = hungry_now;
            let cpu_now = CpuTimes::now();
            let idle_cores = match (&last_cpu, &cpu_now) {
                (Some(before), Some(now)) => now.idle_cores_since(before),
                _ => None,
            };
            last_cpu = cpu_now;
            let window = Window::judge(rate, hunger, idle_cores).sharing(sharing());
            let before = guard.0.allowed;
            guard.0.observe(window);
            log::debug!(
                "{before} connection(s): {:.0} MB/s, hashing waited {}, idle cores {}{}; now {}{}",
                rate / 1e6,
                hunger.map_or("-".to_string(), |h| format!("{:.0} %", h * 100.0)),
                idle_cores.map_or("-".to_string(), |c| format!("{c:.2}")),
                if window.sharing { ", beside other files" } else { "" },
                guard.0.allowed,
                if guard.0.settled {
                    ", settled"
                } else if guard.0.held {
                    ", held beside other files"
                } else {
                    ""
                }
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
        show(&mut ramp, link(1000.0 * MB));
        assert_eq!(ramp.allowed, 2, "a second connection is tried");
        show(&mut ramp, link(1050.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (1, true));
    }

    #[test]
    fn a_doubling_onto_idle_cores_needs_a_tenth_more_and_onto_busy_ones_a_quarter() {
        // Started with a core idle: a sixth more keeps the second connection.
        let mut idle = RampState::new(8);
        show(&mut idle, Window::judge(1000.0 * MB, None, Some(0.9)));
        assert_eq!(idle.allowed, 2);
        show(&mut idle, Window::judge(1160.0 * MB, None, Some(0.6)));
        assert_eq!((idle.allowed, idle.settled), (4, false));
        // Started with none idle, a sixth more is not worth the CPU.
        let mut busy = RampState::new(8);
        show(&mut busy, Window::judge(100.0 * MB, None, Some(0.2)));
        assert_eq!(busy.allowed, 2);
        show(&mut busy, Window::judge(116.0 * MB, None, Some(0.2)));
        assert_eq!((busy.allowed, busy.settled), (1, true));
    }

    #[test]
    fn fast_connections_on_a_machine_with_no_core_to_spare_are_not_doubled() {
        let mut ramp = RampState::new(8);
        show(&mut ramp, Window::judge(1000.0 * MB, None, Some(0.9)));
        assert_eq!(ramp.allowed, 2);
        // Two connections took the idle core: the machine is the bound now.
        show(&mut ramp, Window::judge(1500.0 * MB, None, Some(0.3)));
        assert_eq!((ramp.allowed, ramp.settled), (2, true));
        // Slow ones on a busy machine may be the link's: doubling finds out.
        let mut slow = RampState::new(8);
        show(&mut slow, Window::judge(200.0 * MB, None, Some(0.1)));
        assert_eq!(slow.allowed, 2);
        show(&mut slow, Window::judge(400.0 * MB, None, Some(0.1)));
        assert_eq!((slow.allowed, slow.settled), (4, false));
    }

    const MB: f64 = 1024.0 * 1024.0;

    /// Shows `window` to the ramp as the window it judges: after a change,
    /// the warm-up window before it showed the same.
    fn show(ramp: &mut RampState, window: Window) {
        if ramp.warming {
            ramp.observe(window);
            assert!(!ramp.warming, "one window warms up");
        }
        if ramp.first && window.rate >= SLOW_CONNECTION && !window.hash_bound {
            let before = *ramp;
            ramp.observe(window);
            assert_eq!(
                (ramp.allowed, ramp.settled),
                (before.allowed, before.settled),
                "a fast first window waits"
            );
        }
        ramp.observe(window);
    }

    #[test]
    fn a_fast_first_window_is_judged_on_the_next() {
        // The first window held the connection's setup: cores sat idle that
        // the transfer then takes. It changes nothing; the next one decides.
        let mut ramp = RampState::new(8);
        ramp.observe(Window::judge(900.0 * MB, None, Some(0.8)));
        assert_eq!((ramp.allowed, ramp.settled), (1, false));
        ramp.observe(Window::judge(1300.0 * MB, None, Some(0.3)));
        assert_eq!((ramp.allowed, ramp.settled), (1, true), "fast, and no core to spare");
        // A slow first window still opens them all at once (a slow link).
        let mut slow = RampState::new(8);
        slow.observe(link(150.0 * MB));
        assert_eq!(slow.allowed, 8);
    }

    #[test]
    fn the_window_connections_were_added_in_is_not_judged() {
        let mut ramp = RampState::new(8);
        ramp.observe(link(1000.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (1, false), "the first window waits");
        ramp.observe(link(1000.0 * MB));
        assert_eq!(ramp.allowed, 2);
        // The new connection is still connecting: a dip here is not its verdict.
        ramp.observe(link(900.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (2, false));
        ramp.observe(link(1600.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (4, false));
        ramp.observe(link(100.0 * MB));
        ramp.observe(link(1650.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (2, true), "judged on the window after");
    }

    /// A window bound by the transfer, on a machine with cores to spare.
    fn link(rate: f64) -> Window {
        Window {
            rate,
            hash_bound: false,
            spare_cpu: true,
            sharing: false,
        }
    }

    #[test]
    fn a_file_beside_others_doubles_instead_of_opening_all_and_stops_once_no_core_is_idle() {
        // Slow with cores idle: alone, a file opens every connection at once;
        // beside other files, which saw the same idle cores, it doubles.
        let mut alone = RampState::new(8);
        show(&mut alone, Window::judge(30.0 * MB, None, Some(0.9)));
        assert_eq!(alone.allowed, 8);
        let mut beside = RampState::new(8);
        show(&mut beside, Window::judge(30.0 * MB, None, Some(0.9)).sharing(true));
        assert_eq!((beside.allowed, beside.settled), (2, false));
        // Two brought more, but no core is idle now: what it would gain next,
        // the other files would lose. It is held, for as long as they run.
        show(&mut beside, Window::judge(60.0 * MB, None, Some(0.1)).sharing(true));
        assert_eq!((beside.allowed, beside.held, beside.settled), (2, true, false));
        show(&mut beside, Window::judge(200.0 * MB, None, Some(0.9)).sharing(true));
        assert_eq!((beside.allowed, beside.held), (2, true));
        // Alone, it is judged as a file alone: slow with a core idle, it
        // opens every connection; fast ones double on.
        let mut slow = beside;
        show(&mut slow, Window::judge(100.0 * MB, None, Some(0.9)));
        assert_eq!((slow.allowed, slow.held, slow.settled), (8, false, false));
        let mut fast = beside;
        show(&mut fast, Window::judge(600.0 * MB, None, Some(0.9)));
        assert_eq!((fast.allowed, fast.held, fast.settled), (4, false, false));
        // A doubling that did not pay beside other files is held too.
        let mut unpaid = RampState::new(8);
        show(&mut unpaid, Window::judge(30.0 * MB, None, Some(0.9)).sharing(true));
        show(&mut unpaid, Window::judge(31.0 * MB, None, Some(0.9)).sharing(true));
        assert_eq!((unpaid.allowed, unpaid.held, unpaid.settled), (1, true, false));
        // With a core still idle, it goes on doubling.
        let mut spare = RampState::new(8);
        show(&mut spare, Window::judge(30.0 * MB, None, Some(0.9)).sharing(true));
        show(&mut spare, Window::judge(60.0 * MB, None, Some(0.9)).sharing(true));
        assert_eq!((spare.allowed, spare.settled), (4, false));
        // Beside others on a busy machine, one slow connection may still be
        // its link's: it doubles once before it is held.
        let mut started_busy = RampState::new(8);
        show(
            &mut started_busy,
            Window::judge(30.0 * MB, None, Some(0.1)).sharing(true),
        );
        assert_eq!((started_busy.allowed, started_busy.held), (2, false));
        show(
            &mut started_busy,
            Window::judge(60.0 * MB, None, Some(0.1)).sharing(true),
        );
        assert_eq!((started_busy.allowed, started_busy.held), (2, true));
        // Alone on a busy machine, slow connections may be the link's: it doubles on.
        let mut busy = RampState::new(8);
        show(&mut busy, Window::judge(30.0 * MB, None, Some(0.1)));
        show(&mut busy, Window::judge(60.0 * MB, None, Some(0.1)));
        assert_eq!((busy.allowed, busy.settled), (4, false));
    }

    #[test]
    fn a_slow_first_connection_opens_them_all() {
        let mut ramp = RampState::new(8);
        show(&mut ramp, link(180.0 * MB));
        assert_eq!(ramp.allowed, 8);
        show(&mut ramp, link(1300.0 * MB));
        assert_eq!((ramp.allowed, ramp.settled), (8, true));
    }

    #[test]
    fn fast_connections_double_while_it_pays() {
        let mut ramp = RampState::new(8);
        for (rate, allowed) in [(300.0, 2), (600.0, 4), (1200.0, 8), (2000.0, 8)] {
            show(&mut ramp, link(rate * MB));
            assert_eq!(ramp.allowed, allowed);
        }
        assert!(ramp.settled);
    }

    #[test]
    fn it_settles_where_doubling_stopped_paying() {
        let mut ramp = RampState::new(16);
        for rate in [300.0, 600.0, 1200.0, 1250.0] {
            show(&mut ramp, link(rate * MB));
        }
        assert_eq!((ramp.allowed, ramp.settled), (4, true));
        show(&mut ramp, link(10_000.0));
        assert_eq!(ramp.allowed, 4, "settled for good");
    }

    #[test]
    fn a_file_its_hashing_holds_back_keeps_the_connections_it_has() {
        let mut ramp = RampState::new(8);
        // Slow or fast, a window whose hashing barely waited changes nothing:
        // the file ends when its last byte is hashed.
        for rate in [100.0, 1500.0, 100.0] {
            show(&mut ramp, Window::judge(rate * MB, Some(0.02), Some(0.0)));
            assert_eq!((ramp.allowed, ramp.settled), (1, false));
        }
        // Once hashing waits for bytes again, the ramp goes on as before.
        show(&mut ramp, Window::judge(1000.0 * MB, Some(0.5), Some(1.0)));
        assert_eq!(ramp.allowed, 2);
    }

    #[test]
    fn a_slow_connection_on_a_busy_machine_doubles_instead_of_opening_all() {
        // No core idle: the connection may be slow for want of CPU, and
        // eight would only share it thinner; doubling finds out.
        let mut busy = RampState::new(8);
        show(&mut busy, Window::judge(150.0 * MB, Some(0.3), Some(0.1)));
        assert_eq!(busy.allowed, 2);
        // The same rate with a core idle is the link's: all of them at once.
        let mut idle = RampState::new(8);
        show(&mut idle, Window::judge(150.0 * MB, Some(0.3), Some(1.2)));
        assert_eq!(idle.allowed, 8);
    }

    #[test]
    fn without_readings_a_window_is_judged_on_its_rate_alone() {
        let window = Window::judge(150.0 * MB, None, None);
        assert_eq!(window, link(150.0 * MB));
        let mut ramp = RampState::new(8);
        show(&mut ramp, window);
        assert_eq!(ramp.allowed, 8, "as on a system that does not report idle cores");
    }

    #[test]
    fn one_connection_at_most_is_settled_at_once() {
        let ramp = RampState::new(1);
        assert_eq!((ramp.allowed, ramp.settled), (1, true));
    }
}
