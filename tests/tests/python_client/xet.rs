//! The real Python client with `hf_xet` (Xet on, as it is by default) against the
//! emulator's Xet storage: uploads go to the CAS as xorbs and shards and never through
//! LFS, downloads come back through reconstructions byte for byte, a nearly identical
//! file uploads only what changed, and an LFS-only emulator keeps plain downloads working.

use std::collections::BTreeMap;
use std::path::Path;

use hub_emulator::http::RequestRecord;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_emulator::{SeedRepo, XetStats};
use serde_json::{Value, json};

use crate::{TestResult, Xet, hex_sha256, python, run_python};

/// Deterministic bytes that do not compress.
fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

fn require_python() {
    let python = python();
    assert!(
        python.exists(),
        "the Python client is needed at {}: run `cargo xtask ci` (it creates .venv) or set HUB_TEST_PYTHON",
        python.display()
    );
}

/// Runs one step of `xet_side.py` with `expected` in a fresh work folder under `root`
/// (its own `HF_HOME`, so no step finds another's caches).
fn run_step(hub: &TestHub, root: &Path, step: &str, expected: &Value) -> TestResult {
    let work = root.join(step);
    std::fs::create_dir_all(&work)?;
    let expected_path = work.join("expected.json");
    std::fs::write(&expected_path, expected.to_string())?;
    let local_dir = work.join("local");
    std::fs::create_dir_all(&local_dir)?;
    let stdout = run_python_step(hub, &work, &expected_path, step, &local_dir)?;
    assert!(stdout.contains("ok client version"), "{stdout}");
    Ok(())
}

fn run_python_step(
    hub: &TestHub,
    work: &Path,
    expected_path: &Path,
    step: &str,
    local_dir: &Path,
) -> Result<String, Box<dyn std::error::Error>> {
    run_python(
        hub,
        "xet_side.py",
        work,
        &[
            ("HUB_EXPECTED", expected_path),
            // Not a file, but passed the same way: the variables are set as given.
            ("HUB_XET_STEP", Path::new(step)),
            ("HUB_LOCAL_DIR", local_dir),
        ],
        Xet::Enabled,
    )
}

/// Whether a request was part of an LFS upload (the batch API or a presigned PUT).
fn is_lfs_upload(record: &RequestRecord) -> bool {
    record.path.ends_with("/info/lfs/objects/batch")
        || record.path.starts_with("/cdn/lfs-upload/")
        || record.path.starts_with("/cdn/lfs-part/")
        || record.path == "/api/complete_multipart"
}

fn file_facts(local: &Path, path: &str, bytes: &[u8]) -> Value {
    json!({ "local": local, "path": path, "sha256": hex_sha256(bytes) })
}

#[test]
fn python_client_uploads_and_downloads_through_xet() -> TestResult {
    require_python();
    let hub = TestHub::start()?;
    let work = tempfile::tempdir()?;
    let files_dir = work.path().join("files");
    std::fs::create_dir_all(&files_dir)?;

    let single = pseudo_random(3 * 1024 * 1024 + 17, 1);
    let single_local = files_dir.join("single.bin");
    std::fs::write(&single_local, &single)?;
    // The folder: regular git files and Xet files, one over 10 MB.
    let folder = files_dir.join("folder");
    let folder_files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", b"# A folder\n".to_vec()),
        ("weights/model.safetensors", pseudo_random(12 * 1024 * 1024 + 5, 2)),
        ("weights/small.bin", pseudo_random(200_000, 3)),
        (
            "data/table.csv",
            (0..2000)
                .map(|i| format!("{i},{}\n", i * i))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    let mut all_files = BTreeMap::new();
    let mut xet_files = BTreeMap::new();
    all_files.insert("single.bin".to_string(), json!({ "sha256": hex_sha256(&single) }));
    xet_files.insert("single.bin".to_string(), json!({ "sha256": hex_sha256(&single) }));
    for (path, bytes) in &folder_files {
        let target = folder.join(path);
        std::fs::create_dir_all(target.parent().ok_or("a parent")?)?;
        std::fs::write(&target, bytes)?;
        let facts = json!({ "sha256": hex_sha256(bytes) });
        all_files.insert(format!("folder/{path}"), facts.clone());
        if bytes.len() > 1024 {
            xet_files.insert(format!("folder/{path}"), facts);
        }
    }
    let repo = "alice/xet-roundtrip";
    let expected = json!({
        "repo": repo,
        "single": file_facts(&single_local, "single.bin", &single),
        "folder": { "local": folder },
        "all_files": all_files,
        "xet_files": xet_files,
    });

    run_step(&hub, work.path(), "upload", &expected)?;
    let uploaded = hub.xet_stats();
    assert!(uploaded.xorbs_stored >= 1, "{uploaded:?}");
    assert!(
        uploaded.shards_stored >= 2,
        "one shard an upload at least: {uploaded:?}"
    );
    assert!(uploaded.files_registered >= 4, "{uploaded:?}");
    // Random bytes do not compress: at least those reached the CAS.
    let random: u64 = [single.len(), folder_files[1].1.len(), folder_files[2].1.len()]
        .iter()
        .map(|n| *n as u64)
        .sum();
    assert!(
        uploaded.xorb_bytes_received >= random,
        "the Xet files' bytes reached the CAS: {uploaded:?}"
    );
    let records = hub.log().records();
    assert!(!records.iter().any(is_lfs_upload), "no LFS upload happened");
    let cas: Vec<&RequestRecord> = records.iter().filter(|r| r.path.starts_with("/~cas/")).collect();
    assert!(
        cas.iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/~cas/v1/xorbs/default/") && r.status == 200)
    );
    assert!(
        cas.iter()
            .all(|r| r.authorization.as_deref().is_some_and(|a| !a.contains(ALICE_WRITE))),
        "the CAS gets Xet tokens, never the Hub token"
    );
    // What the repo now holds is the uploaded content.
    assert_eq!(hub.file_content("model", repo, "main", "single.bin")?, single);
    for (path, bytes) in &folder_files {
        assert_eq!(
            &hub.file_content("model", repo, "main", &format!("folder/{path}"))?,
            bytes,
            "{path}"
        );
    }

    hub.log().clear();
    run_step(&hub, work.path(), "download", &expected)?;
    let downloaded = hub.xet_stats();
    assert!(downloaded.reconstructions > uploaded.reconstructions, "{downloaded:?}");
    assert!(
        downloaded.xorb_bytes_served >= random,
        "the Xet files came from xorb ranges: {downloaded:?}"
    );
    assert_eq!(downloaded.bridge_bytes_served, 0, "no plain-HTTP download");
    let records = hub.log().records();
    // hf_xet 1.8 asks the v2 reconstruction, which the emulator serves.
    assert!(records.iter().any(|r| r.path.starts_with("/~cas/v2/reconstructions/")));
    assert!(!records.iter().any(|r| r.path.starts_with("/~cas/v1/reconstructions/")));
    assert!(!records.iter().any(|r| r.path.starts_with("/cdn/lfs/")));
    assert!(
        records
            .iter()
            .filter(|r| r.path.starts_with("/cdn/xorb/"))
            .all(|r| r.host.starts_with("localhost") && r.authorization.is_none()),
        "xorb ranges come from the CDN, presigned"
    );
    Ok(())
}

#[test]
fn python_client_dedupes_a_nearly_identical_upload_against_the_emulator() -> TestResult {
    require_python();
    let hub = TestHub::start()?;
    let work = tempfile::tempdir()?;
    let size = 24 * 1024 * 1024;
    let big = pseudo_random(size, 7);
    let mut again = big.clone();
    let middle = size / 2;
    again[middle..middle + 1024 * 1024].copy_from_slice(&pseudo_random(1024 * 1024, 8));
    let big_local = work.path().join("big.bin");
    let again_local = work.path().join("again.bin");
    std::fs::write(&big_local, &big)?;
    std::fs::write(&again_local, &again)?;
    let repo = "alice/xet-dedupe";
    let expected = json!({
        "repo": repo,
        "big": file_facts(&big_local, "big.bin", &big),
        "again": file_facts(&again_local, "again.bin", &again),
    });

    run_step(&hub, work.path(), "upload_big", &expected)?;
    let first: XetStats = hub.xet_stats();
    assert!(first.xorb_bytes_received >= size as u64, "{first:?}");

    // A fresh HF_HOME: the client knows nothing, only the emulator can tell it what it holds.
    run_step(&hub, work.path(), "upload_again", &expected)?;
    let second = hub.xet_stats();
    let received = second.xorb_bytes_received - first.xorb_bytes_received;
    assert!(
        second.dedupe_hits > first.dedupe_hits,
        "global dedupe answered: {second:?}"
    );
    assert!(received >= 1024 * 1024, "the changed MiB was sent: {received} bytes");
    assert!(
        received * 5 < size as u64,
        "only a small part of the file was sent again: {received} of {size} bytes"
    );
    assert_eq!(hub.file_content("model", repo, "main", "again.bin")?, again);
    Ok(())
}

#[test]
fn python_client_against_an_lfs_only_emulator_downloads_over_plain_http() -> TestResult {
    require_python();
    let hub = TestHub::start_with(|mut config| {
        config.xet = false;
        config
    })?;
    let work = tempfile::tempdir()?;
    let single = pseudo_random(300_000, 9);
    let single_local = work.path().join("single.bin");
    std::fs::write(&single_local, &single)?;
    let repo = "alice/lfs-only";
    hub.seed(&SeedRepo::model(repo).file("single.bin", single.clone()))?;
    let expected = json!({ "repo": repo, "single": file_facts(&single_local, "single.bin", &single) });

    run_step(&hub, work.path(), "lfs_only", &expected)?;
    let records = hub.log().records();
    assert!(
        records
            .iter()
            .any(|r| r.path.starts_with("/cdn/lfs/") && r.status == 200)
    );
    assert!(!records.iter().any(|r| r.path.starts_with("/~cas/")));
    assert!(
        records
            .iter()
            .any(|r| r.path.ends_with("/xet-write-token/main") && r.status == 404),
        "the client asked for a Xet write token and was told there is none"
    );
    assert_eq!(hub.xet_stats(), XetStats::default());
    Ok(())
}
