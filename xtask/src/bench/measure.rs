//! Running a client once and measuring it: wall time, CPU seconds and peak RSS.
//!
//! CPU and memory come from GNU time (`/usr/bin/time -f`), which reads them from
//! `wait4` of the child: user + system seconds of the client and everything it
//! waited for, and its largest resident set. Wall time is taken here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// GNU time, which reports what `wait4` tells of the child.
pub(crate) const GNU_TIME: &str = "/usr/bin/time";

/// A program to run, with its arguments and environment (on top of a cleared one).
#[derive(Clone, Debug)]
pub(crate) struct Invocation {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
}

impl Invocation {
    pub(crate) fn new(program: impl Into<PathBuf>) -> Self {
        Invocation {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command, under GNU time writing to `time_report` when given. The
    /// environment is cleared but for `PATH` and `HOME`, so that the user's
    /// settings (a token, an endpoint, a proxy) do not leak into a run.
    fn command(&self, time_report: Option<&Path>, home: &Path) -> Command {
        let mut cmd = match time_report {
            Some(report) => {
                let mut cmd = Command::new(GNU_TIME);
                cmd.arg("-f").arg("%U %S %M").arg("-o").arg(report).arg(&self.program);
                cmd
            }
            None => Command::new(&self.program),
        };
        cmd.args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub(crate) fn describe(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }
}

/// One run's figures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    /// User + system seconds, when GNU time is available.
    pub(crate) cpu: Option<Duration>,
    /// Peak resident set in KiB, when GNU time is available.
    pub(crate) peak_rss_kib: Option<u64>,
    /// CPU seconds this process spent meanwhile: the emulator's, which runs in
    /// it, serving the client (the process does nothing else while it waits).
    pub(crate) server_cpu: Option<Duration>,
}

/// Runs `invocation` once in `work_dir` (its `HOME`), output discarded.
pub(crate) fn run_once(invocation: &Invocation, work_dir: &Path, with_gnu_time: bool) -> Result<Sample> {
    let report = work_dir.join("time-report");
    let stderr_path = work_dir.join("stderr");
    let stderr =
        std::fs::File::create(&stderr_path).with_context(|| format!("failed to create {}", stderr_path.display()))?;
    let mut cmd = invocation.command(with_gnu_time.then_some(report.as_path()), work_dir);
    cmd.current_dir(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let server_cpu_before = own_cpu();
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("failed to start {}", invocation.describe()))?;
    let wall = started.elapsed();
    let server_cpu = own_cpu()
        .zip(server_cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    if !status.success() {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("`{}` failed with {status}: {}", invocation.describe(), tail.join(" | "));
    }
    let (cpu, peak_rss_kib) = if with_gnu_time {
        let text = std::fs::read_to_string(&report).with_context(|| format!("failed to read {}", report.display()))?;
        parse_gnu_time(&text).with_context(|| format!("unexpected report from {GNU_TIME}: {text:?}"))?
    } else {
        (None, None)
    };
    Ok(Sample {
        wall,
        cpu,
        peak_rss_kib,
        server_cpu,
    })
}

/// The machine's CPU time so far, from `/proc/stat`: all of it, and the part
/// the hypervisor gave to other guests (steal).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MachineCpu {
    total: u64,
    steal: u64,
}

impl MachineCpu {
    /// Now, or `None` where `/proc/stat` cannot be read.
    pub(crate) fn now() -> Option<MachineCpu> {
        MachineCpu::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The `cpu` line: user nice system idle iowait irq softirq steal ...
    fn parse(stat: &str) -> Option<MachineCpu> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = line.split_whitespace().skip(1).map_while(|f| f.parse().ok()).collect();
        let steal = *fields.get(7)?;
        Some(MachineCpu {
            total: fields.iter().take(8).sum(),
            steal,
        })
    }

    /// The share of the CPU time since `earlier` that went to steal, in percent.
    pub(crate) fn steal_percent_since(&self, earlier: &MachineCpu) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        let steal = self.steal.checked_sub(earlier.steal)?;
        Some(100.0 * steal as f64 / total as f64)
    }
}

/// A note on how much CPU time the hypervisor took from this machine since `before`.
pub(crate) fn steal_note(before: Option<MachineCpu>) -> String {
    match before
        .zip(MachineCpu::now())
        .and_then(|(b, now)| now.steal_percent_since(&b))
    {
        Some(percent) => format!(
            "CPU steal during the run: {percent:.1} % of the machine's CPU time went to other guests of its \
             hypervisor; wall times grow with it, unevenly between runs"
        ),
        None => "CPU steal during the run: unknown (no /proc/stat)".into(),
    }
}

/// User + system time of this process, all threads, from `/proc/self/stat`.
fn own_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_of_stat(&stat)
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line, counted
/// after the command name, which may hold spaces but ends at the last `)`.
fn cpu_of_stat(stat: &str) -> Option<Duration> {
    /// `/proc` counts in USER_HZ, 100 a second on every Linux architecture's ABI.
    const TICKS_PER_SEC: f64 = 100.0;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    // Fields 3 to 13 come first.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / TICKS_PER_SEC))
}

/// Reads `%U %S %M` from the report's last line (GNU time puts notes before it).
fn parse_gnu_time(text: &str) -> Option<(Option<Duration>, Option<u64>)> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut fields = line.split_whitespace();
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    let rss: u64 = fields.next()?.parse().ok()?;
    Some((Some(Duration::from_secs_f64(user + system)), Some(rss)))
}

/// The summary of several runs: medians of wall and CPU time, the largest peak RSS.
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    pub(crate) wall_secs: f64,
    pub(crate) cpu_secs: Option<f64>,
    pub(crate) peak_rss_mb: Option<f64>,
    /// Median CPU seconds the emulator spent serving a run.
    pub(crate) server_cpu_secs: Option<f64>,
    /// Each run's figures, in the order they ran: runs of several tools are
    /// interleaved, so the n-th runs of two tools saw the machine alike.
    pub(crate) runs: Vec<RunFigures>,
}

/// The wall and CPU seconds of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RunFigures {
    pub(crate) wall_secs: f64,
    pub(crate) cpu_secs: Option<f64>,
}

impl Stats {
    pub(crate) fn of(samples: &[Sample]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let wall_secs = median(samples.iter().map(|s| s.wall.as_secs_f64()).collect());
        // A figure some run lacks has no median.
        let median_seconds = |figure: fn(&Sample) -> Option<Duration>| {
            let seconds: Option<Vec<f64>> = samples.iter().map(|s| figure(s).map(|d| d.as_secs_f64())).collect();
            seconds.map(median)
        };
        let cpu_secs = median_seconds(|s| s.cpu);
        let peak_rss_mb = samples
            .iter()
            .map(|s| s.peak_rss_kib)
            .collect::<Option<Vec<u64>>>()
            .and_then(|rss| rss.into_iter().max())
            .map(|kib| kib as f64 * 1024.0 / 1e6);
        let server_cpu_secs = median_seconds(|s| s.server_cpu);
        let runs = samples
            .iter()
            .map(|s| RunFigures {
                wall_secs: s.wall.as_secs_f64(),
                cpu_secs: s.cpu.map(|d| d.as_secs_f64()),
            })
            .collect();
        Some(Stats {
            wall_secs,
            cpu_secs,
            peak_rss_mb,
            server_cpu_secs,
            runs,
        })
    }
}

/// The median (the mean of the middle two for an even count); 0 for none.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::{MachineCpu, RunFigures, Sample, Stats, cpu_of_stat, median, own_cpu, parse_gnu_time};
    use std::time::Duration;

    #[test]
    fn stats_keep_each_run_in_the_order_it_ran() {
        let sample = |wall: f64, cpu: Option<f64>| Sample {
            wall: Duration::from_secs_f64(wall),
            cpu: cpu.map(Duration::from_secs_f64),
            peak_rss_kib: Some(1000),
            server_cpu: None,
        };
        let stats = Stats::of(&[sample(3.0, Some(1.5)), sample(1.0, Some(0.5)), sample(2.0, None)]).expect("runs");
        assert_eq!(stats.wall_secs, 2.0);
        assert_eq!(stats.cpu_secs, None, "a run without CPU figures leaves no median");
        let walls: Vec<f64> = stats.runs.iter().map(|r| r.wall_secs).collect();
        assert_eq!(walls, [3.0, 1.0, 2.0]);
        assert_eq!(
            stats.runs[1],
            RunFigures {
                wall_secs: 1.0,
                cpu_secs: Some(0.5)
            }
        );
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn gnu_time_report_is_read_from_its_last_line() {
        let (cpu, rss) = parse_gnu_time("Command exited with non-zero status 1\n0.50 1.25 20480\n").unwrap_or_default();
        assert_eq!(cpu, Some(Duration::from_secs_f64(1.75)));
        assert_eq!(rss, Some(20480));
        assert!(parse_gnu_time("garbage").is_none());
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_of_stat(stat), Some(Duration::from_millis(1750)));
        assert_eq!(cpu_of_stat("4242 (x) S 1 2"), None);
        let before = own_cpu().expect("/proc/self/stat is readable");
        let mut spin = 0u64;
        while own_cpu().expect("readable") < before + Duration::from_millis(30) {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
    }

    #[test]
    fn steal_is_a_share_of_all_cpu_time_since() {
        let before = MachineCpu::parse("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 1 2 3\n").expect("parsed");
        let after = MachineCpu::parse("cpu  200 0 100 950 10 0 0 140 0 0\n").expect("parsed");
        // 400 ticks in all, 100 of them steal.
        assert_eq!(after.steal_percent_since(&before), Some(25.0));
        assert_eq!(before.steal_percent_since(&before), None, "no time passed");
        assert!(MachineCpu::parse("cpu  1 2 3\n").is_none(), "a kernel without steal");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
