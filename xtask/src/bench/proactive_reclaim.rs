//! Proactive reclaim by DAMON: a kernel thread (`kdamond`) that samples which
//! memory is accessed and pages out what has sat idle for a while, whatever
//! memory is free. On such a machine a file that nobody has read for that
//! long leaves the page cache, and its next reader reads it from disk: the
//! emulator's files between workloads, the upload's source between runs.
//! The benchmark says so, with the scheme's thresholds, so that a slow run is
//! not put down to a client.

use std::path::{Path, PathBuf};

/// Where the kernel's DAMON sysfs interface lists its monitoring threads.
const KDAMONDS: &str = "/sys/kernel/mm/damon/admin/kdamonds";

/// One running DAMON scheme that pages memory out.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Pageout {
    /// Seconds without an access after which memory is paged out.
    idle_secs: f64,
    /// The most it pages out a second, where a quota caps it.
    bytes_per_sec: Option<f64>,
}

/// The pageout schemes of the running `kdamond`s under `root` (the sysfs
/// `kdamonds` folder); none where DAMON is absent or idle.
fn pageout_schemes(root: &Path) -> Vec<Pageout> {
    let read = |path: &Path| std::fs::read_to_string(path).ok().map(|s| s.trim().to_string());
    let number = |path: &Path| read(path).and_then(|s| s.parse::<f64>().ok());
    let mut found = Vec::new();
    for kdamond in numbered_dirs(root) {
        if read(&kdamond.join("state")).as_deref() != Some("on") {
            continue;
        }
        for context in numbered_dirs(&kdamond.join("contexts")) {
            let Some(aggregation_us) = number(&context.join("monitoring_attrs/intervals/aggr_us")) else {
                continue;
            };
            for scheme in numbered_dirs(&context.join("schemes")) {
                if read(&scheme.join("action")).as_deref() != Some("pageout") {
                    continue;
                }
                // The age is counted in aggregation intervals.
                let Some(age) = number(&scheme.join("access_pattern/age/min")) else {
                    continue;
                };
                let quota_bytes = number(&scheme.join("quotas/bytes")).filter(|b| *b > 0.0);
                let reset_ms = number(&scheme.join("quotas/reset_interval_ms")).filter(|ms| *ms > 0.0);
                found.push(Pageout {
                    idle_secs: age * aggregation_us / 1e6,
                    bytes_per_sec: quota_bytes.zip(reset_ms).map(|(bytes, ms)| bytes * 1000.0 / ms),
                });
            }
        }
    }
    found
}

/// The subfolders of `dir` named by a number (`0`, `1`, …), in order.
fn numbered_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path())))
        .collect();
    dirs.sort();
    dirs.into_iter().map(|(_, path)| path).collect()
}

/// A note for the report when this machine pages out idle memory by itself.
pub(crate) fn note() -> Option<String> {
    note_for(&pageout_schemes(Path::new(KDAMONDS)))
}

fn note_for(schemes: &[Pageout]) -> Option<String> {
    let soonest = schemes.iter().min_by(|a, b| a.idle_secs.total_cmp(&b.idle_secs))?;
    let rate = soonest.bytes_per_sec.map_or(String::new(), |b| {
        format!(", up to {:.0} MiB a second", b / (1024.0 * 1024.0))
    });
    Some(format!(
        "this machine pages out memory left idle for {:.0} s or more (DAMON proactive reclaim, a `pageout` \
         scheme{rate}), free memory or not: a file in the page cache that nobody read for that long is \
         dropped, and read from disk again by the next reader (the emulator's files between workloads, the \
         upload's source between runs), so a run that follows an idle stretch pays for it",
        soonest.idle_secs
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create");
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn running_pageout_schemes_are_found_with_their_idle_age_and_quota() {
        let root = tempfile::tempdir().expect("tempdir");
        let root = root.path();
        write(root, "0/state", "on\n");
        write(root, "0/contexts/0/monitoring_attrs/intervals/aggr_us", "5000000\n");
        write(root, "0/contexts/0/schemes/0/action", "pageout\n");
        write(root, "0/contexts/0/schemes/0/access_pattern/age/min", "12\n");
        write(root, "0/contexts/0/schemes/0/quotas/bytes", "134217728\n");
        write(root, "0/contexts/0/schemes/0/quotas/reset_interval_ms", "1000\n");
        // A scheme that only counts, and one with no quota.
        write(root, "0/contexts/0/schemes/1/action", "stat\n");
        write(root, "0/contexts/0/schemes/1/access_pattern/age/min", "1\n");
        write(root, "0/contexts/0/schemes/2/action", "pageout\n");
        write(root, "0/contexts/0/schemes/2/access_pattern/age/min", "100\n");
        write(root, "0/contexts/0/schemes/2/quotas/bytes", "0\n");
        // A kdamond that is not running.
        write(root, "1/state", "off\n");
        write(root, "1/contexts/0/monitoring_attrs/intervals/aggr_us", "100000\n");
        write(root, "1/contexts/0/schemes/0/action", "pageout\n");
        write(root, "1/contexts/0/schemes/0/access_pattern/age/min", "1\n");

        let schemes = pageout_schemes(root);
        assert_eq!(
            schemes,
            [
                Pageout {
                    idle_secs: 60.0,
                    bytes_per_sec: Some(134_217_728.0)
                },
                Pageout {
                    idle_secs: 500.0,
                    bytes_per_sec: None
                },
            ]
        );
        let note = note_for(&schemes).expect("a note");
        assert!(note.contains("idle for 60 s or more"), "{note}");
        assert!(note.contains("up to 128 MiB a second"), "{note}");
    }

    #[test]
    fn no_damon_no_note() {
        let root = tempfile::tempdir().expect("tempdir");
        assert!(pageout_schemes(&root.path().join("absent")).is_empty());
        assert!(pageout_schemes(root.path()).is_empty());
        assert_eq!(note_for(&[]), None);
    }
}
