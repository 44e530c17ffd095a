//! Downloads through the CLI when things go wrong: cut connections, killed
//! processes, wrong bytes, many processes at once, server errors, a full disk.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::ALICE_WRITE;
use hub_url::RepoType;

use crate::support::{BoxError, Env, TestResult, last_line, names_in, pattern_bytes, stderr, wait_until};

const REPO: &str = "alice/faults";

fn model_bytes() -> Vec<u8> {
    pattern_bytes(200_000, 11)
}

/// An emulator with `config.json` and an LFS `model.safetensors`.
fn setup() -> Result<Env, BoxError> {
    let e = Env::empty()?;
    e.hub.seed(
        &SeedRepo::model(REPO)
            .file("config.json", br#"{"a": 1}"#.to_vec())
            .file("model.safetensors", model_bytes()),
    )?;
    Ok(e)
}

fn blobs_dir(e: &Env) -> PathBuf {
    e.cache().join("models--alice--faults/blobs")
}

fn etag_of(e: &Env, path: &str) -> Result<String, BoxError> {
    Ok(e.remote_files(RepoType::Model, REPO, "main")?
        .get(path)
        .ok_or("the file is on the Hub")?
        .etag
        .clone())
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn dropped_connection_is_resumed_without_refetching() -> TestResult {
    let e = setup()?;
    e.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::DropAfter { bytes: 30_000 }));
    e.hub.log().clear();
    let out = e.cli_ok(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(std::fs::read(last_line(&out))?, model_bytes());
    let cdn = e.cdn();
    assert_eq!(cdn.len(), 2, "one cut transfer, one resumed: {cdn:?}");
    assert_eq!(cdn[0].body_bytes_sent, 30_000);
    assert_eq!(cdn[1].range.as_deref(), Some("bytes=30000-"));
    let served: u64 = cdn.iter().map(|r| r.body_bytes_sent).sum();
    assert_eq!(served, model_bytes().len() as u64, "no byte was fetched twice");
    Ok(())
}

#[test]
fn killed_download_resumes_on_the_next_run() -> TestResult {
    let e = Env::empty()?;
    let content = pattern_bytes(1_000_000, 7);
    e.hub.seed(&SeedRepo::model(REPO).file("big.bin", content.clone()))?;
    let partial = blobs_dir(&e).join(format!("{}.incomplete", etag_of(&e, "big.bin")?));
    // A slow body, so that the process is surely killed in the middle of it.
    e.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::Throttle { bytes_per_sec: 200_000 }));
    e.hub.log().clear();
    let mut child = e
        .command(&["download", REPO, "big.bin"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = wait_until(Duration::from_secs(30), || file_len(&partial) > 0);
    child.kill()?; // SIGKILL: no chance to clean up.
    child.wait()?;
    assert!(started, "the download never started writing {}", partial.display());
    let kept = file_len(&partial);
    assert!(kept > 0 && kept < content.len() as u64, "{kept} bytes kept");

    let out = e.cli_ok(&["download", REPO, "big.bin"], &[])?;
    assert_eq!(std::fs::read(last_line(&out))?, content);
    let cdn = e.cdn();
    assert_eq!(cdn.len(), 2, "the killed transfer and the rest: {cdn:?}");
    assert_eq!(cdn[1].range, Some(format!("bytes={kept}-")));
    assert_eq!(cdn[1].body_bytes_sent, content.len() as u64 - kept, "only the rest");
    assert!(!partial.exists(), "the partial file became the blob");
    Ok(())
}

#[test]
fn corrupted_lfs_bytes_fail_with_an_integrity_error_and_leave_no_blob() -> TestResult {
    let e = setup()?;
    e.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::Corrupt { offset: 1234 }));
    let out = e.cli(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("model.safetensors") && err.contains("sha256"), "{err}");
    assert!(out.stdout.is_empty(), "no path is printed");
    assert_eq!(
        names_in(&blobs_dir(&e)),
        Vec::<String>::new(),
        "no blob, no partial file"
    );
    let snapshots = e.cache().join("models--alice--faults/snapshots");
    assert!(
        names_in(&snapshots)
            .iter()
            .all(|commit| names_in(&snapshots.join(commit)).is_empty()),
        "no snapshot entry"
    );

    let out = e.cli_ok(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(std::fs::read(last_line(&out))?, model_bytes());
    Ok(())
}

#[test]
fn no_verify_skips_the_sha256_check() -> TestResult {
    let e = setup()?;
    e.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::Corrupt { offset: 1234 }));
    let out = e.cli_ok(&["download", REPO, "model.safetensors", "--no-verify"], &[])?;
    let fetched = std::fs::read(last_line(&out))?;
    assert_eq!(fetched.len(), model_bytes().len());
    assert_ne!(
        fetched,
        model_bytes(),
        "the corrupted byte was kept: nothing checked the sha256"
    );
    Ok(())
}

#[test]
fn eight_processes_fetch_one_blob_once() -> TestResult {
    eight_processes_at_once(&[])
}

#[test]
fn eight_processes_fetch_one_blob_once_in_copy_mode() -> TestResult {
    eight_processes_at_once(&[("HF_HUB_DISABLE_SYMLINKS", "1")])
}

fn eight_processes_at_once(extra: &[(&str, &str)]) -> TestResult {
    let copies = !extra.is_empty();
    let e = Env::empty()?;
    let content = pattern_bytes(4 * 1024 * 1024, 5);
    e.hub.seed(&SeedRepo::model(REPO).file("shared.bin", content.clone()))?;
    let etag = etag_of(&e, "shared.bin")?;
    // The first transfer is slow, so the others surely wait for it.
    e.hub.faults().push(Fault::new(
        "/cdn/",
        FaultAction::Throttle {
            bytes_per_sec: 16 * 1024 * 1024,
        },
    ));
    e.hub.log().clear();
    let children = (0..8)
        .map(|_| {
            e.command(&["download", REPO, "shared.bin"], extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut paths = Vec::new();
    for child in children {
        let out = child.wait_with_output()?;
        assert!(out.status.success(), "{}", stderr(&out));
        paths.push(last_line(&out));
    }
    assert!(paths.windows(2).all(|w| w[0] == w[1]), "{paths:?}");
    assert_eq!(std::fs::read(&paths[0])?, content);
    assert_eq!(paths[0].is_symlink(), !copies);
    let expected_blobs = if copies { Vec::new() } else { vec![etag] };
    assert_eq!(
        names_in(&blobs_dir(&e)),
        expected_blobs,
        "one blob (moved into the snapshot in copy mode), nothing else"
    );
    let heads = e
        .hub
        .log()
        .records()
        .iter()
        .filter(|r| r.method == "HEAD" && r.path.contains("/resolve/"))
        .count();
    assert_eq!(heads, 8, "every process asked");
    let cdn = e.cdn();
    let served: u64 = cdn.iter().map(|r| r.body_bytes_sent).sum();
    assert_eq!(served, content.len() as u64, "the CDN sent the bytes once: {cdn:?}");
    Ok(())
}

#[test]
fn server_errors_and_rate_limits_are_retried() -> TestResult {
    let e = setup()?;
    let status = |status, path: &str| {
        Fault::new(
            path,
            FaultAction::Status {
                status,
                retry_after: Some(0),
            },
        )
    };
    let faults = e.hub.faults();
    faults.push(status(503, "/resolve/").method("HEAD").times(2));
    faults.push(status(429, "/cdn/"));
    faults.push(status(502, "/cdn/"));
    e.hub.log().clear();
    let out = e.cli_ok(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(std::fs::read(last_line(&out))?, model_bytes());
    assert_eq!(faults.pending(), 0, "every fault was hit");

    // A snapshot retries its info and listing calls and its plain files too.
    faults.push(status(500, "/api/models/"));
    faults.push(status(504, "/tree/"));
    faults.push(status(503, "/resolve/").method("GET"));
    let out = e.cli_ok(&["download", REPO, "--force-download"], &[])?;
    assert_eq!(std::fs::read(last_line(&out).join("config.json"))?, br#"{"a": 1}"#);
    assert_eq!(faults.pending(), 0, "every fault was hit");
    let statuses: Vec<u16> = e.hub.log().records().iter().map(|r| r.status).collect();
    for expected in [503, 429, 502, 500, 504] {
        assert!(statuses.contains(&expected), "{expected} in {statuses:?}");
    }
    Ok(())
}

#[test]
fn persistent_server_errors_fail_with_the_status() -> TestResult {
    let e = setup()?;
    e.hub.faults().push(
        Fault::new(
            "/resolve/",
            FaultAction::Status {
                status: 503,
                retry_after: Some(0),
            },
        )
        .times(100),
    );
    let out = e.cli(&["download", REPO, "config.json"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: ") && err.contains("503"), "{err}");
    let tries = e.hub.log().records().iter().filter(|r| r.status == 503).count();
    assert_eq!(tries, 6, "the first try and 5 retries");
    Ok(())
}

#[test]
fn full_disk_fails_cleanly_and_the_next_run_succeeds() -> TestResult {
    let e = setup()?;
    let etag = etag_of(&e, "model.safetensors")?;
    let blobs = blobs_dir(&e);
    std::fs::create_dir_all(&blobs)?;
    // Every write to the partial file fails with ENOSPC.
    let partial = blobs.join(format!("{etag}.incomplete"));
    std::os::unix::fs::symlink("/dev/full", &partial)?;

    let out = e.cli(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("model.safetensors"), "names the file: {err}");
    assert!(err.contains(&partial.display().to_string()), "names the path: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!blobs.join(&etag).exists(), "no blob");
    let snapshots = e.cache().join("models--alice--faults/snapshots");
    assert!(
        names_in(&snapshots)
            .iter()
            .all(|commit| names_in(&snapshots.join(commit)).is_empty()),
        "no snapshot entry"
    );
    let scan = hub_cache::scan_cache(&e.cache())?;
    assert!(
        scan.repos
            .iter()
            .all(|r| r.revisions.iter().all(|rev| rev.files.is_empty())),
        "{scan:?}"
    );

    // Space is back.
    std::fs::remove_file(&partial)?;
    let out = e.cli_ok(&["download", REPO, "model.safetensors"], &[])?;
    assert_eq!(std::fs::read(last_line(&out))?, model_bytes());
    assert_eq!(names_in(&blobs), vec![etag]);
    Ok(())
}

#[test]
fn verbose_shows_retries_and_resumes_but_never_a_token_or_a_query() -> TestResult {
    let e = setup()?;
    let retry = || {
        Fault::new(
            "/resolve/",
            FaultAction::Status {
                status: 503,
                retry_after: Some(0),
            },
        )
        .method("HEAD")
    };
    let drop = || Fault::new("/cdn/", FaultAction::DropAfter { bytes: 30_000 });
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let args = ["download", REPO, "model.safetensors", "--force-download"];
    for verbose in ["-v", "-vv"] {
        e.hub.faults().push(retry());
        e.hub.faults().push(drop());
        let out = e.cli_ok(&[&[verbose][..], &args[..]].concat(), &token)?;
        assert_eq!(e.hub.faults().pending(), 0, "every fault was hit");
        assert_eq!(std::fs::read(last_line(&out))?, model_bytes());
        let err = stderr(&out);
        assert!(err.contains("answered 503; retrying"), "{verbose}: {err}");
        assert!(err.contains("stopped at byte 30000; resuming"), "{verbose}: {err}");
        assert!(!err.contains(ALICE_WRITE), "{verbose}: the token shows: {err}");
        let ours = err.lines().filter(|line| line.contains(" hub_"));
        for line in ours {
            assert!(!line.contains('?'), "{verbose}: a URL with its query: {line}");
        }
    }
    // Without -v the libraries say nothing.
    e.hub.faults().push(retry());
    e.hub.faults().push(drop());
    let out = e.cli_ok(&args, &token)?;
    assert_eq!(e.hub.faults().pending(), 0, "every fault was hit");
    assert!(!stderr(&out).contains("retrying"), "{}", stderr(&out));
    Ok(())
}
