//! `huggingface-cli download` of a file the Python client uploaded through Xet: rebuilt
//! from the CAS's reconstructions (no plain-HTTP bridge, no Hub token at the CAS or CDN), in
//! the cache layout the Python client makes for it, which each client then reads offline
//! from the other's download; the whole repo comes the same way; a download killed half
//! way fetches, the next time, only what it had not finished.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::process::Stdio;
use std::time::Duration;

use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::ALICE_WRITE;
use serde_json::json;

use crate::support::{BoxError, Env, TestResult, names_in, wait_until};

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Every entry under `root`: relative path → the link's target, or `file`.
fn layout(root: &Path) -> Result<BTreeMap<String, String>, BoxError> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let name = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.file_type().is_symlink() {
                found.insert(name, std::fs::read_link(&path)?.to_string_lossy().to_string());
            } else if meta.is_dir() {
                folders.push(path);
            } else {
                found.insert(name, "file".into());
            }
        }
    }
    Ok(found)
}

/// The repo's part of a cache, without the lock files and the tree listing cache, which
/// differ between clients by design.
fn repo_layout(cache: &Path) -> Result<BTreeMap<String, String>, BoxError> {
    let mut all = layout(&cache.join("models--alice--xet"))?;
    all.retain(|name, _| !name.starts_with(".locks") && !name.starts_with("trees/"));
    Ok(all)
}

#[test]
fn download_of_a_xet_file_rebuilds_it_and_shares_the_cache_with_python() -> TestResult {
    let env = Env::empty()?;
    let data = noise(3 << 20, 41);
    let local = env.home.path().join("upload/weights.bin");
    std::fs::create_dir_all(local.parent().ok_or("parent")?)?;
    std::fs::write(&local, &data)?;
    let uploaded = env.python(
        &[json!({ "op": "upload_file", "repo": "alice/xet", "local": local, "path": "weights.bin" })],
        &[("HF_HUB_DISABLE_XET", ""), ("HF_TOKEN", ALICE_WRITE)],
    )?;
    assert!(uploaded[0].get("commit").is_some(), "{uploaded:?}");
    let stats = env.hub.xet_stats();
    assert!(
        stats.files_registered >= 1,
        "the Python client uploaded through Xet: {stats:?}"
    );
    env.hub.log().clear();

    // Ours, with the Hub token set: it must stay at the Hub.
    let out = env.cli_ok(&["download", "alice/xet", "weights.bin"], &[("HF_TOKEN", ALICE_WRITE)])?;
    let path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    assert_eq!(std::fs::read(&path)?, data);
    let records = env.hub.log().records();
    assert!(records.iter().any(|r| r.path.starts_with("/~cas/v2/reconstructions/")));
    assert!(!records.iter().any(|r| r.path.starts_with("/cdn/xet/")), "no bridge");
    assert_eq!(env.hub.xet_stats().bridge_bytes_served, 0);
    for record in &records {
        if record.path.starts_with("/~cas") || record.path.starts_with("/cdn/") {
            let auth = record.authorization.as_deref().unwrap_or_default();
            assert!(!auth.contains(ALICE_WRITE), "the Hub token went to {}", record.path);
        }
    }

    // The Python client reads our cache offline.
    let offline = env.python(
        &[json!({ "op": "hf_hub_download", "repo": "alice/xet", "filename": "weights.bin" })],
        &[("HF_HUB_DISABLE_XET", ""), ("HF_HUB_OFFLINE", "1")],
    )?;
    assert_eq!(offline[0]["path"].as_str(), path.to_str(), "{offline:?}");
    assert_eq!(offline[0]["sha256"], json!(hex_sha256(&data)));

    // The Python client's own download into another home: the same layout, and ours reads
    // it offline.
    let theirs = tempfile::tempdir()?;
    let home = theirs.path().to_string_lossy().to_string();
    let downloaded = env.python(
        &[json!({ "op": "hf_hub_download", "repo": "alice/xet", "filename": "weights.bin" })],
        &[("HF_HUB_DISABLE_XET", ""), ("HF_HOME", &home)],
    )?;
    assert_eq!(downloaded[0]["sha256"], json!(hex_sha256(&data)), "{downloaded:?}");
    assert_eq!(repo_layout(&theirs.path().join("hub"))?, repo_layout(&env.cache())?);
    let out = env.cli_ok(
        &["download", "alice/xet", "weights.bin"],
        &[("HF_HOME", &home), ("HF_HUB_OFFLINE", "1")],
    )?;
    let their_path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    assert!(their_path.starts_with(theirs.path()));
    assert_eq!(std::fs::read(their_path)?, data);

    // The whole repo (snapshot_download) into a third home: the same bytes, through Xet.
    let third = tempfile::tempdir()?;
    let home = third.path().to_string_lossy().to_string();
    env.hub.log().clear();
    let out = env.cli_ok(&["download", "alice/xet"], &[("HF_HOME", &home)])?;
    let folder = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    assert_eq!(std::fs::read(folder.join("weights.bin"))?, data);
    let records = env.hub.log().records();
    assert!(records.iter().any(|r| r.path.starts_with("/~cas/v2/reconstructions/")));
    assert!(!records.iter().any(|r| r.path.starts_with("/cdn/xet/")), "no bridge");
    // The same entries for the file (the snapshot adds `.gitattributes`).
    let whole = repo_layout(&third.path().join("hub"))?;
    for (name, target) in repo_layout(&env.cache())? {
        assert_eq!(whole.get(&name), Some(&target), "{name}");
    }
    Ok(())
}

fn hex_sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The records in a chunk index folder (the files of its xorb folders, but those being
/// written).
fn index_records(root: &Path) -> usize {
    let Ok(folders) = std::fs::read_dir(root) else {
        return 0;
    };
    folders
        .flatten()
        .filter_map(|folder| std::fs::read_dir(folder.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|file| !file.file_name().to_string_lossy().starts_with(".tmp-"))
        .count()
}

#[test]
fn a_download_killed_half_way_fetches_only_what_it_lacked() -> TestResult {
    let env = Env::empty()?;
    let data = noise(4 << 20, 42);
    // Eight xorbs of 512 KiB, seeded straight into the CAS.
    let (_, xorbs) = env
        .hub
        .seed_xet_file(&SeedRepo::model("alice/xet"), "weights.bin", &data, 64 * 1024, 8)?;
    let last = xorbs.last().ok_or("xorbs")?;
    // The last xorb's bytes trickle, so that the kill lands while it is on its way.
    env.hub.faults().push(
        Fault::new(
            &format!("/cdn/xorb/{last}"),
            FaultAction::Throttle {
                bytes_per_sec: 16 * 1024,
            },
        )
        .times(10),
    );
    let mut child = env
        .command(&["download", "alice/xet", "weights.bin"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let chunk_index = env.home.path().join("xet/hub-rs-chunk-index");
    // The other xorbs are written and recorded, and the last one's answer has started (so its
    // bytes count before the second run's).
    let last_path = format!("/cdn/xorb/{last}");
    let others_cached = wait_until(Duration::from_secs(60), || {
        index_records(&chunk_index) >= xorbs.len() - 1 && env.hub.log().records().iter().any(|r| r.path == last_path)
    });
    child.kill()?;
    child.wait()?;
    assert!(others_cached, "the other xorbs were recorded in the chunk index");
    let snapshots = env.cache().join("models--alice--xet/snapshots");
    for commit in names_in(&snapshots) {
        assert!(
            !snapshots.join(commit).join("weights.bin").exists(),
            "nothing partial in snapshots"
        );
    }

    env.hub.faults().clear();
    let before = env.hub.xet_stats().xorb_bytes_served;
    let out = env.cli_ok(&["download", "alice/xet", "weights.bin"], &[])?;
    let path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    assert_eq!(std::fs::read(path)?, data);
    let fetched = env.hub.xet_stats().xorb_bytes_served - before;
    assert!(
        fetched <= data.len() as u64 / 6,
        "the second run fetched {fetched} bytes: more than the xorb the kill interrupted"
    );
    Ok(())
}
