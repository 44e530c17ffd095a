//! The libraries' examples, run against the local Hub as a user would run
//! them: `cargo run --example`, with the Hub and the cache from the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cargo run -q -p PACKAGE --example NAME -- ARGS` with this `HF_HOME`
/// and the Hub at `endpoint`, plus `extra` variables.
fn run_example(
    package: &str,
    name: &str,
    args: &[&str],
    home: &Path,
    endpoint: &str,
    extra: &[(&str, &str)],
) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(["run", "-q", "-p", package, "--example", name, "--"])
        .args(args)
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env("HF_HOME", home)
        .env("HF_ENDPOINT", endpoint)
        .envs(extra.iter().copied())
        .output()
}

fn succeeded(output: &Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    match output.status.success() {
        true => Ok(stdout),
        false => Err(format!("{stdout}{}", String::from_utf8_lossy(&output.stderr))),
    }
}

#[test]
fn the_hub_cache_example_downloads_into_the_python_layout() -> TestResult {
    let hub = TestHub::start()?;
    let commit = hub.seed(&SeedRepo::model("alice/example").file("config.json", br#"{"n": 1}"#.to_vec()))?;
    let home = tempfile::tempdir()?;
    let output = run_example(
        "hub-cache",
        "download",
        &["alice/example", "config.json"],
        home.path(),
        &hub.endpoint(),
        &[],
    )?;
    let stdout = succeeded(&output)?;
    let path = PathBuf::from(stdout.trim_end());
    let expected = home
        .path()
        .join("hub/models--alice--example/snapshots")
        .join(&commit)
        .join("config.json");
    assert_eq!(path, expected);
    assert_eq!(std::fs::read(&path)?, br#"{"n": 1}"#);
    Ok(())
}

#[test]
fn the_hub_api_example_creates_a_repo_and_uploads() -> TestResult {
    let hub = TestHub::start()?;
    let home = tempfile::tempdir()?;
    let local = home.path().join("notes.md");
    std::fs::write(&local, "# notes\n")?;
    let local_arg = local.to_str().ok_or("a temporary path that is not UTF-8")?;
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let output = run_example(
        "hub-api",
        "upload",
        &["alice/uploaded", local_arg],
        home.path(),
        &hub.endpoint(),
        &token,
    )?;
    let stdout = succeeded(&output)?;
    assert!(stdout.contains("file: notes.md"), "{stdout}");
    assert_eq!(
        hub.file_content("model", "alice/uploaded", "main", "notes.md")?,
        b"# notes\n"
    );
    // Without a token the Hub refuses, and the example says so.
    let output = run_example(
        "hub-api",
        "upload",
        &["alice/refused"],
        home.path(),
        &hub.endpoint(),
        &[],
    )?;
    assert!(succeeded(&output).is_err(), "uploaded without a token");
    Ok(())
}
