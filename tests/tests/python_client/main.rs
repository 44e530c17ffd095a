//! The real Python `huggingface_hub` against the emulator: if the Python client
//! rejects a response, the emulator is wrong.

mod write_side;
mod xet;

use std::path::PathBuf;
use std::process::Command;

use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ACME, ALICE, ALICE_WRITE, BOB_WRITE, TestHub};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `tests/python/{script}` with the real client against `hub` as Alice,
/// with `HF_HOME` under `work` and the `files` variables naming files; fails
/// unless the script passed every check and never showed the token.
fn run_script(
    hub: &TestHub,
    script: &str,
    work: &std::path::Path,
    files: &[(&str, &std::path::Path)],
) -> Result<String, Box<dyn std::error::Error>> {
    run_python(hub, script, work, files, Xet::Disabled)
}

/// Whether the Python client may use `hf_xet`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Xet {
    /// `HF_HUB_DISABLE_XET=1`: LFS uploads, plain HTTP downloads.
    Disabled,
    /// The client's default: Xet whenever the Hub offers it.
    Enabled,
}

/// [`run_script`] with the choice of Xet.
fn run_python(
    hub: &TestHub,
    script: &str,
    work: &std::path::Path,
    files: &[(&str, &std::path::Path)],
    xet: Xet,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut command = Command::new(python());
    command
        .arg(format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR")))
        .env("HF_ENDPOINT", hub.endpoint())
        .env("HF_HOME", work.join("hf-home"))
        .env("HF_TOKEN", ALICE_WRITE)
        .env_remove("HF_HUB_DISABLE_XET")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env_remove("HF_HUB_OFFLINE");
    if xet == Xet::Disabled {
        command.env("HF_HUB_DISABLE_XET", "1");
    }
    for (name, path) in files {
        command.env(name, path);
    }
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(
        !stdout.contains(ALICE_WRITE) && !stderr.contains(ALICE_WRITE),
        "the token leaked"
    );
    Ok(stdout)
}

#[allow(clippy::disallowed_methods)]
/// The Python with the pinned client: `HUB_TEST_PYTHON`, else the workspace's `.venv`.
fn python() -> PathBuf {
    std::env::var_os("HUB_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python")))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn python_client_reads_everything_the_emulator_serves() -> TestResult {
    let python = python();
    assert!(
        python.exists(),
        "the Python client is needed at {}: run `cargo xtask ci` (it creates .venv) or set HUB_TEST_PYTHON",
        python.display()
    );
    let hub = TestHub::start()?;
    let lfs_bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("config.json", br#"{"hidden_size": 8}"#.to_vec()),
        ("README.md", b"# Model\n".to_vec()),
        ("model.safetensors", lfs_bytes),
        ("sub dir/é and space.txt", b"unicode path".to_vec()),
        ("nested/a/b/c.txt", b"deep".to_vec()),
    ];
    let mut seed = SeedRepo::model("alice/conformance").tag("bert");
    for (path, content) in &files {
        seed = seed.file(path, content.clone());
    }
    let commit = hub.seed(&seed)?;
    hub.seed(
        &SeedRepo::model("alice/other-bert")
            .file("config.json", b"{}".to_vec())
            .tag("bert"),
    )?;
    hub.seed(&SeedRepo::model("bob/bert-b").file("config.json", b"{}".to_vec()))?;
    hub.seed(
        &SeedRepo::model("alice/gated")
            .file("config.json", b"{}".to_vec())
            .gated(),
    )?;
    hub.seed(
        &SeedRepo::model("alice/hidden")
            .file("config.json", b"{}".to_vec())
            .private(),
    )?;

    // What the repo holds, as the Python side should see it (.gitattributes included).
    let gitattributes = hub.file_content("model", "alice/conformance", &commit, ".gitattributes")?;
    let mut expected_files = serde_json::Map::new();
    for (path, content) in files
        .iter()
        .map(|(p, c)| (*p, c.as_slice()))
        .chain([(".gitattributes", gitattributes.as_slice())])
    {
        expected_files.insert(
            path.to_string(),
            serde_json::json!({ "sha256": hex_sha256(content), "size": content.len(), "lfs": path == "model.safetensors" }),
        );
    }
    let expected = serde_json::json!({
        "repo": "alice/conformance",
        "commit": commit,
        "user": ALICE,
        "orgs": [ACME],
        "files": expected_files,
        "regular_file": "config.json",
        "lfs_file": "model.safetensors",
        "search": "bert",
        "search_results": ["alice/other-bert", "bob/bert-b"],
        "author_results": ["alice/conformance", "alice/other-bert", "alice/gated", "alice/hidden"],
        "gated_repo": "alice/gated",
        "private_repo": "alice/hidden",
        "other_token": BOB_WRITE,
    });
    let work = tempfile::tempdir()?;
    let expected_path = work.path().join("expected.json");
    std::fs::write(&expected_path, expected.to_string())?;

    run_script(&hub, "read_side.py", work.path(), &[("HUB_EXPECTED", &expected_path)])?;

    // The CDN never saw the token, though the Python client sent it to the Hub.
    let records = hub.log().records();
    assert!(
        records.iter().any(|r| r.host.starts_with("localhost")),
        "LFS came from the CDN"
    );
    assert!(
        records
            .iter()
            .filter(|r| r.host.starts_with("localhost"))
            .all(|r| r.authorization.is_none())
    );
    Ok(())
}
