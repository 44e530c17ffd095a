//! One cache, two clients, one shared blob store: a Xet file the Python client
//! 2.4 stored in `{cache}/blobs/` is linked by `huggingface-cli` for another
//! repo without fetching it, and the other way round; both scans agree on a
//! cache with shared blobs; either client deletes one repo and keeps the other's
//! file, and the last deletion frees the stored file; HF_HUB_DISABLE_SHARED_BLOBS
//! keeps per-repo blobs; a stored file of the wrong size is not used.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::ALICE_WRITE;
use serde_json::{Value, json};

use crate::cache_audit::{Auditor, python_scan_problems};
use crate::support::{BoxError, Env, TestResult, last_line, names_in, pattern_bytes, python_results, wait_until};

const FILE: &str = "weights.bin";
const ONE: &str = "alice/shared-one";
const TWO: &str = "alice/shared-two";
const XET_ON: [(&str, &str); 2] = [("HF_HUB_DISABLE_XET", ""), ("HF_TOKEN", ALICE_WRITE)];

/// The file both repos hold.
fn data() -> Vec<u8> {
    pattern_bytes(700_000, 17)
}

/// An emulator where the Python client uploaded the same file, through Xet, to
/// both repos; and that file's Xet hash.
fn two_repos() -> Result<(Env, String), BoxError> {
    repos_holding_the_file(&[ONE, TWO])
}

/// An emulator where the Python client uploaded the same file, through Xet, to
/// each of `repos`; and that file's Xet hash.
fn repos_holding_the_file(repos: &[&str]) -> Result<(Env, String), BoxError> {
    let env = Env::empty()?;
    // A first commit of its own, so that no two repos share a commit id
    // (deletions name revisions by commit, as the Python client's do).
    for repo in repos {
        env.hub
            .seed(&SeedRepo::model(repo).file("README.md", format!("# {repo}\n")))?;
    }
    let local = env.home.path().join("upload").join(FILE);
    std::fs::create_dir_all(local.parent().ok_or("parent")?)?;
    std::fs::write(&local, data())?;
    let mut steps: Vec<Value> = repos
        .iter()
        .map(|repo| json!({ "op": "upload_file", "repo": repo, "local": local, "path": FILE }))
        .collect();
    steps.extend(repos.iter().map(|repo| json!({ "op": "xet_hashes", "repo": repo })));
    let results = python(&env, &steps, &[])?;
    let hashes: Vec<Option<&str>> = results[repos.len()..].iter().map(|r| r[FILE].as_str()).collect();
    let hash = hashes[0].ok_or("a Xet hash for the file")?.to_string();
    assert!(
        hashes.iter().all(|h| *h == Some(hash.as_str())),
        "one content, one hash: {hashes:?}"
    );
    std::fs::remove_dir_all(env.home.path().join("upload"))?;
    env.hub.log().clear();
    Ok((env, hash))
}

/// The Python client's steps with Xet on (its default), failing on any failed step.
fn python(env: &Env, steps: &[Value], extra: &[(&str, &str)]) -> Result<Vec<Value>, BoxError> {
    let mut vars: Vec<(&str, &str)> = XET_ON.to_vec();
    vars.extend_from_slice(extra);
    let results = env.python(steps, &vars)?;
    match results.iter().find(|r| r.get("error").is_some()) {
        Some(failed) => Err(format!("a Python step failed: {failed}").into()),
        None => Ok(results),
    }
}

fn python_download(env: &Env, repo: &str, extra: &[(&str, &str)]) -> Result<PathBuf, BoxError> {
    let results = python(
        env,
        &[json!({ "op": "hf_hub_download", "repo": repo, "filename": FILE })],
        extra,
    )?;
    Ok(PathBuf::from(results[0]["path"].as_str().ok_or("a path")?))
}

fn cli_download(env: &Env, repo: &str, extra: &[(&str, &str)]) -> Result<PathBuf, BoxError> {
    Ok(last_line(&env.cli_ok(&["download", repo, FILE], extra)?))
}

fn repo_blob(env: &Env, repo: &str) -> PathBuf {
    let sha256 = sha256_hex(&data());
    env.cache()
        .join(format!("models--{}", repo.replace('/', "--")))
        .join("blobs")
        .join(sha256)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn store_blob(env: &Env, hash: &str) -> PathBuf {
    env.cache().join("blobs").join(&hash[..2]).join(hash)
}

fn manifest_lines(env: &Env, hash: &str) -> Result<Vec<String>, BoxError> {
    let text = std::fs::read_to_string(env.cache().join("blobs").join(&hash[..2]).join(format!("{hash}.refs")))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    Ok(lines)
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Requests that moved the file's bytes: the CAS's reconstructions, xorb
/// ranges, the bridge and the LFS CDN.
fn byte_transfers(env: &Env) -> usize {
    env.hub
        .log()
        .records()
        .iter()
        .filter(|r| r.method == "GET" && (r.path.starts_with("/cdn/") || r.path.starts_with("/~cas/")))
        .count()
}

#[test]
fn a_file_python_stored_is_linked_by_the_cli_without_a_transfer() -> TestResult {
    let (env, hash) = two_repos()?;
    let python_path = python_download(&env, ONE, &[])?;
    assert_eq!(std::fs::read(&python_path)?, data());
    assert!(is_link(&repo_blob(&env, ONE)), "the Python client made the store");
    assert_eq!(
        std::fs::read_to_string(env.cache().join("blobs/.huggingface-shared-blobs"))?,
        "1\n"
    );

    env.hub.log().clear();
    let ours = cli_download(&env, TWO, &[])?;
    assert_eq!(std::fs::read(&ours)?, data());
    assert_eq!(byte_transfers(&env), 0, "linked from the store, nothing fetched");
    assert_eq!(
        std::fs::read_link(repo_blob(&env, TWO))?,
        Path::new("../../blobs").join(&hash[..2]).join(&hash),
        "the link the Python client makes"
    );
    let sha256 = sha256_hex(&data());
    assert_eq!(
        manifest_lines(&env, &hash)?,
        [
            format!("models--alice--shared-one/blobs/{sha256}"),
            format!("models--alice--shared-two/blobs/{sha256}")
        ],
        "our reference joins the Python client's in its manifest"
    );
    scans_agree(&env)?;
    Ok(())
}

#[test]
fn a_file_the_cli_stored_is_linked_by_python_without_a_transfer() -> TestResult {
    let (env, hash) = two_repos()?;
    let ours = cli_download(&env, ONE, &[])?;
    assert_eq!(std::fs::read(&ours)?, data());
    assert!(is_link(&repo_blob(&env, ONE)), "ours made the store");
    assert!(store_blob(&env, &hash).is_file());

    env.hub.log().clear();
    let theirs = python_download(&env, TWO, &[])?;
    assert_eq!(std::fs::read(&theirs)?, data());
    assert_eq!(byte_transfers(&env), 0, "the Python client linked from our store");
    assert!(is_link(&repo_blob(&env, TWO)));
    assert_eq!(manifest_lines(&env, &hash)?.len(), 2);
    let store = python(&env, &[json!({ "op": "shared_store" })], &[])?;
    assert_eq!(store[0]["marked"], true, "our marker is the Python client's");
    assert_eq!(store[0]["blobs"], json!([format!("blobs/{}/{hash}", &hash[..2])]));
    scans_agree(&env)?;
    Ok(())
}

/// Both clients' scans of the cache: the same repos and sizes, the shared
/// file counted once in the total.
fn scans_agree(env: &Env) -> TestResult {
    let python_scan = python(env, &[json!({ "op": "scan_cache_dir" })], &[])?.remove(0);
    let ours = hub_cache::scan_cache(&env.cache())?;
    assert!(ours.warnings.is_empty(), "{:?}", ours.warnings);
    assert_eq!(python_scan["warnings"], json!([]));
    assert_eq!(python_scan["size_on_disk"], json!(ours.size_on_disk), "cache totals");
    let python_repos: Vec<(String, u64, u64)> = python_scan["repos"]
        .as_array()
        .ok_or("repos")?
        .iter()
        .map(|r| {
            (
                r["repo_id"].as_str().unwrap_or_default().to_string(),
                r["size_on_disk"].as_u64().unwrap_or_default(),
                r["nb_files"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let our_repos: Vec<(String, u64, u64)> = ours
        .repos
        .iter()
        .map(|r| (r.repo_id.to_string(), r.size_on_disk, r.nb_files as u64))
        .collect();
    assert_eq!(python_repos, our_repos);
    Ok(())
}

#[test]
fn each_client_deletes_one_repo_and_the_last_deletion_frees_the_stored_file() -> TestResult {
    for python_first in [true, false] {
        let (env, hash) = two_repos()?;
        python_download(&env, ONE, &[])?;
        cli_download(&env, TWO, &[])?;
        let size = data().len() as u64;
        assert_eq!(hub_cache::scan_cache(&env.cache())?.size_on_disk, size);

        // What each client would free by deleting one repo, then both.
        let ours = hub_cache::scan_cache(&env.cache())?;
        let commits = |repo: &str| -> Vec<String> {
            ours.repos
                .iter()
                .filter(|r| r.repo_id.as_str() == repo)
                .flat_map(|r| r.revisions.iter().map(|v| v.commit_hash.clone()))
                .collect()
        };
        let (one, two) = (commits(ONE), commits(TWO));
        let both: Vec<&str> = one.iter().chain(&two).map(String::as_str).collect();
        let only_one: Vec<&str> = one.iter().map(String::as_str).collect();
        let plan = python(
            &env,
            &[json!({ "op": "delete_repo", "repo": ONE, "execute": false })],
            &[],
        )?;
        assert_eq!(plan[0]["expected_freed_size"], 0);
        assert_eq!(ours.delete_revisions(&only_one).expected_freed_size, 0);
        assert_eq!(ours.delete_revisions(&both).expected_freed_size, size);

        let (first, last) = if python_first { (ONE, TWO) } else { (TWO, ONE) };
        if python_first {
            let freed = python(&env, &[json!({ "op": "delete_repo", "repo": first })], &[])?;
            assert_eq!(freed[0]["expected_freed_size"], 0);
        } else {
            env.cli_ok(&["delete-cache", first, "--yes"], &[])?;
        }
        assert!(store_blob(&env, &hash).is_file(), "the other repo still links to it");
        let kept = env.cli_ok(&["download", last, FILE], &[("HF_HUB_OFFLINE", "1")])?;
        assert_eq!(
            std::fs::read(last_line(&kept))?,
            data(),
            "the other repo's file is intact"
        );
        assert_eq!(
            manifest_lines(&env, &hash)?.len(),
            1,
            "the deleted link's reference is gone"
        );
        scans_agree(&env)?;

        if python_first {
            let out = env.cli_ok(&["delete-cache", last, "--yes"], &[])?;
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("freeing 700.0K"),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        } else {
            let freed = python(&env, &[json!({ "op": "delete_repo", "repo": last })], &[])?;
            assert_eq!(freed[0]["expected_freed_size"], size);
        }
        assert!(
            !store_blob(&env, &hash).exists(),
            "the last link took the stored file with it"
        );
        assert!(manifest_lines(&env, &hash).is_err());
        scans_agree(&env)?;
    }
    Ok(())
}

#[test]
fn without_shared_blobs_each_repo_keeps_its_own_blob() -> TestResult {
    let (env, _) = two_repos()?;
    python_download(&env, ONE, &[])?;
    env.hub.log().clear();
    cli_download(&env, TWO, &[("HF_HUB_DISABLE_SHARED_BLOBS", "1")])?;
    assert!(byte_transfers(&env) > 0, "fetched, not linked");
    assert!(std::fs::symlink_metadata(repo_blob(&env, TWO))?.is_file());

    let (env, _) = two_repos()?;
    cli_download(&env, ONE, &[("HF_HUB_DISABLE_SHARED_BLOBS", "1")])?;
    python_download(&env, TWO, &[("HF_HUB_DISABLE_SHARED_BLOBS", "1")])?;
    for repo in [ONE, TWO] {
        assert!(std::fs::symlink_metadata(repo_blob(&env, repo))?.is_file(), "{repo}");
    }
    assert!(!env.cache().join("blobs").exists(), "no store was made");
    scans_agree(&env)?;
    Ok(())
}

#[test]
fn a_stored_file_of_the_wrong_size_is_fetched_again_by_both_clients() -> TestResult {
    let (env, hash) = two_repos()?;
    cli_download(&env, ONE, &[])?;
    let stored = store_blob(&env, &hash);
    std::fs::remove_file(&stored)?;
    std::fs::write(&stored, b"not the file")?;
    env.hub.log().clear();
    let theirs = python_download(&env, TWO, &[])?;
    assert!(
        byte_transfers(&env) > 0,
        "the Python client did not take the damaged copy"
    );
    assert_eq!(std::fs::read(&theirs)?, data());

    let (env, hash) = two_repos()?;
    python_download(&env, ONE, &[])?;
    let stored = store_blob(&env, &hash);
    std::fs::remove_file(&stored)?;
    std::fs::write(&stored, b"not the file")?;
    env.hub.log().clear();
    let ours = cli_download(&env, TWO, &[])?;
    assert!(byte_transfers(&env) > 0, "ours did not take the damaged copy");
    assert_eq!(std::fs::read(&ours)?, data());
    Ok(())
}

#[test]
fn both_clients_find_the_same_unreferenced_stored_files() -> TestResult {
    let (env, hash) = two_repos()?;
    cli_download(&env, ONE, &[])?;
    python_download(&env, TWO, &[])?;
    // Repo folders removed by hand leave the stored file behind.
    std::fs::remove_dir_all(env.cache().join("models--alice--shared-one"))?;
    std::fs::remove_dir_all(env.cache().join("models--alice--shared-two"))?;
    let size = data().len() as u64;
    let store = python(&env, &[json!({ "op": "shared_store" })], &[])?;
    let key = format!("blobs/{}/{hash}", &hash[..2]);
    assert_eq!(store[0]["unreferenced"], json!({ key: size }));
    let scan = env.cli_ok(&["scan-cache"], &[])?;
    assert!(
        String::from_utf8_lossy(&scan.stdout)
            .contains("Found 1 shared blob(s) no repo links to any more, totalling 700.0K."),
        "{}",
        String::from_utf8_lossy(&scan.stdout)
    );
    let prune = hub_cache::scan_cache(&env.cache())?.prune_shared_blobs();
    assert_eq!(prune.expected_freed_size, size);
    assert_eq!(
        prune.shared_blobs.iter().collect::<Vec<_>>(),
        [&store_blob(&env, &hash)]
    );
    scans_agree(&env)?;
    prune.execute()?;
    assert!(!store_blob(&env, &hash).exists());
    let store = python(&env, &[json!({ "op": "shared_store" })], &[])?;
    assert_eq!(store[0]["blobs"], json!([]));

    // And the Python client collects what ours left.
    let (env, hash) = two_repos()?;
    cli_download(&env, ONE, &[])?;
    std::fs::remove_dir_all(env.cache().join("models--alice--shared-one"))?;
    let pruned = python(&env, &[json!({ "op": "prune_shared" })], &[])?;
    assert_eq!(pruned[0]["freed"], size);
    assert!(!store_blob(&env, &hash).exists());
    Ok(())
}

#[test]
fn rust_and_python_processes_storing_one_file_at_once_store_it_once() -> TestResult {
    const REPOS: [&str; 6] = [
        "alice/crowd-0",
        "alice/crowd-1",
        "alice/crowd-2",
        "alice/crowd-3",
        "alice/crowd-4",
        "alice/crowd-5",
    ];
    let (env, hash) = repos_holding_the_file(&REPOS)?;
    // Slow xorb ranges, so that every process is still fetching when the first publishes.
    env.hub.faults().push(
        Fault::new("/cdn/xorb/", FaultAction::Throttle { bytes_per_sec: 300_000 })
            .method("GET")
            .times(64),
    );
    let mut python_runs = Vec::new();
    for repo in &REPOS[..3] {
        let steps = [json!({ "op": "hf_hub_download", "repo": repo, "filename": FILE })];
        let (mut cmd, plan) = env.python_command(&steps, &XET_ON)?;
        python_runs.push((cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?, plan));
    }
    // Ours start once the Python interpreters are up and asking.
    assert!(
        wait_until(Duration::from_secs(30), || !env.hub.log().records().is_empty()),
        "no request from the Python processes"
    );
    let mut cli_runs = Vec::new();
    for repo in &REPOS[3..] {
        let child = env
            .command(&["download", repo, FILE], &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        cli_runs.push(child);
    }
    for (child, _plan) in python_runs {
        let results = python_results(&child.wait_with_output()?)?;
        assert_eq!(std::fs::read(results[0]["path"].as_str().ok_or("a path")?)?, data());
    }
    for child in cli_runs {
        let out = child.wait_with_output()?;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(last_line(&out))?, data());
    }

    // Both clients were fetching at once: each fetched xorb ranges.
    let fetchers: std::collections::BTreeSet<String> = env
        .hub
        .log()
        .records()
        .into_iter()
        .filter(|r| r.path.starts_with("/cdn/xorb/"))
        .filter_map(|r| r.user_agent)
        .map(|agent| agent.split('/').next().unwrap_or_default().to_string())
        .collect();
    assert!(fetchers.len() >= 2, "{fetchers:?}");
    let sha256 = sha256_hex(&data());
    for repo in REPOS {
        assert_eq!(
            std::fs::read_link(repo_blob(&env, repo))?,
            Path::new("../../blobs").join(&hash[..2]).join(&hash),
            "{repo}"
        );
        let folder = env.cache().join(format!("models--{}/blobs", repo.replace('/', "--")));
        assert_eq!(
            names_in(&folder),
            [sha256.as_str()],
            "nothing left under a temporary name"
        );
    }
    assert_eq!(
        names_in(&env.cache().join("blobs").join(&hash[..2])),
        [hash.clone(), format!("{hash}.lock"), format!("{hash}.refs")]
    );
    let mut expected: Vec<String> = REPOS
        .iter()
        .map(|repo| format!("models--{}/blobs/{sha256}", repo.replace('/', "--")))
        .collect();
    expected.sort();
    assert_eq!(manifest_lines(&env, &hash)?, expected, "one reference a repo");
    Auditor::new(&env)
        .audit(&env.cache())?
        .assert_clean("after the crowd")?;
    assert_eq!(python_scan_problems(&env)?, Vec::<String>::new());
    scans_agree(&env)?;
    Ok(())
}

/// The state a publish of `repo`'s blob leaves when killed after `step` of
/// its steps: the store folder made (0), its marker half written (1), the
/// marker and the hash's folder made (2), the lock and a temporary link made
/// (3), the reference appended (4), the blob moved into the store (5). The
/// snapshot entry comes after the publish, so it is not there yet.
fn killed_publish(env: &Env, repo: &str, hash: &str, step: usize) -> TestResult {
    let snapshot_entry = cli_download(env, repo, &[("HF_HUB_DISABLE_SHARED_BLOBS", "1")])?;
    std::fs::remove_file(&snapshot_entry)?;
    let store = env.cache().join("blobs");
    let prefix = store.join(&hash[..2]);
    let blob = repo_blob(env, repo);
    let sha256 = sha256_hex(&data());
    std::fs::create_dir(&store)?;
    if step == 1 {
        let leftover = store.join(".huggingface-shared-blobs.0a1b2c3d.tmp");
        std::fs::write(&leftover, "1")?;
        // Left by a process that died a while ago.
        let long_ago = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&leftover)?
            .set_modified(long_ago)?;
    }
    if step >= 2 {
        std::fs::write(store.join(".huggingface-shared-blobs"), "1\n")?;
        std::fs::create_dir(&prefix)?;
    }
    if step >= 3 {
        std::fs::write(prefix.join(format!("{hash}.lock")), "")?;
        let temp = blob.with_file_name(format!(".{sha256}.0badc0de.shared"));
        std::os::unix::fs::symlink(Path::new("../../blobs").join(&hash[..2]).join(hash), temp)?;
    }
    if step >= 4 {
        let line = format!("models--{}/blobs/{sha256}\n", repo.replace('/', "--"));
        std::fs::write(prefix.join(format!("{hash}.refs")), line)?;
    }
    if step >= 5 {
        std::fs::rename(&blob, prefix.join(hash))?;
    }
    Ok(())
}

#[test]
fn a_publish_killed_at_any_step_leaves_a_cache_both_clients_read() -> TestResult {
    for step in 0..=5 {
        let (env, hash) = two_repos()?;
        killed_publish(&env, ONE, &hash, step)?;
        // Whatever the step, each client reads the cache and gets the file of either repo.
        let theirs = python_download(&env, ONE, &[])?;
        assert_eq!(std::fs::read(&theirs)?, data(), "step {step}");
        let ours = cli_download(&env, TWO, &[])?;
        assert_eq!(std::fs::read(&ours)?, data(), "step {step}");
        assert!(store_blob(&env, &hash).is_file(), "step {step}: the store holds it now");
        assert!(is_link(&repo_blob(&env, TWO)), "step {step}");
        if step == 5 {
            assert!(
                is_link(&repo_blob(&env, ONE)),
                "the moved blob is linked again, not fetched"
            );
        }
        scans_agree(&env)?;
        // Deleting both frees the stored file, whatever references the kill left.
        env.cli_ok(&["delete-cache", ONE, TWO, "--yes"], &[])?;
        assert!(!store_blob(&env, &hash).exists(), "step {step}");
        scans_agree(&env)?;
    }
    Ok(())
}
