//! The Xet case of `cargo xtask bench upload`: the large file uploaded through Xet storage,
//! then uploaded again with one MiB in the middle changed, by `huggingface-cli upload`, by
//! the Python client with `hf_xet` and by the `hf-hub` crate. Measured: the wall time of both uploads, and the
//! bytes the re-upload sent in xorbs (the emulator's counters).
//!
//! Both run on loopback, then WAN-like (the download benchmark's round trips and
//! per-connection cap). Each run has a fresh emulator (so the first upload deduplicates against nothing) and a
//! fresh `HF_HOME` kept between its two uploads (so each client may use its own shard cache
//! for the second, as it would on a user's machine).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use hub_emulator::http::NetworkConditions;
use hub_emulator::{Emulator, EmulatorConfig, Role};

use super::RUNS;
use super::measure::{Invocation, Sample, Stats, run_once};
use super::remove_dir;
use super::report::{against_python_line, format_table};
use super::workloads::{human_size, pseudo_random};

/// The write token the clients upload with.
const TOKEN: &str = "hf_bench_xet_write";
/// Its user, the namespace of the benchmark's repos.
const USER: &str = "bench";
/// The bytes changed in the middle of the file.
const CHANGED: usize = 1 << 20;

/// One client's measurements.
struct ClientResult {
    label: &'static str,
    first: Result<Stats, String>,
    again: Result<Stats, String>,
    /// Xorb bytes the second upload sent, per run.
    sent: Vec<u64>,
}

/// Runs the case on `large_file` and returns its report.
pub(crate) fn run(
    scratch: &Path,
    large_file: &Path,
    cli: &Path,
    python: Option<&Path>,
    hf_hub: Option<&Path>,
    gnu_time: bool,
) -> Result<String> {
    let size = std::fs::metadata(large_file)
        .with_context(|| format!("failed to read {}", large_file.display()))?
        .len();
    let changed = prepare_changed(scratch, large_file, size)?;
    let mut out = String::new();
    for (label, network) in [
        ("loopback", NetworkConditions::default()),
        ("WAN-like", NetworkConditions::wan()),
    ] {
        eprintln!(
            "\n== Xet: {} uploaded, then again with 1 MiB changed, {label}",
            human_size(size)
        );
        let case = Case {
            scratch,
            large_file,
            changed: &changed,
            network,
            gnu_time,
        };
        let results = measure_clients(&case, cli, python, hf_hub)?;
        out.push_str(&render(&results, size, label));
    }
    let wan = NetworkConditions::wan();
    out.push_str(&format!(
        "- each run: a fresh emulator (Xet on) and a fresh HF_HOME, kept between the two uploads (each \
         client's own shard cache may serve the second); `re-upload sent` is the xorb bytes the emulator's \
         CAS received during the second upload; the clients take turns run by run; WAN-like: {} ms \
         before every response and once per new connection, {} MB/s per connection\n",
        wan.latency.as_millis(),
        wan.per_connection_bytes_per_sec.unwrap_or(0) / 1_000_000
    ));
    Ok(out)
}

/// One condition of the case.
struct Case<'a> {
    scratch: &'a Path,
    large_file: &'a Path,
    changed: &'a Path,
    network: NetworkConditions,
    gnu_time: bool,
}

/// Every client's measurements under one condition, run by run in turn (ours, Python's,
/// hf-hub's, then ours again), so that a noisy stretch of the machine falls on all alike.
fn measure_clients(
    case: &Case<'_>,
    cli: &Path,
    python: Option<&Path>,
    hf_hub: Option<&Path>,
) -> Result<Vec<ClientResult>> {
    type Make<'a> = Box<dyn Fn(&str, &Path) -> Invocation + 'a>;
    let mut clients: Vec<(&'static str, Make<'_>)> = vec![(
        "huggingface-cli upload",
        Box::new(|repo, path| {
            Invocation::new(cli)
                .args(["upload", repo])
                .arg(path)
                .args(["large.bin", "--quiet"])
        }),
    )];
    if let Some(python) = python {
        clients.push((
            PYTHON_LABEL,
            Box::new(move |repo, path| Invocation::new(python).args(["-c", PYTHON_UPLOAD, repo]).arg(path)),
        ));
    }
    if let Some(driver) = hf_hub {
        clients.push((
            HF_HUB_LABEL,
            Box::new(move |repo, path| {
                Invocation::new(driver)
                    .args(["upload", repo])
                    .arg(path)
                    .arg("large.bin")
            }),
        ));
    }
    let mut tallies: Vec<Tally> = clients.iter().map(|_| Tally::default()).collect();
    for run in 1..=RUNS {
        for ((label, make), tally) in clients.iter().zip(&mut tallies) {
            if tally.failure.is_none() {
                measure_run(label, case, make, run, tally)?;
            }
        }
    }
    remove_dir(&case.scratch.join(HUB_DIR))?;
    remove_dir(&case.scratch.join(RUN_DIR))?;
    let mut results: Vec<ClientResult> = clients
        .iter()
        .zip(tallies)
        .map(|((label, _), tally)| tally.result(label))
        .collect();
    for (label, present) in [(PYTHON_LABEL, python.is_some()), (HF_HUB_LABEL, hf_hub.is_some())] {
        if !present {
            results.push(ClientResult {
                label,
                first: Err("not available".into()),
                again: Err("not available".into()),
                sent: Vec::new(),
            });
        }
    }
    Ok(results)
}

const PYTHON_LABEL: &str = "python huggingface_hub + hf_xet";
const HF_HUB_LABEL: &str = "hf-hub 1.0";
/// The emulator's folder and the client's, under the scratch folder.
const HUB_DIR: &str = "upload-xet-hub";
const RUN_DIR: &str = "upload-xet-run";

/// One client's runs so far.
#[derive(Default)]
struct Tally {
    firsts: Vec<Sample>,
    agains: Vec<Sample>,
    sent: Vec<u64>,
    /// Why a run failed: the client runs no more.
    failure: Option<String>,
}

impl Tally {
    fn result(self, label: &'static str) -> ClientResult {
        let stats = |samples: &[Sample]| match &self.failure {
            Some(why) => Err(why.clone()),
            None => Stats::of(samples).ok_or_else(|| "no runs".to_string()),
        };
        ClientResult {
            label,
            first: stats(&self.firsts),
            again: stats(&self.agains),
            sent: self.sent.clone(),
        }
    }
}

/// Run `run` of one client: a fresh emulator and `HF_HOME`, the first upload, the second.
fn measure_run(
    label: &str,
    case: &Case<'_>,
    make: &dyn Fn(&str, &Path) -> Invocation,
    run: usize,
    tally: &mut Tally,
) -> Result<()> {
    let Case {
        scratch,
        large_file,
        changed,
        network,
        gnu_time,
    } = *case;
    let hub_root = scratch.join(HUB_DIR);
    let run_dir = scratch.join(RUN_DIR);
    remove_dir(&hub_root)?;
    remove_dir(&run_dir)?;
    std::fs::create_dir_all(run_dir.join("home")).with_context(|| format!("failed to create {}", run_dir.display()))?;
    let emulator = Emulator::start(EmulatorConfig::new(&hub_root).token(TOKEN, USER, Role::Write))
        .context("failed to start the emulator")?;
    emulator.set_network_conditions(network);
    let endpoint = emulator.endpoint();
    let repo = format!("{USER}/xet-{run}");
    let with_env = |invocation: Invocation| {
        invocation
            .env("HF_HOME", run_dir.join("home"))
            .env("HF_ENDPOINT", &endpoint)
            .env("HF_TOKEN", TOKEN)
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
    };
    let _ = Command::new("sync").status();
    let first = run_once(&with_env(make(&repo, large_file)), &run_dir, gnu_time);
    let before = emulator.xet_stats();
    let again = first.and_then(|first| {
        let _ = Command::new("sync").status();
        run_once(&with_env(make(&repo, changed)), &run_dir, gnu_time).map(|again| (first, again))
    });
    let after = emulator.xet_stats();
    match again {
        Ok((first, again)) => {
            let bytes = after.xorb_bytes_received - before.xorb_bytes_received;
            eprintln!(
                "  {label:<32} run {run}/{RUNS}: first {:6.2} s, again {:6.2} s, sent {}",
                first.wall.as_secs_f64(),
                again.wall.as_secs_f64(),
                human_size(bytes)
            );
            if before.xorb_uploads == 0 {
                tally.failure = Some(format!("run {run}: the first upload sent no xorb (not through Xet?)"));
            }
            tally.firsts.push(first);
            tally.agains.push(again);
            tally.sent.push(bytes);
        }
        Err(err) => {
            eprintln!("  {label} run {run}: failed: {err:#}");
            tally.failure = Some(format!("{err:#}"));
        }
    }
    drop(emulator);
    Ok(())
}

/// A copy of the large file with one MiB in the middle replaced, named `large.bin` too (the
/// Python client names the repo file after the local one), made once.
fn prepare_changed(scratch: &Path, large_file: &Path, size: u64) -> Result<PathBuf> {
    let dir = scratch.join(format!("upload-xet-changed-{size}"));
    let changed = dir.join("large.bin");
    if std::fs::metadata(&changed).map(|m| m.len()).ok() == Some(size) {
        return Ok(changed);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let partial = dir.join("large.bin.partial");
    std::fs::copy(large_file, &partial).with_context(|| format!("failed to copy {}", large_file.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&partial)
        .with_context(|| format!("failed to open {}", partial.display()))?;
    let middle = size / 2;
    let mut old = vec![0u8; CHANGED];
    file.seek(SeekFrom::Start(middle))?;
    file.read_exact(&mut old)?;
    let mut new = pseudo_random(CHANGED, 4242);
    for (byte, old) in new.iter_mut().zip(&old) {
        // Different from the original at every byte.
        if byte == old {
            *byte = !*byte;
        }
    }
    file.seek(SeekFrom::Start(middle))?;
    file.write_all(&new)?;
    drop(file);
    std::fs::rename(&partial, &changed).with_context(|| format!("failed to write {}", changed.display()))?;
    Ok(changed)
}

fn render(results: &[ClientResult], size: u64, condition: &str) -> String {
    let mut table = vec![
        [
            "tool",
            "first upload s",
            "CPU s",
            "RSS MB",
            "re-upload s",
            "CPU s",
            "RSS MB",
            "re-upload sent",
            "% of file",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for result in results {
        let mut cells = vec![result.label.to_string()];
        match (&result.first, &result.again) {
            (Ok(first), Ok(again)) => {
                let mut sent = result.sent.clone();
                sent.sort_unstable();
                let median = sent.get(sent.len() / 2).copied().unwrap_or(0);
                for stats in [first, again] {
                    cells.extend([
                        format!("{:.2}", stats.wall_secs),
                        stats.cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                        stats.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                    ]);
                }
                cells.extend([
                    format!("{:.2} MB", median as f64 / 1e6),
                    format!("{:.2} %", median as f64 * 100.0 / size as f64),
                ]);
            }
            (Err(why), _) | (_, Err(why)) => cells.push(format!("failed: {why}")),
        }
        table.push(cells);
    }
    let mut out = format!(
        "\nXet: {} uploaded, then again with 1 MiB in the middle changed, {condition} (median of {RUNS} runs)\n",
        human_size(size)
    );
    out.push_str(&format_table(&table));
    out.push_str(&verdicts(results, size, condition));
    out
}

/// The targets for this condition, met or not.
fn verdicts(results: &[ClientResult], size: u64, condition: &str) -> String {
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let ours = &results[0];
    let python = results.iter().find(|r| r.label == PYTHON_LABEL);
    let mut out = String::new();
    let pairs = python.map(|python| [(&ours.first, &python.first), (&ours.again, &python.again)]);
    for (i, what) in ["first upload", "re-upload"].iter().enumerate() {
        match pairs.as_ref().map(|p| p[i]) {
            Some((Ok(ours), Ok(python))) => out.push_str(&against_python_line(
                &format!("{condition}: {what}"),
                ours.wall_secs,
                python.wall_secs,
            )),
            _ => out.push_str(&format!(
                "- {condition}: {what} against the Python client: not measured\n"
            )),
        }
    }
    if let Some(hf_hub) = results.iter().find(|r| r.label == HF_HUB_LABEL) {
        for (what, ours, theirs) in [
            ("first upload", &ours.first, &hf_hub.first),
            ("re-upload", &ours.again, &hf_hub.again),
        ] {
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                out.push_str(&format!(
                    "- {condition}: {what} against {HF_HUB_LABEL}: {:.2} x ({:.2} s against {:.2} s)\n",
                    ours.wall_secs / theirs.wall_secs,
                    ours.wall_secs,
                    theirs.wall_secs
                ));
            }
        }
    }
    let mut sent = ours.sent.clone();
    sent.sort_unstable();
    if let Some(median) = sent.get(sent.len() / 2) {
        let share = *median as f64 * 100.0 / size as f64;
        out.push_str(&format!(
            "- {condition}: re-upload sends <= 2 % of the file: {share:.2} %: {}\n",
            verdict(share <= 2.0)
        ));
    }
    let rss = [&ours.first, &ours.again]
        .iter()
        .filter_map(|s| s.as_ref().ok().and_then(|s| s.peak_rss_mb))
        .fold(None, |max: Option<f64>, r| Some(max.map_or(r, |m| m.max(r))));
    if let Some(rss) = rss {
        out.push_str(&format!(
            "- {condition}: peak RSS <= 100 MB: {rss:.1} MB: {}\n",
            verdict(rss <= 100.0)
        ));
    }
    out
}

/// `python -c` this, then the repo id and the local path: create the repo, then
/// `upload_file` (Xet on: `hf_xet` is installed and HF_HUB_DISABLE_XET unset).
const PYTHON_UPLOAD: &str = "\
import os, sys
from huggingface_hub import HfApi
repo, path = sys.argv[1], sys.argv[2]
api = HfApi()
api.create_repo(repo, exist_ok=True)
api.upload_file(repo_id=repo, path_or_fileobj=path, path_in_repo=os.path.basename(path))
";
