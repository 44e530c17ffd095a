//! The cache-wide shared blob store: a file with a Xet hash fetched for one repo
//! moves into `{cache}/blobs/{xx}/{hash}` and is linked, not fetched, for any
//! other repo; scans count it once; deleting repos frees it with its last link.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hub_api::{CommitOperation, CommitOptions, HubClient};
use hub_cache::{DownloadOptions, SnapshotOptions, hf_hub_download, scan_cache, snapshot_download};
use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_emulator::xet_objects::{Xorb, file_id, file_shard};
use hub_url::{RepoId, RepoType};
use hub_xet::{CasClient, XetScope, XetTokenSource, chunk_boundaries};
use sha2::{Digest, Sha256};

use crate::{TestResult, hex, weights};

fn client_for(hub: &TestHub) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(hub_url::Endpoint::new(&hub.endpoint())?)
        .token(Some(hub_url::Token::new(ALICE_WRITE)))
        .build()?)
}

const FILE: &str = "weights.bin";

/// Puts `content` into the emulator's Xet storage for `repo` (content-defined
/// chunks in one xorb, as an uploader makes them) and commits it as
/// `FILE`; returns its Xet hash.
fn commit_xet_file(
    hub: &TestHub,
    client: &HubClient,
    repo: &str,
    content: &[u8],
) -> Result<String, Box<dyn std::error::Error>> {
    hub.seed(&SeedRepo::model(repo).file("README.md", format!("# {repo}\n")))?;
    let repo_id = RepoId::new(repo)?;
    let tokens = XetTokenSource::new(client, RepoType::Model, &repo_id, "main", XetScope::Write);
    let cas = CasClient::new(client, Arc::new(tokens));
    let mut chunks = Vec::new();
    let mut start = 0;
    for end in chunk_boundaries(content) {
        chunks.push(&content[start..end]);
        start = end;
    }
    let xorb = Xorb::new(&chunks);
    cas.upload_xorb(&xorb.hash.parse()?, xorb.bytes.clone())?;
    cas.upload_shard(file_shard(&[&xorb], &Sha256::digest(content).into()))?;
    client.create_commit(
        &repo_id,
        &[CommitOperation::add_bytes(FILE, content.to_vec())],
        &CommitOptions::new(format!("Add {FILE}")),
    )?;
    Ok(file_id(&[&xorb]))
}

struct Shared {
    hub: TestHub,
    client: HubClient,
    cache: tempfile::TempDir,
    hash: String,
    sha256: String,
}

/// Two repos holding the same Xet file.
fn two_repos() -> Result<Shared, Box<dyn std::error::Error>> {
    let hub = TestHub::start()?;
    let client = client_for(&hub)?;
    let bytes = weights();
    let hash = commit_xet_file(&hub, &client, "alice/one", &bytes)?;
    assert_eq!(commit_xet_file(&hub, &client, "alice/two", &bytes)?, hash);
    Ok(Shared {
        hub,
        client,
        cache: tempfile::tempdir()?,
        hash,
        sha256: hex(&Sha256::digest(&bytes)),
    })
}

impl Shared {
    fn download(&self, repo: &str, shared_blobs: bool) -> Result<PathBuf, Box<dyn std::error::Error>> {
        let options = DownloadOptions::new(self.cache.path()).shared_blobs(shared_blobs);
        Ok(hf_hub_download(&self.client, &RepoId::new(repo)?, FILE, &options)?)
    }

    fn repo_blob(&self, repo: &str) -> PathBuf {
        self.cache
            .path()
            .join(format!("models--{}", repo.replace('/', "--")))
            .join("blobs")
            .join(&self.sha256)
    }

    fn store_blob(&self) -> PathBuf {
        self.cache.path().join("blobs").join(&self.hash[..2]).join(&self.hash)
    }

    fn manifest(&self) -> Result<String, std::io::Error> {
        std::fs::read_to_string(
            self.cache
                .path()
                .join("blobs")
                .join(&self.hash[..2])
                .join(format!("{}.refs", self.hash)),
        )
    }

    /// Requests that moved the file's bytes.
    fn transfers(&self) -> usize {
        self.hub
            .log()
            .records()
            .iter()
            .filter(|r| r.method == "GET" && (r.path.starts_with("/cdn/") || r.path.starts_with("/~cas/")))
            .count()
    }
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn a_file_fetched_for_one_repo_is_linked_for_another() -> TestResult {
    let s = two_repos()?;
    let first = s.download("alice/one", true)?;
    assert_eq!(std::fs::read(&first)?, weights());
    let blob = s.repo_blob("alice/one");
    assert!(is_link(&blob), "the repo blob links into the store");
    assert_eq!(
        std::fs::read_link(&blob)?,
        Path::new("../../blobs").join(&s.hash[..2]).join(&s.hash)
    );
    assert_eq!(
        std::fs::read_to_string(s.cache.path().join("blobs/.huggingface-shared-blobs"))?,
        "1\n"
    );
    assert_eq!(s.manifest()?, format!("models--alice--one/blobs/{}\n", s.sha256));

    s.hub.log().clear();
    let second = s.download("alice/two", true)?;
    assert_eq!(std::fs::read(&second)?, weights());
    assert_eq!(s.transfers(), 0, "linked from the store, not fetched");
    assert!(is_link(&s.repo_blob("alice/two")));
    assert_eq!(
        s.manifest()?,
        format!("models--alice--one/blobs/{0}\nmodels--alice--two/blobs/{0}\n", s.sha256)
    );

    // snapshot_download takes the hash from the listing and links too.
    let _ = std::fs::remove_dir_all(s.cache.path().join("models--alice--two"));
    s.hub.log().clear();
    let folder = snapshot_download(
        &s.client,
        &RepoId::new("alice/two")?,
        &SnapshotOptions::new(s.cache.path()),
    )?;
    assert_eq!(std::fs::read(folder.join(FILE))?, weights());
    // The listing cache keeps the hash, as the Python client's does, for pinned and offline calls.
    let commit = folder.file_name().ok_or("a commit")?.to_string_lossy().into_owned();
    let listing = std::fs::read_to_string(
        s.cache
            .path()
            .join("models--alice--two/trees")
            .join(format!("{commit}.json")),
    )?;
    assert!(listing.contains(&s.hash), "{listing}");
    assert!(
        !s.hub
            .log()
            .records()
            .iter()
            .any(|r| r.method == "GET" && r.path.starts_with("/cdn/") && !r.path.contains("README")),
        "the Xet file was linked"
    );
    assert!(is_link(&s.repo_blob("alice/two")));
    Ok(())
}

#[test]
fn with_the_store_off_each_repo_keeps_its_own_blob() -> TestResult {
    let s = two_repos()?;
    s.download("alice/one", false)?;
    s.download("alice/two", false)?;
    for repo in ["alice/one", "alice/two"] {
        let meta = std::fs::symlink_metadata(s.repo_blob(repo))?;
        assert!(meta.file_type().is_file(), "{repo}");
    }
    assert!(!s.cache.path().join("blobs").exists());
    Ok(())
}

#[test]
fn a_store_blob_of_the_wrong_size_is_fetched_again() -> TestResult {
    let s = two_repos()?;
    s.download("alice/one", true)?;
    let stored = s.store_blob();
    std::fs::remove_file(&stored)?;
    std::fs::write(&stored, b"short")?;
    s.hub.log().clear();
    let path = s.download("alice/two", true)?;
    assert!(s.transfers() > 0, "fetched, not linked to the damaged copy");
    assert_eq!(std::fs::read(&path)?, weights());
    // The fresh bytes replaced the damaged copy for both repos.
    assert_eq!(std::fs::read(s.repo_blob("alice/one"))?, weights());
    Ok(())
}

#[test]
fn scans_count_a_shared_file_once_and_deleting_its_last_link_frees_it() -> TestResult {
    let s = two_repos()?;
    s.download("alice/one", true)?;
    s.download("alice/two", true)?;
    let size = weights().len() as u64;
    let info = scan_cache(s.cache.path())?;
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    assert_eq!(info.repos.len(), 2, "the store is no repo");
    for repo in &info.repos {
        assert_eq!(repo.size_on_disk, size, "{}", repo.repo_id);
        assert_eq!(repo.nb_files, 1);
    }
    assert_eq!(info.size_on_disk, size, "the shared file counts once");
    // The same plan whatever spelling of the cache folder the scan is given.
    std::fs::create_dir(s.cache.path().join("elsewhere"))?;
    let spelled = scan_cache(&s.cache.path().join("elsewhere").join(".."))?;
    let everything: Vec<&str> = spelled
        .repos
        .iter()
        .flat_map(|r| r.revisions.iter().map(|v| v.commit_hash.as_str()))
        .collect();
    assert_eq!(spelled.delete_revisions(&everything).expected_freed_size, size);
    std::fs::remove_dir(s.cache.path().join("elsewhere"))?;

    let one = info
        .repos
        .iter()
        .find(|r| r.repo_id.as_str() == "alice/one")
        .ok_or("alice/one")?;
    let commits: Vec<&str> = one.revisions.iter().map(|r| r.commit_hash.as_str()).collect();
    let strategy = info.delete_revisions(&commits);
    assert_eq!(strategy.expected_freed_size, 0, "alice/two still links to it");
    strategy.execute()?;
    assert!(s.store_blob().exists());
    assert_eq!(s.manifest()?, format!("models--alice--two/blobs/{}\n", s.sha256));
    let info = scan_cache(s.cache.path())?;
    let two = info
        .repos
        .iter()
        .find(|r| r.repo_id.as_str() == "alice/two")
        .ok_or("alice/two")?;
    assert_eq!(std::fs::read(two.revisions[0].files[0].file_path.clone())?, weights());

    let commits: Vec<&str> = two.revisions.iter().map(|r| r.commit_hash.as_str()).collect();
    let strategy = info.delete_revisions(&commits);
    assert_eq!(strategy.expected_freed_size, size, "its last link goes");
    strategy.execute()?;
    assert!(!s.store_blob().exists());
    assert!(s.manifest().is_err());
    let info = scan_cache(s.cache.path())?;
    assert!(info.repos.is_empty() && info.warnings.is_empty(), "{info:?}");
    assert_eq!(info.size_on_disk, 0);
    Ok(())
}

#[test]
fn store_files_no_repo_links_to_are_pruned() -> TestResult {
    let s = two_repos()?;
    s.download("alice/one", true)?;
    // A repo folder removed by hand leaves its file in the store.
    std::fs::remove_dir_all(s.cache.path().join("models--alice--one"))?;
    let info = scan_cache(s.cache.path())?;
    assert_eq!(info.size_on_disk, weights().len() as u64, "counted until pruned");
    let prune = info.prune_shared_blobs();
    assert_eq!(prune.expected_freed_size, weights().len() as u64);
    prune.execute()?;
    assert!(!s.store_blob().exists());
    assert_eq!(scan_cache(s.cache.path())?.size_on_disk, 0);
    Ok(())
}

#[test]
fn a_file_fetched_over_plain_http_is_stored_once_its_xet_hash_is_checked() -> TestResult {
    let s = two_repos()?;
    s.hub.log().clear();
    let options = DownloadOptions::new(s.cache.path()).xet(false);
    let path = hf_hub_download(&s.client, &RepoId::new("alice/one")?, FILE, &options)?;
    assert_eq!(std::fs::read(&path)?, weights());
    assert!(
        !s.hub.log().records().iter().any(|r| r.path.starts_with("/~cas/")),
        "no Xet"
    );
    assert!(is_link(&s.repo_blob("alice/one")), "stored all the same");
    s.hub.log().clear();
    s.download("alice/two", true)?;
    assert_eq!(s.transfers(), 0);
    Ok(())
}

#[test]
fn a_stored_file_with_other_bytes_is_not_linked_but_replaced() -> TestResult {
    let s = two_repos()?;
    s.download("alice/one", true)?;
    let stored = s.store_blob();
    let mut other = weights();
    other[1000] ^= 0xff;
    std::fs::remove_file(&stored)?;
    std::fs::write(&stored, &other)?;
    s.hub.log().clear();
    let path = s.download("alice/two", true)?;
    assert!(s.transfers() > 0, "fetched: the stored bytes are not the file's");
    assert_eq!(std::fs::read(&path)?, weights());
    assert_eq!(std::fs::read(&stored)?, weights(), "the fetched bytes replaced them");
    assert!(is_link(&s.repo_blob("alice/two")));
    Ok(())
}
