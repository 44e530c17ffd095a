//! Snapshots through the CLI: `--include`/`--exclude` with the Python
//! client's semantics, file lists, and copies instead of links.

use std::collections::BTreeSet;
use std::path::Path;

use hub_emulator::SeedRepo;
use serde_json::{Value, json};

use crate::support::{BoxError, Env, TestResult, last_line, stderr};

const REPO: &str = "alice/patterns";

const FILES: [&str; 9] = [
    "config.json",
    "generation_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "tokenizer/vocab.txt",
    "tokenizer/special/map.json",
    "onnx/model.onnx",
    "docs/README.md",
    "secret.json",
];

fn setup() -> Result<Env, BoxError> {
    let e = Env::empty()?;
    let mut seed = SeedRepo::model(REPO);
    for (i, file) in FILES.iter().enumerate() {
        // Some big enough to be LFS files.
        let len = if file.ends_with(".safetensors") {
            3000 + i
        } else {
            10 + i
        };
        seed = seed.file(file, vec![b'a' + i as u8; len]);
    }
    e.hub.seed(&seed)?;
    Ok(e)
}

/// Every file below a folder, relative, `/`-separated.
fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                walk(&path, base, out);
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

/// The CLI's patterns and what they must pick.
fn cases() -> Vec<(Vec<&'static str>, BTreeSet<String>)> {
    vec![
        (
            vec!["--include", "*.json", "--exclude", "secret*"],
            set(&["config.json", "generation_config.json", "tokenizer/special/map.json"]),
        ),
        (
            vec!["--include", "tokenizer/"],
            set(&["tokenizer/vocab.txt", "tokenizer/special/map.json"]),
        ),
        (
            vec!["--include", "model-*.safetensors", "--include", "docs/*"],
            set(&[
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "docs/README.md",
            ]),
        ),
        (
            vec![
                "--exclude",
                "*.safetensors",
                "--exclude",
                "tokenizer/",
                "--exclude",
                ".git*",
            ],
            set(&[
                "config.json",
                "generation_config.json",
                "onnx/model.onnx",
                "docs/README.md",
                "secret.json",
            ]),
        ),
        (
            vec!["--include", "model-0000[2-9]-*", "--include", "?onfig.json"],
            set(&["model-00002-of-00002.safetensors", "config.json"]),
        ),
    ]
}

#[test]
fn include_and_exclude_pick_the_files_python_picks() -> TestResult {
    let e = setup()?;
    let mut python_steps = Vec::new();
    for (i, (args, expected)) in cases().into_iter().enumerate() {
        // Each case in its own cache, so that earlier cases do not show.
        let cache = e.home.path().join(format!("case-{i}"));
        let cache_arg = cache.to_string_lossy().into_owned();
        e.hub.log().clear();
        let mut all = vec!["download", REPO, "--cache-dir", cache_arg.as_str()];
        all.extend(&args);
        let out = e.cli_ok(&all, &[])?;
        let folder = last_line(&out);
        assert!(folder.starts_with(&cache), "{}", folder.display());
        assert_eq!(files_below(&folder), expected, "{args:?}");
        let fetched: BTreeSet<String> = e
            .transfers()
            .iter()
            .filter(|r| r.path.contains("/resolve/"))
            .filter_map(|r| r.path.split_once("/resolve/").map(|(_, rest)| rest.to_string()))
            .filter_map(|rest| rest.split_once('/').map(|(_, path)| path.to_string()))
            .collect();
        assert_eq!(fetched, expected, "only the picked files are fetched: {args:?}");

        let flag_values =
            |flag: &str| -> Vec<&str> { args.windows(2).filter(|w| w[0] == flag).map(|w| w[1]).collect() };
        let include = flag_values("--include");
        let exclude = flag_values("--exclude");
        python_steps.push(json!({
            "op": "snapshot_download",
            "repo": REPO,
            "allow_patterns": (!include.is_empty()).then_some(include),
            "ignore_patterns": (!exclude.is_empty()).then_some(exclude),
            "local_dir": e.home.path().join(format!("python-{i}")),
        }));
    }
    // The Python client picks the same files with the same patterns.
    let results = e.python(&python_steps, &[])?;
    for ((args, expected), result) in cases().into_iter().zip(&results) {
        let picked: BTreeSet<String> = result
            .get("files")
            .and_then(Value::as_object)
            .map(|files| files.keys().cloned().collect())
            .ok_or_else(|| format!("Python failed: {result}"))?;
        assert_eq!(picked, expected, "Python with {args:?}");
    }
    Ok(())
}

#[test]
fn filenames_download_those_files_into_one_snapshot() -> TestResult {
    let e = setup()?;
    let out = e.cli_ok(&["download", REPO, "config.json", "onnx/model.onnx"], &[])?;
    let folder = last_line(&out);
    assert_eq!(files_below(&folder), set(&["config.json", "onnx/model.onnx"]));
    Ok(())
}

#[test]
fn no_match_downloads_nothing_and_still_prints_the_folder() -> TestResult {
    let e = setup()?;
    e.hub.log().clear();
    let out = e.cli_ok(&["download", REPO, "--include", "*.nothing"], &[])?;
    assert!(e.transfers().is_empty());
    assert!(files_below(&last_line(&out)).is_empty());
    Ok(())
}

#[test]
fn disabled_symlinks_give_real_files_through_the_cli() -> TestResult {
    let e = setup()?;
    let copies = [("HF_HUB_DISABLE_SYMLINKS", "1")];
    let out = e.cli_ok(
        &[
            "download",
            REPO,
            "--include",
            "*.safetensors",
            "--include",
            "config.json",
        ],
        &copies,
    )?;
    let folder = last_line(&out);
    for file in ["config.json", "model-00001-of-00002.safetensors"] {
        let path = folder.join(file);
        assert!(!path.is_symlink(), "{file} is a copy");
        assert!(std::fs::symlink_metadata(&path)?.is_file());
    }
    assert_eq!(std::fs::read(folder.join("config.json"))?, vec![b'a'; 10]);
    assert_eq!(
        std::fs::read(folder.join("model-00002-of-00002.safetensors"))?,
        vec![b'a' + 3; 3003]
    );
    // Served again offline from the copies; the scan counts them.
    let out = e.cli_ok(&["download", REPO, "config.json"], &[("HF_HUB_OFFLINE", "1")])?;
    assert_eq!(last_line(&out), folder.join("config.json"));
    let scan = hub_cache::scan_cache(&e.cache())?;
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(scan.repos[0].revisions[0].files.len(), 3);

    // And the Python scan accepts a cache without links.
    let results = e.python(&[json!({"op": "scan_cache_dir"})], &[])?;
    assert_eq!(results[0]["warnings"], json!([]), "{}", results[0]);
    assert_eq!(results[0]["repos"][0]["revisions"][0]["nb_files"], json!(3));
    Ok(())
}

#[test]
fn missing_file_is_remembered_in_no_exist() -> TestResult {
    let e = setup()?;
    let out = e.cli(&["download", REPO, "missing.bin"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.bin"), "{}", stderr(&out));
    let commit = std::fs::read_to_string(e.cache().join("models--alice--patterns/refs/main"))?;
    assert!(
        e.cache()
            .join("models--alice--patterns/.no_exist")
            .join(&commit)
            .join("missing.bin")
            .is_file()
    );
    Ok(())
}
