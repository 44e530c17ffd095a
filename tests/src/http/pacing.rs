//! A token bucket that holds a body's bytes to a rate.

use std::time::{Duration, Instant};

/// The largest step a paced body is written in: at 180 MB/s, 1.5 ms of bytes.
const MAX_STEP: u64 = 256 * 1024;
/// A step is at most this long at the paced rate, so slow rates sleep in small steps.
const STEPS_PER_SEC: u64 = 100;
/// Credit saved while the client was not reading, spent as a burst afterwards; no more.
const MAX_CREDIT: Duration = Duration::from_millis(10);

/// Sleeps after each write until the bytes sent so far fit the rate.
///
/// The schedule is absolute (the due time of byte `n` is `start + n / rate`), so
/// oversleeping on one step is made up on the next and the rate holds over the whole
/// body; a writer blocked by a slow reader earns at most [`MAX_CREDIT`] of burst.
#[derive(Debug)]
pub(crate) struct Pacer {
    bytes_per_sec: u64,
    start: Instant,
    sent: u64,
}

impl Pacer {
    /// A pacer starting now; a rate of 0 is taken as 1 byte a second.
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        Pacer {
            bytes_per_sec: bytes_per_sec.max(1),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// How many bytes to write before the next [`Pacer::sent`].
    pub(crate) fn step(&self) -> u64 {
        (self.bytes_per_sec / STEPS_PER_SEC).clamp(1, MAX_STEP)
    }

    /// Records `n` bytes written and sleeps until they are due.
    pub(crate) fn sent(&mut self, n: u64) {
        self.sent += n;
        let due = self.start + self.due_offset();
        let now = Instant::now();
        if let Some(wait) = due.checked_duration_since(now) {
            std::thread::sleep(wait);
        } else if now - due > MAX_CREDIT {
            // Forget the time the client spent not reading, beyond a small burst.
            self.start += now - due - MAX_CREDIT;
        }
    }

    fn due_offset(&self) -> Duration {
        let secs = self.sent / self.bytes_per_sec;
        let rest = self.sent % self.bytes_per_sec;
        // `rest < bytes_per_sec`, so the nanoseconds fit below one second.
        let nanos = u128::from(rest) * 1_000_000_000 / u128::from(self.bytes_per_sec);
        Duration::new(secs, nanos as u32)
    }
}
