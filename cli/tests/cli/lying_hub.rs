//! `huggingface-cli download` against a hub that lies
//! (`hub_emulator::hostile_hub`): it refuses with a clean error, writes
//! nothing outside `HF_HOME`, never hangs, and never places a partial file.

use std::path::PathBuf;
use std::process::{Command, Output};

use hub_emulator::hostile_hub::{HostileHub, LFS_FILE, Lie, REPO, SMALL_FILE};
use hub_emulator::tree_walk::files_under;

use crate::support::{TestResult, stderr, stdout};

/// A fresh root whose `home/` is `HF_HOME`, so that a `../` has somewhere to go.
struct Run {
    root: tempfile::TempDir,
}

impl Run {
    fn new() -> Result<Run, std::io::Error> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join("home"))?;
        Ok(Run { root })
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    #[allow(clippy::disallowed_methods)] // PATH is passed on to the child.
    fn download(&self, hub: &HostileHub, args: &[&str], extra: &[(&str, &str)]) -> std::io::Result<Output> {
        Command::new(env!("CARGO_BIN_EXE_huggingface-cli"))
            .arg("download")
            .arg(REPO)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_HOME", self.home())
            .env("HF_ENDPOINT", hub.url())
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .envs(extra.iter().copied())
            .current_dir(self.home())
            .output()
    }

    /// Every file written is under `HF_HOME`, and every file under a
    /// `snapshots/` folder holds one of `whole` (a file of the hub, complete).
    fn assert_contained(&self, whole: &[&[u8]]) {
        for path in files_under(self.root.path()) {
            assert!(path.starts_with(self.home()), "written outside HF_HOME: {path:?}");
            if path.components().any(|c| c.as_os_str() == "snapshots") {
                let bytes = std::fs::read(&path).unwrap_or_default();
                assert!(whole.contains(&bytes.as_slice()), "a partial or foreign file: {path:?}");
            }
        }
    }
}

fn assert_refused(out: &Output, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit 1: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(says), "the error says {says:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn climbing_ids_from_headers_and_listings_are_refused_by_name() -> TestResult {
    let bad = "../../../../escaped";
    let cases: [(Lie, &[&str], &str); 4] = [
        (Lie::RepoCommit(bad.into()), &[SMALL_FILE], "X-Repo-Commit"),
        (Lie::LinkedEtag(bad.into()), &[LFS_FILE], "X-Linked-Etag"),
        (Lie::TreeLfsOid(bad.into()), &[], "lfs.oid"),
        (Lie::TreePath(bad.into()), &[], "refusing the path"),
    ];
    for (lie, args, says) in cases {
        let hub = HostileHub::start_with_lfs_size(lie.clone(), 4096)?;
        let run = Run::new()?;
        let out = run.download(&hub, args, &[])?;
        assert_refused(&out, says);
        assert!(
            stderr(&out).contains(bad),
            "{lie:?}: the value is named: {}",
            stderr(&out)
        );
        run.assert_contained(&[]);
    }
    Ok(())
}

#[test]
fn an_endless_body_is_cut_at_its_announced_size() -> TestResult {
    let hub = HostileHub::start(Lie::EndlessBody)?;
    let run = Run::new()?;
    let out = run.download(&hub, &[LFS_FILE], &[])?;
    assert_refused(&out, "announced 17 bytes");
    let on_disk: u64 = files_under(&run.home())
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("blobs")))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    assert!(on_disk <= 17, "{on_disk} bytes written");
    run.assert_contained(&[]);
    Ok(())
}

#[test]
fn a_redirect_without_linked_size_downloads_the_real_file() -> TestResult {
    let hub = HostileHub::start_with_lfs_size(Lie::RedirectWithoutSize, 300_000)?;
    let run = Run::new()?;
    let out = run.download(&hub, &[LFS_FILE], &[])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(stdout(&out).trim())?, hub.lfs_bytes());
    run.assert_contained(&[hub.lfs_bytes()]);
    Ok(())
}

#[test]
fn a_stalled_body_fails_within_the_download_timeout_windows() -> TestResult {
    let hub = HostileHub::start_with_lfs_size(Lie::Trickle(std::time::Duration::from_millis(25)), 200_000)?;
    let run = Run::new()?;
    let started = std::time::Instant::now();
    let out = run.download(&hub, &[LFS_FILE], &[("HF_HUB_DOWNLOAD_TIMEOUT", "1")])?;
    assert_refused(&out, "stalled");
    // Six windows of a second (the first try and five resumes), and no more.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    run.assert_contained(&[]);
    Ok(())
}

#[test]
fn a_250_byte_file_name_is_placed() -> TestResult {
    let name = format!("{}.json", "n".repeat(245));
    let hub = HostileHub::start(Lie::FileName(name.clone()))?;
    for extra in [&[][..], &[("HF_HUB_DISABLE_SYMLINKS", "1")][..]] {
        let run = Run::new()?;
        let out = run.download(&hub, &[&name], extra)?;
        assert!(out.status.success(), "{}", stderr(&out));
        let placed = PathBuf::from(stdout(&out).trim());
        assert!(placed.ends_with(&name));
        assert_eq!(std::fs::read(&placed)?, hub.small_bytes());
        run.assert_contained(&[hub.small_bytes()]);
    }
    Ok(())
}
