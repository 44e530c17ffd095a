//! The real Python client's write side: repos, uploads (regular, LFS `basic` and
//! `multipart`), folders, branches, tags, commits, pull requests and deletions, checked
//! against what the emulator's git repository then holds.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use hub_emulator::test_hub::{ALICE, ALICE_READ, TestHub};

use crate::{TestResult, hex_sha256, python, run_script};

/// Deterministic bytes that do not compress to nothing.
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

fn git(git_dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let output = Command::new("git").arg("--git-dir").arg(git_dir).args(args).output()?;
    if !output.status.success() {
        return Err(format!("git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

#[test]
fn python_client_writes_what_the_emulator_then_holds() -> TestResult {
    let python = python();
    assert!(
        python.exists(),
        "the Python client is needed at {}: run `cargo xtask ci` (it creates .venv) or set HUB_TEST_PYTHON",
        python.display()
    );
    let part_size = 256 * 1024;
    let hub = TestHub::start_with(|mut config| {
        config.multipart_threshold = 1024 * 1024;
        config.multipart_part_size = part_size;
        config
    })?;
    let work = tempfile::tempdir()?;
    let local = work.path().join("local");
    std::fs::create_dir_all(&local)?;

    // What the script uploads, path in repo → bytes.
    let mut uploads: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let regular = br#"{"hidden_size": 8}"#.to_vec();
    let basic = pseudo_random(200_000, 1);
    let multipart = pseudo_random(1024 * 1024 + 12_345, 2);
    for (name, bytes) in [
        ("config.json", &regular),
        ("basic.safetensors", &basic),
        ("multipart.bin", &multipart),
    ] {
        std::fs::write(local.join(name), bytes)?;
    }
    let folder = work.path().join("folder");
    let folder_files: Vec<(&str, Vec<u8>)> = vec![
        ("README.md", b"---\nlicense: mit\n---\n# A folder\n".to_vec()),
        ("nested/deep/data.txt", b"deep\n".to_vec()),
        ("sub dir/\u{fc}n\u{ef}code name.txt", "unicode\n".as_bytes().to_vec()),
        ("binary.dat", vec![0, 1, 2, 3, 255, 0, 7]),
        ("remove-me/a.txt", b"temporary\n".to_vec()),
    ];
    for (path, bytes) in &folder_files {
        let target = folder.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
        if !path.starts_with("remove-me/") {
            uploads.insert(format!("folder/{path}"), bytes.clone());
        }
    }
    uploads.insert("weights/basic.safetensors".into(), basic.clone());
    uploads.insert("weights/multipart.bin".into(), multipart.clone());

    let repo = "alice/written";
    let expected = serde_json::json!({
        "repo": repo,
        "user": ALICE,
        "read_token": ALICE_READ,
        "folder": folder,
        "files": {
            "regular": { "local": local.join("config.json"), "path": "config.json" },
            "basic": { "local": local.join("basic.safetensors"), "path": "weights/basic.safetensors", "sha256": hex_sha256(&basic) },
            "multipart": { "local": local.join("multipart.bin"), "path": "weights/multipart.bin", "sha256": hex_sha256(&multipart) },
        },
    });
    let expected_path = work.path().join("expected.json");
    let result_path = work.path().join("result.json");
    std::fs::write(&expected_path, expected.to_string())?;

    run_script(
        &hub,
        "write_side.py",
        work.path(),
        &[("HUB_EXPECTED", &expected_path), ("HUB_RESULT", &result_path)],
    )?;
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&result_path)?)?;

    // The repo holds exactly the uploaded files, byte for byte.
    let git_dir = hub.git_dir("model", repo)?;
    let main = result["main_commit"].as_str().ok_or("main commit")?;
    assert_eq!(git(&git_dir, &["rev-parse", "main"])?.trim(), main);
    let listed = git(&git_dir, &["ls-tree", "-r", "-z", "--name-only", "main"])?;
    let mut names: Vec<&str> = listed.split('\0').filter(|n| !n.is_empty()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = uploads.keys().map(String::as_str).chain([".gitattributes"]).collect();
    want.sort_unstable();
    assert_eq!(names, want);
    for (path, bytes) in &uploads {
        assert_eq!(&hub.file_content("model", repo, "main", path)?, bytes, "{path}");
    }
    // LFS files are pointers in git; regular ones are their bytes.
    for (path, bytes) in [
        ("weights/basic.safetensors", &basic),
        ("weights/multipart.bin", &multipart),
        ("folder/binary.dat", &folder_files[3].1),
    ] {
        let pointer = git(&git_dir, &["cat-file", "blob", &format!("main:{path}")])?;
        assert!(
            pointer.contains(&format!("oid sha256:{}", hex_sha256(bytes))),
            "{path}: {pointer}"
        );
    }
    assert_eq!(
        git(&git_dir, &["cat-file", "blob", "main:folder/nested/deep/data.txt"])?,
        "deep\n"
    );

    // History: authored by the token's user, with the description; the pull request apart.
    let authors = git(&git_dir, &["log", "--format=%an", "main"])?;
    let authors: Vec<&str> = authors.lines().collect();
    assert!(authors[..authors.len() - 1].iter().all(|a| *a == ALICE), "{authors:?}");
    let basic_commit = result["basic_commit"].as_str().ok_or("basic commit")?;
    assert_eq!(
        git(&git_dir, &["log", "-1", "--format=%B", basic_commit])?.trim_end(),
        "Add weights by basic\n\nThe small checkpoint."
    );
    let pr = git(&git_dir, &["rev-parse", "refs/pr/1"])?;
    assert_eq!(pr.trim(), result["pr_commit"].as_str().ok_or("pr commit")?);
    assert_eq!(
        hub.file_content("model", repo, "refs/pr/1", "proposal.txt")?,
        b"a proposal\n"
    );
    assert!(hub.file_content("model", repo, "main", "proposal.txt").is_err());
    assert_eq!(
        git(&git_dir, &["rev-parse", "refs/tags/v0^{commit}"])?.trim(),
        basic_commit
    );
    assert!(git(&git_dir, &["rev-parse", "--verify", "refs/heads/dev"]).is_ok());

    // The wire: one multipart upload of 5 parts on the CDN without a token, its
    // completion, basic PUTs for the other LFS files, and the card validated.
    let records = hub.log().records();
    let parts: Vec<_> = records
        .iter()
        .filter(|r| r.path.starts_with("/cdn/lfs-part/"))
        .collect();
    assert_eq!(parts.len(), multipart.len().div_ceil(part_size as usize));
    assert!(parts.iter().all(|r| r.method == "PUT" && r.status == 200));
    assert!(
        parts
            .iter()
            .all(|r| r.host.starts_with("localhost") && r.authorization.is_none())
    );
    let completions = records.iter().filter(|r| r.path == "/api/complete_multipart").count();
    assert_eq!(completions, 1);
    let basics = records
        .iter()
        .filter(|r| r.path.starts_with("/cdn/lfs-upload/") && r.status == 200)
        .count();
    assert_eq!(basics, 2, "basic.safetensors and folder/binary.dat");
    assert!(
        records
            .iter()
            .any(|r| r.path == "/api/validate-yaml" && r.status == 200)
    );
    assert!(!hub.git_dir("dataset", "alice/written-temporary")?.exists(), "deleted");
    Ok(())
}
