//! Downloads from a hub that lies (`hub_emulator::hostile_hub`): every lie is
//! refused or survived, nothing is written outside the cache, no call hangs,
//! and no more than the announced bytes reach the disk.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hub_api::{HubClient, RetryPolicy};
use hub_cache::{DownloadOptions, Error, SnapshotOptions, hf_hub_download, snapshot_download};
use hub_emulator::hostile_hub::{COMMIT, HostileHub, LFS_FILE, Lie, MISSING_FILE, REPO, SMALL_FILE};
use hub_emulator::tree_walk::files_under;
use hub_url::{Endpoint, RepoId};

use super::TestResult;

/// Server-chosen ids that would leave the cache if joined to a path.
const CLIMBING_IDS: [&str; 4] = [
    "../../../../../../escaped",
    "/tmp/hub-hardening-escaped",
    "..",
    "0123456789abcdef0123456789abcdef0123/../",
];

fn client(hub: &HostileHub) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.url())?)
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .build()?)
}

/// A cache three folders down a fresh root, so that `../` has somewhere to go.
struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Result<Sandbox, std::io::Error> {
        Ok(Sandbox {
            root: tempfile::tempdir()?,
        })
    }

    fn cache(&self) -> PathBuf {
        self.root.path().join("a/b/c/cache")
    }

    fn options(&self) -> DownloadOptions<'static> {
        DownloadOptions::new(self.cache())
    }

    fn snapshot_options(&self) -> SnapshotOptions<'static> {
        SnapshotOptions::new(self.cache()).max_workers(2)
    }

    /// Every file under the root is inside the cache folder.
    fn assert_nothing_outside(&self) {
        let cache = self.cache();
        for path in files_under(self.root.path()) {
            assert!(path.starts_with(&cache), "written outside the cache: {path:?}");
        }
        assert!(!Path::new("/tmp/hub-hardening-escaped").exists());
    }

    /// The files under the cache's `snapshots/` folders.
    fn snapshot_files(&self) -> Vec<PathBuf> {
        files_under(&self.cache())
            .into_iter()
            .filter(|p| p.components().any(|c| c.as_os_str() == "snapshots"))
            .collect()
    }
}

/// Runs `call` on a thread and fails the test if it does not return within
/// `limit`: the calls under test must never hang.
fn within<T: Send + 'static>(limit: Duration, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    match receiver.recv_timeout(limit) {
        Ok(value) => value,
        Err(_) => panic!("the call did not return within {limit:?}"),
    }
}

#[test]
fn server_ids_that_would_leave_the_cache_are_refused_by_name() -> TestResult {
    let repo = RepoId::new(REPO)?;
    for bad in CLIMBING_IDS {
        let cases: [(Lie, &str, bool, &str); 6] = [
            (Lie::RepoCommit(bad.into()), SMALL_FILE, false, "X-Repo-Commit"),
            (Lie::Etag(bad.into()), SMALL_FILE, false, "ETag"),
            (Lie::LinkedEtag(bad.into()), LFS_FILE, false, "X-Linked-Etag"),
            (Lie::RepoCommit(bad.into()), SMALL_FILE, true, "sha"),
            (Lie::TreeOid(bad.into()), SMALL_FILE, true, "oid"),
            (Lie::TreeLfsOid(bad.into()), LFS_FILE, true, "lfs.oid"),
        ];
        for (lie, file, snapshot, field) in cases {
            let hub = HostileHub::start_with_lfs_size(lie.clone(), 4096)?;
            let client = client(&hub)?;
            let sandbox = Sandbox::new()?;
            for local_dir in [None, Some(sandbox.cache().join("local"))] {
                let mut options = sandbox.options();
                options.fetch.local_dir = local_dir.clone();
                let mut snapshot_options = sandbox.snapshot_options();
                snapshot_options.fetch.local_dir = local_dir;
                let err = match snapshot {
                    true => snapshot_download(&client, &repo, &snapshot_options).map(drop),
                    false => hf_hub_download(&client, &repo, file, &options).map(drop),
                }
                .expect_err("a lying id must be refused");
                let message = super::chain(&err);
                assert!(
                    message.contains(field) && message.contains(&format!("{bad:?}")),
                    "{lie:?}: the error names {field} and the value: {message}"
                );
            }
            sandbox.assert_nothing_outside();
            assert!(sandbox.snapshot_files().is_empty(), "{lie:?}: nothing placed");
            // Offline, nothing of the lie is served back either.
            let mut offline = sandbox.options();
            offline.fetch.local_files_only = true;
            assert!(matches!(
                hf_hub_download(&client, &repo, file, &offline),
                Err(Error::NotCached { .. })
            ));
        }
    }
    Ok(())
}

#[test]
fn a_climbing_commit_on_a_missing_file_marks_nothing() -> TestResult {
    for bad in CLIMBING_IDS {
        let hub = HostileHub::start(Lie::MissingCommit(bad.into()))?;
        let sandbox = Sandbox::new()?;
        let err = hf_hub_download(&client(&hub)?, &RepoId::new(REPO)?, MISSING_FILE, &sandbox.options())
            .expect_err("missing");
        assert!(
            matches!(
                super::api_error(&err),
                Some(hub_api::Error::EntryNotFound { commit: None, .. })
            ),
            "{err:?}"
        );
        sandbox.assert_nothing_outside();
        assert!(
            !files_under(&sandbox.cache())
                .iter()
                .any(|p| p.to_string_lossy().contains(".no_exist"))
        );
    }
    // The honest answer is still remembered.
    let hub = HostileHub::start(Lie::None)?;
    let sandbox = Sandbox::new()?;
    let _ = hf_hub_download(&client(&hub)?, &RepoId::new(REPO)?, MISSING_FILE, &sandbox.options());
    let marker = files_under(&sandbox.cache())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(".no_exist"));
    assert!(marker.is_some_and(|m| m.ends_with(format!("{COMMIT}/{MISSING_FILE}"))));
    Ok(())
}

#[test]
fn a_body_ending_short_fails_instead_of_hanging() -> TestResult {
    // Small enough for one stream, with sha256 verification on: the hash
    // thread must not wait for bytes that never come.
    let hub = HostileHub::start_with_lfs_size(Lie::ShortBody(1000), 200_000)?;
    let client = client(&hub)?;
    let sandbox = Sandbox::new()?;
    let options = sandbox.options();
    let started = Instant::now();
    let result = within(Duration::from_secs(60), move || {
        hf_hub_download(&client, &RepoId::new(REPO)?, LFS_FILE, &options).map(drop)
    });
    let err = result.expect_err("short body");
    assert!(
        format!("{err}").contains(LFS_FILE) || format!("{err:?}").contains("ended"),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(sandbox.snapshot_files().is_empty());
    Ok(())
}

#[test]
fn a_redirect_without_a_linked_size_still_brings_the_real_bytes() -> TestResult {
    let hub = HostileHub::start_with_lfs_size(Lie::RedirectWithoutSize, 100_000)?;
    let sandbox = Sandbox::new()?;
    let path = hf_hub_download(&client(&hub)?, &RepoId::new(REPO)?, LFS_FILE, &sandbox.options())?;
    assert_eq!(std::fs::read(path)?, hub.lfs_bytes());
    Ok(())
}

#[test]
fn an_endless_body_is_cut_at_the_announced_size() -> TestResult {
    let hub = HostileHub::start(Lie::EndlessBody)?;
    let sandbox = Sandbox::new()?;
    let client = client(&hub)?;
    let options = sandbox.options();
    let err = within(Duration::from_secs(60), move || {
        hf_hub_download(&client, &RepoId::new(REPO)?, LFS_FILE, &options).map(drop)
    })
    .expect_err("endless body");
    assert!(format!("{err:?}").contains("announced 17 bytes"), "{err:?}");
    let written: u64 = files_under(&sandbox.cache())
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("blobs")))
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .map(|m| m.len())
        .sum();
    assert!(written <= 17, "at most the announced bytes on disk, found {written}");
    assert!(sandbox.snapshot_files().is_empty());
    Ok(())
}

#[test]
fn long_legal_names_fit_in_the_cache_and_a_local_folder() -> TestResult {
    let name = format!("{}.json", "n".repeat(245));
    assert_eq!(name.len(), 250);
    let hub = HostileHub::start(Lie::FileName(name.clone()))?;
    let client = client(&hub)?;
    let repo = RepoId::new(REPO)?;
    for (copies, local) in [(false, false), (true, false), (false, true)] {
        let sandbox = Sandbox::new()?;
        let mut options = sandbox.options();
        options.fetch.disable_symlinks = copies;
        if local {
            options.fetch.local_dir = Some(sandbox.cache().join("local"));
        }
        let path = hf_hub_download(&client, &repo, &name, &options)?;
        assert_eq!(
            std::fs::read(&path)?,
            hub.small_bytes(),
            "copies {copies}, local {local}"
        );
        assert!(path.ends_with(&name));
    }
    Ok(())
}

#[test]
fn a_server_ignoring_ranges_gets_one_stream() -> TestResult {
    let hub = HostileHub::start(Lie::IgnoresRange)?;
    let sandbox = Sandbox::new()?;
    let mut options = sandbox.options();
    options.fetch.transfer.parallel_threshold = 64 * 1024;
    options.fetch.transfer.chunk_size = 256 * 1024;
    let path = hf_hub_download(&client(&hub)?, &RepoId::new(REPO)?, LFS_FILE, &options)?;
    assert_eq!(std::fs::read(path)?, hub.lfs_bytes());
    let cdn_gets = hub
        .server()
        .log()
        .records()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
        .count();
    assert!(
        cdn_gets <= 8 + 1,
        "the ranges stop at the first 200, then one stream: {cdn_gets}"
    );
    Ok(())
}

#[test]
fn a_trickling_body_fails_once_the_stall_window_passes() -> TestResult {
    let hub = HostileHub::start_with_lfs_size(Lie::Trickle(Duration::from_millis(20)), 100_000)?;
    let sandbox = Sandbox::new()?;
    let client = client(&hub)?;
    let mut options = sandbox.options();
    options.fetch.transfer.stall_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = within(Duration::from_secs(60), move || {
        hf_hub_download(&client, &RepoId::new(REPO)?, LFS_FILE, &options).map(drop)
    })
    .expect_err("stalled body");
    assert!(format!("{err:?}").contains("stalled"), "{err:?}");
    // Each of the resumes stalls once: about six windows in all.
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(sandbox.snapshot_files().is_empty());
    Ok(())
}

#[test]
fn wrong_bytes_of_every_kind_are_refused_and_never_placed() -> TestResult {
    let cases = [
        (Lie::WrongContentRange, LFS_FILE, "range"),
        (Lie::ChangedContent, LFS_FILE, "sha256"),
        (Lie::GzipBody, SMALL_FILE, "git blob"),
        (Lie::GzipBody, LFS_FILE, "sha256"),
        (Lie::RedirectLoop, SMALL_FILE, "redirect"),
        (Lie::HugeHeader(4 * 1024 * 1024), SMALL_FILE, ""),
    ];
    for (lie, file, says) in cases {
        let hub = HostileHub::start(lie.clone())?;
        let sandbox = Sandbox::new()?;
        let mut options = sandbox.options();
        options.fetch.transfer.parallel_threshold = 64 * 1024;
        options.fetch.transfer.chunk_size = 512 * 1024;
        let client = client(&hub)?;
        let err = within(Duration::from_secs(60), move || {
            hf_hub_download(&client, &repo_id(), file, &options).map(drop)
        })
        .expect_err("a lie");
        let text = format!("{err:?} {err}").to_lowercase();
        assert!(text.contains(says), "{lie:?}: {text}");
        assert!(sandbox.snapshot_files().is_empty(), "{lie:?}");
        let blobs: Vec<_> = files_under(&sandbox.cache())
            .into_iter()
            .filter(|p| p.parent().is_some_and(|d| d.ends_with("blobs")))
            .filter(|p| !p.to_string_lossy().ends_with(".incomplete") && !p.to_string_lossy().ends_with(".parts"))
            .collect();
        assert!(blobs.is_empty(), "{lie:?}: no blob renamed into place: {blobs:?}");
    }
    Ok(())
}

fn repo_id() -> RepoId {
    RepoId::new(REPO).expect("a valid id")
}
