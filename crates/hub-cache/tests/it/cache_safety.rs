//! What the cache's own bookkeeping does with state that a crash, a full disk
//! or another program left behind.

use std::path::Path;

use hub_cache::{DownloadOptions, hf_hub_download, scan_cache};
use hub_emulator::hostile_hub::{HostileHub, Lie, REPO, SMALL_FILE};
use hub_url::{Endpoint, RepoId};

use super::TestResult;

#[test]
fn an_empty_gitignore_left_by_a_full_disk_is_written_again() -> TestResult {
    let hub = HostileHub::start(Lie::None)?;
    let client = hub_api::HubClient::builder()
        .endpoint(Endpoint::new(&hub.url())?)
        .build()?;
    let root = tempfile::tempdir()?;
    let local = root.path().join("local");
    let bookkeeping = local.join(".cache/huggingface");
    std::fs::create_dir_all(&bookkeeping)?;
    std::fs::write(bookkeeping.join(".gitignore"), b"")?;
    let mut options = DownloadOptions::new(root.path().join("cache"));
    options.fetch.local_dir = Some(local.clone());
    let path = hf_hub_download(&client, &RepoId::new(REPO)?, SMALL_FILE, &options)?;
    assert_eq!(std::fs::read(path)?, hub.small_bytes());
    assert_eq!(std::fs::read_to_string(bookkeeping.join(".gitignore"))?, "*");
    assert!(std::fs::read_to_string(bookkeeping.join("CACHEDIR.TAG"))?.starts_with("Signature: "));
    // Nothing of the staging is left beside them.
    let names: Vec<String> = std::fs::read_dir(&bookkeeping)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".incomplete")), "{names:?}");
    Ok(())
}

#[test]
fn deleting_a_revision_never_removes_what_a_link_points_to_outside_the_repo() -> TestResult {
    let root = tempfile::tempdir()?;
    let cache = root.path().join("cache");
    let repo = cache.join("models--org--name");
    let commit = "c".repeat(40);
    let snapshot = repo.join("snapshots").join(&commit);
    std::fs::create_dir_all(&snapshot)?;
    std::fs::create_dir_all(repo.join("blobs"))?;
    std::fs::create_dir_all(repo.join("refs"))?;
    let precious = root.path().join("precious.txt");
    std::fs::write(&precious, b"not the cache's")?;
    std::os::unix::fs::symlink(Path::new("../../../../precious.txt"), snapshot.join("file.txt"))?;
    std::fs::write(repo.join("blobs").join("e".repeat(40)), b"own")?;
    std::os::unix::fs::symlink(Path::new("../../blobs").join("e".repeat(40)), snapshot.join("own.txt"))?;
    // A second revision keeps the repo, so the blobs are deleted one by one.
    let other = repo.join("snapshots").join("d".repeat(40));
    std::fs::create_dir_all(&other)?;
    std::fs::write(other.join("kept.txt"), b"kept")?;
    let info = scan_cache(&cache)?;
    let strategy = info.delete_revisions(&[commit.as_str()]);
    strategy.execute()?;
    assert_eq!(std::fs::read(&precious)?, b"not the cache's");
    assert!(
        !repo.join("blobs").join("e".repeat(40)).exists(),
        "the repo's own blob goes"
    );
    assert!(!snapshot.exists());
    Ok(())
}
