//! The libraries' examples, run against the local Hub as a user would run
//! them, with the Hub and the cache from the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The workspace root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the example `name` as the workspace's tests build it (`--workspace`,
/// so that features unify as they did and nothing is compiled again) and
/// returns its executable.
#[allow(clippy::disallowed_methods)] // Only to leave out what cargo set for this test.
fn build_example(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut cargo = Command::new(env!("CARGO"));
    // What cargo set for this test would make build scripts that watch it (ring
    // watches CARGO_MANIFEST_DIR) run again, and everything above them rebuild.
    for (variable, _) in std::env::vars_os() {
        let variable = variable.to_string_lossy();
        let set_for_this_test = ["CARGO_PKG_", "CARGO_BIN_EXE_"].iter().any(|p| variable.starts_with(p))
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&variable.as_ref());
        if set_for_this_test {
            cargo.env_remove(variable.as_ref());
        }
    }
    let output = cargo
        .current_dir(workspace())
        .args(["build", "-q", "--workspace", "--example", name, "--message-format=json"])
        .output()?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned().into());
    }
    let messages = String::from_utf8_lossy(&output.stdout).into_owned();
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable for the example {name}").into())
}

/// Runs the example `name` with `args`, this `HF_HOME` and the Hub at
/// `endpoint`, plus `extra` variables, and nothing else of the `HF_*` settings.
fn run_example(
    name: &str,
    args: &[&str],
    home: &Path,
    endpoint: &str,
    extra: &[(&str, &str)],
) -> Result<Output, Box<dyn std::error::Error>> {
    Ok(Command::new(build_example(name)?)
        .args(args)
        .env_remove("HF_TOKEN")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env("HF_HOME", home)
        .env("HF_ENDPOINT", endpoint)
        .envs(extra.iter().copied())
        .output()?)
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
    let output = run_example("upload", &["alice/refused"], home.path(), &hub.endpoint(), &[])?;
    assert!(succeeded(&output).is_err(), "uploaded without a token");
    Ok(())
}
