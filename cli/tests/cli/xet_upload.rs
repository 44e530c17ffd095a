//! `huggingface-cli upload` through Xet storage: files and folders go to the emulator's CAS
//! as xorbs and a shard (never through LFS) and the real Python client with `hf_xet` reads
//! them back; both clients give the same bytes the same Xet hash; a file re-uploaded with
//! one MiB changed sends a fraction of itself; without Xet (disabled, or an LFS-only hub)
//! LFS still works; a refused xorb fails the commit, and the Hub token never reaches the CAS.

use std::path::Path;

use hub_emulator::XetStats;
use hub_emulator::http::{Fault, FaultAction, RequestRecord};
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE};
use serde_json::json;

use crate::support::{BoxError, Env, TestResult, stderr};

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

/// Whether a request was part of an LFS upload (the batch API or a presigned PUT).
fn is_lfs_upload(record: &RequestRecord) -> bool {
    record.path.ends_with("/info/lfs/objects/batch")
        || record.path.starts_with("/cdn/lfs-upload/")
        || record.path.starts_with("/cdn/lfs-part/")
        || record.path == "/api/complete_multipart"
}

fn is_cas(record: &RequestRecord) -> bool {
    record.path.starts_with("/~cas/")
}

/// Runs `huggingface-cli upload` with Alice's write token and `extra` variables.
fn upload(env: &Env, args: &[&str], extra: &[(&str, &str)]) -> Result<(), BoxError> {
    let mut all = vec![("HF_TOKEN", ALICE_WRITE)];
    all.extend_from_slice(extra);
    let mut command = vec!["upload"];
    command.extend_from_slice(args);
    env.cli_ok(&command, &all)?;
    Ok(())
}

/// The Python client's steps with Xet on (the tests' default turns it off).
fn python_xet(env: &Env, steps: &[serde_json::Value]) -> Result<Vec<serde_json::Value>, BoxError> {
    env.python(steps, &[("HF_HUB_DISABLE_XET", ""), ("HF_TOKEN", ALICE_WRITE)])
}

fn write(path: &Path, bytes: &[u8]) -> TestResult {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// A copy of `data` with one MiB in the middle replaced.
fn one_mib_changed(data: &[u8]) -> Vec<u8> {
    let mut copy = data.to_vec();
    let middle = data.len() / 2;
    copy[middle..middle + (1 << 20)].copy_from_slice(&noise(1 << 20, 999));
    copy
}

#[test]
fn upload_of_a_file_and_a_folder_goes_through_xet_and_python_reads_them_back() -> TestResult {
    let env = Env::empty()?;
    let work = tempfile::tempdir()?;
    let single = noise(3 * 1024 * 1024 + 17, 1);
    let single_path = work.path().join("single.bin");
    write(&single_path, &single)?;
    let folder = work.path().join("folder");
    let folder_files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", b"# A folder\n".to_vec()),
        ("weights/model.safetensors", noise(12 * 1024 * 1024 + 5, 2)),
        ("weights/small.bin", noise(200_000, 3)),
        (
            "data/table.csv",
            (0..2000)
                .map(|i| format!("{i},{}\n", i * i))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    for (path, bytes) in &folder_files {
        write(&folder.join(path), bytes)?;
    }
    let repo = "alice/xet-cli";
    upload(&env, &[repo, &single_path.to_string_lossy(), "single.bin"], &[])?;
    upload(&env, &[repo, &folder.to_string_lossy(), "folder"], &[])?;

    let stats = env.hub.xet_stats();
    assert!(stats.xorbs_stored >= 2, "{stats:?}");
    assert_eq!(stats.shards_stored, 2, "one shard an upload: {stats:?}");
    assert_eq!(
        stats.files_registered, 4,
        "the three large files and the csv: {stats:?}"
    );
    let random = (single.len() + folder_files[1].1.len() + folder_files[2].1.len()) as u64;
    assert!(stats.xorb_bytes_received >= random, "{stats:?}");
    let records = env.hub.log().records();
    assert!(!records.iter().any(is_lfs_upload), "no LFS upload");
    assert!(
        records
            .iter()
            .filter(|r| is_cas(r))
            .all(|r| r.authorization.as_deref().is_some_and(|a| !a.contains(ALICE_WRITE))),
        "the CAS gets the Xet token, never the Hub token"
    );
    assert_eq!(env.hub.file_content("model", repo, "main", "single.bin")?, single);

    // The Python client with hf_xet downloads them through reconstructions.
    let mut steps = vec![json!({ "op": "hf_hub_download", "repo": repo, "filename": "single.bin" })];
    for (path, _) in &folder_files {
        steps.push(json!({ "op": "hf_hub_download", "repo": repo, "filename": format!("folder/{path}") }));
    }
    let python_home = tempfile::tempdir()?;
    let results = env.python(
        &steps,
        &[
            ("HF_HUB_DISABLE_XET", ""),
            ("HF_HOME", &python_home.path().to_string_lossy()),
        ],
    )?;
    let expected: Vec<&[u8]> = std::iter::once(&single[..])
        .chain(folder_files.iter().map(|(_, b)| &b[..]))
        .collect();
    for (result, bytes) in results.iter().zip(expected) {
        assert_eq!(
            result["sha256"],
            json!(crate::cache_audit::sha256_hex(bytes)),
            "{result}"
        );
    }
    let after = env.hub.xet_stats();
    assert!(after.reconstructions >= 4, "downloaded through Xet: {after:?}");
    assert_eq!(after.bridge_bytes_served, 0, "{after:?}");
    Ok(())
}

#[test]
fn both_clients_give_the_same_bytes_the_same_xet_hash() -> TestResult {
    let env = Env::empty()?;
    let work = tempfile::tempdir()?;
    let bytes = noise(5 * 1024 * 1024 + 321, 4);
    let local = work.path().join("same.bin");
    write(&local, &bytes)?;
    upload(&env, &["alice/ours", &local.to_string_lossy(), "same.bin"], &[])?;
    let results = python_xet(
        &env,
        &[
            json!({ "op": "upload_file", "repo": "alice/theirs", "local": local, "path": "same.bin" }),
            json!({ "op": "xet_hashes", "repo": "alice/ours" }),
            json!({ "op": "xet_hashes", "repo": "alice/theirs" }),
        ],
    )?;
    assert!(results[0].get("error").is_none(), "{}", results[0]);
    let ours = &results[1]["same.bin"];
    let theirs = &results[2]["same.bin"];
    assert!(ours.as_str().is_some_and(|h| h.len() == 64), "{ours}");
    assert_eq!(ours, theirs);
    Ok(())
}

/// Uploads `data` then `changed` as the same file; the xorb bytes the second upload sent.
fn reupload_sends(env: &Env, data: &[u8], changed: &[u8], second: &[(&str, &str)]) -> Result<u64, BoxError> {
    let work = tempfile::tempdir()?;
    let first = work.path().join("first.bin");
    let again = work.path().join("again.bin");
    write(&first, data)?;
    write(&again, changed)?;
    upload(env, &["alice/dedupe", &first.to_string_lossy(), "big.bin"], &[])?;
    let before: XetStats = env.hub.xet_stats();
    upload(env, &["alice/dedupe", &again.to_string_lossy(), "big.bin"], second)?;
    let after = env.hub.xet_stats();
    assert_eq!(
        env.hub.file_content("model", "alice/dedupe", "main", "big.bin")?,
        changed
    );
    Ok(after.xorb_bytes_received - before.xorb_bytes_received)
}

#[test]
fn a_reupload_with_one_mib_changed_sends_a_fifth_at_most_with_the_shard_cache() -> TestResult {
    let env = Env::empty()?;
    let data = noise(24 << 20, 5);
    let changed = one_mib_changed(&data);
    let sent = reupload_sends(&env, &data, &changed, &[])?;
    assert!(sent >= 1 << 20, "the changed MiB was sent: {sent}");
    assert!(sent * 5 <= data.len() as u64, "{sent} of {} bytes sent", data.len());
    Ok(())
}

#[test]
fn a_reupload_with_one_mib_changed_sends_a_fifth_at_most_from_a_fresh_cache() -> TestResult {
    let env = Env::empty()?;
    let data = noise(24 << 20, 6);
    let changed = one_mib_changed(&data);
    let fresh = tempfile::tempdir()?;
    let hits = env.hub.xet_stats().dedupe_hits;
    let sent = reupload_sends(
        &env,
        &data,
        &changed,
        &[("HF_XET_CACHE", &fresh.path().to_string_lossy())],
    )?;
    assert!(env.hub.xet_stats().dedupe_hits > hits, "global dedupe answered");
    assert!(sent >= 1 << 20, "the changed MiB was sent: {sent}");
    assert!(sent * 5 <= data.len() as u64, "{sent} of {} bytes sent", data.len());
    Ok(())
}

#[test]
fn without_xet_uploads_go_through_lfs() -> TestResult {
    let work = tempfile::tempdir()?;
    let bytes = noise(2 * 1024 * 1024, 7);
    let local = work.path().join("lfs.bin");
    write(&local, &bytes)?;

    let disabled = Env::empty()?;
    upload(
        &disabled,
        &["alice/no-xet", &local.to_string_lossy(), "lfs.bin"],
        &[("HF_HUB_DISABLE_XET", "1")],
    )?;
    let records = disabled.hub.log().records();
    assert!(records.iter().any(is_lfs_upload));
    assert!(!records.iter().any(|r| is_cas(r) || r.path.contains("xet-write-token")));
    assert_eq!(
        disabled.hub.file_content("model", "alice/no-xet", "main", "lfs.bin")?,
        bytes
    );

    let lfs_only = Env::start_with(|mut config| {
        config.xet = false;
        config
    })?;
    upload(&lfs_only, &["alice/lfs-only", &local.to_string_lossy(), "lfs.bin"], &[])?;
    let records = lfs_only.hub.log().records();
    assert!(
        records
            .iter()
            .any(|r| r.path.contains("xet-write-token") && r.status == 404)
    );
    assert!(records.iter().any(is_lfs_upload));
    assert_eq!(
        lfs_only
            .hub
            .file_content("model", "alice/lfs-only", "main", "lfs.bin")?,
        bytes
    );
    Ok(())
}

#[test]
fn a_read_token_is_refused_with_a_clear_error() -> TestResult {
    let env = Env::empty()?;
    let work = tempfile::tempdir()?;
    let local = work.path().join("x.bin");
    write(&local, &noise(100_000, 8))?;
    // The repo exists: only the upload is refused.
    upload(&env, &["alice/read-only", &local.to_string_lossy(), "first.bin"], &[])?;
    let out = env.cli(
        &["upload", "alice/read-only", &local.to_string_lossy(), "x.bin"],
        &[("HF_TOKEN", ALICE_READ)],
    )?;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("lacks the permission"), "{err}");
    assert!(!err.contains(ALICE_READ), "{err}");
    Ok(())
}

#[test]
fn a_refused_xorb_fails_the_commit_and_commits_nothing() -> TestResult {
    let env = Env::empty()?;
    let work = tempfile::tempdir()?;
    let local = work.path().join("x.bin");
    write(&local, &noise(3 << 20, 9))?;
    upload(&env, &["alice/refused", &local.to_string_lossy(), "first.bin"], &[])?;
    let files_before = env.remote_files(hub_url::RepoType::Model, "alice/refused", "main")?;
    let shards_before = env.hub.xet_stats().shards_stored;

    write(&local, &noise(3 << 20, 10))?;
    env.hub.faults().push(
        Fault::new(
            "/~cas/v1/xorbs/",
            FaultAction::Status {
                status: 400,
                retry_after: None,
            },
        )
        .times(100),
    );
    let out = env.cli(
        &["upload", "alice/refused", &local.to_string_lossy(), "second.bin"],
        &[("HF_TOKEN", ALICE_WRITE)],
    )?;
    env.hub.faults().clear();
    assert!(!out.status.success(), "the upload failed");
    assert!(stderr(&out).contains("400"), "{}", stderr(&out));
    assert_eq!(env.hub.xet_stats().shards_stored, shards_before, "no shard");
    let files_after = env.remote_files(hub_url::RepoType::Model, "alice/refused", "main")?;
    assert_eq!(
        files_after.keys().collect::<Vec<_>>(),
        files_before.keys().collect::<Vec<_>>(),
        "no commit"
    );
    Ok(())
}
