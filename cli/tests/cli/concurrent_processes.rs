//! Sixteen processes at once, `huggingface-cli` and the Python client mixed,
//! downloading overlapping files of one repo into one cache: the blob locks
//! (`.locks/…/{etag}.lock`, taken by both clients) make every blob cross the
//! network once, and every process gets the right bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_url::RepoType;
use serde_json::{Value, json};

use crate::cache_audit::{Auditor, python_scan_problems};
use crate::support::{
    Env, Rng, TestResult, last_line, names_in, pattern_bytes, python_results, report, stderr, wait_until,
};

const REPO: &str = "alice/crowd";
const PROCESSES: usize = 16;
/// How long the first transfer of each file lasts, about: long enough for the
/// other processes to come and wait on its lock.
const TRANSFER: Duration = Duration::from_millis(600);

/// Four LFS files (from the CDN) and four regular ones (from `resolve`).
fn files() -> Vec<(String, Vec<u8>)> {
    (0..8u32)
        .map(|i| match i < 4 {
            true => (
                format!("weights/w{i}.bin"),
                pattern_bytes(300_000 + 1000 * i as usize, i),
            ),
            false => (
                format!("text/t{i}.txt"),
                format!("text file {i}\n").repeat(40).into_bytes(),
            ),
        })
        .collect()
}

/// One process: its files, and how it was started.
struct Runner {
    python: bool,
    paths: Vec<String>,
    child: Child,
    _plan: Option<tempfile::TempDir>,
}

#[test]
fn sixteen_rust_and_python_processes_share_one_cache_and_fetch_each_blob_once() -> TestResult {
    let mut rng = Rng::from_env("sixteen_rust_and_python_processes_share_one_cache_and_fetch_each_blob_once");
    let e = Env::start_with(|mut config| {
        config.lfs_threshold = 64 * 1024;
        config
    })?;
    let files = files();
    let mut seed = SeedRepo::model(REPO);
    for (path, bytes) in &files {
        seed = seed.file(path, bytes.clone());
    }
    e.hub.seed(&seed)?;
    let remote = e.remote_files(RepoType::Model, REPO, "main")?;
    // Every body is slow, so that processes overlap on each file.
    for (path, bytes) in &files {
        let rate = bytes.len() as u64 * 1000 / TRANSFER.as_millis() as u64;
        let matched = match path.starts_with("weights/") {
            true => format!("/cdn/lfs/{}", remote[path].etag),
            false => format!("/{path}"),
        };
        e.hub.faults().push(
            Fault::new(&matched, FaultAction::Throttle { bytes_per_sec: rate })
                .method("GET")
                .times(PROCESSES),
        );
    }
    e.hub.log().clear();

    // Each process wants some of the 8 files: the first one, which all want,
    // then others in its own order; every fourth `huggingface-cli` one file
    // (through a `HEAD`), the others 3 to 6.
    let mut wants: Vec<Vec<String>> = (0..PROCESSES)
        .map(|i| {
            let mut paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
            for k in (2..paths.len()).rev() {
                paths.swap(k, 1 + rng.below(k as u64) as usize);
            }
            paths.truncate(if i % 4 == 0 { 1 } else { 3 + rng.below(4) as usize });
            paths
        })
        .collect();

    // The Python processes start first (the interpreter is slower to start);
    // the others once the first Python request came, so that all overlap.
    let started = Instant::now();
    let mut runners = Vec::new();
    for paths in wants.drain(PROCESSES / 2..) {
        let steps: Vec<Value> = paths
            .iter()
            .map(|p| json!({"op": "hf_hub_download", "repo": REPO, "filename": p}))
            .collect();
        let (mut cmd, plan) = e.python_command(&steps, &[])?;
        let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        runners.push(Runner {
            python: true,
            paths,
            child,
            _plan: Some(plan),
        });
    }
    let python_came = wait_until(Duration::from_secs(30), || !e.hub.log().records().is_empty());
    assert!(python_came, "no request from the Python processes");
    for paths in wants {
        let mut args = vec!["download", REPO, "--quiet"];
        args.extend(paths.iter().map(String::as_str));
        let child = e
            .command(&args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        runners.push(Runner {
            python: false,
            paths,
            child,
            _plan: None,
        });
    }

    let expected: BTreeMap<&str, &[u8]> = files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect();
    let snapshot = e.cache().join("models--alice--crowd/snapshots");
    let mut requested = 0;
    for runner in runners {
        let who = if runner.python { "python" } else { "huggingface-cli" };
        let out = runner.child.wait_with_output()?;
        requested += runner.paths.len();
        let got: Vec<PathBuf> = match runner.python {
            true => python_results(&out)?
                .iter()
                .map(|r| match r.get("path").and_then(Value::as_str) {
                    Some(path) => Ok(PathBuf::from(path)),
                    None => Err(format!("{who} failed: {r}")),
                })
                .collect::<Result<_, _>>()?,
            false => {
                assert!(out.status.success(), "{who} failed: {}", stderr(&out));
                match runner.paths.len() {
                    1 => vec![last_line(&out)],
                    _ => runner.paths.iter().map(|p| last_line(&out).join(p)).collect(),
                }
            }
        };
        for (path, at) in runner.paths.iter().zip(&got) {
            assert!(at.starts_with(&snapshot), "{who}: {}", at.display());
            assert!(std::fs::read(at)? == expected[path.as_str()], "{who}: {path} is wrong");
        }
    }
    let elapsed = started.elapsed();

    // Each blob crossed the network once: one GET of its CDN object (LFS) or of
    // its `resolve` URL (regular files), with every byte.
    let records = e.hub.log().records();
    let mut fetched = 0;
    let mut waiting = 0;
    for (path, bytes) in &files {
        let gets: Vec<_> = records
            .iter()
            .filter(|r| r.method == "GET")
            .filter(|r| match path.starts_with("weights/") {
                true => r.path.ends_with(&format!("/cdn/lfs/{}", remote[path].etag)),
                false => r.path.contains("/resolve/") && r.path.ends_with(&format!("/{path}")),
            })
            .collect();
        if gets.is_empty() {
            continue; // No process wanted it.
        }
        assert_eq!(gets.len(), 1, "{path} was fetched more than once: {gets:#?}");
        assert_eq!(gets[0].body_bytes_sent, bytes.len() as u64, "{path}");
        fetched += 1;
        // Who asked for the file while its one transfer was still going on
        // (the Python client asks with a HEAD) had to wait for it.
        let streaming = gets[0].answered_at..gets[0].answered_at + TRANSFER * 3 / 4;
        waiting += records
            .iter()
            .filter(|r| r.method == "HEAD" && r.path.ends_with(&format!("/{path}")))
            .filter(|r| streaming.contains(&r.answered_at))
            .count();
        let lock = e
            .cache()
            .join(".locks/models--alice--crowd")
            .join(format!("{}.lock", remote[path].etag));
        assert!(lock.exists(), "{path}: the blob's lock file {}", lock.display());
    }
    let blobs = names_in(&e.cache().join("models--alice--crowd/blobs"));
    assert_eq!(blobs.len(), fetched, "one blob a file, no partial file: {blobs:?}");

    Auditor::new(&e).audit(&e.cache())?.assert_clean("after the crowd")?;
    let python = python_scan_problems(&e)?;
    assert!(python.is_empty(), "the Python client's scan: {python:#?}");
    report(&format!(
        "{PROCESSES} processes (8 huggingface-cli, 8 Python) asked for {requested} files; \
         {fetched} blobs fetched once each in {:.1} s; {waiting} times a process \
         asked for a file while another process was fetching it",
        elapsed.as_secs_f64()
    ));
    assert!(
        waiting > 0,
        "the processes overlapped: some waited on another's transfer"
    );
    Ok(())
}
