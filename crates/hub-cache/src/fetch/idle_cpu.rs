//! How many of the machine's cores sat idle over a stretch of time, from the
//! kernel's CPU counters (`/proc/stat`). A transfer that is slow while cores
//! sit idle is held back by its link; one that is slow while none do is held
//! back by the machine, and more connections would only share it thinner.

/// The machine's CPU time counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CpuTimes {
    /// Ticks spent idle (or waiting for I/O), over all cores.
    idle: u64,
    /// Ticks of every kind, over all cores.
    total: u64,
    cores: u32,
}

impl CpuTimes {
    /// The counters now, where the system has them (Linux).
    pub(super) fn now() -> Option<CpuTimes> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// How many cores, on average, sat idle since `earlier`.
    pub(super) fn idle_cores_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let idle = self.idle.checked_sub(earlier.idle)?;
        if total == 0 || idle > total {
            return None;
        }
        Some(idle as f64 / total as f64 * f64::from(self.cores))
    }
}

/// Reads the summary line (`cpu  user nice system idle iowait irq softirq
/// steal ...`) and counts the per-core lines of `/proc/stat`. Time stolen
/// by a hypervisor counts as busy: it was not ours to use.
fn parse(stat: &str) -> Option<CpuTimes> {
    let mut lines = stat.lines();
    let summary = lines.next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = summary
        .split_whitespace()
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    if ticks.len() < 5 {
        return None;
    }
    let cores = lines
        .filter(|line| {
            line.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    Some(CpuTimes {
        idle: ticks[3] + ticks[4],
        total: ticks.iter().sum(),
        cores: u32::try_from(cores).ok().filter(|&c| c > 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  100 0 50 800 50 0 0 0 0 0\n\
                          cpu0 50 0 25 400 25 0 0 0 0 0\n\
                          cpu1 50 0 25 400 25 0 0 0 0 0\n\
                          intr 12345\n";

    #[test]
    fn idle_and_io_wait_over_all_ticks_times_the_cores() {
        let before = parse(BEFORE).expect("parsed");
        // 100 ticks later: 60 busy, 30 idle, 10 waiting for I/O.
        let after = parse("cpu  150 0 60 830 60 0 0 0 0 0\ncpu0 1\ncpu1 1\n").expect("parsed");
        let idle = after.idle_cores_since(&before).expect("measured");
        assert!((idle - 0.8).abs() < 1e-9, "{idle}");
    }

    #[test]
    fn stolen_time_is_busy_time() {
        let before = parse(BEFORE).expect("parsed");
        let after = parse("cpu  100 0 50 800 50 0 0 100 0 0\ncpu0 1\ncpu1 1\n").expect("parsed");
        assert_eq!(after.idle_cores_since(&before), Some(0.0));
    }

    #[test]
    fn counters_that_went_backwards_or_stood_still_say_nothing() {
        let before = parse(BEFORE).expect("parsed");
        assert_eq!(before.idle_cores_since(&before), None);
        let earlier = parse("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1\n").expect("parsed");
        assert_eq!(earlier.idle_cores_since(&before), None);
    }

    #[test]
    fn a_file_that_is_not_the_kernels_is_refused() {
        assert_eq!(parse("intr 1 2 3\n"), None);
        assert_eq!(parse("cpu  1 2 x 4 5\ncpu0 1\n"), None);
        assert_eq!(parse("cpu  1 2 3 4 5\n"), None, "no per-core line");
    }
}
