//! `huggingface-cli` killed with SIGKILL at random points of downloads and
//! uploads. Whatever point a kill lands on: no partial file shows under
//! `snapshots/` or in a local folder, refs name whole commits, the Python
//! client's scan finds nothing wrong, the next run finishes with the right
//! bytes, and the Hub is at the old commit or the new one, never between.
//!
//! Bodies are throttled (and upload calls delayed) so that a kill lands in the
//! middle of a transfer; sleeps only choose when to kill, nothing waits on them
//! for correctness. The seed is printed: `HUB_TEST_SEED=… cargo test …` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::ALICE_WRITE;
use hub_url::RepoType;

use crate::cache_audit::{Auditor, python_scan_problems, sha256_hex};
use crate::support::{BoxError, Env, Rng, TestResult, last_line, names_in, pattern_bytes, report, stderr, wait_until};

const REPO: &str = "alice/kill-download";
const UPLOAD_REPO: &str = "alice/kill-upload";
const DOWNLOAD_KILLS: usize = 50;
const UPLOAD_KILLS: usize = 20;
/// Files up to this size are regular git files; larger ones go to LFS.
const LFS_THRESHOLD: u64 = 64 * 1024;
/// `--chunk-mib 1`: files of at least 1 MiB are fetched in 1 MiB ranges.
const CHUNK: u64 = 1024 * 1024;
/// How long each throttled transfer (or range) lasts, about.
const TRANSFER: Duration = Duration::from_millis(350);
/// A kill lands this long, at random, after the first transfer started.
const KILL_WINDOW_MS: u64 = 300;

/// The repo's paths: small regular files, an LFS file fetched in one stream,
/// and two LFS files over the parallel-range threshold.
const PATHS: [&str; 6] = [
    "config.json",
    "text/a.txt",
    "text/b.txt",
    "small.bin",
    "big.bin",
    "shard/part.bin",
];

fn generation_files(generation: u32) -> Vec<(&'static str, Vec<u8>)> {
    let sizes = [0, 24 * 1024, 48 * 1024, 200 * 1024, 1_600_000, 1_100_000];
    PATHS
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(i, (path, size))| {
            let bytes = match size {
                0 => format!("{{\"generation\": {generation}}}").into_bytes(),
                _ => pattern_bytes(size, generation * 16 + i as u32),
            };
            (*path, bytes)
        })
        .collect()
}

fn emulator() -> Result<Env, BoxError> {
    Env::start_with(|mut config| {
        config.lfs_threshold = LFS_THRESHOLD;
        config
    })
}

/// What the repo holds now, and every content each path ever had (by sha256).
struct Repo {
    commit: String,
    files: BTreeMap<String, Vec<u8>>,
    ever: BTreeMap<String, BTreeSet<String>>,
}

impl Repo {
    fn seed(e: &Env, generation: u32, ever: BTreeMap<String, BTreeSet<String>>) -> Result<Repo, BoxError> {
        let mut seed = SeedRepo::model(REPO).message(&format!("generation {generation}"));
        let mut repo = Repo {
            commit: String::new(),
            files: BTreeMap::new(),
            ever,
        };
        for (path, bytes) in generation_files(generation) {
            repo.ever
                .entry(path.to_string())
                .or_default()
                .insert(sha256_hex(&bytes));
            seed = seed.file(path, bytes.clone());
            repo.files.insert(path.to_string(), bytes);
        }
        repo.commit = e.hub.seed(&seed)?;
        // What a client gets: these files plus the `.gitattributes` the Hub keeps.
        for path in e.remote_files(RepoType::Model, REPO, &repo.commit)?.keys() {
            if !repo.files.contains_key(path) {
                let bytes = e.hub.file_content("model", REPO, &repo.commit, path)?;
                repo.ever.entry(path.clone()).or_default().insert(sha256_hex(&bytes));
                repo.files.insert(path.clone(), bytes);
            }
        }
        Ok(repo)
    }

    /// Slows every body of this revision to about [`TRANSFER`] (a range of a
    /// large file too), whether it comes from `resolve` or the CDN.
    fn throttle(&self, e: &Env) -> Result<(), BoxError> {
        let remote = e.remote_files(RepoType::Model, REPO, &self.commit)?;
        for (path, bytes) in &self.files {
            let len = (bytes.len() as u64).clamp(1, CHUNK);
            let rate = (len * 1000 / TRANSFER.as_millis() as u64).max(1);
            let matched = match bytes.len() as u64 > LFS_THRESHOLD {
                true => format!("/cdn/lfs/{}", remote[path].etag),
                false => format!("/{path}"),
            };
            e.hub.faults().push(
                Fault::new(&matched, FaultAction::Throttle { bytes_per_sec: rate })
                    .method("GET")
                    .times(16),
            );
        }
        Ok(())
    }
}

/// One download command of the mix.
#[derive(Debug, Clone)]
struct Download {
    file: Option<&'static str>,
    local_dir: Option<PathBuf>,
    force: bool,
}

impl Download {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["download", REPO, "--chunk-mib", "1", "--quiet"]
            .map(String::from)
            .to_vec();
        args.extend(self.file.map(String::from));
        if let Some(dir) = &self.local_dir {
            args.extend(["--local-dir".to_string(), dir.display().to_string()]);
        }
        if self.force {
            args.push("--force-download".to_string());
        }
        args
    }

    fn run(&self, e: &Env) -> Result<std::process::Output, BoxError> {
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        e.cli_ok(&args, &[])
    }

    fn spawn(&self, e: &Env) -> Result<Child, BoxError> {
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(e.command(&args, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?)
    }

    /// The printed path holds what the repo holds now.
    fn check_result(&self, printed: &Path, repo: &Repo) -> TestResult {
        let expected: Vec<&String> = match self.file {
            Some(file) => repo.files.keys().filter(|p| *p == file).collect(),
            None => repo.files.keys().collect(),
        };
        for path in expected {
            let at = match self.file {
                Some(_) => printed.to_path_buf(),
                None => printed.join(path),
            };
            let bytes = std::fs::read(&at).map_err(|err| format!("{}: {err}", at.display()))?;
            if bytes != repo.files[path] {
                return Err(format!("{} does not hold {path} of {}", at.display(), repo.commit).into());
            }
        }
        Ok(())
    }
}

/// How a process ended.
enum Ending {
    /// Killed while it ran.
    Killed,
    /// Done before the kill came.
    Finished(ExitStatus),
}

/// Waits until `started` or the process ends, then a random pause, then SIGKILL.
fn kill_at_random(
    child: &mut Child,
    rng: &mut Rng,
    window_ms: u64,
    mut started: impl FnMut() -> bool,
) -> Result<Ending, BoxError> {
    let mut ended = None;
    wait_until(Duration::from_secs(20), || {
        if let Ok(Some(status)) = child.try_wait() {
            ended = Some(status);
        }
        ended.is_some() || started()
    });
    if ended.is_none() {
        std::thread::sleep(Duration::from_millis(rng.below(window_ms)));
    }
    match child.try_wait()? {
        Some(status) => Ok(Ending::Finished(status)),
        None => {
            child.kill()?; // SIGKILL: no chance to clean up.
            child.wait()?;
            Ok(Ending::Killed)
        }
    }
}

/// Every file of a local folder (its `.cache` aside) holds a content its path
/// had in some revision: never a partial one. Its bookkeeping is whole too.
fn audit_local_dir(dir: &Path, ever: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, BoxError> {
    let mut problems = Vec::new();
    for path in ever.keys() {
        let file = dir.join(path);
        if let Ok(bytes) = std::fs::read(&file)
            && !ever[path].contains(&sha256_hex(&bytes))
        {
            problems.push(format!("{} holds {} bytes it never had", file.display(), bytes.len()));
        }
        let metadata = dir.join(".cache/huggingface/download").join(format!("{path}.metadata"));
        if let Ok(text) = std::fs::read_to_string(&metadata) {
            let lines: Vec<&str> = text.lines().collect();
            let whole = lines.len() == 3
                && lines[0].len() == 40
                && matches!(lines[1].len(), 40 | 64)
                && lines[2].parse::<f64>().is_ok();
            if !whole {
                problems.push(format!("{} is torn: {text:?}", metadata.display()));
            }
        }
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let known = name == ".cache" || ever.keys().any(|p| p.split('/').next() == Some(name.as_str()));
        if !known {
            problems.push(format!("{} should not be in the local folder", entry.path().display()));
        }
    }
    Ok(problems)
}

/// The partial files of the cache's blobs and of the local folder's
/// bookkeeping (anything there but `.metadata` and `.lock` files).
fn partial_files(e: &Env, local: &Path) -> BTreeSet<String> {
    let blobs = e.cache().join("models--alice--kill-download/blobs");
    let mut found: BTreeSet<String> = names_in(&blobs)
        .into_iter()
        .filter(|name| name.contains(".incomplete"))
        .collect();
    let mut stack = vec![local.join(".cache/huggingface/download")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if !path.extension().is_some_and(|x| x == "metadata" || x == "lock") {
                found.insert(path.display().to_string());
            }
        }
    }
    found
}

#[derive(Debug, Default)]
struct Tally {
    killed: usize,
    finished_first: usize,
    partial_left: usize,
    /// Time spent seeding, in the killed runs, auditing, and in the next runs.
    spent: [Duration; 4],
}

#[test]
fn downloads_killed_at_random_points_leave_a_sound_cache() -> TestResult {
    let mut rng = Rng::from_env("downloads_killed_at_random_points_leave_a_sound_cache");
    let e = emulator()?;
    let local = tempfile::tempdir()?;
    let mut repo = Repo::seed(&e, 0, BTreeMap::new())?;
    let mut auditor = Auditor::new(&e);
    let mut tally = Tally::default();
    let mut damage = Vec::new();
    let mut generation = 0;
    let started_at = Instant::now();
    for round in 0..DOWNLOAD_KILLS {
        // A new revision, or the same one fetched again: either way bytes move.
        let fresh = round > 0 && rng.below(2) == 0;
        let mut clock = Instant::now();
        let mut lap = |phase: usize, tally: &mut Tally| {
            tally.spent[phase] += clock.elapsed();
            clock = Instant::now();
        };
        if fresh {
            generation += 1;
            repo = Repo::seed(&e, generation, std::mem::take(&mut repo.ever))?;
        }
        let download = Download {
            file: (rng.below(2) == 0).then(|| *rng.pick(&PATHS)),
            local_dir: (rng.below(3) == 0).then(|| local.path().to_path_buf()),
            force: round > 0 && !fresh,
        };
        repo.throttle(&e)?;
        lap(0, &mut tally);
        let partial_before = partial_files(&e, local.path());
        e.hub.log().clear();
        let mut child = download.spawn(&e)?;
        let ending = kill_at_random(&mut child, &mut rng, KILL_WINDOW_MS, || !e.transfers().is_empty())?;
        e.hub.faults().clear();
        let when = format!("round {round}, {download:?}");
        match ending {
            Ending::Killed => tally.killed += 1,
            Ending::Finished(status) => {
                let mut err = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut pipe, &mut err)?;
                }
                assert!(status.success(), "{when}: the download failed: {err}");
                tally.finished_first += 1;
            }
        }

        lap(1, &mut tally);
        if !partial_files(&e, local.path()).is_subset(&partial_before) {
            tally.partial_left += 1;
        }
        let audit = auditor.audit(&e.cache())?;
        let mut problems = audit.problems;
        problems.extend(audit_local_dir(local.path(), &repo.ever)?);
        if !problems.is_empty() || round % 25 == 24 {
            // The Python client's view of the same cache, in its own words.
            problems.extend(python_scan_problems(&e)?.into_iter().map(|w| format!("Python: {w}")));
        }
        damage.extend(problems.into_iter().map(|p| format!("after the kill of {when}: {p}")));

        lap(2, &mut tally);

        // The next run, not killed, finishes with the right bytes.
        let rerun = Download {
            force: false,
            ..download
        };
        let out = rerun.run(&e)?;
        rerun
            .check_result(&last_line(&out), &repo)
            .map_err(|err| format!("{when}: the next run: {err}"))?;
        lap(3, &mut tally);
    }
    let audit = auditor.audit(&e.cache())?;
    damage.extend(audit.problems.iter().map(|p| format!("in the end: {p}")));
    damage.extend(
        python_scan_problems(&e)?
            .into_iter()
            .map(|p| format!("in the end: Python: {p}")),
    );
    report(&format!(
        "{DOWNLOAD_KILLS} downloads over {} revisions: {} killed mid-run, {} done before the kill, \
         {} kills left a new partial file; {} snapshot entries and {} blobs in the end; {:.1} s \
         (seeding {:.1} s, killed runs {:.1} s, audits {:.1} s, next runs {:.1} s)",
        generation + 1,
        tally.killed,
        tally.finished_first,
        tally.partial_left,
        audit.entries,
        audit.blobs,
        started_at.elapsed().as_secs_f64(),
        tally.spent[0].as_secs_f64(),
        tally.spent[1].as_secs_f64(),
        tally.spent[2].as_secs_f64(),
        tally.spent[3].as_secs_f64(),
    ));
    assert!(
        damage.is_empty(),
        "{} problems after kills:\n{}",
        damage.len(),
        damage.join("\n")
    );
    assert!(
        tally.killed >= DOWNLOAD_KILLS / 2,
        "most kills land while the process runs: {tally:?}"
    );
    Ok(())
}

/// The files of one upload round: a small regular file and two LFS files.
fn upload_files(round: u32) -> Vec<(String, Vec<u8>)> {
    vec![
        ("notes.txt".to_string(), format!("round {round}\n").into_bytes()),
        (
            "weights.bin".to_string(),
            pattern_bytes(150_000 + round as usize, 100 + round),
        ),
        (format!("parts/part-{round}.bin"), pattern_bytes(90_000, 200 + round)),
    ]
}

/// The repo's files at `revision`: path → content.
fn hub_files(e: &Env, revision: &str) -> Result<BTreeMap<String, Vec<u8>>, BoxError> {
    let mut files = BTreeMap::new();
    for path in e.remote_files(RepoType::Model, UPLOAD_REPO, revision)?.keys() {
        files.insert(path.clone(), e.hub.file_content("model", UPLOAD_REPO, revision, path)?);
    }
    Ok(files)
}

fn parent_of(e: &Env, commit: &str) -> Result<String, BoxError> {
    let git_dir = e.hub.git_dir("model", UPLOAD_REPO)?;
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&git_dir)
        .args(["rev-parse", &format!("{commit}^")])
        .output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

#[test]
fn uploads_killed_at_random_points_leave_the_old_commit_or_the_new_one() -> TestResult {
    let mut rng = Rng::from_env("uploads_killed_at_random_points_leave_the_old_commit_or_the_new_one");
    let e = emulator()?;
    e.hub
        .seed(&SeedRepo::model(UPLOAD_REPO).file("notes.txt", b"start\n".to_vec()))?;
    let work = tempfile::tempdir()?;
    // Each call of an upload waits a little, so that a kill can land in any of them.
    // The large file goes through Xet (the emulator's repos are Xet-backed), or through LFS
    // where Xet is not offered.
    let phases = [
        ("/preupload/", "POST"),
        ("/xet-write-token/", "GET"),
        ("/~cas/v1/xorbs/", "POST"),
        ("/~cas/v1/shards", "POST"),
        ("/info/lfs/objects/batch", "POST"),
        ("/cdn/lfs-upload/", "PUT"),
        ("/info/lfs/objects/verify", "POST"),
        ("/commit/", "POST"),
    ];
    let (mut old_kept, mut new_landed, mut finished_first) = (0, 0, 0);
    // How far the killed uploads got: the last of their calls the Hub received in full.
    let mut reached: BTreeMap<&str, usize> = BTreeMap::new();
    let started_at = Instant::now();
    for round in 0..UPLOAD_KILLS as u32 {
        let files = upload_files(round);
        let folder = work.path().join(format!("round-{round}"));
        for (path, bytes) in &files {
            let at = folder.join(path);
            std::fs::create_dir_all(at.parent().ok_or("a parent")?)?;
            std::fs::write(at, bytes)?;
        }
        // A whole folder, or one LFS file.
        let single = rng.below(3) == 0;
        let (local, uploaded) = match single {
            true => (folder.join("weights.bin"), vec![files[1].clone()]),
            false => (folder.clone(), files.clone()),
        };
        let local = local.display().to_string();
        let args = ["upload", UPLOAD_REPO, &local, "--quiet"];
        let token = [("HF_TOKEN", ALICE_WRITE)];

        let before = e.hub.resolve_revision("model", UPLOAD_REPO, "main")?;
        let files_before = hub_files(&e, &before)?;
        for (path, method) in phases {
            e.hub
                .faults()
                .push(Fault::new(path, FaultAction::Delay { millis: 60 }).method(method));
        }
        e.hub.log().clear();
        let mut child = e
            .command(&args, &token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // An upload of these few files takes about 5 delays; kill anywhere in it.
        let ending = kill_at_random(&mut child, &mut rng, 380, || true)?;
        e.hub.faults().clear();
        // The server finishes what it was handling for the dead client first.
        assert!(
            wait_until(Duration::from_secs(20), || e.hub.log().in_flight() == 0),
            "the emulator is still handling a request"
        );
        let when = format!("round {round} (upload of {local})");
        match ending {
            Ending::Finished(status) => {
                assert!(status.success(), "{when}: the upload failed");
                finished_first += 1;
            }
            Ending::Killed => {
                let records = e.hub.log().records();
                let last = phases
                    .iter()
                    .rev()
                    .find(|(path, method)| records.iter().any(|r| r.method == *method && r.path.contains(path)))
                    .map_or("no call", |(path, _)| path.trim_matches('/'));
                *reached.entry(last).or_default() += 1;
            }
        }

        let after = e.hub.resolve_revision("model", UPLOAD_REPO, "main")?;
        let mut expected = files_before.clone();
        expected.extend(uploaded.iter().cloned());
        if after == before {
            old_kept += 1;
        } else {
            new_landed += 1;
            assert_eq!(
                parent_of(&e, &after)?,
                before,
                "{when}: one commit on top of the old one"
            );
            let files_after = hub_files(&e, &after)?;
            assert!(
                files_after == expected,
                "{when}: a commit that is not the whole upload: {:?}",
                files_after.keys().collect::<Vec<_>>()
            );
        }

        // Running it again succeeds and leaves the new content.
        let out = e.cli(&args, &token)?;
        assert!(out.status.success(), "{when}: the upload again: {}", stderr(&out));
        let now = e.hub.resolve_revision("model", UPLOAD_REPO, "main")?;
        assert!(hub_files(&e, &now)? == expected, "{when}: the upload run again");
    }
    report(&format!(
        "{UPLOAD_KILLS} uploads killed at random: {old_kept} left the old commit, {new_landed} the new one \
         ({finished_first} had finished first); the last call received of a killed upload: {reached:?}; {:.1} s",
        started_at.elapsed().as_secs_f64()
    ));
    assert!(
        finished_first <= UPLOAD_KILLS / 2,
        "most kills land while the upload runs"
    );
    Ok(())
}

/// The same rule without a kill: a download that fails after the Hub named
/// the commit (here on wrong bytes) leaves no ref to a commit without a
/// snapshot folder, which the Python client's scan calls a corrupted cache.
#[test]
fn a_failed_download_leaves_no_ref_without_its_snapshot() -> TestResult {
    let e = emulator()?;
    let repo = Repo::seed(&e, 0, BTreeMap::new())?;
    let etag = &e.remote_files(RepoType::Model, REPO, &repo.commit)?["small.bin"].etag;
    for args in [
        &["download", REPO, "small.bin"][..],
        &["download", REPO, "--include", "*.bin"],
    ] {
        e.hub.faults().push(Fault::new(
            &format!("/cdn/lfs/{etag}"),
            FaultAction::Corrupt { offset: 10 },
        ));
        let out = e.cli(args, &[])?;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let audit = Auditor::new(&e).audit(&e.cache())?;
        let python = python_scan_problems(&e)?;
        assert!(
            audit.problems.is_empty() && python.is_empty(),
            "after {args:?} failed: {:#?}\nPython: {python:#?}",
            audit.problems
        );
    }
    Ok(())
}
