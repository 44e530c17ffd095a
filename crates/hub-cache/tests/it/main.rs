//! hf_hub_download and snapshot_download against the local Hub emulator.

mod api;
mod cache_safety;
mod call_settings;
mod hostile_server;
mod lying_hub;
mod proptests;
mod ramp;
mod shared_blobs;
mod snapshot;
mod tls;
mod xet;

use std::path::{Path, PathBuf};

use hub_api::{HubClient, RetryPolicy};
use hub_cache::{DownloadOptions, Error, SnapshotOptions, hf_hub_download};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{Endpoint, RepoId, RepoType, Revision, Token};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REPO: &str = "alice/cached";

fn weights() -> Vec<u8> {
    (0..50_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect()
}

/// The connection of every request to the CDN in the emulator's log, in order.
fn cdn_connections(hub: &TestHub) -> Vec<u64> {
    hub.log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .map(|r| r.connection)
        .collect()
}

/// The first byte a `Range: bytes=a-b` request asks for, and the last (none
/// for `bytes=a-`).
fn asked_bytes(range: &str) -> Option<(u64, Option<u64>)> {
    let (start, end) = range.strip_prefix("bytes=")?.split_once('-')?;
    let end = match end {
        "" => None,
        end => Some(end.parse().ok()?),
    };
    Some((start.parse().ok()?, end))
}

/// The CDN's first answer breaks after `bytes` of its body, and every later
/// one is refused (403).
fn break_then_refuse(hub: &TestHub, bytes: u64) {
    hub.faults().push(Fault::new("/cdn/", FaultAction::DropAfter { bytes }));
    hub.faults().push(
        Fault::new(
            "/cdn/",
            FaultAction::Status {
                status: 403,
                retry_after: None,
            },
        )
        .times(100),
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Fixture {
    hub: TestHub,
    client: HubClient,
    cache: tempfile::TempDir,
    commit: String,
}

fn fixture() -> Result<Fixture, Box<dyn std::error::Error>> {
    let hub = TestHub::start()?;
    let commit = hub.seed(
        &SeedRepo::model(REPO)
            .file("config.json", br#"{"a": 1}"#.to_vec())
            .file("model.safetensors", weights())
            .file("tokenizer/sub/vocab.txt", b"hello\nworld\n".to_vec()),
    )?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .retry(RetryPolicy {
            base_delay: std::time::Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()?;
    Ok(Fixture {
        hub,
        client,
        cache: tempfile::tempdir()?,
        commit,
    })
}

impl Fixture {
    fn options(&self) -> DownloadOptions<'static> {
        DownloadOptions::new(self.cache.path())
    }

    fn snapshot_options(&self) -> SnapshotOptions<'static> {
        SnapshotOptions::new(self.cache.path())
    }

    fn download(&self, file: &str) -> Result<PathBuf, Error> {
        hf_hub_download(&self.client, &RepoId::new(REPO)?, file, &self.options())
    }

    fn repo_dir(&self) -> PathBuf {
        self.cache.path().join("models--alice--cached")
    }
}

/// The Hub's error behind a cache error, when there is one.
fn api_error(err: &Error) -> Option<&hub_api::Error> {
    std::error::Error::source(err)?.downcast_ref()
}

/// An error's message followed by its causes', as `{:#}` shows them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        text.push_str(&format!(": {next}"));
        cause = next.source();
    }
    text
}

/// Every file under a folder, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap_or(&path).display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn regular_file_lands_in_the_python_layout() -> TestResult {
    let f = fixture()?;
    let path = f.download("config.json")?;
    assert_eq!(path, f.repo_dir().join("snapshots").join(&f.commit).join("config.json"));
    assert_eq!(std::fs::read(&path)?, br#"{"a": 1}"#);
    let link = std::fs::read_link(&path)?;
    let blob_name = link
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert_eq!(link, Path::new("../../blobs").join(&blob_name), "relative symlink");
    assert_eq!(blob_name.len(), 40, "regular blobs are named by their git sha1");
    assert_eq!(
        std::fs::read_to_string(f.repo_dir().join("refs/main"))?,
        f.commit,
        "no newline"
    );
    Ok(())
}

#[test]
fn lfs_file_is_named_by_sha256_and_verified() -> TestResult {
    let f = fixture()?;
    let path = f.download("model.safetensors")?;
    let content = std::fs::read(&path)?;
    assert_eq!(content, weights());
    let blob = std::fs::canonicalize(&path)?;
    assert_eq!(
        blob.file_name().and_then(|n| n.to_str()),
        Some(hex(&Sha256::digest(&content)).as_str())
    );
    Ok(())
}

#[test]
fn nested_paths_link_with_enough_parent_steps() -> TestResult {
    let f = fixture()?;
    let path = f.download("tokenizer/sub/vocab.txt")?;
    assert!(std::fs::read_link(&path)?.starts_with("../../../../blobs"));
    assert_eq!(std::fs::read(&path)?, b"hello\nworld\n");
    Ok(())
}

#[test]
fn cached_file_is_not_downloaded_again_and_pinned_commit_costs_nothing() -> TestResult {
    let f = fixture()?;
    f.download("model.safetensors")?;
    f.hub.log().clear();
    f.download("model.safetensors")?;
    let records = f.hub.log().records();
    assert!(
        records.iter().all(|r| r.method == "HEAD"),
        "only the metadata is asked: {records:?}"
    );

    f.hub.log().clear();
    let mut options = f.options();
    options.revision = Revision::new(&f.commit)?;
    hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options)?;
    assert!(
        f.hub.log().records().is_empty(),
        "a cached pinned commit needs no request"
    );
    Ok(())
}

#[test]
fn offline_serves_the_cache_or_says_not_cached() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    options.fetch.local_files_only = true;
    let err = hf_hub_download(&f.client, &RepoId::new(REPO)?, "config.json", &options).expect_err("empty cache");
    assert!(matches!(err, Error::NotCached { .. }), "{err:?}");
    assert!(err.to_string().contains("config.json"), "{err}");
    f.download("config.json")?;
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "config.json", &options)?;
    assert_eq!(std::fs::read(path)?, br#"{"a": 1}"#);
    assert!(f.hub.log().records().is_empty(), "offline means no request");
    Ok(())
}

#[test]
fn missing_file_is_recorded_in_no_exist() -> TestResult {
    let f = fixture()?;
    let err = f.download("nope.txt").expect_err("missing");
    assert!(
        matches!(api_error(&err), Some(hub_api::Error::EntryNotFound { .. })),
        "{err:?}"
    );
    assert!(
        f.repo_dir()
            .join(".no_exist")
            .join(&f.commit)
            .join("nope.txt")
            .is_file()
    );
    Ok(())
}

#[test]
fn corrupted_bytes_leave_no_blob() -> TestResult {
    let f = fixture()?;
    f.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::Corrupt { offset: 1000 }));
    let err = f.download("model.safetensors").expect_err("corrupted");
    assert!(matches!(err, Error::Integrity { .. }), "{err:?}");
    assert!(err.to_string().contains("sha256"), "{err}");
    let blobs = listing(&f.repo_dir().join("blobs"));
    assert!(blobs.is_empty(), "no blob and no temporary file remains: {blobs:?}");
    assert!(
        !f.repo_dir()
            .join("snapshots")
            .join(&f.commit)
            .join("model.safetensors")
            .exists()
    );
    // The next try succeeds.
    assert_eq!(std::fs::read(f.download("model.safetensors")?)?, weights());
    Ok(())
}

#[test]
fn dropped_connection_resumes_without_refetching() -> TestResult {
    let f = fixture()?;
    f.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::DropAfter { bytes: 10_000 }));
    f.hub.log().clear();
    let path = f.download("model.safetensors")?;
    assert_eq!(std::fs::read(path)?, weights());
    let cdn: Vec<_> = f
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    assert_eq!(cdn.len(), 2, "one cut transfer, one resumed: {cdn:?}");
    assert_eq!(cdn[1].range.as_deref(), Some("bytes=10000-"));
    let served: u64 = cdn.iter().map(|r| r.body_bytes_sent).sum();
    assert_eq!(served, weights().len() as u64, "no byte was fetched twice");
    Ok(())
}

/// A repo with one regular (git, not LFS) file: the test Hub stores files
/// from 1 KiB on with LFS. Returns the file's bytes and its git blob id.
fn seed_plain_repo(f: &Fixture) -> Result<(Vec<u8>, String), Box<dyn std::error::Error>> {
    let text: Vec<u8> = (0..900u32).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    f.hub
        .seed(&SeedRepo::model(PLAIN_REPO).file("notes.txt", text.clone()))?;
    let mut sha1 = sha1::Sha1::new();
    sha1::Digest::update(&mut sha1, format!("blob {}\0", text.len()).as_bytes());
    sha1::Digest::update(&mut sha1, &text);
    let id = sha1::Digest::finalize(sha1)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((text, id))
}

const PLAIN_REPO: &str = "alice/plain";

fn plain_gets(f: &Fixture) -> Vec<hub_emulator::http::RequestRecord> {
    f.hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/alice/plain/resolve/"))
        .collect()
}

#[test]
fn a_regular_file_resumes_from_its_partial_file_and_is_checked_whole() -> TestResult {
    let f = fixture()?;
    let (text, id) = seed_plain_repo(&f)?;
    let blobs = f.cache.path().join("models--alice--plain").join("blobs");
    std::fs::create_dir_all(&blobs)?;
    // A call that stopped after 300 bytes left them.
    std::fs::write(blobs.join(format!("{id}.incomplete")), &text[..300])?;
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(PLAIN_REPO)?, "notes.txt", &f.options())?;
    assert_eq!(
        std::fs::read(path)?,
        text,
        "the git blob id covers the bytes on disk and the new ones"
    );
    let gets = plain_gets(&f);
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].range.as_deref(), Some("bytes=300-"));

    // A partial file with wrong bytes: the id does not match, nothing is placed,
    // the partial file is gone, and the next call fetches the file afresh.
    let f = fixture()?;
    let (text, id) = seed_plain_repo(&f)?;
    let blobs = f.cache.path().join("models--alice--plain").join("blobs");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(blobs.join(format!("{id}.incomplete")), vec![b'!'; 300])?;
    let err = hf_hub_download(&f.client, &RepoId::new(PLAIN_REPO)?, "notes.txt", &f.options())
        .expect_err("wrong bytes before the resumed ones");
    assert!(matches!(err, Error::Integrity { .. }), "{err:?}");
    assert!(err.to_string().contains("git blob"), "{err}");
    assert!(listing(&blobs).is_empty(), "{:?}", listing(&blobs));
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(PLAIN_REPO)?, "notes.txt", &f.options())?;
    assert_eq!(std::fs::read(path)?, text);
    assert_eq!(plain_gets(&f)[0].range, None, "fetched from its first byte");
    Ok(())
}

#[test]
fn a_regular_file_cut_mid_body_is_resumed_and_checked_whole() -> TestResult {
    let f = fixture()?;
    let (text, _) = seed_plain_repo(&f)?;
    f.hub
        .faults()
        .push(Fault::new("/alice/plain/resolve/", FaultAction::DropAfter { bytes: 400 }).method("GET"));
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(PLAIN_REPO)?, "notes.txt", &f.options())?;
    assert_eq!(std::fs::read(path)?, text);
    let gets = plain_gets(&f);
    assert_eq!(gets.len(), 2, "one cut transfer, one resumed: {gets:?}");
    assert_eq!(gets[1].range.as_deref(), Some("bytes=400-"));
    Ok(())
}

#[test]
fn a_failed_call_keeps_its_partial_file_for_the_next() -> TestResult {
    let f = fixture()?;
    // More cuts than one call resumes: the call fails, the bytes stay.
    f.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::DropAfter { bytes: 5_000 }).times(6));
    let err = f.download("model.safetensors").expect_err("too many cuts");
    assert!(matches!(api_error(&err), Some(hub_api::Error::Body { .. })), "{err:?}");
    let blobs = listing(&f.repo_dir().join("blobs"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(blobs[0].ends_with(".incomplete"), "only the partial file: {blobs:?}");
    f.hub.log().clear();
    assert_eq!(std::fs::read(f.download("model.safetensors")?)?, weights());
    let cdn: Vec<_> = f
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    assert_eq!(cdn.len(), 1);
    assert_eq!(
        cdn[0].range.as_deref(),
        Some("bytes=30000-"),
        "resumed after 6 × 5000 bytes"
    );
    Ok(())
}

#[test]
fn a_large_file_comes_in_one_ranged_request_resumed_where_it_broke() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    options.fetch.transfer = hub_cache::TransferSettings {
        connections: 2,
        chunk_size: 7_000,
        parallel_threshold: 10_000,
        verify: true,
        ..Default::default()
    };
    f.hub
        .faults()
        .push(Fault::new("/cdn/", FaultAction::DropAfter { bytes: 1_000 }));
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, weights());
    let cdn: Vec<_> = f
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .collect();
    let ranges: Vec<_> = cdn.iter().map(|r| r.range.as_deref()).collect();
    assert_eq!(
        ranges,
        [Some("bytes=0-49999"), Some("bytes=1000-49999")],
        "eight ranges asked for at once, not one request each (the second connection is let in \
         only once a transfer is seen to be slow); cut after 1000 bytes and resumed"
    );
    let served: u64 = cdn.iter().map(|r| r.body_bytes_sent).sum();
    assert_eq!(served, weights().len() as u64, "no byte twice");
    Ok(())
}

#[test]
fn symlinks_can_be_disabled() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    options.fetch.disable_symlinks = true;
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "config.json", &options)?;
    assert!(!path.is_symlink());
    assert_eq!(std::fs::read(path)?, br#"{"a": 1}"#);
    Ok(())
}

#[test]
fn server_failure_falls_back_to_the_cached_revision() -> TestResult {
    let f = fixture()?;
    f.download("config.json")?;
    f.hub.faults().push(
        Fault::new(
            "/resolve/",
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        )
        .times(100),
    );
    let path = f.download("config.json")?;
    assert_eq!(std::fs::read(path)?, br#"{"a": 1}"#);
    Ok(())
}

#[test]
fn paths_that_leave_the_cache_are_refused() -> TestResult {
    let f = fixture()?;
    let err = f.download("../../../etc/passwd").expect_err("traversal");
    assert!(matches!(err, Error::UnsafePath { .. }), "{err:?}");
    Ok(())
}

#[test]
fn datasets_use_their_own_folder() -> TestResult {
    let f = fixture()?;
    f.hub
        .seed(&SeedRepo::dataset("alice/data").file("train.csv", b"a,b\n1,2\n".to_vec()))?;
    let mut options = f.options();
    options.repo_type = RepoType::Dataset;
    let path = hf_hub_download(&f.client, &RepoId::new("alice/data")?, "train.csv", &options)?;
    assert!(path.starts_with(f.cache.path().join("datasets--alice--data/snapshots")));
    Ok(())
}

#[test]
fn subfolder_is_joined_to_the_filename() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    options.subfolder = Some("tokenizer/sub/".into());
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "vocab.txt", &options)?;
    assert_eq!(
        path,
        f.repo_dir()
            .join("snapshots")
            .join(&f.commit)
            .join("tokenizer/sub/vocab.txt")
    );
    assert_eq!(std::fs::read(path)?, b"hello\nworld\n");
    Ok(())
}

#[test]
fn server_errors_without_retry_after_are_retried_with_backoff() -> TestResult {
    let f = fixture()?;
    let status = |status| FaultAction::Status {
        status,
        retry_after: None,
    };
    f.hub
        .faults()
        .push(Fault::new("/resolve/", status(500)).method("HEAD").times(2));
    f.hub.faults().push(Fault::new("/cdn/", status(503)));
    f.hub.faults().push(Fault::new("/cdn/", status(429)));
    f.hub.log().clear();
    let path = f.download("model.safetensors")?;
    assert_eq!(std::fs::read(path)?, weights());
    assert_eq!(f.hub.faults().pending(), 0);
    let statuses: Vec<u16> = f.hub.log().records().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 302, 503, 429, 200], "HEADs, then the CDN GETs");
    Ok(())
}

#[test]
fn pinned_commit_with_a_missing_file_asks_the_hub() -> TestResult {
    let f = fixture()?;
    f.download("config.json")?;
    let mut options = f.options();
    options.revision = Revision::new(&f.commit)?;
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "tokenizer/sub/vocab.txt", &options)?;
    assert_eq!(std::fs::read(path)?, b"hello\nworld\n");
    assert!(!f.hub.log().records().is_empty(), "a file not cached is fetched");
    assert!(
        !f.repo_dir().join("refs").join(&f.commit).exists(),
        "a commit is not written as a ref"
    );
    Ok(())
}

#[test]
fn ranges_of_a_failed_call_that_arrived_are_not_fetched_again() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    let chunk = 7_000u64;
    options.fetch.transfer = hub_cache::TransferSettings {
        connections: 2,
        chunk_size: chunk,
        parallel_threshold: 10_000,
        verify: true,
        ..Default::default()
    };
    // The first request breaks after its first range and part of the second,
    // and the resumed one is refused for good: the call fails, and the range
    // that did arrive stays recorded beside the partial file.
    break_then_refuse(&f.hub, 10_000);
    f.hub.log().clear();
    let err = hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options).expect_err("refused");
    assert!(api_error(&err).is_some(), "{err:?}");
    let blobs = listing(&f.repo_dir().join("blobs"));
    assert!(blobs.iter().all(|b| b.contains(".incomplete")), "{blobs:?}");
    let size = weights().len() as u64;
    let parts = listing(&f.repo_dir().join("blobs"))
        .into_iter()
        .find(|b| b.ends_with(".parts"))
        .ok_or("no record of finished ranges")?;
    let record = std::fs::read_to_string(f.repo_dir().join("blobs").join(parts))?;
    assert_eq!(
        record,
        format!("size {size} chunk {chunk}\n0\n"),
        "range 0 arrived whole"
    );

    f.hub.faults().clear();
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, weights());
    // What the second call asked for tiles the ranges that had not arrived:
    // from range 1 to the end, no byte twice.
    let mut fetched: Vec<(u64, u64)> = f
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/"))
        .filter_map(|r| {
            let (start, _) = asked_bytes(r.range.as_deref()?)?;
            Some((start, start + r.body_bytes_sent))
        })
        .collect();
    fetched.sort();
    assert_eq!(fetched.first().map(|r| r.0), Some(chunk), "{fetched:?}");
    assert!(fetched.windows(2).all(|w| w[0].1 == w[1].0), "{fetched:?}");
    assert_eq!(fetched.last().map(|r| r.1), Some(size), "{fetched:?}");
    assert_eq!(
        listing(&f.repo_dir().join("blobs")).len(),
        1,
        "no partial file or record remains"
    );
    Ok(())
}

#[test]
fn a_large_download_reserves_its_disk_space_before_the_bytes_arrive() -> TestResult {
    use std::os::unix::fs::MetadataExt;
    let f = fixture()?;
    let mut options = f.options();
    options.fetch.transfer = hub_cache::TransferSettings {
        connections: 2,
        chunk_size: 7_000,
        parallel_threshold: 10_000,
        verify: true,
        ..Default::default()
    };
    // The first request breaks after its first range, and every later one is
    // refused: the call fails with most of the file still to come.
    break_then_refuse(&f.hub, 7_000);
    hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options).expect_err("refused");
    let blobs = f.repo_dir().join("blobs");
    let partial = std::fs::read_dir(&blobs)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "incomplete"))
        .ok_or("no partial file")?;
    let meta = std::fs::metadata(&partial)?;
    let size = weights().len() as u64;
    assert_eq!(meta.len(), size);
    assert!(
        meta.blocks() * 512 >= size,
        "all {size} bytes reserved, not only the 7000 that arrived: {} blocks",
        meta.blocks()
    );
    Ok(())
}
