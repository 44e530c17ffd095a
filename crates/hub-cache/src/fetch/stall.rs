//! The stall rule: a body must keep arriving, not just trickle. The read
//! timeout alone lets a server that sends one byte a second hold a transfer
//! for ever; here, each window of the download timeout must bring at least
//! [`MIN_BYTES_PER_WINDOW`], or the connection counts as broken (and is
//! resumed, a bounded number of times, like any other).

use std::time::{Duration, Instant};

/// What a window must bring: far below any real link (8 KiB in 10 s is
/// 0.8 KB/s), far above a server that drips bytes to hold the connection.
pub(crate) const MIN_BYTES_PER_WINDOW: u64 = 8 * 1024;

/// Watches one response body's progress.
pub(crate) struct StallGuard {
    window: Duration,
    started: Instant,
    bytes: u64,
}

impl StallGuard {
    /// A guard whose windows last `window` (the download timeout).
    pub(crate) fn new(window: Duration) -> StallGuard {
        StallGuard {
            window,
            started: Instant::now(),
            bytes: 0,
        }
    }

    /// Records `n` bytes just read; fails when a whole window brought too few.
    pub(crate) fn record(&mut self, n: usize) -> std::io::Result<()> {
        self.bytes += n as u64;
        if self.started.elapsed() < self.window {
            return Ok(());
        }
        if self.bytes < MIN_BYTES_PER_WINDOW {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the body stalled: {} bytes in {} s (at least {MIN_BYTES_PER_WINDOW} are expected)",
                    self.bytes,
                    self.window.as_secs_f64()
                ),
            ));
        }
        self.started = Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

/// Reads until `buffer` is full, the body ends, the connection breaks or the
/// body stalls: few large writes cost less than many small ones. Returns what
/// was read, and the error that stopped it early.
pub(crate) fn fill(
    reader: &mut impl std::io::Read,
    buffer: &mut [u8],
    stall: &mut StallGuard,
) -> (usize, Option<std::io::Error>) {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if let Err(stalled) = stall.record(n) {
                    return (filled, Some(stalled));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_fails_once_a_window_is_over_and_a_flow_never_does() {
        let mut trickle = StallGuard::new(Duration::ZERO);
        assert!(trickle.record(1).is_err());
        let mut flow = StallGuard::new(Duration::ZERO);
        for _ in 0..3 {
            assert!(flow.record(MIN_BYTES_PER_WINDOW as usize).is_ok());
        }
        let mut young = StallGuard::new(Duration::from_secs(3600));
        assert!(young.record(1).is_ok());
    }
}
