//! What a benchmark run found: one row per client, workload and condition, and
//! the self-check figures.

use std::time::Duration;

use super::measure::Stats;
use super::targets::Condition;
use super::tools::Tool;
use super::workloads::WorkloadKind;

/// How one client fared on one workload under one condition.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Measured(Stats),
    /// Not run: the tool is missing.
    Skipped(String),
    /// A run failed.
    Failed(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) condition: Condition,
    pub(crate) workload: WorkloadKind,
    pub(crate) workload_label: String,
    pub(crate) bytes: u64,
    pub(crate) tool: Tool,
    pub(crate) outcome: Outcome,
}

/// The emulator's and the CLI's own figures, measured before the clients.
#[derive(Clone, Debug)]
pub(crate) struct SelfCheck {
    /// Bytes of the file served to curl by the emulator and by nginx.
    pub(crate) serve_bytes: u64,
    /// How fast it was served over plain HTTP.
    pub(crate) served_plain: Served,
    /// How fast it was served over HTTPS (TLS 1.3, AES-128-GCM, the same certificate).
    pub(crate) served_https: Served,
    /// Small requests a second on the CDN route (a 4 KiB LFS object), and the tool.
    pub(crate) keep_alive_cdn: Result<(f64, &'static str), String>,
    /// Small requests a second on `resolve` of a 4 KiB regular file at a commit.
    pub(crate) keep_alive_resolve: Result<(f64, &'static str), String>,
    /// Median `huggingface-cli --version`.
    pub(crate) version: Option<Duration>,
    /// Seconds to sha256 each workload's LFS bytes from memory.
    pub(crate) hash_secs: Vec<(WorkloadKind, f64)>,
    /// Seconds for one thread to write the large file's bytes into a new file
    /// where the clients write, or why it could not: the floor of any client.
    pub(crate) write_secs: Result<f64, String>,
    /// The same write into memory the machine had given back to its
    /// hypervisor, and how that was waited for; `None` where the machine
    /// gives none back (no free page reporting).
    pub(crate) write_into_returned_memory: Option<Result<(f64, String), String>>,
}

/// One file served to `curl -o /dev/null` by the emulator and by nginx.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    /// Median seconds from the emulator.
    pub(crate) emulator_secs: Option<f64>,
    /// Median seconds from nginx, or why there is none.
    pub(crate) nginx_secs: Result<f64, String>,
}

/// Everything measured.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) rows: Vec<Row>,
    pub(crate) self_check: SelfCheck,
}

impl Results {
    /// The statistics of `tool` on `workload` under `condition`, if measured.
    pub(crate) fn stats(&self, condition: Condition, workload: WorkloadKind, tool: Tool) -> Option<&Stats> {
        self.rows
            .iter()
            .find(|r| r.condition == condition && r.workload == workload && r.tool == tool)
            .and_then(|r| match &r.outcome {
                Outcome::Measured(stats) => Some(stats),
                _ => None,
            })
    }

    pub(crate) fn hash_secs(&self, workload: WorkloadKind) -> Option<f64> {
        self.self_check
            .hash_secs
            .iter()
            .find(|(w, _)| *w == workload)
            .map(|(_, secs)| *secs)
    }
}
