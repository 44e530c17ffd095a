//! `--local-dir`: real files plus the Python client's bookkeeping, up-to-date
//! files skipped, changed files fetched again, and the bookkeeping shared with
//! the Python client both ways.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_emulator::SeedRepo;
use hub_url::RepoType;
use serde_json::json;

use crate::support::{BoxError, Env, TestResult, last_line, pattern_bytes};

const REPO: &str = "alice/local";

fn weights() -> Vec<u8> {
    pattern_bytes(50_000, 9)
}

fn setup() -> Result<(Env, String), BoxError> {
    let e = Env::empty()?;
    let commit = e.hub.seed(
        &SeedRepo::model(REPO)
            .file("config.json", br#"{"b": 2}"#.to_vec())
            .file("model.safetensors", weights())
            .file("tokenizer/vocab.txt", b"x\ny\n".to_vec()),
    )?;
    Ok((e, commit))
}

fn metadata_path(dir: &Path, file: &str) -> std::path::PathBuf {
    dir.join(".cache/huggingface/download").join(format!("{file}.metadata"))
}

/// Reads `commit\netag\ntimestamp\n`.
fn read_metadata(dir: &Path, file: &str) -> Result<(String, String, f64), BoxError> {
    let text = std::fs::read_to_string(metadata_path(dir, file))?;
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 4, "three lines and a final newline: {text:?}");
    Ok((lines[0].to_string(), lines[1].to_string(), lines[2].parse()?))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Changes a file's bytes and dates the change later than its metadata, as an
/// edit a while after the download would be.
fn modify(path: &Path, content: &[u8]) -> TestResult {
    std::fs::write(path, content)?;
    let file = std::fs::File::options().write(true).open(path)?;
    file.set_modified(SystemTime::now() + Duration::from_secs(30))?;
    Ok(())
}

#[test]
fn local_dir_gets_real_files_and_the_python_metadata() -> TestResult {
    let (e, commit) = setup()?;
    let dir = e.home.path().join("out");
    let dir_arg = dir.to_string_lossy().into_owned();
    let before = now_secs();
    let out = e.cli_ok(&["download", REPO, "--local-dir", &dir_arg], &[])?;
    assert_eq!(last_line(&out), dir);
    let remote = e.remote_files(RepoType::Model, REPO, "main")?;
    for (file, content) in [
        ("config.json", br#"{"b": 2}"#.to_vec()),
        ("model.safetensors", weights()),
        ("tokenizer/vocab.txt", b"x\ny\n".to_vec()),
    ] {
        let path = dir.join(file);
        assert!(!path.is_symlink(), "{file} is a real file");
        assert_eq!(std::fs::read(&path)?, content);
        let (meta_commit, etag, timestamp) = read_metadata(&dir, file)?;
        assert_eq!(meta_commit, commit);
        assert_eq!(etag, remote[file].etag, "{file}");
        assert!(
            timestamp >= before - 1.0 && timestamp <= now_secs() + 1.0,
            "{timestamp}"
        );
    }
    assert_eq!(std::fs::read_to_string(dir.join(".cache/huggingface/.gitignore"))?, "*");
    assert!(
        !e.cache().join("models--alice--local").exists(),
        "the cache is not used"
    );
    Ok(())
}

#[test]
fn up_to_date_files_are_skipped_and_changed_ones_fetched_again() -> TestResult {
    let (e, _) = setup()?;
    let dir = e.home.path().join("out");
    let dir_arg = dir.to_string_lossy().into_owned();
    e.cli_ok(&["download", REPO, "--local-dir", &dir_arg], &[])?;

    e.hub.log().clear();
    e.cli_ok(&["download", REPO, "--local-dir", &dir_arg], &[])?;
    e.cli_ok(&["download", REPO, "config.json", "--local-dir", &dir_arg], &[])?;
    assert!(e.transfers().is_empty(), "nothing fetched: {:?}", e.transfers());

    modify(&dir.join("config.json"), b"edited")?;
    modify(&dir.join("model.safetensors"), b"edited too")?;
    e.hub.log().clear();
    e.cli_ok(&["download", REPO, "config.json", "--local-dir", &dir_arg], &[])?;
    assert_eq!(std::fs::read(dir.join("config.json"))?, br#"{"b": 2}"#);
    e.cli_ok(&["download", REPO, "--local-dir", &dir_arg], &[])?;
    assert_eq!(std::fs::read(dir.join("model.safetensors"))?, weights());
    let fetched: Vec<String> = e.transfers().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        fetched.len(),
        3,
        "config.json, then the LFS file via its redirect: {fetched:?}"
    );
    assert!(fetched[0].ends_with("/config.json"), "{fetched:?}");
    Ok(())
}

#[test]
fn local_dir_bookkeeping_is_shared_with_the_python_client() -> TestResult {
    let (e, commit) = setup()?;
    let by_python = e.home.path().join("by-python");
    let by_cli = e.home.path().join("by-cli");
    let by_cli_arg = by_cli.to_string_lossy().into_owned();

    // The CLI fills one folder, the Python client another.
    e.cli_ok(&["download", REPO, "--local-dir", &by_cli_arg], &[])?;
    let results = e.python(
        &[json!({"op": "snapshot_download", "repo": REPO, "local_dir": by_python})],
        &[],
    )?;
    assert!(results[0].get("error").is_none(), "{}", results[0]);
    for file in ["config.json", "model.safetensors", "tokenizer/vocab.txt"] {
        let (python_commit, python_etag, _) = read_metadata(&by_python, file)?;
        let (cli_commit, cli_etag, _) = read_metadata(&by_cli, file)?;
        assert_eq!((&python_commit, &python_etag), (&cli_commit, &cli_etag), "{file}");
        assert_eq!(python_commit, commit);
    }

    // Each accepts the other's folder as up to date.
    e.hub.log().clear();
    let by_python_arg = by_python.to_string_lossy().into_owned();
    e.cli_ok(&["download", REPO, "--local-dir", &by_python_arg], &[])?;
    e.cli_ok(&["download", REPO, "config.json", "--local-dir", &by_python_arg], &[])?;
    assert!(e.transfers().is_empty(), "the CLI fetched again: {:?}", e.transfers());

    let results = e.python(
        &[
            json!({"op": "snapshot_download", "repo": REPO, "local_dir": by_cli}),
            json!({"op": "hf_hub_download", "repo": REPO, "filename": "model.safetensors", "local_dir": by_cli}),
        ],
        &[],
    )?;
    assert!(results.iter().all(|r| r.get("error").is_none()), "{results:?}");
    assert_eq!(std::fs::read(by_cli.join("model.safetensors"))?, weights());
    assert!(e.transfers().is_empty(), "Python fetched again: {:?}", e.transfers());
    Ok(())
}
