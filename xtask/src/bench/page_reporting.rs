//! Free page reporting: a virtual machine whose balloon device tells its host
//! which memory is free, so that the host takes it back. Writing into such
//! memory again (a new file's page cache) then waits for the host to fault it
//! in: on such a machine, 2 GiB of page-cache writes took 0.4 s right after
//! the memory was freed and about 5 s once the host had it back. Every
//! client's figures swing with this, and with how the run before it freed
//! its memory, so the benchmark measures both ends, says how much memory went
//! back during the run, and has every run of a large workload follow the same
//! untimed writer.

use std::time::{Duration, Instant};

/// The virtio feature bit of free page reporting (`VIRTIO_BALLOON_F_REPORTING`).
const REPORTING_FEATURE_BIT: usize = 5;

/// Where the kernel lists the balloon devices it drives.
const BALLOON_DEVICES: &str = "/sys/bus/virtio/drivers/virtio_balloon";

/// A counter of the memory reported so far, where the kernel keeps one (not
/// every kernel does).
const REPORTED_KIB: &str = "/sys/module/page_reporting/parameters/reported_kib";

/// How long to wait for freed memory to go back to the host when no counter
/// says when it did: a few times the kernel's two-second reporting delay.
const PAUSE_WITHOUT_COUNTER: Duration = Duration::from_secs(10);

/// The longest wait for the counter to show the freed memory reported.
const COUNTER_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the counter is read while waiting.
const COUNTER_POLL: Duration = Duration::from_millis(200);

/// Whether a balloon device of this machine reports free pages to its host.
pub(crate) fn enabled() -> bool {
    let Ok(devices) = std::fs::read_dir(BALLOON_DEVICES) else {
        return false;
    };
    devices
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("virtio"))
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("features")).ok())
        .any(|features| has_reporting(&features))
}

/// `features` is the device's feature bits, one `0`/`1` character per bit,
/// bit 0 first (the kernel's `features` file).
fn has_reporting(features: &str) -> bool {
    let bits = features.trim();
    bits.bytes().all(|b| b == b'0' || b == b'1') && bits.as_bytes().get(REPORTING_FEATURE_BIT) == Some(&b'1')
}

/// KiB of memory reported to the host so far, where the kernel counts them.
pub(crate) fn reported_kib() -> Option<u64> {
    parse_counter(&std::fs::read_to_string(REPORTED_KIB).ok()?)
}

fn parse_counter(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Waits until memory freed just now is likely back with the host: until the
/// counter grew by `bytes` (at most [`COUNTER_TIMEOUT`]), or, without a
/// counter, for [`PAUSE_WITHOUT_COUNTER`]. Says how it waited.
pub(crate) fn wait_for_return(before_kib: Option<u64>, bytes: u64) -> String {
    let Some(before) = before_kib else {
        std::thread::sleep(PAUSE_WITHOUT_COUNTER);
        return format!("after a {} s pause", PAUSE_WITHOUT_COUNTER.as_secs());
    };
    let started = Instant::now();
    let wanted = bytes / 1024;
    loop {
        let grown = reported_kib().map_or(0, |now| now.saturating_sub(before));
        if grown >= wanted || started.elapsed() >= COUNTER_TIMEOUT {
            return format!(
                "once {} had gone back to the host, {:.1} s after it was freed",
                human_kib(grown),
                started.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(COUNTER_POLL);
    }
}

/// A note on the memory this machine, which reports free pages, gave back to
/// its host since `before_kib`.
pub(crate) fn run_note(before_kib: Option<u64>) -> String {
    let reported = before_kib.zip(reported_kib()).map(|(before, now)| {
        format!(
            "{} of freed memory went back to the host during the run",
            human_kib(now.saturating_sub(before))
        )
    });
    format!(
        "this machine reports free memory to its hypervisor (virtio-balloon free page reporting){}: a client \
         writing into memory the host took back waits for the host to fault it in again, so page-cache writes \
         cost anywhere between the two write floors above, and what a run gets depends on how the run before \
         it freed its memory; so that every client follows the same writer, each run of the large workloads \
         comes right after a file as large is written and removed (untimed)",
        reported.map_or(String::new(), |r| format!("; {r}"))
    )
}

fn human_kib(kib: u64) -> String {
    format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporting_is_feature_bit_five_of_the_balloon() {
        assert!(has_reporting("0110010100000000\n"));
        assert!(!has_reporting("0110000100000000\n"), "bit 5 clear");
        assert!(!has_reporting("0110\n"), "too few bits to hold it");
        assert!(!has_reporting("01100x01\n"), "not a feature list");
    }

    #[test]
    fn the_counter_is_one_number_of_kib() {
        assert_eq!(parse_counter("145175952\n"), Some(145_175_952));
        assert_eq!(parse_counter("-3\n"), None);
        assert_eq!(parse_counter(""), None);
    }
}
