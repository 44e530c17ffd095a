//! The Xet case of `cargo xtask bench download`: the large file stored through Xet on a
//! loopback emulator, fetched by `huggingface-cli download` with Xet on and with
//! `HF_HUB_DISABLE_XET=1` (the plain-HTTP bridge), by the Python client with `hf_xet` (Xet
//! on) and by hf-hub 1.0 (whichever way it goes, read from the emulator's counters). Then a
//! new revision of the file sharing about 90 % of its chunks with the first: the xorb bytes
//! each Xet client fetches for it with the first revision in its cache.
//!
//! The timed download runs on loopback, then WAN-like (the emulator's round trips and
//! per-connection cap of the download benchmark's WAN condition). Each run has a fresh
//! `HF_HOME`, so that no chunk index of an earlier run helps.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use hub_emulator::http::NetworkConditions;
use hub_emulator::{Emulator, EmulatorConfig, SeedRepo, XetStats};

use super::RUNS;
use super::measure::{Invocation, Sample, Stats, run_once};
use super::remove_dir;
use super::report::{against_python_line, format_table};
use super::workloads::{Scale, human_size, pseudo_random};

/// The repo and the file in it.
const REPO: &str = "bench/xet-file";
const FILE: &str = "model.bin";
/// Chunks of 64 KiB, 128 to a xorb (8 MiB xorbs): a new revision that changes a tenth of
/// the xorbs changes a tenth of the file.
const CHUNK_LEN: usize = 64 << 10;
const CHUNKS_PER_XORB: usize = 128;

/// A client of the timed download.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Ours,
    OursBridge,
    Python,
    HfHub,
}

impl Client {
    const ALL: [Client; 4] = [Client::Ours, Client::OursBridge, Client::Python, Client::HfHub];

    fn label(self) -> &'static str {
        match self {
            Client::Ours => "huggingface-cli (Xet)",
            Client::OursBridge => "huggingface-cli, HF_HUB_DISABLE_XET=1",
            Client::Python => "python huggingface_hub + hf_xet",
            Client::HfHub => "hf-hub 1.0",
        }
    }
}

/// What the case needs of the download benchmark.
pub(crate) struct XetDownload<'a> {
    pub(crate) scratch: &'a Path,
    pub(crate) size: u64,
    pub(crate) cli: &'a Path,
    pub(crate) python: Option<&'a Path>,
    pub(crate) hf_hub: Option<&'a Path>,
}

impl<'a> XetDownload<'a> {
    pub(crate) fn new(
        scratch: &'a Path,
        scale: Scale,
        cli: &'a Path,
        python: Option<&'a Path>,
        hf_hub: Option<&'a Path>,
    ) -> Self {
        XetDownload {
            scratch,
            size: scale.large_file,
            cli,
            python,
            hf_hub,
        }
    }
}

/// One client's timed runs.
struct Timed {
    client: Client,
    samples: Vec<Sample>,
    /// How its bytes came: Xet xorb bytes and bridge bytes served, per run.
    served: Vec<(u64, u64)>,
    failure: Option<String>,
}

/// Runs the case and returns its report.
pub(crate) fn run(case: &XetDownload<'_>, gnu_time: bool) -> Result<String> {
    let hub_root = case.scratch.join("download-xet-hub");
    remove_dir(&hub_root)?;
    let emulator = Emulator::start(EmulatorConfig::new(&hub_root)).context("failed to start the emulator")?;
    eprintln!("\n== Xet: seeding a {} file stored through Xet", human_size(case.size));
    let size = usize::try_from(case.size).context("the file does not fit in memory")?;
    let mut content = pseudo_random(size, 31);
    let repo = SeedRepo::model(REPO);
    emulator
        .seed_xet_file(&repo, FILE, &content, CHUNK_LEN, CHUNKS_PER_XORB)
        .context("failed to seed the Xet file")?;
    let first = emulator
        .resolve_revision("model", REPO, "main")
        .context("failed to resolve the Xet repo")?;
    // Every tenth xorb of the second revision is new; the others are the first's.
    let xorb_len = CHUNK_LEN * CHUNKS_PER_XORB;
    let mut changed = 0u64;
    for (i, xorb) in content.chunks_mut(xorb_len).enumerate() {
        if i % 10 == 5 {
            for byte in xorb.iter_mut() {
                *byte = !*byte;
            }
            changed += xorb.len() as u64;
        }
    }
    emulator
        .seed_xet_file(&repo, FILE, &content, CHUNK_LEN, CHUNKS_PER_XORB)
        .context("failed to seed the second revision")?;
    drop(content);
    let second = emulator
        .resolve_revision("model", REPO, "main")
        .context("failed to resolve the Xet repo")?;

    let run_dir = case.scratch.join("download-xet-run");
    let mut conditions = Vec::new();
    for (label, network) in [
        ("loopback", NetworkConditions::default()),
        ("WAN-like", NetworkConditions::wan()),
    ] {
        emulator.set_network_conditions(network);
        eprintln!("== Xet: 1 x {} {label}", human_size(case.size));
        let timed = timed_runs(case, &emulator, &run_dir, &first, gnu_time)?;
        conditions.push((label, timed));
    }
    emulator.set_network_conditions(NetworkConditions::default());

    eprintln!("== Xet: a new revision sharing 90 % of its chunks with the cached first one");
    let mut revisions = Vec::new();
    for client in [Client::Ours, Client::Python] {
        revisions.push((client, new_revision(client, case, &emulator, &run_dir, &first, &second)));
    }
    remove_dir(&run_dir)?;
    drop(emulator);
    remove_dir(&hub_root)?;
    Ok(render(&conditions, &revisions, case.size, changed))
}

/// Every client's timed runs of the first revision.
fn timed_runs(
    case: &XetDownload<'_>,
    emulator: &Emulator,
    run_dir: &Path,
    first: &str,
    gnu_time: bool,
) -> Result<Vec<Timed>> {
    let mut timed: Vec<Timed> = Client::ALL
        .iter()
        .map(|&client| Timed {
            client,
            samples: Vec::new(),
            served: Vec::new(),
            failure: None,
        })
        .collect();
    for run in 1..=RUNS {
        for entry in timed.iter_mut() {
            if entry.failure.is_some() {
                continue;
            }
            let Some(invocation) = invocation(entry.client, case, &emulator.endpoint(), run_dir, first) else {
                entry.failure = Some("not available".into());
                continue;
            };
            remove_dir(run_dir)?;
            std::fs::create_dir_all(run_dir).with_context(|| format!("failed to create {}", run_dir.display()))?;
            let _ = Command::new("sync").status();
            let before = emulator.xet_stats();
            let outcome = run_once(&invocation, run_dir, gnu_time);
            let after = emulator.xet_stats();
            match outcome {
                Ok(sample) => {
                    let served = served(&before, &after);
                    eprintln!(
                        "  {:<40} run {run}/{RUNS}: {:6.2} s, xorb bytes {}, bridge bytes {}",
                        entry.client.label(),
                        sample.wall.as_secs_f64(),
                        human_size(served.0),
                        human_size(served.1)
                    );
                    entry.samples.push(sample);
                    entry.served.push(served);
                }
                Err(err) => {
                    eprintln!("  {} run {run}: failed: {err:#}", entry.client.label());
                    entry.failure = Some(format!("{err:#}"));
                }
            }
        }
    }
    Ok(timed)
}

/// Xorb bytes and bridge bytes served between two readings.
fn served(before: &XetStats, after: &XetStats) -> (u64, u64) {
    (
        after.xorb_bytes_served - before.xorb_bytes_served,
        after.bridge_bytes_served - before.bridge_bytes_served,
    )
}

/// The first revision fetched, then the second with the same `HF_HOME`: the xorb bytes the
/// second fetched.
fn new_revision(
    client: Client,
    case: &XetDownload<'_>,
    emulator: &Emulator,
    run_dir: &Path,
    first: &str,
    second: &str,
) -> Result<u64, String> {
    let endpoint = emulator.endpoint();
    let (Some(first), Some(second)) = (
        invocation(client, case, &endpoint, run_dir, first),
        invocation(client, case, &endpoint, run_dir, second),
    ) else {
        return Err("not available".into());
    };
    remove_dir(run_dir).map_err(|e| format!("{e:#}"))?;
    std::fs::create_dir_all(run_dir).map_err(|e| format!("failed to create {}: {e}", run_dir.display()))?;
    run_once(&first, run_dir, false).map_err(|e| format!("{e:#}"))?;
    let before = emulator.xet_stats();
    run_once(&second, run_dir, false).map_err(|e| format!("{e:#}"))?;
    let (xorb, bridge) = served(&before, &emulator.xet_stats());
    eprintln!(
        "  {:<40} new revision: xorb bytes {}, bridge bytes {}",
        client.label(),
        human_size(xorb),
        human_size(bridge)
    );
    match bridge {
        0 => Ok(xorb),
        _ => Err(format!("{} came over the bridge, not through Xet", human_size(bridge))),
    }
}

/// How `client` fetches the file at `revision` into `run_dir` (its `HF_HOME`).
fn invocation(
    client: Client,
    case: &XetDownload<'_>,
    endpoint: &str,
    run_dir: &Path,
    revision: &str,
) -> Option<Invocation> {
    let invocation = match client {
        Client::Ours | Client::OursBridge => {
            let invocation =
                Invocation::new(case.cli).args(["download", REPO, FILE, "--revision", revision, "--quiet"]);
            match client {
                Client::OursBridge => invocation.env("HF_HUB_DISABLE_XET", "1"),
                _ => invocation,
            }
        }
        Client::Python => Invocation::new(case.python?).args(["-c", PYTHON_FETCH, REPO, FILE, revision]),
        Client::HfHub => Invocation::new(case.hf_hub?)
            .arg("--endpoint")
            .arg(endpoint)
            .arg("--cache-dir")
            .arg(PathBuf::from(run_dir).join("hub"))
            .args([REPO, FILE]),
    };
    Some(
        invocation
            .env("HF_HOME", run_dir)
            .env("HF_ENDPOINT", endpoint)
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1"),
    )
}

fn render(
    conditions: &[(&str, Vec<Timed>)],
    revisions: &[(Client, Result<u64, String>)],
    size: u64,
    changed: u64,
) -> String {
    let mut out = String::new();
    let mut medians: Vec<(&str, Client, Stats)> = Vec::new();
    for (label, timed) in conditions {
        let mut table = vec![
            ["tool", "wall s", "MB/s", "CPU s", "RSS MB", "went through"]
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        ];
        for entry in timed {
            let mut cells = vec![entry.client.label().to_string()];
            match (&entry.failure, Stats::of(&entry.samples)) {
                (None, Some(stats)) => {
                    let xorb: u64 = entry.served.iter().map(|s| s.0).sum();
                    let bridge: u64 = entry.served.iter().map(|s| s.1).sum();
                    let path = match (xorb, bridge) {
                        (0, 0) => "plain HTTP (LFS)",
                        (_, 0) => "Xet",
                        (0, _) => "bridge",
                        _ => "Xet and bridge",
                    };
                    cells.extend([
                        format!("{:.2}", stats.wall_secs),
                        format!("{:.0}", size as f64 / 1e6 / stats.wall_secs),
                        stats.cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                        stats.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                        path.to_string(),
                    ]);
                    medians.push((label, entry.client, stats));
                }
                (Some(why), _) => cells.push(format!("failed: {why}")),
                (None, None) => cells.push("no runs".into()),
            }
            table.push(cells);
        }
        out.push_str(&format!(
            "\nXet: 1 x {} stored through Xet, {label} (median of {RUNS} runs)\n",
            human_size(size)
        ));
        out.push_str(&format_table(&table));
    }

    let mut table = vec![
        ["tool", "xorb bytes fetched", "% of file"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    ];
    for (client, result) in revisions {
        let mut cells = vec![client.label().to_string()];
        match result {
            Ok(bytes) => cells.extend([
                format!("{:.2} MB", *bytes as f64 / 1e6),
                format!("{:.1} %", *bytes as f64 * 100.0 / size as f64),
            ]),
            Err(why) => cells.push(format!("failed: {why}")),
        }
        table.push(cells);
    }
    out.push_str(&format!(
        "\nXet: a new revision of that file, {} of it changed ({:.0} %), the first revision cached\n",
        human_size(changed),
        changed as f64 * 100.0 / size as f64
    ));
    out.push_str(&format_table(&table));

    out.push_str("\nXet targets\n");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    for (label, _) in conditions {
        let stats_of = |client: Client| {
            medians
                .iter()
                .find(|(l, c, _)| l == label && *c == client)
                .map(|(_, _, s)| s)
        };
        match (stats_of(Client::Ours), stats_of(Client::Python)) {
            (Some(ours), Some(python)) => out.push_str(&against_python_line(
                &format!("Xet download, {label},"),
                ours.wall_secs,
                python.wall_secs,
            )),
            _ => out.push_str(&format!(
                "- Xet download, {label}, <= 1.0 x the Python client with hf_xet: not measured\n"
            )),
        }
        match stats_of(Client::Ours).and_then(|s| s.peak_rss_mb) {
            Some(rss) => out.push_str(&format!(
                "- peak RSS, {label}, <= 100 MB: {rss:.1} MB: {}\n",
                verdict(rss <= 100.0)
            )),
            None => out.push_str(&format!("- peak RSS, {label}, <= 100 MB: not measured (no GNU time)\n")),
        }
    }
    match revisions.iter().find(|(c, _)| *c == Client::Ours) {
        Some((_, Ok(bytes))) => {
            let share = *bytes as f64 * 100.0 / size as f64;
            out.push_str(&format!(
                "- new revision bytes fetched <= 15 % of the file: {share:.1} %: {}\n",
                verdict(share <= 15.0)
            ));
        }
        _ => out.push_str("- new revision bytes fetched <= 15 % of the file: not measured\n"),
    }
    let wan = NetworkConditions::wan();
    out.push_str(&format!(
        "- each run: a fresh HF_HOME (no chunk index of an earlier run); `went through` is read from the \
         emulator's counters (xorb bytes served against bytes of Xet files served whole by the bridge); \
         WAN-like: {} ms before every response and once per new connection, {} MB/s per connection\n",
        wan.latency.as_millis(),
        wan.per_connection_bytes_per_sec.unwrap_or(0) / 1_000_000
    ));
    out
}

/// `python -c` this, then the repo id, the file and the revision: `hf_hub_download` with
/// Xet on (`hf_xet` installed, HF_HUB_DISABLE_XET unset).
const PYTHON_FETCH: &str = "\
import sys
from huggingface_hub import hf_hub_download
hf_hub_download(sys.argv[1], sys.argv[2], revision=sys.argv[3])
";
