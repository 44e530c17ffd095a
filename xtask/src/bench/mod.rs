//! `cargo xtask bench download [--quick] [--only loopback|tls|wan]`: how fast
//! `huggingface-cli download` is next to curl, aria2c, the Python client and the
//! hf-hub crate, on the bundled emulator (`--only` runs one network condition).
//! `cargo xtask bench upload [--quick]`: the same for `huggingface-cli upload`
//! (see [`upload`]); `cargo xtask bench upload-xet [--quick]` runs its Xet case alone.
//! After the download conditions, the large file stored through Xet (see
//! [`xet_download`]); `cargo xtask bench download-xet [--quick]` runs that case alone.
//!
//! The emulator runs in this process (release build) over a scratch folder in
//! `target/bench/`, seeded once per scale with three workloads: one large LFS
//! file, many small files, and a model-like repo. Each client fetches each
//! workload [`RUNS`] times under three network conditions, loopback, loopback
//! over HTTPS (a test CA made for the run) and WAN-like (20 ms round trips,
//! 180 MB/s per connection), into a fresh cache or folder each run; the
//! medians are judged against the targets. Never part of `cargo test`.

mod git_push;
mod hf_hub;
mod keep_alive;
mod measure;
mod nginx;
mod page_reporting;
mod proactive_reclaim;
mod report;
mod results;
mod self_check;
mod targets;
mod tools;
mod upload;
mod workloads;
mod xet_download;
mod xet_upload;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use hub_emulator::http::{NetworkConditions, TlsIdentity};
use hub_emulator::tls::TestCa;
use hub_emulator::{Emulator, EmulatorConfig};

use crate::ci::python_client_venv;
use crate::workspace::{cargo, run_command, target_dir};
use measure::{GNU_TIME, Invocation, MachineCpu, Sample, Stats, run_once, steal_note};
use results::{Outcome, Results, Row, SelfCheck, Served};
use targets::Condition;
use tools::{Clients, Tool, file_urls, invocation, output_path, redirect_target};
use workloads::{PROBE_LFS, PROBE_REGULAR, PROBE_REPO, Scale, Workload, WorkloadKind, human_size, seed_once};
use xet_download::XetDownload;

/// Runs of each client on each workload and condition; the median is reported.
const RUNS: usize = 3;

/// The most runs `--runs` takes.
const MAX_RUNS: usize = 25;

const USAGE: &str = "usage: cargo xtask bench <download|download-xet|upload|upload-xet> [--quick] \
                     [--only loopback|tls|wan (download only)] [--runs N (download only, default 3)]";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some((what, flags)) = args.split_first() else {
        bail!(USAGE);
    };
    let what = what.as_str();
    if !["download", "download-xet", "upload", "upload-xet"].contains(&what) {
        bail!(USAGE);
    }
    let mut quick = false;
    let mut only = None;
    let mut runs = RUNS;
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--quick" => quick = true,
            "--only" if what == "download" => {
                let name = flags.next().map(String::as_str).unwrap_or_default();
                only = Some(Condition::named(name).with_context(|| format!("--only {name:?}: {USAGE}"))?);
            }
            "--runs" if what == "download" => {
                let text = flags.next().map(String::as_str).unwrap_or_default();
                runs = parse_runs(text).with_context(|| format!("--runs {text:?}: {USAGE}"))?;
            }
            _ => bail!("unexpected argument {flag:?}: {USAGE}"),
        }
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
    if what == "upload-xet" {
        return upload::xet_alone(quick);
    }
    if what == "download-xet" {
        return download_xet_alone(Scale::new(quick));
    }
    download(Scale::new(quick), only, runs)
}

/// A number of runs from 1 to [`MAX_RUNS`].
fn parse_runs(text: &str) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(runs) if (1..=MAX_RUNS).contains(&runs) => Ok(runs),
        _ => bail!("a number of runs from 1 to {MAX_RUNS}"),
    }
}

/// The download benchmark, on every condition or on `only` that one (its targets alone are
/// judged then, and the Xet case is left out).
fn download(scale: Scale, only: Option<Condition>, runs: usize) -> Result<()> {
    let scratch = target_dir().join("bench");
    std::fs::create_dir_all(&scratch).with_context(|| format!("failed to create {}", scratch.display()))?;
    let disk = check_disk(&scratch, scale)?;
    let (small_files_root, runs_note) = small_files_folder(&scratch);
    let load_before = load_average();
    let cpu_before = MachineCpu::now();
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
    let hf_hub = match hf_hub::build_driver() {
        Ok(driver) => Some(driver),
        Err(e) => {
            eprintln!("hf-hub {}: {e:#}", hf_hub::VERSION);
            notes.push(format!(
                "hf-hub {}: the driver could not be built, its rows are skipped: {e:#}",
                hf_hub::VERSION
            ));
            None
        }
    };

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

    // Whether freed memory goes back to the hypervisor, read once for the run.
    let memory_returns = page_reporting::enabled();
    eprintln!("\n== self-check");
    let self_check = self_check(&loopback, &workloads, &cli, &scratch, nginx, wrk, memory_returns)?;

    let mut results = Results {
        rows: Vec::new(),
        self_check,
    };
    // After the self-check, whose own write floor gave memory back on purpose.
    let reported_before = page_reporting::reported_kib();
    let mut loopback = Some(loopback);
    for condition in Condition::ALL {
        if only.is_some_and(|only| only != condition) {
            continue;
        }
        let (emulator, ca_bundle) = match condition {
            Condition::Loopback => (loopback.take().context("the loopback emulator is gone")?, None),
            Condition::LoopbackTls => {
                let (config, ca_bundle) = tls_config(&hub_root, &scratch)?;
                let emulator = Emulator::start(config).context("failed to start the HTTPS emulator")?;
                (emulator, Some(ca_bundle))
            }
            Condition::Wan => {
                let wan = NetworkConditions::wan();
                let mut config = EmulatorConfig::new(&hub_root);
                config.latency = wan.latency;
                config.per_connection_bytes_per_sec = wan.per_connection_bytes_per_sec;
                let emulator = Emulator::start(config).context("failed to start the WAN-like emulator")?;
                (emulator, None)
            }
        };
        let clients = Clients {
            cli: cli.clone(),
            python: python.clone(),
            hf_hub: hf_hub.clone(),
            aria2c,
            endpoint: emulator.endpoint(),
            ca_bundle,
        };
        for (workload, commit) in workloads.iter().zip(&commits) {
            eprintln!("\n== {}: {} ({})", condition.label(), workload.label, workload.repo_id);
            let urls = file_urls(&clients.endpoint, workload, commit, clients.ca_bundle.as_deref())?;
            tools::warm_up(&urls, &scratch, clients.ca_bundle.as_deref())?;
            let run = Run {
                clients: &clients,
                workload,
                commit,
                urls: &urls,
                runs_root: match workload.kind {
                    WorkloadKind::SmallFiles => &small_files_root,
                    _ => &scratch,
                },
                scratch: &scratch,
                gnu_time,
                runs,
                reset_bytes: (memory_returns && workload.kind != WorkloadKind::SmallFiles)
                    .then(|| workload.total_bytes()),
            };
            let tools = Tool::for_workload(workload.kind);
            for (&tool, outcome) in tools.iter().zip(measure_tools(tools, &run)?) {
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
    let xet = match only {
        Some(_) => String::new(),
        None => xet_download::run(
            &XetDownload::new(&scratch, scale, &cli, python.as_deref(), hf_hub.as_deref()),
            gnu_time,
        )?,
    };

    notes.extend(standing_notes(&results, &workloads));
    notes.push(format!(
        "load average (1, 5, 15 min) before: {load_before}, after: {}; other work on this machine \
         during the run shows up in the figures",
        load_average()
    ));
    notes.push(steal_note(cpu_before));
    notes.extend(memory_returns.then(|| page_reporting::run_note(reported_before)));
    notes.extend(proactive_reclaim::note());
    let verdicts = targets::judge(&results);
    println!(
        "\ncargo xtask bench download{}: median of {runs} runs\n",
        if scale.quick { " --quick" } else { "" }
    );
    print!("{}", report::render(&results, &verdicts, &notes));
    print!("{xet}");
    Ok(())
}

/// The Xet case of the download benchmark alone, for measuring a change to Xet downloads.
fn download_xet_alone(scale: Scale) -> Result<()> {
    let scratch = target_dir().join("bench");
    std::fs::create_dir_all(&scratch).with_context(|| format!("failed to create {}", scratch.display()))?;
    let mut installed = Vec::new();
    let gnu_time = ensure_installed(GNU_TIME, "time", &mut installed);
    let mut notes = Vec::new();
    let (python, cli) = prepare_clients(&installed, &mut notes)?;
    let hf_hub = hf_hub::build_driver().ok();
    let xet = xet_download::run(
        &XetDownload::new(&scratch, scale, &cli, python.as_deref(), hf_hub.as_deref()),
        gnu_time,
    )?;
    print!("{xet}");
    Ok(())
}

/// The emulator against nginx (over HTTP and HTTPS), keep-alive request rate,
/// CLI start-up, sha256 speed.
fn self_check(
    emulator: &Emulator,
    workloads: &[Workload],
    cli: &Path,
    scratch: &Path,
    nginx: bool,
    wrk: bool,
    memory_returns: bool,
) -> Result<SelfCheck> {
    let endpoint = emulator.endpoint();
    let large = workloads
        .iter()
        .find(|w| w.kind == WorkloadKind::LargeFile)
        .context("no large-file workload")?;
    let file = &large.files[0];
    let cdn_url = redirect_target(
        &format!("{endpoint}/{}/resolve/main/{}", large.repo_id, file.path),
        None,
    )?;
    let served_plain = serve_to_curl(emulator, &cdn_url, file.size, scratch, nginx, None)?;
    // A second emulator on the same repos, serving HTTPS.
    let (https_config, ca_bundle) = tls_config(emulator.root(), scratch)?;
    let identity = https_config.tls.clone().context("no certificate in the HTTPS config")?;
    let https = Emulator::start(https_config).context("failed to start the HTTPS emulator")?;
    let https_cdn_url = redirect_target(
        &format!("{}/{}/resolve/main/{}", https.endpoint(), large.repo_id, file.path),
        Some(&ca_bundle),
    )?;
    let served_https = serve_to_curl(
        &https,
        &https_cdn_url,
        file.size,
        scratch,
        nginx,
        Some((&identity, &ca_bundle)),
    )?;
    drop(https);

    let probe_cdn = redirect_target(&format!("{endpoint}/{PROBE_REPO}/resolve/main/{PROBE_LFS}"), None)?;
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
    let write_into_returned_memory = memory_returns.then(|| {
        let measured = self_check::write_secs_into_returned_memory(scratch, file.size).map_err(|e| format!("{e:#}"));
        match &measured {
            Ok((secs, waited)) => eprintln!(
                "the same write into memory given back to the hypervisor, {waited}: {secs:.2} s ({:.0} MB/s)",
                file.size as f64 / 1e6 / secs
            ),
            Err(e) => eprintln!("write floor into returned memory: failed: {e}"),
        }
        measured
    });
    Ok(SelfCheck {
        serve_bytes: file.size,
        served_plain,
        served_https,
        keep_alive_cdn,
        keep_alive_resolve,
        version: Some(version),
        hash_secs,
        write_secs,
        write_into_returned_memory,
    })
}

/// The large file at `cdn_url` (on `emulator`) to `curl -o /dev/null`, then
/// the same bytes from nginx, over HTTPS when `tls` gives the emulator's
/// certificate and the bundle that trusts it.
fn serve_to_curl(
    emulator: &Emulator,
    cdn_url: &str,
    size: u64,
    scratch: &Path,
    nginx: bool,
    tls: Option<(&TlsIdentity, &Path)>,
) -> Result<Served> {
    let scheme = if tls.is_some() { "HTTPS" } else { "HTTP" };
    let emulator_secs = self_check::curl_to_null_secs(cdn_url, size, tls.map(|(_, ca)| ca))?;
    eprintln!(
        "emulator -> curl -o /dev/null over {scheme}: {emulator_secs:.2} s, {:.0} MB/s",
        size as f64 / 1e6 / emulator_secs
    );
    let nginx_secs = if nginx {
        let oid = cdn_url
            .split("/cdn/lfs/")
            .nth(1)
            .and_then(|rest| rest.split('?').next())
            .context("unexpected CDN URL")?;
        let dir = scratch.join(if tls.is_some() { "nginx-tls" } else { "nginx" });
        self_check::nginx_secs(&emulator.lfs_object_path(oid), &dir, size, tls).map_err(|e| format!("{e:#}"))
    } else {
        Err("nginx is not installed".into())
    };
    match &nginx_secs {
        Ok(secs) => eprintln!(
            "nginx -> curl -o /dev/null over {scheme}: {secs:.2} s, {:.0} MB/s",
            size as f64 / 1e6 / secs
        ),
        Err(e) => eprintln!("nginx over {scheme}: not measured: {e}"),
    }
    Ok(Served {
        emulator_secs: Some(emulator_secs),
        nginx_secs,
    })
}

/// An emulator started on `hub_root` serving HTTPS, the Hub and its CDN origin
/// alike (one certificate for `127.0.0.1` and `localhost`), signed by a CA made
/// now, whose certificate is written to `scratch/tls/ca.pem`: its path is returned.
fn tls_config(hub_root: &Path, scratch: &Path) -> Result<(EmulatorConfig, PathBuf)> {
    let ca = TestCa::generate().context("failed to make the test CA")?;
    let identity = ca
        .server_identity(&["127.0.0.1", "localhost"])
        .context("failed to make the server certificate")?;
    let dir = scratch.join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let ca_bundle = dir.join("ca.pem");
    std::fs::write(&ca_bundle, &ca.ca_cert_pem).with_context(|| format!("failed to write {}", ca_bundle.display()))?;
    let mut config = EmulatorConfig::new(hub_root);
    config.tls = Some(identity);
    Ok((config, ca_bundle))
}

/// What every client's runs of one workload under one condition share.
struct Run<'a> {
    clients: &'a Clients,
    workload: &'a Workload,
    /// The commit `main` points at: where the Hub clients' snapshot is.
    commit: &'a str,
    urls: &'a [tools::FileUrl],
    /// Where each run's empty folder is made (and removed after).
    runs_root: &'a Path,
    /// Where curl's URL lists are kept.
    scratch: &'a Path,
    gnu_time: bool,
    /// Runs of each tool.
    runs: usize,
    /// Bytes written into a new file and removed before each run, where freed
    /// memory goes back to the hypervisor: every client then starts from
    /// memory freed the same way, instead of from what the client before it
    /// left (`page_reporting.rs`).
    reset_bytes: Option<u64>,
}

/// `run.runs` runs of every tool on `run.workload`, interleaved (the first run of
/// each tool, then the second of each, …), so that a change in the machine's
/// load during the workload weighs on every tool alike. A tool that is missing
/// or fails a run is not run again.
fn measure_tools(tools: &[Tool], run: &Run<'_>) -> Result<Vec<Outcome>> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::with_capacity(run.runs); tools.len()];
    let mut ended: Vec<Option<Outcome>> = vec![None; tools.len()];
    for n in 1..=run.runs {
        for (i, &tool) in tools.iter().enumerate() {
            if ended[i].is_some() {
                continue;
            }
            match run_tool(tool, run)? {
                Ok(sample) => {
                    eprintln!(
                        "  {:<27} run {n}/{}: {:7.2} s {:6.0} MB/s",
                        tool.label(),
                        run.runs,
                        sample.wall.as_secs_f64(),
                        run.workload.total_bytes() as f64 / 1e6 / sample.wall.as_secs_f64()
                    );
                    samples[i].push(sample);
                }
                Err(outcome) => ended[i] = Some(outcome),
            }
        }
    }
    Ok(ended
        .into_iter()
        .zip(samples)
        .map(|(ended, samples)| {
            ended.unwrap_or_else(|| {
                Stats::of(&samples).map_or_else(|| Outcome::Failed("no runs".into()), Outcome::Measured)
            })
        })
        .collect())
}

/// One run of `tool` into an empty folder, removed afterwards: its figures, or
/// why it does not count. It counts only when every file is where the tool puts
/// it, at its size.
fn run_tool(tool: Tool, run: &Run<'_>) -> Result<Result<Sample, Outcome>> {
    let workload = run.workload;
    let run_dir = run.runs_root.join("run");
    let out_dir = run_dir.join("out");
    remove_dir(&run_dir)?;
    std::fs::create_dir_all(&out_dir).with_context(|| format!("failed to create {}", out_dir.display()))?;
    let Some(invocation) = invocation(tool, run.clients, workload, run.urls, &out_dir, run.scratch)? else {
        remove_dir(&run_dir)?;
        return Ok(Err(Outcome::Skipped("not installed".into())));
    };
    if let Some(bytes) = run.reset_bytes {
        self_check::reset_memory(&run_dir, bytes)?;
    }
    let sample = run_once(&invocation, &run_dir, run.gnu_time);
    let misplaced = misplaced_files(tool, &out_dir, workload, run.commit);
    remove_dir(&run_dir)?;
    let why = match sample {
        Ok(sample) if misplaced.is_empty() => return Ok(Ok(sample)),
        Ok(_) => format!(
            "{} of {} files missing or of the wrong size ({}) after `{}`",
            misplaced.len(),
            workload.files.len(),
            misplaced[0],
            short(&invocation)
        ),
        Err(e) => format!("{e:#}"),
    };
    eprintln!("  {}: {why}", tool.label());
    Ok(Err(Outcome::Failed(why)))
}

/// The files of `workload` that `tool`, run into `out_dir`, did not leave
/// where it puts them at their size (symlinks followed), each with what is there.
fn misplaced_files(tool: Tool, out_dir: &Path, workload: &Workload, commit: &str) -> Vec<String> {
    workload
        .files
        .iter()
        .filter_map(|file| {
            let path = output_path(tool, out_dir, workload, commit, &file.path);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() && meta.len() == file.size => None,
                Ok(meta) => Some(format!("{}: {} bytes of {}", path.display(), meta.len(), file.size)),
                Err(e) => Some(format!("{}: {e}", path.display())),
            }
        })
        .collect()
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
         before the first client is measured, so the emulator's files and caches are hot for every client; \
         the runs are interleaved (the first run of every client, then the second of each, then the third)"
            .to_string(),
        format!(
            "WAN-like: {} ms before every response and once per new connection, {} MB/s per connection",
            wan.latency.as_millis(),
            wan.per_connection_bytes_per_sec.unwrap_or(0) / 1_000_000
        ),
        "curl and aria2c fetch LFS files from their CDN URLs (the resolve redirect followed once beforehand); \
         our CLI, the Python client and hf-hub start from the repo id and revision main"
            .to_string(),
        format!(
            "hf-hub {}: the crate from crates.io (`HFClientSync`, feature `blocking`, its defaults), built \
             by `xtask/drivers/hf-hub-driver` (its own workspace and Cargo.lock) into target/drivers; \
             `download_file` for one file, `snapshot_download` for a repo, into HF_HOME/hub. It checks \
             neither sha256 nor size (the benchmark checks every client's file sizes after each run), \
             fetches a file over one connection, and a snapshot 8 files at once",
            hf_hub::VERSION
        ),
        "loopback TLS: the same emulator over HTTPS (rustls, ring; it picks the cipher from its own list, \
         AES-128-GCM first, as the Hub's CDN does, so every client gets the one it gets there), the Hub \
         at https://127.0.0.1:PORT and its CDN at https://localhost:PORT, with a certificate from a test \
         CA made for the run; trusted through REQUESTS_CA_BUNDLE by our CLI, SSL_CERT_FILE (and \
         REQUESTS_CA_BUNDLE) by the Python client, SSL_CERT_FILE by hf-hub (its reqwest reads the \
         platform roots from there), --cacert by curl, --ca-certificate by aria2c; the emulator encrypts \
         on the cores the clients use"
            .to_string(),
        "the emulator's own speed: curl -o /dev/null fetches the large file three times from it and from \
         nginx (one worker, sendfile and tcp_nopush on), over HTTP, then over HTTPS with the emulator's \
         certificate, TLS 1.3 and AES-128-GCM only on both (nginx sends TLS through OpenSSL, without sendfile)"
            .to_string(),
        "huggingface-cli verifies every LFS file's sha256 and every other file's git blob id; \
         `huggingface-cli --no-verify` (a hidden switch) checks sizes only, for the targets set for a \
         client that does not verify; both use \
         the CLI's defaults (16 files at once, 8 connections and 32 MiB ranges for a large file)"
            .to_string(),
        "ratio `vs ref` = wall time / the wall time of the tool the issue's target names for that workload and condition"
            .to_string(),
        "the targets against hf-hub compare medians; on the row where ours fares worst they also count the \
         runs side by side (the n-th run of ours and of hf-hub, made one after the other) in which ours was \
         the lower: where the machine's noise is larger than the difference, the two take turns"
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
    if let Some(Ok((secs, waited))) = &results.self_check.write_into_returned_memory {
        notes.push(format!(
            "the same write into memory this machine had given back to its hypervisor, measured {waited}: \
             {secs:.2} s, {:.0} MB/s",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_a_number_from_one_to_the_most() {
        assert_eq!(parse_runs("5").ok(), Some(5));
        assert_eq!(parse_runs("1").ok(), Some(1));
        assert_eq!(parse_runs(&MAX_RUNS.to_string()).ok(), Some(MAX_RUNS));
        for bad in ["0", "26", "-1", "three", ""] {
            let err = parse_runs(bad).expect_err(bad);
            assert!(format!("{err}").contains("from 1 to 25"), "{bad}: {err}");
        }
    }
}
