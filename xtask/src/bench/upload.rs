//! `cargo xtask bench upload [--quick]`: how fast `huggingface-cli upload` is
//! next to the Python client, the `hf-hub` crate, one `sha256sum` pass and one
//! `curl -T`, on the bundled emulator over loopback.
//!
//! Two workloads: one large LFS file streamed from disk, and a folder of small
//! files (text ones committed inline, binary ones through LFS). Then the large
//! file pushed with git through each client's multipart agent ([`super::git_push`]). Each client
//! uploads each workload [`RUNS`] times, every run to a fresh repo with the
//! emulator's LFS store emptied first, so every object is really sent. Last, the
//! Xet case ([`super::xet_upload`]): the large file through Xet storage, then again
//! with one MiB changed.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use hub_emulator::{Emulator, EmulatorConfig, Role, SeedRepo};

use super::measure::{GNU_TIME, Invocation, MachineCpu, Sample, Stats, run_once, steal_note};
use super::report::format_table;
use super::self_check::sha256_secs;
use super::workloads::{human_size, pseudo_random, write_pseudo_random};
use super::{RUNS, ensure_installed, load_average, prepare_clients, remove_dir};
use crate::workspace::target_dir;

/// The write token the clients upload with.
const TOKEN: &str = "hf_bench_upload_write";
/// Its user, the namespace of the benchmark's repos.
const USER: &str = "bench";

/// What a row of the report measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Ours,
    Python,
    /// The `hf-hub` crate's driver ([`super::hf_hub`]). It sends the files the Hub classifies as
    /// LFS through Xet storage, its only way: each of its runs has a fresh emulator of its own, so
    /// that no run deduplicates against an earlier one's xorbs.
    HfHub,
    /// `sha256sum` of the large file: one hash pass from the page cache.
    Sha256sum,
    /// `curl -T` of the large file to a presigned `basic` upload URL.
    CurlPut,
}

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Ours => "huggingface-cli upload",
            Tool::Python => "python huggingface_hub",
            Tool::HfHub => "hf-hub 1.0 (LFS via Xet)",
            Tool::Sha256sum => "sha256sum",
            Tool::CurlPut => "curl -T (basic PUT)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LargeFile,
    SmallFiles,
}

struct Workload {
    kind: Kind,
    label: String,
    /// The file or folder uploaded.
    path: PathBuf,
    bytes: u64,
}

struct Row {
    tool: Tool,
    kind: Kind,
    label: String,
    bytes: u64,
    outcome: Result<Stats, String>,
}

pub(crate) fn run(quick: bool) -> Result<()> {
    let scratch = target_dir().join("bench");
    let mode = if quick { "quick" } else { "full" };
    let (large_size, small_count) = if quick { (256u64 << 20, 200) } else { (2u64 << 30, 1000) };
    let load_before = load_average();
    let cpu_before = MachineCpu::now();
    let mut notes = Vec::new();

    let mut installed = Vec::new();
    let gnu_time = ensure_installed(GNU_TIME, "time", &mut installed);
    if !ensure_installed("curl", "curl", &mut installed) {
        bail!("curl is needed: install it and run again");
    }
    let (python, cli) = prepare_clients(&installed, &mut notes)?;
    let hf_hub = match super::hf_hub::build_driver() {
        Ok(driver) => Some(driver),
        Err(e) => {
            notes.push(format!(
                "hf-hub {}: the driver could not be built, its rows are skipped: {e:#}",
                super::hf_hub::VERSION
            ));
            None
        }
    };

    let data = scratch.join(format!("upload-data-{mode}"));
    let workloads = prepare_data(&data, large_size, small_count)?;
    let large_file = &workloads[0].path;

    let hub_root = scratch.join(format!("upload-hub-{mode}"));
    remove_dir(&hub_root)?;
    let emulator = Emulator::start(EmulatorConfig::new(&hub_root).token(TOKEN, USER, Role::Write))
        .context("failed to start the emulator")?;
    let endpoint = emulator.endpoint();
    let objects = hub_root.join("lfs").join("objects");
    let run_dir = scratch.join("upload-run");

    let mut rows = Vec::new();

    eprintln!("\n== references: {}", workloads[0].label);
    let sha = measure(Tool::Sha256sum, &run_dir, &objects, gnu_time, 1, |_| {
        Ok(Invocation::new("sha256sum").arg(large_file))
    });
    let oid = sha256_of(large_file)?;
    rows.push(row(Tool::Sha256sum, &workloads[0], sha));
    emulator
        .seed(&SeedRepo::model(&format!("{USER}/curl-target")).file("README.md", "curl -T target\n"))
        .context("failed to seed the curl target repo")?;
    let curl = measure(Tool::CurlPut, &run_dir, &objects, gnu_time, RUNS, |_| {
        let href = basic_upload_url(&endpoint, &format!("{USER}/curl-target"), &oid, large_size)?;
        Ok(Invocation::new("curl")
            .args(["-sS", "-f", "-o", "/dev/null", "-T"])
            .arg(large_file)
            .arg(href))
    });
    let curl = curl.and_then(|stats| {
        if emulator.lfs_object_path(&oid).is_file() {
            Ok(stats)
        } else {
            Err("the object is not in the store after the PUT".to_string())
        }
    });
    rows.push(row(Tool::CurlPut, &workloads[0], curl));
    let hash_secs = sha256_secs(large_size);
    eprintln!(
        "sha256 from memory (sha2 crate), {}: {hash_secs:.2} s ({:.0} MB/s)",
        human_size(large_size),
        large_size as f64 / 1e6 / hash_secs
    );

    for workload in &workloads {
        eprintln!("\n== {}", workload.label);
        let tools: Vec<Tool> = [Tool::Ours, Tool::Python, Tool::HfHub]
            .into_iter()
            .filter(|&tool| match tool {
                Tool::Python => python.is_some(),
                Tool::HfHub => hf_hub.is_some(),
                _ => true,
            })
            .collect();
        let invocation = |tool: Tool, run: usize, endpoint: &str| {
            let repo = repo_name(workload.kind, tool, run);
            let invocation = match (tool, &python, &hf_hub) {
                (Tool::Python, Some(python), _) => Invocation::new(python)
                    .args(["-c", PYTHON_UPLOAD, repo.as_str()])
                    .arg(&workload.path),
                (Tool::HfHub, _, Some(driver)) => Invocation::new(driver)
                    .args(["upload", repo.as_str()])
                    .arg(&workload.path),
                _ => Invocation::new(&cli)
                    .args(["upload", repo.as_str()])
                    .arg(&workload.path)
                    .args(["--quiet"]),
            };
            Ok(invocation
                .env("HF_HOME", run_dir.join("home"))
                .env("HF_ENDPOINT", endpoint)
                .env("HF_TOKEN", TOKEN)
                .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                .env("HF_HUB_DISABLE_TELEMETRY", "1")
                .env("HF_HUB_DISABLE_XET", "1"))
        };
        // The clients take turns run by run, so that a noisy stretch of the
        // machine falls on both alike.
        let mut samples: Vec<Result<Vec<Sample>, String>> = tools.iter().map(|_| Ok(Vec::new())).collect();
        for run in 1..=RUNS {
            for (&tool, tool_samples) in tools.iter().zip(&mut samples) {
                if let Ok(done) = tool_samples {
                    let sample = if tool == Tool::HfHub {
                        let repo = repo_name(workload.kind, tool, run);
                        measure_on_own_emulator(&scratch, &repo, workload.kind, |endpoint, objects| {
                            measure_once(tool, &run_dir, objects, gnu_time, run, RUNS, || {
                                invocation(tool, run, endpoint)
                            })
                        })
                    } else {
                        measure_once(tool, &run_dir, &objects, gnu_time, run, RUNS, || {
                            invocation(tool, run, &endpoint)
                        })
                    };
                    match sample {
                        Ok(sample) => done.push(sample),
                        Err(why) => *tool_samples = Err(why),
                    }
                }
            }
        }
        for (tool, tool_samples) in tools.into_iter().zip(samples) {
            let stats = tool_samples.and_then(|done| Stats::of(&done).ok_or_else(|| "no runs".to_string()));
            rows.push(row(tool, workload, stats));
        }
        if python.is_none() {
            rows.push(row(Tool::Python, workload, Err("not available".into())));
        }
        if hf_hub.is_none() {
            rows.push(row(Tool::HfHub, workload, Err("not available".into())));
        }
    }
    let wall = |tool: Tool| {
        rows.iter()
            .find(|r| r.tool == tool && r.kind == Kind::LargeFile)
            .and_then(|r| r.outcome.as_ref().ok())
            .map(|s| s.wall_secs)
    };
    if let (Some(ours), Some(curl)) = (wall(Tool::Ours), wall(Tool::CurlPut)) {
        notes.push(format!(
            "with the sha2 crate's hash time ({hash_secs:.2} s) as the one sha256 pass instead of sha256sum's: \
             huggingface-cli {ours:.2} s / ({hash_secs:.2} s + curl -T {curl:.2} s) = {:.2}x",
            ours / (hash_secs + curl)
        ));
    }
    let commits = rows_committed(&emulator, &rows);
    notes.push(commits);
    if hf_hub.is_some() {
        notes.push(format!(
            "hf-hub {} has no LFS upload: it sends the files the Hub classifies as LFS through Xet storage. Each \
             of its runs has a fresh emulator of its own (an emptied LFS store does not reach the Xet one), \
             checked after the run for a commit on main and, for the large file, for xorbs received",
            super::hf_hub::VERSION
        ));
    }
    drop(emulator);
    remove_dir(&run_dir)?;
    let part_size = if quick { 16 << 20 } else { 64 << 20 };
    let git_push = super::git_push::run(&scratch, large_file, &oid, part_size, &cli, python.as_deref(), gnu_time)?;
    let xet = super::xet_upload::run(
        &scratch,
        large_file,
        &cli,
        python.as_deref(),
        hf_hub.as_deref(),
        gnu_time,
    )?;

    notes.push("each run starts after `sync`, so no write-back of an earlier run's data is left pending".to_string());
    notes.push(
        "huggingface-cli, the Python client and hf-hub take turns run by run (the first run of each, then the \
         second, then the third); curl -T's runs come before them"
            .to_string(),
    );
    notes.push(format!(
        "every run uploads to a fresh repo ({USER}/<workload>-<client>-<run>) with the emulator's LFS store \
         emptied before it: no object is skipped as already present"
    ));
    notes.push(format!(
        "the large file is {} of pseudo-random bytes in {}; the OS page cache is not dropped, so it is read \
         from memory; sha256sum and curl -T are the issue's references (curl PUTs to a presigned `basic` URL \
         from the LFS batch API, so the emulator does what it does for a client's LFS PUT: spool, hash, move)",
        human_size(large_size),
        data.display()
    ));
    notes.push(format!(
        "sha256 from memory with the sha2 crate (release, one thread) over {}: {hash_secs:.2} s, {:.0} MB/s",
        human_size(large_size),
        large_size as f64 / 1e6 / hash_secs
    ));
    notes.push(format!(
        "load average (1, 5, 15 min) before: {load_before}, after: {}",
        load_average()
    ));
    notes.push(steal_note(cpu_before));
    notes.extend(super::proactive_reclaim::note());

    println!(
        "\ncargo xtask bench upload{}: median of {RUNS} runs (sha256sum: one run), loopback\n",
        if quick { " --quick" } else { "" }
    );
    print!("{}", render(&rows, &notes));
    print!("{git_push}");
    print!("{xet}");
    Ok(())
}

/// The commits the clients' runs left, as a note (a failed commit shows as a failed row).
/// `cargo xtask bench upload-xet [--quick]`: the Xet case alone, on the same large file.
pub(crate) fn xet_alone(quick: bool) -> Result<()> {
    let scratch = target_dir().join("bench");
    let mode = if quick { "quick" } else { "full" };
    let large_size = if quick { 256u64 << 20 } else { 2u64 << 30 };
    let mut installed = Vec::new();
    let gnu_time = ensure_installed(GNU_TIME, "time", &mut installed);
    let mut notes = Vec::new();
    let (python, cli) = prepare_clients(&installed, &mut notes)?;
    let data = scratch.join(format!("upload-data-{mode}"));
    std::fs::create_dir_all(&data).with_context(|| format!("failed to create {}", data.display()))?;
    let large = data.join("large.bin");
    if std::fs::metadata(&large).map(|m| m.len()).ok() != Some(large_size) {
        eprintln!("writing {} ({})", large.display(), human_size(large_size));
        write_pseudo_random(&large, large_size, LARGE_SEED)?;
    }
    let hf_hub = super::hf_hub::build_driver().ok();
    let xet = super::xet_upload::run(&scratch, &large, &cli, python.as_deref(), hf_hub.as_deref(), gnu_time)?;
    print!("{xet}");
    Ok(())
}

fn rows_committed(emulator: &Emulator, rows: &[Row]) -> String {
    let mut found = 0;
    let mut missing = Vec::new();
    for row in rows.iter().filter(|r| matches!(r.tool, Tool::Ours | Tool::Python)) {
        if row.outcome.is_err() {
            continue;
        }
        for run in 1..=RUNS {
            let repo = repo_name(row.kind, row.tool, run);
            match emulator.resolve_revision("model", &repo, "main") {
                Ok(_) => found += 1,
                Err(_) => missing.push(repo),
            }
        }
    }
    if missing.is_empty() {
        format!("checked: all {found} measured uploads left a commit on main")
    } else {
        format!("CHECK FAILED: no commit on main in {}", missing.join(", "))
    }
}

/// The fresh repo run `run` of `tool` uploads `kind` to.
fn repo_name(kind: Kind, tool: Tool, run: usize) -> String {
    let workload = match kind {
        Kind::LargeFile => "large",
        Kind::SmallFiles => "small",
    };
    let client = match tool {
        Tool::Python => "python",
        Tool::HfHub => "hf-hub",
        _ => "ours",
    };
    format!("{USER}/{workload}-{client}-{run}")
}

fn row(tool: Tool, workload: &Workload, outcome: Result<Stats, String>) -> Row {
    Row {
        tool,
        kind: workload.kind,
        label: workload.label.clone(),
        bytes: workload.bytes,
        outcome,
    }
}

/// One run, through `measure`, on a fresh emulator of its own (given its endpoint and LFS store),
/// which must then hold a commit on main of `repo` and, for the large file, Xet storage must have
/// received xorbs.
fn measure_on_own_emulator(
    scratch: &Path,
    repo: &str,
    kind: Kind,
    measure: impl FnOnce(&str, &Path) -> Result<Sample, String>,
) -> Result<Sample, String> {
    let root = scratch.join("upload-hub-own");
    remove_dir(&root).map_err(|e| format!("{e:#}"))?;
    let emulator = Emulator::start(EmulatorConfig::new(&root).token(TOKEN, USER, Role::Write))
        .map_err(|e| format!("failed to start the emulator: {e}"))?;
    let sample = measure(&emulator.endpoint(), &root.join("lfs").join("objects"))?;
    emulator
        .resolve_revision("model", repo, "main")
        .map_err(|e| format!("no commit on main of {repo} after the upload: {e}"))?;
    if kind == Kind::LargeFile && emulator.xet_stats().xorb_uploads == 0 {
        return Err("the large file's upload sent no xorb".to_string());
    }
    Ok(sample)
}

/// `runs` runs of the invocation `make(run)` gives, one after the other.
fn measure(
    tool: Tool,
    run_dir: &Path,
    objects: &Path,
    gnu_time: bool,
    runs: usize,
    mut make: impl FnMut(usize) -> Result<Invocation>,
) -> Result<Stats, String> {
    let mut samples: Vec<Sample> = Vec::with_capacity(runs);
    for run in 1..=runs {
        samples.push(measure_once(tool, run_dir, objects, gnu_time, run, runs, || make(run))?);
    }
    Stats::of(&samples).ok_or_else(|| "no runs".to_string())
}

/// Run `run` of `runs` of the invocation `make` gives, in an empty `run_dir`
/// and with the LFS store `objects` emptied before it.
fn measure_once(
    tool: Tool,
    run_dir: &Path,
    objects: &Path,
    gnu_time: bool,
    run: usize,
    runs: usize,
    make: impl FnOnce() -> Result<Invocation>,
) -> Result<Sample, String> {
    let once = || -> Result<Sample> {
        remove_dir(run_dir)?;
        remove_dir(objects)?;
        std::fs::create_dir_all(run_dir.join("home"))
            .with_context(|| format!("failed to create {}", run_dir.display()))?;
        std::fs::create_dir_all(objects).with_context(|| format!("failed to create {}", objects.display()))?;
        // Start each run with no dirty pages of the previous one left to write back.
        let _ = Command::new("sync").status();
        let invocation = make()?;
        run_once(&invocation, run_dir, gnu_time)
    };
    let sample = once().map_err(|e| {
        eprintln!("  failed: {e:#}");
        format!("{e:#}")
    })?;
    eprintln!(
        "  {:<24} run {run}/{runs}: {:7.2} s",
        tool.label(),
        sample.wall.as_secs_f64()
    );
    Ok(sample)
}

/// The large file and the small-files folder under `dir`, generated once.
/// The seed of the large file's bytes.
const LARGE_SEED: u64 = 101;

fn prepare_data(dir: &Path, large_size: u64, small_count: usize) -> Result<Vec<Workload>> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let large = dir.join("large.bin");
    if std::fs::metadata(&large).map(|m| m.len()).ok() != Some(large_size) {
        eprintln!("writing {} ({})", large.display(), human_size(large_size));
        write_pseudo_random(&large, large_size, LARGE_SEED)?;
    }
    let small = dir.join("small");
    let marker = dir.join("small-files-v1");
    let mut small_bytes = 0;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut sizes = Vec::with_capacity(small_count);
    for _ in 0..small_count {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let size = 4096 + rng % (60 * 1024 + 1);
        small_bytes += size;
        sizes.push(size);
    }
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(&small_count.to_string()) {
        remove_dir(&small)?;
        eprintln!("writing {small_count} small files under {}", small.display());
        for (i, size) in sizes.iter().enumerate() {
            let sub = small.join(format!("{:02}", i % 10));
            std::fs::create_dir_all(&sub).with_context(|| format!("failed to create {}", sub.display()))?;
            // One in three is binary (so it goes through LFS), the rest is text.
            let (name, bytes) = if i % 3 == 0 {
                (
                    format!("blob-{i:04}.bin"),
                    pseudo_random(*size as usize, 1000 + i as u64),
                )
            } else {
                (format!("text-{i:04}.txt"), text(*size as usize, i))
            };
            let path = sub.join(name);
            let mut file = File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
            file.write_all(&bytes)
                .with_context(|| format!("failed to write {}", path.display()))?;
        }
        std::fs::write(&marker, small_count.to_string())
            .with_context(|| format!("failed to write {}", marker.display()))?;
    }
    Ok(vec![
        Workload {
            kind: Kind::LargeFile,
            label: format!("1 x {} (LFS)", human_size(large_size)),
            path: large,
            bytes: large_size,
        },
        Workload {
            kind: Kind::SmallFiles,
            label: format!("{small_count} x 4-64 KiB (1/3 binary)"),
            path: small,
            bytes: small_bytes,
        },
    ])
}

/// `len` bytes of printable lines, different for each `seed`.
fn text(len: usize, seed: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut line = 0;
    while out.len() < len {
        out.extend_from_slice(
            format!("file {seed} line {line}: the quick brown fox jumps over the lazy dog\n").as_bytes(),
        );
        line += 1;
    }
    out.truncate(len);
    out
}

/// The sha256 of a file, by `sha256sum`.
fn sha256_of(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("failed to run sha256sum")?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.split_whitespace().next() {
        Some(oid) if out.status.success() && oid.len() == 64 => Ok(oid.to_string()),
        _ => bail!(
            "sha256sum {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A presigned `basic` upload URL for `oid` from the LFS batch API (asked with curl).
fn basic_upload_url(endpoint: &str, repo: &str, oid: &str, size: u64) -> Result<String> {
    let body = format!(
        r#"{{"operation":"upload","transfers":["basic"],"objects":[{{"oid":"{oid}","size":{size}}}],"hash_algo":"sha256"}}"#
    );
    let out = Command::new("curl")
        .args(["-sS", "-f", "-X", "POST"])
        .args(["-H", "Accept: application/vnd.git-lfs+json"])
        .args(["-H", "Content-Type: application/vnd.git-lfs+json"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--data-binary", &body])
        .arg(format!("{endpoint}/{repo}.git/info/lfs/objects/batch"))
        .output()
        .context("failed to run curl")?;
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("unexpected LFS batch answer: {}", String::from_utf8_lossy(&out.stderr)))?;
    reply["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no upload href in the LFS batch answer: {reply}"))
}

/// The table and the targets.
fn render(rows: &[Row], notes: &[String]) -> String {
    let stats = |tool: Tool, kind: Kind| {
        rows.iter()
            .find(|r| r.tool == tool && r.kind == kind)
            .and_then(|r| r.outcome.as_ref().ok())
    };
    let mut table = vec![
        [
            "tool",
            "workload",
            "wall s",
            "MB/s",
            "CPU s",
            "RSS MB",
            "vs python",
            "vs hf-hub",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for row in rows {
        let mut cells = vec![row.tool.label().to_string(), row.label.clone()];
        match &row.outcome {
            Ok(s) => {
                let against = |reference: Tool| match (row.tool, stats(reference, row.kind)) {
                    (Tool::Ours | Tool::Python | Tool::HfHub, Some(r)) => format!("{:.2}x", s.wall_secs / r.wall_secs),
                    _ => "-".into(),
                };
                cells.extend([
                    format!("{:.2}", s.wall_secs),
                    format!("{:.0}", row.bytes as f64 / 1e6 / s.wall_secs),
                    s.cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                    s.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                    against(Tool::Python),
                    against(Tool::HfHub),
                ]);
            }
            Err(why) => cells.push(format!("failed: {why}")),
        }
        table.push(cells);
    }
    let mut out = format_table(&table);

    let mut targets = vec![vec!["".to_string(), "target".to_string(), "measured".to_string()]];
    let mut verdict = |name: String, measured: Option<(bool, String)>| {
        let (status, text) = match measured {
            Some((true, text)) => ("PASS", text),
            Some((false, text)) => ("MISS", text),
            None => ("n/a", "not measured".to_string()),
        };
        targets.push(vec![status.to_string(), name, text]);
    };
    let ours_large = stats(Tool::Ours, Kind::LargeFile);
    let reference = stats(Tool::Sha256sum, Kind::LargeFile)
        .zip(stats(Tool::CurlPut, Kind::LargeFile))
        .map(|(sha, curl)| sha.wall_secs + curl.wall_secs);
    verdict(
        "large file wall <= 1.2 x (sha256sum + curl -T)".into(),
        ours_large.zip(reference).map(|(ours, reference)| {
            let ratio = ours.wall_secs / reference;
            (
                ratio <= 1.2,
                format!("{:.2} s vs {:.2} s: {ratio:.2}x", ours.wall_secs, reference),
            )
        }),
    );
    for (kind, what) in [(Kind::LargeFile, "large file"), (Kind::SmallFiles, "small files")] {
        verdict(
            format!("{what}: >= 2x faster than the Python client"),
            stats(Tool::Ours, kind)
                .zip(stats(Tool::Python, kind))
                .map(|(ours, python)| {
                    let speedup = python.wall_secs / ours.wall_secs;
                    (
                        speedup >= 2.0,
                        format!("{:.2} s vs {:.2} s: {speedup:.2}x", ours.wall_secs, python.wall_secs),
                    )
                }),
        );
    }
    let rss: Option<Vec<f64>> = [Kind::LargeFile, Kind::SmallFiles]
        .iter()
        .map(|&k| stats(Tool::Ours, k).and_then(|s| s.peak_rss_mb))
        .collect();
    verdict(
        "huggingface-cli upload peak RSS < 50 MB".into(),
        rss.map(|rss| {
            let max = rss.iter().copied().fold(0.0, f64::max);
            (max < 50.0, format!("{max:.1} MB (largest of every run)"))
        }),
    );
    out.push_str("\nTargets (issue 4, Performance)\n");
    out.push_str(&format_table(&targets));
    out.push_str("\nNotes\n");
    for note in notes {
        out.push_str(&format!("- {note}\n"));
    }
    out
}

/// `python -c` this, then the repo id and the local path: create the repo, then
/// `upload_file` (a file) or `upload_folder` (a folder), as the CLI does.
const PYTHON_UPLOAD: &str = "\
import os, sys
from huggingface_hub import HfApi
repo, path = sys.argv[1], sys.argv[2]
api = HfApi()
api.create_repo(repo, exist_ok=True)
if os.path.isdir(path):
    api.upload_folder(repo_id=repo, folder_path=path)
else:
    api.upload_file(repo_id=repo, path_or_fileobj=path, path_in_repo=os.path.basename(path))
";
