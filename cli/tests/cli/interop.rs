//! One cache, two clients: what the Python `huggingface_hub` writes,
//! `huggingface-cli` serves offline, and the other way round; and both write
//! the same blobs, refs and links.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hub_url::RepoType;
use serde_json::{Value, json};

use crate::support::{
    BoxError, Env, Node, RICH_MAIN_FILES, RichRepo, TestResult, last_line, model_bytes, seed_rich, stderr, tree,
};

const REPO: &str = "alice/interop";
const OFFLINE: (&str, &str) = ("HF_HUB_OFFLINE", "1");

fn setup() -> Result<(Env, RichRepo), BoxError> {
    let env = Env::empty()?;
    let repo = seed_rich(&env.hub, REPO)?;
    Ok((env, repo))
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn no_error(results: &[Value]) -> TestResult {
    match results.iter().find(|r| r.get("error").is_some()) {
        Some(failed) => Err(format!("a Python step failed: {failed}").into()),
        None => Ok(()),
    }
}

#[test]
fn python_cache_is_served_by_the_cli_offline() -> TestResult {
    let (e, repo) = setup()?;
    let results = e.python(
        &[
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json"}),
            json!({"op": "snapshot_download", "repo": REPO}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json", "revision": "v2"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "README.md", "revision": "refs/pr/1"}),
        ],
        &[],
    )?;
    no_error(&results)?;
    let python_config = PathBuf::from(text(&results[0], "path"));
    let python_snapshot = PathBuf::from(text(&results[1], "path"));
    assert_eq!(
        python_snapshot,
        e.cache().join("models--alice--interop/snapshots").join(&repo.main)
    );

    e.hub.log().clear();
    let out = e.cli_ok(&["download", REPO, "config.json"], &[OFFLINE])?;
    assert_eq!(last_line(&out), python_config, "the same snapshot entry");
    assert_eq!(std::fs::read(last_line(&out))?, br#"{"hidden_size": 8}"#);

    let out = e.cli_ok(&["download", REPO, "model.safetensors"], &[OFFLINE])?;
    assert_eq!(std::fs::read(last_line(&out))?, model_bytes());

    let out = e.cli_ok(&["download", REPO, "sub dir/\u{e9} and space.txt"], &[OFFLINE])?;
    assert_eq!(std::fs::read(last_line(&out))?, b"unicode path");

    let out = e.cli_ok(
        &["download", REPO, "nested/a/b/c.txt", "--revision", &repo.main],
        &[OFFLINE],
    )?;
    assert_eq!(std::fs::read(last_line(&out))?, b"deep");

    let out = e.cli_ok(&["download", REPO, "--quiet"], &[OFFLINE])?;
    assert_eq!(last_line(&out), python_snapshot, "the snapshot folder of main");

    let out = e.cli_ok(&["download", REPO, "config.json", "--revision", "v2"], &[OFFLINE])?;
    assert_eq!(std::fs::read(last_line(&out))?, br#"{"hidden_size": 16}"#);
    assert!(last_line(&out).starts_with(e.cache().join("models--alice--interop/snapshots").join(&repo.v2)));

    let out = e.cli_ok(&["download", REPO, "README.md", "--revision", "refs/pr/1"], &[OFFLINE])?;
    assert_eq!(std::fs::read(last_line(&out))?, b"# proposed\n");
    assert!(last_line(&out).starts_with(e.cache().join("models--alice--interop/snapshots").join(&repo.pr)));

    // What Python did not fetch is not there, and offline says so.
    let out = e.cli(&["download", REPO, "extra.bin", "--revision", "v2"], &[OFFLINE])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not in the cache"), "{}", stderr(&out));

    assert!(e.hub.log().records().is_empty(), "offline means no request");

    // Our scan reads the Python client's cache (tree listings and all) without a warning.
    let scan = hub_cache::scan_cache(&e.cache())?;
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let refs: Vec<&String> = scan.repos[0].refs.keys().collect();
    assert_eq!(refs, ["main", "refs/pr/1", "v2"]);
    let out = e.cli_ok(&["scan-cache"], &[])?;
    assert!(!crate::support::stdout(&out).contains("warning"));
    Ok(())
}

/// What the CLI downloads for the scan test: (revision, files).
fn cli_downloads(repo: &RichRepo) -> Vec<(Option<String>, Vec<&'static str>)> {
    vec![
        (None, vec!["config.json", "model.safetensors", "nested/a/b/c.txt"]),
        (Some("v2".into()), vec!["config.json", "model.safetensors", "extra.bin"]),
        (Some(repo.pr.clone()), vec!["README.md"]),
        (Some("refs/pr/1".into()), vec!["README.md", "config.json"]),
    ]
}

#[test]
fn cli_cache_passes_the_python_scan_and_is_served_to_python_offline() -> TestResult {
    let (e, repo) = setup()?;
    e.hub.seed(
        &hub_emulator::SeedRepo::dataset("alice/table")
            .file("train.csv", b"a,b\n1,2\n".to_vec())
            .file("data/big.parquet", crate::support::pattern_bytes(20_000, 3)),
    )?;
    for (revision, files) in cli_downloads(&repo) {
        for file in files {
            let mut args = vec!["download", REPO, file];
            if let Some(revision) = &revision {
                args.extend(["--revision", revision.as_str()]);
            }
            e.cli_ok(&args, &[])?;
        }
    }
    e.cli_ok(&["download", "alice/table", "--repo-type", "dataset"], &[])?;

    let python = e.python(&[json!({"op": "scan_cache_dir"})], &[])?;
    let scan = &python[0];
    assert_eq!(scan.get("warnings"), Some(&json!([])), "{scan}");
    assert_eq!(scan.get("incomplete_files"), Some(&json!([])), "{scan}");

    // The Python scan sees what was fetched.
    let repos = scan.get("repos").and_then(Value::as_array).cloned().unwrap_or_default();
    assert_eq!(repos.len(), 2, "{scan}");
    let model = repos
        .iter()
        .find(|r| r.get("repo_id") == Some(&json!(REPO)))
        .ok_or("the model is scanned")?;
    assert_eq!(model.get("repo_type"), Some(&json!("model")));
    assert_eq!(
        model.get("refs"),
        Some(&json!({"main": repo.main, "v2": repo.v2, "refs/pr/1": repo.pr}))
    );
    let main_files = e.remote_files(RepoType::Model, REPO, "main")?;
    let v2_files = e.remote_files(RepoType::Model, REPO, "v2")?;
    let pr_files = e.remote_files(RepoType::Model, REPO, "refs/pr/1")?;
    let blobs: BTreeMap<&str, u64> = [
        &main_files["config.json"],
        &main_files["model.safetensors"],
        &main_files["nested/a/b/c.txt"],
        &v2_files["config.json"],
        &v2_files["extra.bin"],
        &pr_files["README.md"],
    ]
    .into_iter()
    .map(|f| (f.etag.as_str(), f.size))
    .collect();
    assert_eq!(model.get("nb_files"), Some(&json!(blobs.len())), "{model}");
    assert_eq!(
        model.get("size_on_disk"),
        Some(&json!(blobs.values().sum::<u64>())),
        "{model}"
    );
    let revisions = model
        .get("revisions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let by_commit: BTreeMap<String, &Value> = revisions.iter().map(|r| (text(r, "commit"), r)).collect();
    assert_eq!(
        by_commit.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([repo.main.clone(), repo.v2.clone(), repo.pr.clone()])
    );
    assert_eq!(
        by_commit[&repo.main].get("files"),
        Some(&json!(["config.json", "model.safetensors", "nested/a/b/c.txt"]))
    );
    assert_eq!(
        by_commit[&repo.main].get("size_on_disk"),
        Some(&json!(
            main_files["config.json"].size + main_files["model.safetensors"].size + 4
        ))
    );
    assert_eq!(by_commit[&repo.v2].get("refs"), Some(&json!(["v2"])));
    assert_eq!(by_commit[&repo.pr].get("refs"), Some(&json!(["refs/pr/1"])));
    assert_eq!(
        by_commit[&repo.pr].get("files"),
        Some(&json!(["README.md", "config.json"]))
    );

    // Our own scan reports the same repos, revisions, sizes and refs.
    let ours = hub_cache::scan_cache(&e.cache())?;
    assert!(ours.warnings.is_empty(), "{:?}", ours.warnings);
    assert_eq!(Some(&json!(ours.size_on_disk)), scan.get("size_on_disk"));
    for theirs in &repos {
        let mine = ours
            .repos
            .iter()
            .find(|r| json!(r.repo_id.as_str()) == theirs["repo_id"])
            .ok_or("the same repos")?;
        assert_eq!(json!(mine.repo_type.as_str()), theirs["repo_type"]);
        assert_eq!(json!(mine.size_on_disk), theirs["size_on_disk"]);
        assert_eq!(json!(mine.nb_files), theirs["nb_files"]);
        assert_eq!(json!(mine.refs), theirs["refs"]);
        let mine_revisions: Vec<Value> = mine
            .revisions
            .iter()
            .map(|r| {
                json!({
                    "commit": r.commit_hash,
                    "size_on_disk": r.size_on_disk,
                    "nb_files": r.files.len(),
                    "refs": r.refs,
                    "files": r.files.iter().map(|f| f.file_name.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        assert_eq!(json!(mine_revisions), theirs["revisions"]);
    }

    // Python, offline, is served from this cache, by branch, tag, PR ref and commit.
    e.hub.log().clear();
    let results = e.python(
        &[
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "nested/a/b/c.txt", "revision": repo.main}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json", "revision": "v2"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "extra.bin", "revision": "v2"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "README.md", "revision": "refs/pr/1"}),
            json!({"op": "snapshot_download", "repo": "alice/table", "repo_type": "dataset"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "tokenizer/vocab.txt"}),
        ],
        &[OFFLINE],
    )?;
    no_error(&results[..7])?;
    let read = |i: usize| std::fs::read(text(&results[i], "path"));
    assert_eq!(read(0)?, br#"{"hidden_size": 8}"#);
    assert_eq!(read(1)?, model_bytes());
    assert_eq!(read(2)?, b"deep");
    assert_eq!(read(3)?, br#"{"hidden_size": 16}"#);
    assert_eq!(read(4)?, crate::support::pattern_bytes(5_000, 2));
    assert_eq!(read(5)?, b"# proposed\n");
    assert!(results[..6].iter().all(|r| r["is_symlink"] == json!(true)));
    let dataset_files: BTreeSet<String> = results[6]["files"]
        .as_object()
        .map(|files| files.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        dataset_files,
        BTreeSet::from([".gitattributes".into(), "data/big.parquet".into(), "train.csv".into()])
    );
    // A file the CLI never fetched is an offline miss for Python too.
    assert_eq!(text(&results[7], "error"), "LocalEntryNotFoundError", "{}", results[7]);
    assert!(e.hub.log().records().is_empty(), "Python stayed offline");
    Ok(())
}

/// The parts of a cache both clients must write identically: blob names,
/// refs and their content, snapshot entries and their link targets.
fn comparable(cache: &Path) -> Result<BTreeMap<String, Node>, BoxError> {
    let mut nodes = tree(cache)?;
    // Lock files are an implementation detail.
    nodes.retain(|path, _| !path.starts_with(".locks"));
    // Tree listings (`trees/{commit}.json`) must hold the same data; their
    // whitespace and escaping may differ, so they are compared parsed.
    for (path, node) in nodes.iter_mut() {
        if path.split('/').nth(1) == Some("trees")
            && let Node::File { size, content } = node
        {
            let parsed: serde_json::Value = serde_json::from_slice(content.as_deref().unwrap_or_default())?;
            *content = Some(serde_json::to_vec(&parsed)?);
            *size = 0;
        }
    }
    // Blobs: same names and sizes; their content is checked elsewhere.
    for (path, node) in nodes.iter_mut() {
        if path.contains("/blobs/")
            && let Node::File { content, .. } = node
        {
            *content = None;
        }
    }
    Ok(nodes)
}

#[test]
fn cli_and_python_write_the_same_blobs_refs_and_links() -> TestResult {
    let (e, repo) = setup()?;
    let python_home = tempfile::tempdir()?;
    let python_env = [("HF_HOME", python_home.path().to_str().ok_or("utf-8 temp path")?)];
    let mut steps = Vec::new();
    let mut cli_runs: Vec<Vec<&str>> = Vec::new();
    for file in RICH_MAIN_FILES {
        steps.push(json!({"op": "hf_hub_download", "repo": REPO, "filename": file}));
        cli_runs.push(vec!["download", REPO, file]);
    }
    for file in ["config.json", "extra.bin"] {
        steps.push(json!({"op": "hf_hub_download", "repo": REPO, "filename": file, "revision": "v2"}));
        cli_runs.push(vec!["download", REPO, file, "--revision", "v2"]);
    }
    steps.push(json!({"op": "snapshot_download", "repo": REPO, "revision": "refs/pr/1"}));
    cli_runs.push(vec!["download", REPO, "--revision", "refs/pr/1"]);
    steps.push(json!({"op": "hf_hub_download", "repo": REPO, "filename": "nope.txt"}));
    cli_runs.push(vec!["download", REPO, "nope.txt"]);

    let results = e.python(&steps, &python_env)?;
    no_error(&results[..results.len() - 1])?;
    // `RemoteEntryNotFoundError` in 2.x, a subclass of `EntryNotFoundError`.
    assert!(
        text(&results[results.len() - 1], "error").ends_with("EntryNotFoundError"),
        "{}",
        results[results.len() - 1]
    );
    for args in &cli_runs {
        let out = e.cli(args, &[])?;
        assert_eq!(
            out.status.success(),
            !args.contains(&"nope.txt"),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    let python_cache = comparable(&python_home.path().join("hub"))?;
    let cli_cache = comparable(&e.cache())?;
    let only_python: Vec<_> = python_cache.keys().filter(|k| !cli_cache.contains_key(*k)).collect();
    let only_cli: Vec<_> = cli_cache.keys().filter(|k| !python_cache.contains_key(*k)).collect();
    assert!(
        only_python.is_empty() && only_cli.is_empty(),
        "only Python wrote {only_python:#?}\nonly the CLI wrote {only_cli:#?}"
    );
    for (path, node) in &python_cache {
        assert_eq!(Some(node), cli_cache.get(path), "{path}");
    }
    // The comparison covered what matters.
    let refs: Vec<_> = python_cache
        .iter()
        .filter(|(k, node)| k.contains("/refs/") && matches!(node, Node::File { .. }))
        .collect();
    assert_eq!(refs.len(), 3, "main, v2 and refs/pr/1: {refs:?}");
    assert!(python_cache.keys().any(|k| k.contains("/.no_exist/")));
    assert_eq!(
        python_cache.get(&format!(
            "models--alice--interop/snapshots/{}/nested/a/b/c.txt",
            repo.main
        )),
        Some(&Node::Link(PathBuf::from(format!(
            "../../../../../blobs/{}",
            e.remote_files(RepoType::Model, REPO, "main")?["nested/a/b/c.txt"].etag
        ))))
    );
    Ok(())
}

#[test]
fn cache_files_have_the_permissions_python_gives_them() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let (e, _) = setup()?;
    let python_home = tempfile::tempdir()?;
    let python_env = [("HF_HOME", python_home.path().to_str().ok_or("utf-8 temp path")?)];
    let results = e.python(
        &[
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors"}),
        ],
        &python_env,
    )?;
    no_error(&results)?;
    e.cli_ok(&["download", REPO, "config.json"], &[])?;
    e.cli_ok(&["download", REPO, "model.safetensors"], &[])?;
    let mode = |path: &Path| -> Result<u32, BoxError> { Ok(std::fs::metadata(path)?.permissions().mode() & 0o777) };
    for (relative, _) in comparable(&python_home.path().join("hub"))?
        .into_iter()
        .filter(|(_, node)| matches!(node, Node::File { .. }))
    {
        assert_eq!(
            mode(&python_home.path().join("hub").join(&relative))?,
            mode(&e.cache().join(&relative))?,
            "{relative}"
        );
    }
    Ok(())
}

#[test]
fn copy_mode_caches_match_the_python_client() -> TestResult {
    let (e, _) = setup()?;
    let python_home = tempfile::tempdir()?;
    let copies = ("HF_HUB_DISABLE_SYMLINKS", "1");
    let python_env = [
        ("HF_HOME", python_home.path().to_str().ok_or("utf-8 temp path")?),
        copies,
    ];
    let results = e.python(
        &[
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "config.json"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors"}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors", "revision": "v2"}),
        ],
        &python_env,
    )?;
    no_error(&results)?;
    e.cli_ok(&["download", REPO, "config.json"], &[copies])?;
    e.cli_ok(&["download", REPO, "model.safetensors"], &[copies])?;
    e.cli_ok(&["download", REPO, "model.safetensors", "--revision", "v2"], &[copies])?;
    let python_cache = comparable(&python_home.path().join("hub"))?;
    let cli_cache = comparable(&e.cache())?;
    assert_eq!(
        python_cache.keys().collect::<Vec<_>>(),
        cli_cache.keys().collect::<Vec<_>>(),
        "the same entries"
    );
    Ok(())
}

/// Whether a client holds the blob's lock: its partial file, made under the
/// lock, exists (the Python client names its own `{etag}.{random}.incomplete`
/// and may write nothing to it before the body has arrived), or the blob is
/// already in place.
fn fetching_or_fetched(blobs: &Path, etag: &str) -> bool {
    std::fs::read_dir(blobs).into_iter().flatten().flatten().any(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        name.starts_with(etag) && (name.ends_with(".incomplete") || name == etag)
    })
}

#[test]
fn python_and_the_cli_share_the_blob_lock() -> TestResult {
    let (e, _) = setup()?;
    let other = crate::support::pattern_bytes(300_000, 8);
    e.hub
        .seed(&hub_emulator::SeedRepo::model(REPO).file("other.bin", other.clone()))?;
    let remote = e.remote_files(RepoType::Model, REPO, "main")?;
    let blobs = e.cache().join("models--alice--interop/blobs");
    let slow = || {
        e.hub.faults().push(hub_emulator::http::Fault::new(
            "/cdn/",
            // 0.6 s: time for the other client to start and reach the lock.
            hub_emulator::http::FaultAction::Throttle { bytes_per_sec: 500_000 },
        ));
    };
    let wait = std::time::Duration::from_secs(30);

    // The CLI fetches; Python, started meanwhile, waits for it and fetches nothing.
    slow();
    e.hub.log().clear();
    let cli = e
        .command(&["download", REPO, "model.safetensors"], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let etag = &remote["model.safetensors"].etag;
    assert!(crate::support::wait_until(wait, || fetching_or_fetched(&blobs, etag)));
    let results = e.python(
        &[json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors"})],
        &[],
    )?;
    let cli = cli.wait_with_output()?;
    assert!(cli.status.success(), "{}", stderr(&cli));
    no_error(&results)?;
    assert_eq!(std::fs::read(text(&results[0], "path"))?, model_bytes());
    let cdn = e.cdn();
    assert_eq!(cdn.len(), 1, "one transfer: {cdn:?}");

    // Python fetches; the CLI, started meanwhile, waits for it and fetches nothing.
    slow();
    e.hub.log().clear();
    let (mut cmd, _plan) = e.python_command(
        &[json!({"op": "hf_hub_download", "repo": REPO, "filename": "other.bin"})],
        &[],
    )?;
    let python = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let etag = &remote["other.bin"].etag;
    assert!(crate::support::wait_until(wait, || fetching_or_fetched(&blobs, etag)));
    let out = e.cli_ok(&["download", REPO, "other.bin"], &[])?;
    let results = crate::support::python_results(&python.wait_with_output()?)?;
    no_error(&results)?;
    assert_eq!(std::fs::read(last_line(&out))?, other);
    assert_eq!(PathBuf::from(text(&results[0], "path")), last_line(&out));
    let cdn = e.cdn();
    assert_eq!(cdn.len(), 1, "one transfer: {cdn:?}");
    Ok(())
}
