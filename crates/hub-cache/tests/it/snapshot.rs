//! snapshot_download: patterns, pinned commits, offline use, fallbacks and local folders.

use std::collections::BTreeSet;
use std::path::Path;

use hub_cache::{Error, snapshot_download};
use hub_emulator::http::{Fault, FaultAction};
use hub_url::{RepoId, Revision};

use super::{REPO, TestResult, fixture, weights};

/// Every file below a folder, relative, but the local folder's bookkeeping.
fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                if path != base.join(".cache") {
                    walk(&path, base, out);
                }
            } else if let Ok(relative) = path.strip_prefix(base) {
                out.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn patterns_pick_files_and_a_folder() -> TestResult {
    let f = fixture()?;
    let mut options = f.snapshot_options();
    options.allow_patterns = vec!["*.json".into(), "tokenizer/".into(), "*.safetensors".into()];
    options.ignore_patterns = vec!["model.*".into()];
    options.max_workers = 2;
    let folder = snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    assert_eq!(folder, f.repo_dir().join("snapshots").join(&f.commit));
    assert_eq!(files_below(&folder), set(&["config.json", "tokenizer/sub/vocab.txt"]));
    assert_eq!(std::fs::read_to_string(f.repo_dir().join("refs/main"))?, f.commit);
    Ok(())
}

#[test]
fn pinned_snapshot_lists_the_tree_once_and_asks_no_file_metadata() -> TestResult {
    let f = fixture()?;
    let mut options = f.snapshot_options();
    options.revision = Revision::new(&f.commit)?;
    f.hub.log().clear();
    let folder = snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    assert_eq!(std::fs::read(folder.join("model.safetensors"))?, weights());
    let records = f.hub.log().records();
    assert!(
        records.iter().all(|r| r.method == "GET"),
        "no HEAD per file: {records:?}"
    );
    let listings = records.iter().filter(|r| r.path.contains("/tree/")).count();
    assert!(listings >= 1, "{records:?}");
    assert!(
        !records.iter().any(|r| r.path.contains("/revision/")),
        "no info call for a commit"
    );
    assert!(!f.repo_dir().join("refs").exists(), "a commit is not written as a ref");
    Ok(())
}

#[test]
fn offline_snapshot_is_served_or_not_cached() -> TestResult {
    let f = fixture()?;
    let mut offline = f.snapshot_options();
    offline.fetch.local_files_only = true;
    let err = snapshot_download(&f.client, &RepoId::new(REPO)?, &offline).expect_err("nothing cached");
    assert!(matches!(err, Error::NotCached { .. }), "{err:?}");
    let folder = snapshot_download(&f.client, &RepoId::new(REPO)?, &f.snapshot_options())?;
    f.hub.log().clear();
    assert_eq!(snapshot_download(&f.client, &RepoId::new(REPO)?, &offline)?, folder);
    assert!(f.hub.log().records().is_empty());
    Ok(())
}

#[test]
fn unreachable_hub_falls_back_to_the_cached_snapshot() -> TestResult {
    let f = fixture()?;
    let folder = snapshot_download(&f.client, &RepoId::new(REPO)?, &f.snapshot_options())?;
    f.hub.faults().push(
        Fault::new(
            "/api/",
            FaultAction::Status {
                status: 503,
                retry_after: Some(0),
            },
        )
        .times(100),
    );
    assert_eq!(
        snapshot_download(&f.client, &RepoId::new(REPO)?, &f.snapshot_options())?,
        folder
    );
    Ok(())
}

#[test]
fn local_dir_snapshot_writes_files_and_skips_them_next_time() -> TestResult {
    let f = fixture()?;
    let dir = f.cache.path().join("local");
    let mut options = f.snapshot_options();
    options.fetch.local_dir = Some(dir.clone());
    assert_eq!(snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?, dir);
    assert_eq!(
        files_below(&dir),
        set(&[
            ".gitattributes",
            "config.json",
            "model.safetensors",
            "tokenizer/sub/vocab.txt"
        ])
    );
    assert!(!dir.join("model.safetensors").is_symlink());
    let metadata = std::fs::read_to_string(dir.join(".cache/huggingface/download/tokenizer/sub/vocab.txt.metadata"))?;
    assert!(metadata.starts_with(&format!("{}\n", f.commit)), "{metadata}");
    f.hub.log().clear();
    snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    let transfers: Vec<_> = f
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.contains("/resolve/") || r.path.starts_with("/cdn/"))
        .collect();
    assert!(transfers.is_empty(), "{transfers:?}");
    assert!(!f.repo_dir().exists(), "the cache is not touched");
    Ok(())
}

#[test]
fn a_cached_commit_listing_makes_a_pinned_snapshot_free() -> TestResult {
    let f = fixture()?;
    let mut options = f.snapshot_options();
    options.revision = Revision::new(&f.commit)?;
    snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    let listing = f.repo_dir().join("trees").join(format!("{}.json", f.commit));
    let text = std::fs::read_to_string(&listing)?;
    let parsed: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(parsed["format_version"], 1);
    assert!(parsed["files"]["model.safetensors"]["lfs_sha256"].is_string(), "{text}");
    assert!(parsed["files"]["config.json"]["blob_id"].is_string(), "{text}");

    f.hub.log().clear();
    let folder = snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    assert!(
        f.hub.log().records().is_empty(),
        "the listing and every file are cached: no request"
    );
    assert_eq!(std::fs::read(folder.join("model.safetensors"))?, weights());
    Ok(())
}

#[test]
fn an_offline_snapshot_with_missing_files_is_not_served() -> TestResult {
    let f = fixture()?;
    let mut options = f.snapshot_options();
    options.allow_patterns = vec!["*.json".into()];
    snapshot_download(&f.client, &RepoId::new(REPO)?, &options)?;
    let mut offline = f.snapshot_options();
    offline.fetch.local_files_only = true;
    offline.allow_patterns = vec!["*.json".into()];
    snapshot_download(&f.client, &RepoId::new(REPO)?, &offline)?;
    offline.allow_patterns.clear();
    let err = snapshot_download(&f.client, &RepoId::new(REPO)?, &offline).expect_err("incomplete");
    assert!(matches!(err, Error::NotCached { .. }), "{err:?}");
    Ok(())
}

#[test]
fn parallel_files_reuse_their_connections() -> TestResult {
    // Each answer waits a little, so the workers really are in flight together.
    let hub = hub_emulator::test_hub::TestHub::start_with(|mut config| {
        config.latency = std::time::Duration::from_millis(3);
        config
    })?;
    let mut repo = hub_emulator::SeedRepo::model("alice/many");
    for i in 0..96 {
        repo = repo.file(
            &format!("shard-{i:03}.json"),
            format!("{{\"shard\": {i}}}").into_bytes(),
        );
    }
    hub.seed(&repo)?;
    let client = hub_api::HubClient::builder()
        .endpoint(hub_url::Endpoint::new(&hub.endpoint())?)
        .build()?;
    let cache = tempfile::tempdir()?;
    let options = hub_cache::SnapshotOptions::new(cache.path()).max_workers(8);
    hub.log().clear();
    let folder = snapshot_download(&client, &RepoId::new("alice/many")?, &options)?;
    assert_eq!(files_below(&folder).len(), 96 + 1, "the files and .gitattributes");
    let records = hub.log().records();
    let connections: BTreeSet<u64> = records.iter().map(|r| r.connection).collect();
    assert!(records.len() > 96, "a request per file: {}", records.len());
    assert!(
        connections.len() <= 8,
        "8 workers keep their 8 connections alive, but {} were opened for {} requests",
        connections.len(),
        records.len()
    );
    Ok(())
}
