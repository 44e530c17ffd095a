//! `create_commit` with `XetUploader` against the emulator: bytes and files in one commit go
//! to the CAS (one shard, no LFS upload), a pull request's commit too, and the commit names
//! the files by the sha256 the session computed.

use hub_api::{CommitOperation, CommitOptions, CreateRepoOptions};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::RepoId;
use hub_xet::{UploadOptions, XetUploader};

use sha2::{Digest, Sha256};

use crate::cas_client::client;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `len` bytes that do not compress: sha256 in counter mode.
fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter = 0u64;
    while out.len() < len {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_le_bytes());
        hasher.update(counter.to_le_bytes());
        out.extend_from_slice(&hasher.finalize());
        counter += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn create_commit_uploads_bytes_and_files_through_xet() -> TestResult {
    let hub = TestHub::start()?;
    let client = client(&hub)?;
    let repo = RepoId::new("alice/xet-commit")?;
    client.create_repo(&repo, &CreateRepoOptions::default())?;
    let work = tempfile::tempdir()?;
    let on_disk = pseudo_random(2_500_000, 1);
    let path = work.path().join("weights.bin");
    std::fs::write(&path, &on_disk)?;
    let in_memory = pseudo_random(300_000, 2);
    let cache = work.path().join("shards");
    let xet = XetUploader::with_options(UploadOptions::default().shard_cache(&cache));
    let options = CommitOptions::new("Add through Xet").content_uploader(&xet);
    let operations = [
        CommitOperation::add_file("weights.bin", &path),
        CommitOperation::add_bytes("nested/blob.bin", in_memory.clone()),
        CommitOperation::add_bytes("README.md", "# small, inline\n"),
    ];
    client.create_commit(&repo, &operations, &options)?;

    let stats = hub.xet_stats();
    assert_eq!(stats.shards_stored, 1, "{stats:?}");
    assert_eq!(stats.files_registered, 2, "{stats:?}");
    let records = hub.log().records();
    assert!(
        !records
            .iter()
            .any(|r| r.path.contains("/info/lfs/") || r.path.starts_with("/cdn/lfs"))
    );
    assert!(
        records
            .iter()
            .filter(|r| r.path.starts_with("/~cas/"))
            .all(|r| r.authorization.as_deref().is_some_and(|a| !a.contains(ALICE_WRITE)))
    );
    assert_eq!(
        hub.file_content("model", repo.as_str(), "main", "weights.bin")?,
        on_disk
    );
    assert_eq!(
        hub.file_content("model", repo.as_str(), "main", "nested/blob.bin")?,
        in_memory
    );
    assert!(std::fs::read_dir(&cache)?.count() >= 1, "the session's shard is cached");

    // A pull request: the token is asked for the pull request to come.
    let changed = pseudo_random(2_500_000, 3);
    std::fs::write(&path, &changed)?;
    let options = CommitOptions::new("Through a pull request")
        .create_pr(true)
        .content_uploader(&xet);
    let info = client.create_commit(&repo, &[CommitOperation::add_file("weights.bin", &path)], &options)?;
    assert!(info.pull_request_url.is_some(), "{info:?}");
    assert_eq!(
        hub.file_content("model", repo.as_str(), "refs/pr/1", "weights.bin")?,
        changed
    );
    assert_eq!(
        hub.file_content("model", repo.as_str(), "main", "weights.bin")?,
        on_disk
    );
    Ok(())
}
