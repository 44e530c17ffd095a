//! The performance targets of the download issue, with its numbers, and how the
//! measurements are judged against them.

use super::measure::RunFigures;
use super::results::{Results, Row};
use super::tools::Tool;
use super::workloads::WorkloadKind;

/// A network condition the emulator simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Loopback as is: no delay, no cap.
    Loopback,
    /// Loopback over HTTPS, the Hub and its CDN origin alike, every client
    /// trusting a test CA made for the run: what TLS costs each client.
    LoopbackTls,
    /// 20 ms round trips and 180 MB/s per connection.
    Wan,
}

impl Condition {
    pub(crate) const ALL: [Condition; 3] = [Condition::Loopback, Condition::LoopbackTls, Condition::Wan];

    /// The condition a command line names: `loopback`, `tls` or `wan`.
    pub(crate) fn named(name: &str) -> Option<Condition> {
        match name {
            "loopback" => Some(Condition::Loopback),
            "tls" => Some(Condition::LoopbackTls),
            "wan" => Some(Condition::Wan),
            _ => None,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Condition::Loopback => "loopback",
            Condition::LoopbackTls => "loopback TLS",
            Condition::Wan => "WAN-like",
        }
    }
}

/// What one target compares.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rule {
    /// Our wall time at most `max_ratio` times `tool`'s on the same workload.
    VsTool {
        condition: Condition,
        workload: WorkloadKind,
        tool: Tool,
        max_ratio: f64,
        /// The target is for a client that does not verify sha256.
        verification_off: bool,
    },
    /// Our wall time (verifying) at most `max_ratio` times hashing the workload's
    /// LFS bytes from memory with the same sha256 code.
    VsHash {
        condition: Condition,
        workload: WorkloadKind,
        max_ratio: f64,
    },
    /// Our peak RSS below this on every workload and condition.
    PeakRss { max_mb: f64 },
    /// At least this many times faster than the Python client everywhere.
    VsPython { min_speedup: f64 },
    /// `ours` against hf-hub 1.0 (which does not verify) on `rows`: wall time or
    /// CPU seconds at most `max_ratio` times its. A workload without a row of
    /// `ours` (a run that failed or was left out) is judged on our default run.
    VsHfHub {
        ours: Tool,
        rows: Rows,
        measure: Measure,
        max_ratio: f64,
    },
    /// Ours, verifying, on the loopback rows of large files (HTTP and HTTPS), where
    /// both cores are busy receiving and serving: wall time at most `max_ratio`
    /// times the larger of hf-hub 1.0's and a `bound`.
    VerifiedLoopback { bound: Bound, max_ratio: f64 },
    /// `huggingface-cli --version` in under this many milliseconds.
    VersionTime { max_ms: f64 },
    /// The emulator serves the large file to curl at least this fraction of
    /// nginx's speed, over HTTPS (the same certificate and cipher) or plain HTTP.
    ServeVsNginx { min_fraction: f64, https: bool },
    /// The emulator answers at least this many small requests a second over keep-alive,
    /// on the CDN route or on `resolve` of a regular file.
    KeepAlive { route: ProbeRoute, min_per_sec: f64 },
}

/// What [`Rule::VsHfHub`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Measure {
    Wall,
    /// User + system seconds, which for the same bytes is CPU per byte.
    Cpu,
}

/// Which rows a comparison with hf-hub covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Every workload and condition.
    All,
    /// Where a core is free to hash beside the transfer: the WAN-like rows and the small files.
    CoreFree,
}

/// What a verifying loopback download is held to beside hf-hub's wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// One sha256 pass over the workload's LFS bytes from memory.
    Hash,
    /// What the machine's cores allow, the larger of: the work it must do
    /// shared by its cores (our `--no-verify` client's CPU, one sha256 pass
    /// and the emulator's CPU serving our verifying runs, over the number of
    /// cores); and the sha256 pass, one sequential thread, at the fair share
    /// of a core the scheduler gives it while the receiving thread and the
    /// server run beside it (cores / 3, one core at most).
    SharedCores,
}

/// Which small request the keep-alive check repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProbeRoute {
    /// A 4 KiB LFS object from the CDN route: the server core and a cheap route.
    Cdn,
    /// `resolve` of a 4 KiB regular file at a commit: what the small-files workload asks.
    Resolve,
}

/// A target: its words in the report and its rule.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) rule: Rule,
}

/// The targets of the issue "Downloads: … fast, resumable and verified", section
/// Performance, then those of the issue "Transfer efficiency" (against hf-hub 1.x).
pub(crate) const TARGETS: &[Target] = &[
    Target {
        name: "emulator serves the large file >= 0.9x nginx's speed (curl -o /dev/null)",
        rule: Rule::ServeVsNginx {
            min_fraction: 0.9,
            https: false,
        },
    },
    Target {
        name: "emulator serves the large file over HTTPS >= 0.9x nginx's speed (TLS 1.3, AES-128-GCM both)",
        rule: Rule::ServeVsNginx {
            min_fraction: 0.9,
            https: true,
        },
    },
    Target {
        name: "emulator answers >= 10,000 small requests/s over keep-alive (CDN, 4 KiB LFS)",
        rule: Rule::KeepAlive {
            route: ProbeRoute::Cdn,
            min_per_sec: 10_000.0,
        },
    },
    Target {
        name: "emulator answers >= 10,000 small requests/s over keep-alive (resolve, 4 KiB regular)",
        rule: Rule::KeepAlive {
            route: ProbeRoute::Resolve,
            min_per_sec: 10_000.0,
        },
    },
    Target {
        name: "huggingface-cli --version < 5 ms",
        rule: Rule::VersionTime { max_ms: 5.0 },
    },
    Target {
        name: "loopback, large file, verification off: <= 0.7x curl -o",
        rule: Rule::VsTool {
            condition: Condition::Loopback,
            workload: WorkloadKind::LargeFile,
            tool: Tool::CurlOne,
            max_ratio: 0.7,
            verification_off: true,
        },
    },
    Target {
        name: "loopback, model repo, verification off: <= 0.7x curl -o",
        rule: Rule::VsTool {
            condition: Condition::Loopback,
            workload: WorkloadKind::ModelRepo,
            tool: Tool::CurlOne,
            max_ratio: 0.7,
            verification_off: true,
        },
    },
    Target {
        name: "loopback, large file, verification on: <= 1.15x sha256 from memory",
        rule: Rule::VsHash {
            condition: Condition::Loopback,
            workload: WorkloadKind::LargeFile,
            max_ratio: 1.15,
        },
    },
    Target {
        name: "loopback, model repo, verification on: <= 1.15x sha256 from memory",
        rule: Rule::VsHash {
            condition: Condition::Loopback,
            workload: WorkloadKind::ModelRepo,
            max_ratio: 1.15,
        },
    },
    Target {
        name: "loopback, small files: <= 2x curl --parallel",
        rule: Rule::VsTool {
            condition: Condition::Loopback,
            workload: WorkloadKind::SmallFiles,
            tool: Tool::CurlParallel,
            max_ratio: 2.0,
            verification_off: false,
        },
    },
    Target {
        name: "peak RSS < 30 MB on every workload",
        rule: Rule::PeakRss { max_mb: 30.0 },
    },
    Target {
        name: "WAN-like, large file: <= 1.1x aria2c -x8",
        rule: Rule::VsTool {
            condition: Condition::Wan,
            workload: WorkloadKind::LargeFile,
            tool: Tool::Aria2c,
            max_ratio: 1.1,
            verification_off: false,
        },
    },
    Target {
        name: "WAN-like, small files: <= 1.2x curl --parallel",
        rule: Rule::VsTool {
            condition: Condition::Wan,
            workload: WorkloadKind::SmallFiles,
            tool: Tool::CurlParallel,
            max_ratio: 1.2,
            verification_off: false,
        },
    },
    Target {
        name: "WAN-like, model repo: <= 0.6x curl --parallel",
        rule: Rule::VsTool {
            condition: Condition::Wan,
            workload: WorkloadKind::ModelRepo,
            tool: Tool::CurlParallel,
            max_ratio: 0.6,
            verification_off: false,
        },
    },
    Target {
        name: ">= 3x faster than the Python client on every workload",
        rule: Rule::VsPython { min_speedup: 3.0 },
    },
    Target {
        name: "efficiency: --no-verify, wall <= hf-hub 1.0's on every workload and condition",
        rule: Rule::VsHfHub {
            ours: Tool::OursNoVerify,
            rows: Rows::All,
            measure: Measure::Wall,
            max_ratio: 1.0,
        },
    },
    Target {
        name: "efficiency: --no-verify, CPU s/GiB <= hf-hub 1.0's on every workload and condition",
        rule: Rule::VsHfHub {
            ours: Tool::OursNoVerify,
            rows: Rows::All,
            measure: Measure::Cpu,
            max_ratio: 1.0,
        },
    },
    Target {
        name: "efficiency: verifying, wall <= hf-hub 1.0's where a core is free (WAN-like, small files)",
        rule: Rule::VsHfHub {
            ours: Tool::Ours,
            rows: Rows::CoreFree,
            measure: Measure::Wall,
            max_ratio: 1.0,
        },
    },
    Target {
        name: "efficiency: verifying, loopback large files: <= 1.2x max(hf-hub 1.0, sha256 from memory)",
        rule: Rule::VerifiedLoopback {
            bound: Bound::Hash,
            max_ratio: 1.2,
        },
    },
    Target {
        name: "efficiency, restated: verifying, loopback large files: <= 1.1x max(hf-hub 1.0, \
               (--no-verify CPU + sha256 + server CPU) / cores, sha256 / min(1, cores / 3))",
        rule: Rule::VerifiedLoopback {
            bound: Bound::SharedCores,
            max_ratio: 1.1,
        },
    },
];

/// The tool a row's ratio is taken against: the one the targets name for that
/// workload and condition.
pub(crate) fn reference_tool(condition: Condition, workload: WorkloadKind) -> Tool {
    match (condition, workload) {
        (Condition::Loopback | Condition::LoopbackTls, WorkloadKind::SmallFiles) => Tool::CurlParallel,
        (Condition::Loopback | Condition::LoopbackTls, _) => Tool::CurlOne,
        (Condition::Wan, WorkloadKind::LargeFile) => Tool::Aria2c,
        (Condition::Wan, _) => Tool::CurlParallel,
    }
}

/// How a target fared.
#[derive(Clone, Debug)]
pub(crate) enum Status {
    Pass,
    Miss,
    /// Not measured, and why.
    NotMeasured(String),
}

impl Status {
    pub(crate) fn from_check(pass: bool) -> Self {
        if pass { Status::Pass } else { Status::Miss }
    }

    pub(crate) fn label(&self) -> &str {
        match self {
            Status::Pass => "PASS",
            Status::Miss => "MISS",
            Status::NotMeasured(_) => "N/A",
        }
    }
}

/// A target's outcome: the figure measured and the verdict.
#[derive(Clone, Debug)]
pub(crate) struct Verdict {
    pub(crate) name: &'static str,
    pub(crate) measured: String,
    pub(crate) status: Status,
}

/// Judges every target against what was measured.
pub(crate) fn judge(results: &Results) -> Vec<Verdict> {
    TARGETS
        .iter()
        .map(|target| {
            let (measured, status) = judge_one(target.rule, results);
            Verdict {
                name: target.name,
                measured,
                status,
            }
        })
        .collect()
}

fn not_measured(why: &str) -> (String, Status) {
    ("-".to_string(), Status::NotMeasured(why.to_string()))
}

fn judge_one(rule: Rule, results: &Results) -> (String, Status) {
    let check = &results.self_check;
    match rule {
        Rule::ServeVsNginx { min_fraction, https } => {
            let served = if https {
                &check.served_https
            } else {
                &check.served_plain
            };
            let (Some(emulator), Ok(nginx)) = (served.emulator_secs, &served.nginx_secs) else {
                return not_measured("nginx could not be run");
            };
            let mb = check.serve_bytes as f64 / 1e6;
            let fraction = nginx / emulator;
            (
                format!(
                    "{:.0} MB/s vs nginx {:.0} MB/s = {fraction:.2}x",
                    mb / emulator,
                    mb / nginx
                ),
                Status::from_check(fraction >= min_fraction),
            )
        }
        Rule::KeepAlive { route, min_per_sec } => {
            let rate = match route {
                ProbeRoute::Cdn => &check.keep_alive_cdn,
                ProbeRoute::Resolve => &check.keep_alive_resolve,
            };
            match rate {
                Ok((rate, tool)) => (
                    format!("{rate:.0}/s ({tool})"),
                    Status::from_check(*rate >= min_per_sec),
                ),
                Err(why) => not_measured(why),
            }
        }
        Rule::VersionTime { max_ms } => match check.version {
            Some(time) => {
                let ms = time.as_secs_f64() * 1e3;
                (format!("{ms:.2} ms"), Status::from_check(ms < max_ms))
            }
            None => not_measured("the CLI could not be run"),
        },
        Rule::VsTool {
            condition,
            workload,
            tool,
            max_ratio,
            verification_off,
        } => {
            let ours_tool = if verification_off {
                Tool::OursNoVerify
            } else {
                Tool::Ours
            };
            let (Some(ours), Some(theirs)) = (
                results.stats(condition, workload, ours_tool),
                results.stats(condition, workload, tool),
            ) else {
                return not_measured("a run is missing");
            };
            let ratio = ours.wall_secs / theirs.wall_secs;
            let measured = format!("{ratio:.2}x ({:.2} s vs {:.2} s)", ours.wall_secs, theirs.wall_secs);
            (measured, Status::from_check(ratio <= max_ratio))
        }
        Rule::VsHash {
            condition,
            workload,
            max_ratio,
        } => {
            let (Some(ours), Some(hash)) = (
                results.stats(condition, workload, Tool::Ours),
                results.hash_secs(workload),
            ) else {
                return not_measured("a run is missing");
            };
            let ratio = ours.wall_secs / hash;
            // What writing the same bytes costs here, scaled from the large file's.
            let floor = results.self_check.write_secs.as_ref().ok().and_then(|write| {
                let bytes = results.rows.iter().find(|r| r.workload == workload)?.bytes;
                Some(write * bytes as f64 / results.self_check.serve_bytes as f64)
            });
            let floor = floor.map_or(String::new(), |f| format!("; one thread writing the bytes: {f:.2} s"));
            (
                format!("{ratio:.2}x ({:.2} s vs sha256 {hash:.2} s{floor})", ours.wall_secs),
                Status::from_check(ratio <= max_ratio),
            )
        }
        Rule::PeakRss { max_mb } => {
            let ours: Vec<f64> = results
                .rows
                .iter()
                .filter(|r| matches!(r.tool, Tool::Ours | Tool::OursNoVerify))
                .filter_map(|r| results.stats(r.condition, r.workload, r.tool))
                .filter_map(|s| s.peak_rss_mb)
                .collect();
            if ours.is_empty() {
                return not_measured("no peak RSS figures (GNU time missing?)");
            }
            let worst = ours.iter().copied().fold(0.0, f64::max);
            (format!("worst {worst:.1} MB"), Status::from_check(worst < max_mb))
        }
        Rule::VsPython { min_speedup } => {
            match worst_ratio(results, Tool::Ours, Rows::All, Tool::Python, Measure::Wall) {
                Some(worst) => {
                    let speedup = 1.0 / worst.ratio;
                    (
                        format!("worst {speedup:.2}x ({})", worst.which),
                        Status::from_check(speedup >= min_speedup),
                    )
                }
                None => not_measured("the Python client is not available"),
            }
        }
        Rule::VerifiedLoopback { bound, max_ratio } => match worst_verified_loopback(results, bound, machine_cores()) {
            Some(worst) => (
                format!(
                    "worst {:.2}x ({}: {:.2} vs {:.2} s)",
                    worst.ratio, worst.which, worst.ours, worst.theirs
                ),
                Status::from_check(worst.ratio <= max_ratio),
            ),
            None => not_measured("a run is missing"),
        },
        Rule::VsHfHub {
            ours,
            rows,
            measure,
            max_ratio,
        } => match worst_ratio(results, ours, rows, Tool::HfHub, measure) {
            Some(worst) => {
                let unit = match measure {
                    Measure::Wall => "s",
                    Measure::Cpu => "CPU s/GiB",
                };
                let runs = worst.runs_lower.map_or(String::new(), |r| {
                    format!("; ours lower in {} of {} runs side by side", r.ours_lower, r.of)
                });
                (
                    format!(
                        "worst {:.2}x ({}: {:.2} vs {:.2} {unit}{runs})",
                        worst.ratio, worst.which, worst.ours, worst.theirs
                    ),
                    Status::from_check(worst.ratio <= max_ratio),
                )
            }
            None => not_measured("hf-hub 1.0 could not be built or run"),
        },
    }
}

/// The row where ours fares worst against another client.
struct Worst {
    /// Ours over theirs: above 1, ours is slower or spends more.
    ratio: f64,
    ours: f64,
    theirs: f64,
    /// The condition and workload.
    which: String,
    /// On that row, run by run, how often ours was the lower.
    runs_lower: Option<RunsLower>,
}

/// Of the runs two clients made in turn on one row, in how many ours had the
/// lower figure. Medians of a few runs can fall either way where the machine's
/// noise is larger than the difference; the runs side by side show whether
/// one client is lower run after run or the two take turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RunsLower {
    ours_lower: usize,
    of: usize,
}

impl RunsLower {
    /// Pairs the n-th run of ours with the n-th of theirs (they ran one after
    /// the other); `None` when either lacks a figure or a run.
    fn count(ours: &[RunFigures], theirs: &[RunFigures], measure: Measure) -> Option<RunsLower> {
        if ours.is_empty() || ours.len() != theirs.len() {
            return None;
        }
        let figure = |run: &RunFigures| match measure {
            Measure::Wall => Some(run.wall_secs),
            Measure::Cpu => run.cpu_secs,
        };
        let mut ours_lower = 0;
        for (a, b) in ours.iter().zip(theirs) {
            if figure(a)? < figure(b)? {
                ours_lower += 1;
            }
        }
        Some(RunsLower {
            ours_lower,
            of: ours.len(),
        })
    }
}

/// Over the `rows` both `ours` (else our default run) and `tool` were measured
/// on, the highest ratio of our `measure` to theirs, if any. CPU is compared per
/// GiB, which for the same workload is the ratio of CPU seconds.
fn worst_ratio(results: &Results, ours_tool: Tool, rows: Rows, tool: Tool, measure: Measure) -> Option<Worst> {
    let covered = |row: &Row| match rows {
        Rows::All => true,
        Rows::CoreFree => row.condition == Condition::Wan || row.workload == WorkloadKind::SmallFiles,
    };
    worst_of(
        results
            .rows
            .iter()
            .filter(|r| r.tool == tool && covered(r))
            .filter_map(|row| {
                let ours = results
                    .stats(row.condition, row.workload, ours_tool)
                    .or_else(|| results.stats(row.condition, row.workload, Tool::Ours))?;
                let theirs = results.stats(row.condition, row.workload, tool)?;
                let gib = row.bytes as f64 / f64::from(1u32 << 30);
                let runs_lower = RunsLower::count(&ours.runs, &theirs.runs, measure);
                let (ours, theirs) = match measure {
                    Measure::Wall => (ours.wall_secs, theirs.wall_secs),
                    Measure::Cpu => (ours.cpu_secs? / gib, theirs.cpu_secs? / gib),
                };
                Some(Worst {
                    ratio: ours / theirs,
                    ours,
                    theirs,
                    which: format!("{}, {}", row.condition.label(), row.workload_label),
                    runs_lower,
                })
            }),
    )
}

/// Over the loopback rows (HTTP and HTTPS) of the large file and the model repo,
/// the highest ratio of our verifying wall time to the larger of hf-hub's and
/// `bound` on a machine of `cores`, if any.
fn worst_verified_loopback(results: &Results, bound: Bound, cores: f64) -> Option<Worst> {
    let covered = |row: &Row| {
        matches!(row.condition, Condition::Loopback | Condition::LoopbackTls)
            && matches!(row.workload, WorkloadKind::LargeFile | WorkloadKind::ModelRepo)
    };
    worst_of(
        results
            .rows
            .iter()
            .filter(|r| r.tool == Tool::HfHub && covered(r))
            .filter_map(|row| {
                let (condition, workload) = (row.condition, row.workload);
                let ours = results.stats(condition, workload, Tool::Ours)?;
                let hf_hub = results.stats(condition, workload, Tool::HfHub)?;
                let hash = results.hash_secs(workload)?;
                let (bound_secs, named) = match bound {
                    Bound::Hash => (hash, format!("sha256 {hash:.2} s")),
                    Bound::SharedCores => {
                        let client = results.stats(condition, workload, Tool::OursNoVerify)?.cpu_secs?;
                        let server = ours.server_cpu_secs?;
                        let floor = (client + hash + server) / cores;
                        let hash_at_share = hash / (cores / 3.0).min(1.0);
                        (
                            floor.max(hash_at_share),
                            format!(
                                "floor ({client:.2} + {hash:.2} + {server:.2}) / {cores} = {floor:.2} s, \
                                 sha256 at its share {hash_at_share:.2} s"
                            ),
                        )
                    }
                };
                let theirs = hf_hub.wall_secs.max(bound_secs);
                Some(Worst {
                    ratio: ours.wall_secs / theirs,
                    ours: ours.wall_secs,
                    theirs,
                    which: format!(
                        "{}, {}; hf-hub {:.2} s, {named}",
                        condition.label(),
                        row.workload_label,
                        hf_hub.wall_secs
                    ),
                    runs_lower: None,
                })
            }),
    )
}

/// The cores this machine gives the bench.
fn machine_cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

/// The comparison with the highest ratio, if any.
fn worst_of(comparisons: impl Iterator<Item = Worst>) -> Option<Worst> {
    comparisons.max_by(|a, b| a.ratio.total_cmp(&b.ratio))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::measure::{Sample, Stats};
    use crate::bench::results::{Outcome, SelfCheck, Served};
    use std::time::Duration;

    fn row(condition: Condition, workload: WorkloadKind, tool: Tool, wall: f64, cpu: f64, server: f64) -> Row {
        Row {
            condition,
            workload,
            workload_label: format!("{workload:?}"),
            bytes: 1 << 30,
            tool,
            outcome: Outcome::Measured(Stats {
                wall_secs: wall,
                cpu_secs: Some(cpu),
                peak_rss_mb: Some(10.0),
                server_cpu_secs: Some(server),
                runs: vec![RunFigures {
                    wall_secs: wall,
                    cpu_secs: Some(cpu),
                }],
            }),
        }
    }

    /// A row whose runs had these wall and CPU seconds, in this order.
    fn row_of_runs(tool: Tool, runs: &[(f64, Option<f64>)]) -> Row {
        let mut row = row(Condition::LoopbackTls, WorkloadKind::LargeFile, tool, 0.0, 0.0, 0.0);
        let samples: Vec<Sample> = runs
            .iter()
            .map(|&(wall, cpu)| Sample {
                wall: Duration::from_secs_f64(wall),
                cpu: cpu.map(Duration::from_secs_f64),
                peak_rss_kib: Some(10_000),
                server_cpu: None,
            })
            .collect();
        row.outcome = Outcome::Measured(Stats::of(&samples).expect("runs"));
        row
    }

    fn results(rows: Vec<Row>) -> Results {
        Results {
            rows,
            self_check: SelfCheck {
                serve_bytes: 1 << 30,
                served_plain: Served {
                    emulator_secs: None,
                    nginx_secs: Err("-".into()),
                },
                served_https: Served {
                    emulator_secs: None,
                    nginx_secs: Err("-".into()),
                },
                keep_alive_cdn: Err("-".into()),
                keep_alive_resolve: Err("-".into()),
                version: None,
                hash_secs: vec![(WorkloadKind::LargeFile, 1.0)],
                write_secs: Err("-".into()),
                write_into_returned_memory: None,
            },
        }
    }

    #[test]
    fn the_shared_cores_bound_is_the_work_over_the_cores_or_the_hash_at_its_share() {
        use Condition::Loopback;
        use WorkloadKind::LargeFile;
        let measured = results(vec![
            row(Loopback, LargeFile, Tool::Ours, 2.0, 3.0, 1.0),
            row(Loopback, LargeFile, Tool::OursNoVerify, 0.8, 1.0, 1.0),
            row(Loopback, LargeFile, Tool::HfHub, 0.9, 1.0, 1.0),
        ]);
        let ratio = |cores: f64| {
            worst_verified_loopback(&measured, Bound::SharedCores, cores)
                .expect("judged")
                .ratio
        };
        // One core: 3 s of work, and the hash at a third of the core 3 s.
        assert!((ratio(1.0) - 2.0 / 3.0).abs() < 1e-9, "{}", ratio(1.0));
        // Two: 1.5 s of work a core, and the hash at two thirds of a core 1.5 s.
        assert!((ratio(2.0) - 2.0 / 1.5).abs() < 1e-9, "{}", ratio(2.0));
        // Four: 0.75 s of work a core, the hash 1 s on a core of its own.
        assert!((ratio(4.0) - 2.0).abs() < 1e-9, "{}", ratio(4.0));
        // Ten: the hash's 1 s on a core of its own, above hf-hub's 0.9 s.
        assert!((ratio(10.0) - 2.0).abs() < 1e-9, "{}", ratio(10.0));
        let worst = worst_verified_loopback(&measured, Bound::Hash, 2.0).expect("judged");
        assert!(
            (worst.ratio - 2.0).abs() < 1e-9,
            "against the hash pass, the larger: {}",
            worst.ratio
        );
    }

    #[test]
    fn rows_where_a_core_is_free_leave_out_loopback_large_files() {
        use WorkloadKind::{LargeFile, SmallFiles};
        let measured = results(vec![
            row(Condition::Loopback, LargeFile, Tool::Ours, 3.0, 1.0, 1.0),
            row(Condition::Loopback, LargeFile, Tool::HfHub, 1.0, 1.0, 1.0),
            row(Condition::Wan, LargeFile, Tool::Ours, 1.5, 1.0, 1.0),
            row(Condition::Wan, LargeFile, Tool::HfHub, 1.0, 1.0, 1.0),
            row(Condition::Loopback, SmallFiles, Tool::Ours, 1.2, 1.0, 1.0),
            row(Condition::Loopback, SmallFiles, Tool::HfHub, 1.0, 1.0, 1.0),
        ]);
        let worst = worst_ratio(&measured, Tool::Ours, Rows::CoreFree, Tool::HfHub, Measure::Wall).expect("judged");
        assert!((worst.ratio - 1.5).abs() < 1e-9, "{}", worst.which);
        let worst = worst_ratio(&measured, Tool::Ours, Rows::All, Tool::HfHub, Measure::Wall).expect("judged");
        assert!((worst.ratio - 3.0).abs() < 1e-9, "{}", worst.which);
        // A workload without a --no-verify row (here the small files): judged on the default run.
        let worst = worst_ratio(
            &measured,
            Tool::OursNoVerify,
            Rows::CoreFree,
            Tool::HfHub,
            Measure::Wall,
        )
        .expect("judged");
        assert!((worst.ratio - 1.5).abs() < 1e-9, "{}", worst.which);
    }

    #[test]
    fn each_serving_check_judges_its_own_protocol() {
        let mut measured = results(Vec::new());
        measured.self_check.served_plain = Served {
            emulator_secs: Some(1.0),
            nginx_secs: Ok(0.95),
        };
        measured.self_check.served_https = Served {
            emulator_secs: Some(2.0),
            nginx_secs: Ok(1.0),
        };
        let judge = |https, measured: &Results| {
            judge_one(
                Rule::ServeVsNginx {
                    min_fraction: 0.9,
                    https,
                },
                measured,
            )
        };
        let (plain, plain_status) = judge(false, &measured);
        assert!(plain.ends_with("= 0.95x"), "{plain}");
        assert!(matches!(plain_status, Status::Pass), "{plain}");
        let (https, https_status) = judge(true, &measured);
        assert!(https.ends_with("= 0.50x"), "{https}");
        assert!(matches!(https_status, Status::Miss), "{https}");
        measured.self_check.served_https.nginx_secs = Err("nginx is not installed".into());
        assert!(matches!(judge(true, &measured).1, Status::NotMeasured(_)));
    }

    #[test]
    fn a_comparison_with_hf_hub_says_how_often_ours_was_lower_run_by_run() {
        let judge = |measure, measured: &Results| {
            judge_one(
                Rule::VsHfHub {
                    ours: Tool::OursNoVerify,
                    rows: Rows::All,
                    measure,
                    max_ratio: 1.0,
                },
                measured,
            )
        };
        // Equal medians (1.0 s and 1.0 CPU-s); ours lower in the first and
        // third runs' wall time, and in the second's CPU alone.
        let measured = results(vec![
            row_of_runs(
                Tool::OursNoVerify,
                &[(1.0, Some(1.1)), (1.2, Some(0.9)), (0.9, Some(1.0))],
            ),
            row_of_runs(Tool::HfHub, &[(1.1, Some(1.0)), (1.0, Some(1.0)), (1.0, Some(1.0))]),
        ]);
        let (wall, status) = judge(Measure::Wall, &measured);
        assert!(
            wall.contains("1.00x") && wall.ends_with("; ours lower in 2 of 3 runs side by side)"),
            "{wall}"
        );
        assert!(matches!(status, Status::Pass), "{wall}");
        let (cpu, _) = judge(Measure::Cpu, &measured);
        assert!(cpu.ends_with("; ours lower in 1 of 3 runs side by side)"), "{cpu}");

        // A run without a CPU figure leaves the CPU line unjudged; wall times still pair.
        let measured = results(vec![
            row_of_runs(Tool::OursNoVerify, &[(1.0, Some(1.0)), (1.0, None)]),
            row_of_runs(Tool::HfHub, &[(1.1, Some(1.1)), (1.1, Some(1.1))]),
        ]);
        let (wall, _) = judge(Measure::Wall, &measured);
        assert!(wall.ends_with("; ours lower in 2 of 2 runs side by side)"), "{wall}");
        assert!(matches!(judge(Measure::Cpu, &measured).1, Status::NotMeasured(_)));
        // Runs that cannot be paired one to one are not counted.
        let measured = results(vec![
            row_of_runs(Tool::OursNoVerify, &[(1.0, Some(1.0))]),
            row_of_runs(Tool::HfHub, &[(1.1, Some(1.1)), (1.1, Some(1.1))]),
        ]);
        let (wall, _) = judge(Measure::Wall, &measured);
        assert!(!wall.contains("side by side"), "{wall}");
        let run = |wall_secs, cpu_secs| RunFigures { wall_secs, cpu_secs };
        assert_eq!(
            RunsLower::count(&[run(1.0, None)], &[run(2.0, Some(2.0))], Measure::Cpu),
            None,
            "a run without the figure compared"
        );
        assert_eq!(
            RunsLower::count(&[run(1.0, None)], &[run(2.0, Some(2.0))], Measure::Wall),
            Some(RunsLower { ours_lower: 1, of: 1 })
        );
    }
}
