//! `cargo xtask bench download [--quick]`: how fast `huggingface-cli download`
//! is next to curl, aria2c and the Python client, on the bundled emulator.
//! `cargo xtask bench upload [--quick]`: the same for `huggingface-cli upload`
//! (see [`upload`]).
//!
//! The emulator runs in this process (release build) over a scratch folder in
//! `target/bench/`, seeded once per scale with three workloads: one large LFS
//! file, many small files, and a model-like repo. Each client fetches each
//! workload [`RUNS`] times under two network conditions, loopback and WAN-like
//! (20 ms round trips, 180 MB/s per connection), into a fresh cache or folder
//! each run; the medians are judged against the targets. Never part of
//! `cargo test`.

mod git_push;
mod keep_alive;
mod measure;
mod nginx;
mod report;
mod results;
mod self_check;
mod targets;
mod tools;
mod upload;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use hub_emulator::http::NetworkConditions;
use hub_emulator::{Emulator, EmulatorConfig};

use crate::ci::python_client_venv;
use crate::workspace::{cargo, run_command, target_dir};
use measure::{GNU_TIME, Invocation, Sample, Stats, bytes_under, run_once};
use results::{Outcome, Results, Row, SelfCheck};
use targets::Condition;
use tools::{Clients, Tool, file_urls, invocation, redirect_target};
use workloads::{PROBE_LFS, PROBE_REGULAR, PROBE_REPO, Scale, Workload, WorkloadKind, human_size, seed_once};

/// Runs of each client on each workload and condition; the median is reported.
const RUNS: usize = 3;

pub(crate) fn run(args: &[String]) -> Result<()> {
    let (what, quick) = match args {
        [what] => (what.as_str(), false),
        [what, flag] if flag == "--quick" => (what.as_str(), true),
        _ => bail!("usage: cargo xtask bench <download|upload> [--quick]"),
    };
    if what != "download" && what != "upload" {
        bail!("usage: cargo xtask bench <download|upload> [--quick]");
    }
    if cfg!(debug_assertions) {
        // The emulator runs in this process: it must not be a debug build.
        run_command(cargo().args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "huggingface-cli",
            "--package",
            "xtask",
        ]))?;
        let release = target_dir().join("release").join("xtask");
        return run_command(Command::new(release).arg("bench").args(args));
    }
    if what == "upload" {
        return upload::run(quick);
    }
    download(Scale::new(quick))
}

fn download(scale: Scale) -> Result<()> {
    let scratch = target_dir().join("bench");
    std::fs::create_dir_all(&scratch).with_context(|| format!("failed to create {}", scratch.display()))?;
    let disk = check_disk(&scratch, scale)?;
    let (small_files_root, runs_note) = small_files_folder(&scratch);
    let load_before = load_average();
    let mut notes = vec![disk, runs_note];

    let mut installed = Vec::new();
    let gnu_time = ensure_installed(GNU_TIME, "time", &mut installed);
    let aria2c = ensure_installed("aria2c", "aria2", &mut installed);
    let nginx = ensure_installed("nginx", "nginx", &mut installed);
    let wrk = ensure_installed("wrk", "wrk", &mut installed);
    if !ensure_installed("curl", "curl", &mut installed) {
        bail!("curl is needed: install it and run again");
    }
    let (python, cli) = prepare_clients(&installed, &mut notes)?;

    let workloads = workloads::workloads(scale);
    let mode = if scale.quick { "quick" } else { "full" };
    let hub_root = scratch.join(format!("hub-{mode}"));
    let loopback = Emulator::start(EmulatorConfig::new(&hub_root)).context("failed to start the emulator")?;
    seed_once(&loopback, scale, &workloads, &scratch.join(format!("data-{mode}")))?;
    let commits = workloads
        .iter()
        .map(|w| loopback.resolve_revision("model", &w.repo_id, "main"))
        .collect::<Result<Vec<_>, _>>()
        .context("failed to resolve the seeded repos")?;

    eprintln!("\n== self-check");
    let self_check = self_check(&loopback, &workloads, &cli, &scratch, nginx, wrk)?;

    let mut results = Results {
        rows: Vec::new(),
        self_check,
    };
    let mut loopback = Some(loopback);
    for condition in Condition::ALL {
        let emulator = match condition {
            Condition::Loopback => loopback.take().context("the loopback emulator is gone")?,
            Condition::Wan => {
                let wan = NetworkConditions::wan();
                let mut config = EmulatorConfig::new(&hub_root);
                config.latency = wan.latency;
                config.per_connection_bytes_per_sec = wan.per_connection_bytes_per_sec;
                Emulator::start(config).context("failed to start the WAN-like emulator")?
            }
        };
        let clients = Clients {
            cli: cli.clone(),
            python: python.clone(),
            aria2c,
            endpoint: emulator.endpoint(),
        };
        for (workload, commit) in workloads.iter().zip(&commits) {
            eprintln!("\n== {}: {} ({})", condition.label(), workload.label, workload.repo_id);
            let urls = file_urls(&clients.endpoint, workload, commit)?;
            tools::warm_up(&urls, &scratch)?;
            for &tool in Tool::for_workload(workload.kind) {
                let runs_root = match workload.kind {
                    WorkloadKind::SmallFiles => &small_files_root,
                    _ => &scratch,
                };
                let outcome = measure_tool(tool, &clients, workload, &urls, (runs_root, &scratch), gnu_time)?;
                results.rows.push(Row {
                    condition,
                    workload: workload.kind,
                    workload_label: workload.label.clone(),
                    bytes: workload.total_bytes(),
                    tool,
                    outcome,
                });
            }
        }
        drop(emulator);
    }
    if small_files_root != scratch {
        let _ = std::fs::remove_dir_all(&small_files_root);
    }

    notes.extend(standing_notes(&results, &workloads));
    notes.push(format!(
        "load average (1, 5, 15 min) before: {load_before}, after: {}; other work on this machine \
         during the run shows up in the figures",
        load_average()
    ));
    let verdicts = targets::judge(&results);
    println!(
        "\ncargo xtask bench download{}: median of {RUNS} runs\n",
        if scale.quick { " --quick" } else { "" }
    );
    print!("{}", report::render(&results, &verdicts, &notes));
    Ok(())
}

/// The emulator against nginx, keep-alive request rate, CLI start-up, sha256 speed.
fn self_check(
    emulator: &Emulator,
    workloads: &[Workload],
    cli: &Path,
    scratch: &Path,
    nginx: bool,
    wrk: bool,
) -> Result<SelfCheck> {
    let endpoint = emulator.endpoint();
    let large = workloads
        .iter()
        .find(|w| w.kind == WorkloadKind::LargeFile)
        .context("no large-file workload")?;
    let file = &large.files[0];
    let cdn_url = redirect_target(&format!("{endpoint}/{}/resolve/main/{}", large.repo_id, file.path))?;
    let emulator_secs = self_check::curl_to_null_secs(&cdn_url, file.size)?;
    eprintln!(
        "emulator -> curl -o /dev/null: {:.2} s, {:.0} MB/s",
        emulator_secs,
        file.size as f64 / 1e6 / emulator_secs
    );
    let nginx_secs = if nginx {
        let oid = cdn_url
            .split("/cdn/lfs/")
            .nth(1)
            .and_then(|rest| rest.split('?').next())
            .context("unexpected CDN URL")?;
        self_check::nginx_secs(&emulator.lfs_object_path(oid), &scratch.join("nginx"), file.size)
            .map_err(|e| format!("{e:#}"))
    } else {
        Err("nginx is not installed".into())
    };
    if let Ok(secs) = &nginx_secs {
        eprintln!(
            "nginx -> curl -o /dev/null: {secs:.2} s, {:.0} MB/s",
            file.size as f64 / 1e6 / secs
        );
    }

    let probe_cdn = redirect_target(&format!("{endpoint}/{PROBE_REPO}/resolve/main/{PROBE_LFS}"))?;
    let probe_commit = emulator.resolve_revision("model", PROBE_REPO, "main")?;
    let probe_resolve = format!("{endpoint}/{PROBE_REPO}/resolve/{probe_commit}/{PROBE_REGULAR}");
    let keep_alive_cdn = self_check::keep_alive_rate(&probe_cdn, wrk).map_err(|e| format!("{e:#}"));
    let keep_alive_resolve = self_check::keep_alive_rate(&probe_resolve, wrk).map_err(|e| format!("{e:#}"));
    for (what, rate) in [("CDN", &keep_alive_cdn), ("resolve", &keep_alive_resolve)] {
        match rate {
            Ok((rate, tool)) => eprintln!("keep-alive {what} 4 KiB: {rate:.0} requests/s ({tool})"),
            Err(e) => eprintln!("keep-alive {what}: failed: {e}"),
        }
    }

    let version = self_check::version_time(cli)?;
    eprintln!(
        "huggingface-cli --version: {:.2} ms (median of 20)",
        version.as_secs_f64() * 1e3
    );

    let mut hash_secs = Vec::new();
    for workload in workloads.iter().filter(|w| w.lfs_bytes() > 0) {
        let secs = self_check::sha256_secs(workload.lfs_bytes());
        eprintln!(
            "sha256 from memory, {}: {secs:.2} s ({:.0} MB/s)",
            human_size(workload.lfs_bytes()),
            workload.lfs_bytes() as f64 / 1e6 / secs
        );
        hash_secs.push((workload.kind, secs));
    }
    let write_secs = self_check::write_secs(scratch, file.size).map_err(|e| format!("{e:#}"));
    match &write_secs {
        Ok(secs) => eprintln!(
            "one thread writing {} into a new file in {}: {secs:.2} s ({:.0} MB/s)",
            human_size(file.size),
            scratch.display(),
            file.size as f64 / 1e6 / secs
        ),
        Err(e) => eprintln!("write floor: failed: {e}"),
    }
    Ok(SelfCheck {
        serve_bytes: file.size,
        emulator_secs: Some(emulator_secs),
        nginx_secs,
        keep_alive_cdn,
        keep_alive_resolve,
        version: Some(version),
        hash_secs,
        write_secs,
    })
}

/// [`RUNS`] runs of `tool` on `workload`, each into an empty folder under
/// `runs_root` removed afterwards; `scratch` keeps curl's URL lists.
fn measure_tool(
    tool: Tool,
    clients: &Clients,
    workload: &Workload,
    urls: &[tools::FileUrl],
    (runs_root, scratch): (&Path, &Path),
    gnu_time: bool,
) -> Result<Outcome> {
    let run_dir = runs_root.join("run");
    let out_dir = run_dir.join("out");
    let mut samples: Vec<Sample> = Vec::with_capacity(RUNS);
    for run in 1..=RUNS {
        remove_dir(&run_dir)?;
        std::fs::create_dir_all(&out_dir).with_context(|| format!("failed to create {}", out_dir.display()))?;
        let Some(invocation) = invocation(tool, clients, workload, urls, &out_dir, scratch)? else {
            return Ok(Outcome::Skipped("not installed".into()));
        };
        let sample = run_once(&invocation, &run_dir, gnu_time);
        let fetched = bytes_under(&out_dir);
        remove_dir(&run_dir)?;
        let sample = match sample {
            Ok(sample) if fetched >= workload.total_bytes() => sample,
            Ok(_) => {
                let why = format!(
                    "fetched {fetched} of {} bytes with `{}`",
                    workload.total_bytes(),
                    short(&invocation)
                );
                eprintln!("  {}: {why}", tool.label());
                return Ok(Outcome::Failed(why));
            }
            Err(e) => {
                eprintln!("  {}: {e:#}", tool.label());
                return Ok(Outcome::Failed(format!("{e:#}")));
            }
        };
        eprintln!(
            "  {:<24} run {run}/{RUNS}: {:7.2} s {:6.0} MB/s",
            tool.label(),
            sample.wall.as_secs_f64(),
            workload.total_bytes() as f64 / 1e6 / sample.wall.as_secs_f64()
        );
        samples.push(sample);
    }
    Ok(Stats::of(&samples).map_or_else(|| Outcome::Failed("no runs".into()), Outcome::Measured))
}

/// A command line cut short, for messages (curl's URL lists are long).
fn short(invocation: &Invocation) -> String {
    let text = invocation.describe();
    match text.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("failed to remove {}", dir.display())),
    }
}

/// Free space where the scratch folder is: enough for the stores, the
/// generated sources while seeding, and one run's output.
fn check_disk(scratch: &Path, scale: Scale) -> Result<String> {
    let Some((fstype, avail)) = free_space(scratch) else {
        return Ok(format!("scratch folder {} (free space unknown)", scratch.display()));
    };
    let data = scale.large_file + 5 * scale.shard;
    let needed = 2 * data + data / 2;
    if avail < needed {
        bail!(
            "{} ({fstype}) has {} free, the benchmark needs about {}: free some space or set CARGO_TARGET_DIR",
            scratch.display(),
            human_size(avail),
            human_size(needed)
        );
    }
    Ok(format!(
        "scratch folder {} on {fstype} ({:.0} GB free)",
        scratch.display(),
        avail as f64 / 1e9
    ))
}

/// Where the clients write the many small files: a memory file system when
/// there is one. On ext4, creating files is slow for minutes after thousands
/// were deleted (its check for recently deleted inodes scans them), so each
/// small-files run would pay for the clean-up of the run before it, whichever
/// client that was. A memory file system keeps no such state between runs.
/// Large files stay on disk, where users keep them.
fn small_files_folder(scratch: &Path) -> (PathBuf, String) {
    let shm = Path::new("/dev/shm");
    match free_space(shm) {
        Some((fstype, avail)) if fstype == "tmpfs" && avail >= 1 << 30 => (
            shm.join(format!("hub-bench-{}", std::process::id())),
            format!(
                "clients write the small-files workload into {} (tmpfs), so that no run pays for the file \
                 deletions of the one before; the other workloads go to the scratch folder",
                shm.display()
            ),
        ),
        _ => (
            scratch.to_path_buf(),
            format!(
                "every workload is written into {} (no tmpfs with 1 GiB free): small-file runs on ext4 \
                 also measure the clean-up of the run before",
                scratch.display()
            ),
        ),
    }
}

/// The file system type and free bytes where `path` is, from `df`.
fn free_space(path: &Path) -> Option<(String, u64)> {
    let out = Command::new("df")
        .args(["-B1", "--output=fstype,avail"])
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.lines().nth(1)?.split_whitespace();
    Some((fields.next()?.to_string(), fields.next()?.parse().ok()?))
}

/// Whether `binary` (a name on `PATH` or an absolute path) is there, installing
/// `package` with apt-get when it is not and apt-get is.
fn ensure_installed(binary: &str, package: &str, installed: &mut Vec<String>) -> bool {
    if on_path(binary) {
        return true;
    }
    if !on_path("apt-get") {
        eprintln!("{binary} is not installed: its part of the benchmark is skipped");
        return false;
    }
    eprintln!("installing {package} with apt-get (for {binary})");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", package])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        let _ = install();
    }
    let found = on_path(binary);
    if found {
        installed.push(package.to_string());
    } else {
        eprintln!("{package} could not be installed: the parts needing {binary} are skipped");
    }
    found
}

fn on_path(binary: &str) -> bool {
    let path = Path::new(binary);
    if path.is_absolute() {
        return path.is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
}

/// The Python client: `HUB_TEST_PYTHON` or the workspace's `.venv`, if it imports.
/// Notes what was installed and which Python client runs, and builds the
/// release CLI: returns the Python client (if any) and the CLI's path.
pub(crate) fn prepare_clients(installed: &[String], notes: &mut Vec<String>) -> Result<(Option<PathBuf>, PathBuf)> {
    if !installed.is_empty() {
        notes.push(format!(
            "installed with apt-get for this benchmark: {}",
            installed.join(", ")
        ));
    }
    let python = python_client();
    notes.push(match &python {
        Some(python) => format!(
            "Python client: {} (huggingface_hub, HF_HUB_DISABLE_XET=1)",
            python.display()
        ),
        None => "Python client: not available (set HUB_TEST_PYTHON), its rows are skipped".into(),
    });
    run_command(cargo().args(["build", "--release", "--quiet", "--package", "huggingface-cli"]))?;
    Ok((python, target_dir().join("release").join("huggingface-cli")))
}

fn python_client() -> Option<PathBuf> {
    let python = std::env::var_os("HUB_TEST_PYTHON")
        .map(PathBuf::from)
        .or_else(|| Some(crate::workspace::root().join(".venv").join("bin").join("python")))
        .filter(|p| p.is_file())
        .or_else(|| python_client_venv().ok())?;
    Command::new(&python)
        .args(["-c", "import huggingface_hub"])
        .status()
        .is_ok_and(|s| s.success())
        .then_some(python)
}

/// `/proc/loadavg`'s first three fields, or `unknown`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// What every reader of the figures must know.
fn standing_notes(results: &Results, workloads: &[Workload]) -> Vec<String> {
    let wan = NetworkConditions::wan();
    let mut notes = vec![
        "cold client cache each run: a fresh HF_HOME (or output folder for curl and aria2c), removed after; \
         the OS page cache is not dropped, and curl fetches every file of a workload once into /dev/null \
         before the first client is measured, so the emulator's files and caches are hot for every client"
            .to_string(),
        format!(
            "WAN-like: {} ms before every response and once per new connection, {} MB/s per connection",
            wan.latency.as_millis(),
            wan.per_connection_bytes_per_sec.unwrap_or(0) / 1_000_000
        ),
        "curl and aria2c fetch LFS files from their CDN URLs (the resolve redirect followed once beforehand); \
         our CLI and the Python client start from the repo id and revision main"
            .to_string(),
        "huggingface-cli verifies every LFS file's sha256; `huggingface-cli --no-verify` (a hidden \
         switch) checks sizes only, for the targets set for a client that does not verify; both use \
         the CLI's defaults (16 files at once, 8 connections and 32 MiB ranges for a large file)"
            .to_string(),
        "ratio `vs ref` = wall time / the wall time of the tool the issue's target names for that workload and condition"
            .to_string(),
    ];
    for (kind, secs) in &results.self_check.hash_secs {
        if let Some(workload) = workloads.iter().find(|w| w.kind == *kind) {
            notes.push(format!(
                "sha256 from memory (sha2 crate, release, one thread) over {}: {secs:.2} s, {:.0} MB/s",
                human_size(workload.lfs_bytes()),
                workload.lfs_bytes() as f64 / 1e6 / secs
            ));
        }
    }
    if let Ok(secs) = &results.self_check.write_secs {
        notes.push(format!(
            "one thread writing the large file's bytes into a new file in the scratch folder (128 KiB writes, \
             no hashing, no network): {secs:.2} s, {:.0} MB/s; every client pays at least this, hashing \
             from memory does not",
            results.self_check.serve_bytes as f64 / 1e6 / secs
        ));
    }
    if let Some(curl) = results.stats(Condition::Wan, WorkloadKind::LargeFile, Tool::CurlOne)
        && let Some(large) = workloads.iter().find(|w| w.kind == WorkloadKind::LargeFile)
    {
        notes.push(format!(
            "WAN-like cap check: curl -o over one connection got {:.0} MB/s for a cap of {} MB/s",
            large.total_bytes() as f64 / 1e6 / curl.wall_secs,
            wan.per_connection_bytes_per_sec.unwrap_or(0) / 1_000_000
        ));
    }
    notes
}
