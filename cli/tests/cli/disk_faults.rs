//! A cache or a local folder on a disk that is full or read-only: a download
//! that cannot be written fails with a clean error naming the path (exit code
//! 1, `error: …`, no panic), and what was there before stays whole and readable.
//!
//! The disks are a tiny tmpfs and a read-only bind mount (root ignores mode
//! bits), made in a private mount namespace: each test runs itself again under
//! `unshare` (`--user --map-root-user` when not root), so no mount outlives it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hub_emulator::SeedRepo;

use crate::cache_audit::{Auditor, python_scan_problems};
use crate::support::{BoxError, Env, TestResult, last_line, names_in, pattern_bytes, report, stderr, stdout};

const REPO: &str = "alice/disk";
/// Set in the test process that runs inside the private mount namespace.
const INSIDE: &str = "HUB_TEST_IN_MOUNT_NAMESPACE";

/// Runs `body` in a private mount namespace: this test again, under `unshare`.
/// Skips (with the reason printed) where no namespace can be had.
#[allow(clippy::disallowed_methods)] // The marker of the inner run.
fn in_mount_namespace(test: &str, body: impl FnOnce() -> TestResult) -> TestResult {
    if std::env::var_os(INSIDE).is_some() {
        return body();
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let mut unshare: Vec<&str> = Vec::new();
    if !root {
        unshare.extend(["--user", "--map-root-user"]);
    }
    unshare.extend(["--mount", "--propagation", "private"]);
    let probe = Command::new("unshare")
        .args(&unshare)
        .args(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", "/mnt"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            report(&format!(
                "{test}: skipped: no private mount namespace with tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return Ok(());
        }
        Err(err) => {
            report(&format!("{test}: skipped: unshare cannot run: {err}"));
            return Ok(());
        }
    }
    let out = Command::new("unshare")
        .args(&unshare)
        .arg(std::env::current_exe()?)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()?;
    report(stderr(&out).trim_end());
    if !out.status.success() || !stdout(&out).contains("1 passed") {
        return Err(format!("{test} in its mount namespace:\n{}\n{}", stdout(&out), stderr(&out)).into());
    }
    Ok(())
}

fn mount(args: &[&str]) -> TestResult {
    let out = Command::new("mount").args(args).output()?;
    if !out.status.success() {
        return Err(format!("mount {args:?}: {}", stderr(&out)).into());
    }
    Ok(())
}

fn tmpfs(at: &Path, size: &str) -> TestResult {
    std::fs::create_dir_all(at)?;
    let at = at.display().to_string();
    mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &at])
}

fn grow(at: &Path, size: &str) -> TestResult {
    mount(&["-o", &format!("remount,size={size}"), &at.display().to_string()])
}

fn read_only(at: &Path) -> TestResult {
    let at = at.display().to_string();
    mount(&["--bind", &at, &at])?;
    mount(&["-o", "remount,bind,ro", &at])
}

/// The command failed as a user should see it: exit code 1, one `error: …`
/// naming the path and the cause, nothing on stdout, no panic.
fn assert_clean_failure(out: &Output, path: &Path, cause: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "the error names a path in {}: {err}",
        path.display()
    );
    assert!(err.contains(cause), "{err}");
    assert!(out.stdout.is_empty(), "no path is printed: {}", stdout(out));
}

fn model(len: usize, seed: u32) -> Vec<u8> {
    pattern_bytes(len, seed)
}

/// config.json, an LFS file of 300 KiB, one of 900 KiB (fetched in one
/// stream) and one of 3 MiB (in ranges, with `--chunk-mib 1`).
fn seed(e: &Env) -> Result<BTreeMap<&'static str, Vec<u8>>, BoxError> {
    let files = BTreeMap::from([
        ("config.json", br#"{"disk": 1}"#.to_vec()),
        ("small.bin", model(300 * 1024, 1)),
        ("big.bin", model(900 * 1024, 2)),
        ("huge.bin", model(3 * 1024 * 1024, 3)),
    ]);
    let mut seed = SeedRepo::model(REPO);
    for (path, bytes) in &files {
        seed = seed.file(path, bytes.clone());
    }
    e.hub.seed(&seed)?;
    Ok(files)
}

/// The files a cache holds before its disk fills or turns read-only.
const CACHED: [&str; 2] = ["config.json", "small.bin"];

/// An emulator with the repo, and a cache (on a tmpfs of this size, if any)
/// holding [`CACHED`].
fn filled(tmpfs_size: Option<&str>) -> Result<(Env, BTreeMap<&'static str, Vec<u8>>), BoxError> {
    let e = Env::empty()?;
    let files = seed(&e)?;
    if let Some(size) = tmpfs_size {
        tmpfs(&e.cache(), size)?;
    }
    for path in CACHED {
        e.cli_ok(&["download", REPO, path], &[])?;
    }
    Ok((e, files))
}

/// What must not change: refs, snapshot entries, and whole blobs.
#[derive(Debug, PartialEq, Eq)]
struct Kept {
    refs: Vec<(String, Vec<u8>)>,
    entries: Vec<String>,
    blobs: Vec<String>,
}

fn kept(cache: &Path) -> Result<Kept, BoxError> {
    let folder = cache.join("models--alice--disk");
    let refs = names_in(&folder.join("refs"))
        .into_iter()
        .map(|name| Ok((name.clone(), std::fs::read(folder.join("refs").join(&name))?)))
        .collect::<Result<_, BoxError>>()?;
    let mut entries = Vec::new();
    for commit in names_in(&folder.join("snapshots")) {
        for name in names_in(&folder.join("snapshots").join(&commit)) {
            entries.push(format!("{commit}/{name}"));
        }
    }
    let blobs = names_in(&folder.join("blobs"))
        .into_iter()
        .filter(|n| !n.contains(".incomplete"))
        .collect();
    Ok(Kept { refs, entries, blobs })
}

/// The files downloaded before still read back right, online and offline.
fn assert_readable(e: &Env, files: &BTreeMap<&str, Vec<u8>>, paths: &[&str], extra: &[(&str, &str)]) -> TestResult {
    for path in paths {
        let out = e.cli_ok(&["download", REPO, path], extra)?;
        assert_eq!(std::fs::read(last_line(&out))?, files[path], "{path} {extra:?}");
    }
    Ok(())
}

#[test]
fn full_cache_disk_fails_cleanly_and_keeps_what_was_cached() -> TestResult {
    in_mount_namespace(
        "disk_faults::full_cache_disk_fails_cleanly_and_keeps_what_was_cached",
        || {
            let (e, files) = filled(Some("1m"))?;
            let cache = e.cache();
            let before = kept(&cache)?;

            let attempts: [&[&str]; 3] = [
                &["download", REPO, "big.bin"],
                &["download", REPO, "huge.bin", "--chunk-mib", "1"],
                &["download", REPO, "--chunk-mib", "1"],
            ];
            for args in attempts {
                let out = e.cli(args, &[])?;
                assert_clean_failure(&out, &cache, "No space left on device");
                assert_eq!(kept(&cache)?, before, "{args:?} changed the cache");
                assert_readable(&e, &files, &CACHED, &[("HF_HUB_OFFLINE", "1")])?;
                assert_readable(&e, &files, &CACHED, &[])?;
            }
            Auditor::new(&e).audit(&cache)?.assert_clean("on a full disk")?;
            let python = python_scan_problems(&e)?;
            assert!(python.is_empty(), "the Python client's scan: {python:#?}");

            // With room again, the same download finishes.
            grow(&cache, "16m")?;
            let out = e.cli_ok(&["download", REPO, "--chunk-mib", "1"], &[])?;
            for (path, bytes) in &files {
                assert_eq!(&std::fs::read(last_line(&out).join(path))?, bytes, "{path}");
            }
            Auditor::new(&e).audit(&cache)?.assert_clean("with room again")?;
            report(&format!(
                "a 1 MiB tmpfs cache: {} downloads refused cleanly, the cached files kept; done once grown",
                attempts.len()
            ));
            Ok(())
        },
    )
}

#[test]
fn read_only_cache_fails_cleanly_and_still_serves_offline() -> TestResult {
    in_mount_namespace(
        "disk_faults::read_only_cache_fails_cleanly_and_still_serves_offline",
        || {
            let (e, files) = filled(None)?;
            let cache = e.cache();
            let before = kept(&cache)?;
            read_only(&cache)?;

            for args in [
                &["download", REPO, "big.bin"][..],
                &["download", REPO, "huge.bin", "--chunk-mib", "1"],
                &["download", REPO],
            ] {
                let out = e.cli(args, &[])?;
                assert_clean_failure(&out, &cache, "Read-only file system");
            }
            assert_eq!(kept(&cache)?, before);
            assert_readable(&e, &files, &CACHED, &[("HF_HUB_OFFLINE", "1")])?;
            assert_readable(&e, &files, &CACHED, &[])?;
            let out = e.cli_ok(&["scan-cache"], &[])?;
            assert!(stdout(&out).contains(REPO), "{}", stdout(&out));
            report("a read-only cache: 3 downloads refused cleanly, the cached files served offline and online");
            Ok(())
        },
    )
}

#[test]
fn local_dir_on_a_full_disk_keeps_the_previous_file() -> TestResult {
    in_mount_namespace("disk_faults::local_dir_on_a_full_disk_keeps_the_previous_file", || {
        let e = Env::empty()?;
        let old = model(300 * 1024, 10);
        let new = model(900 * 1024, 11);
        e.hub.seed(
            &SeedRepo::model(REPO)
                .file("config.json", b"{}".to_vec())
                .file("weights.bin", old.clone()),
        )?;
        let work = tempfile::tempdir()?;
        let local: PathBuf = work.path().join("local");
        tmpfs(&local, "1m")?;
        let local_arg = local.display().to_string();
        e.cli_ok(&["download", REPO, "--local-dir", &local_arg], &[])?;
        assert_eq!(std::fs::read(local.join("weights.bin"))?, old);

        e.hub.seed(&SeedRepo::model(REPO).file("weights.bin", new.clone()))?;
        for args in [
            &["download", REPO, "weights.bin", "--local-dir", &local_arg][..],
            &["download", REPO, "--local-dir", &local_arg],
        ] {
            let out = e.cli(args, &[])?;
            assert_clean_failure(&out, &local, "No space left on device");
            assert_eq!(
                std::fs::read(local.join("weights.bin"))?,
                old,
                "the previous content is kept"
            );
            assert_eq!(std::fs::read(local.join("config.json"))?, b"{}");
        }

        grow(&local, "16m")?;
        e.cli_ok(&["download", REPO, "--local-dir", &local_arg], &[])?;
        assert_eq!(std::fs::read(local.join("weights.bin"))?, new);
        report("a local folder on a 1 MiB tmpfs: 2 downloads refused cleanly, the previous file kept");
        Ok(())
    })
}
