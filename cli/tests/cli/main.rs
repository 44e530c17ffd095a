//! `huggingface-cli` end to end, against the local Hub emulator.

use std::path::PathBuf;
use std::process::{Command, Output};

use hub_emulator::SeedRepo;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REPO: &str = "alice/cli-model";

struct Env {
    hub: TestHub,
    home: tempfile::TempDir,
}

fn env() -> Result<Env, Box<dyn std::error::Error>> {
    let hub = TestHub::start()?;
    hub.seed(
        &SeedRepo::model(REPO)
            .file("config.json", br#"{"x": 1}"#.to_vec())
            .file("weights.safetensors", vec![42u8; 4096])
            .file("sub/dir/notes.txt", b"notes".to_vec()),
    )?;
    Ok(Env {
        hub,
        home: tempfile::tempdir()?,
    })
}

impl Env {
    #[allow(clippy::disallowed_methods)] // PATH is passed on to the child.
    fn cli(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<Output, std::io::Error> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_huggingface-cli"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_HOME", self.home.path())
            .env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn last_line(out: &Output) -> PathBuf {
    PathBuf::from(stdout(out).lines().last().unwrap_or_default())
}

fn assert_no_token(out: &Output) {
    assert!(
        !stdout(out).contains(ALICE_WRITE) && !stderr(out).contains(ALICE_WRITE),
        "the token leaked"
    );
}

#[test]
fn whoami_with_env_token_and_with_token_file() -> TestResult {
    let e = env()?;
    let out = e.cli(&["whoami"], &[("HF_TOKEN", ALICE_WRITE)])?;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("alice\n"), "{text}");
    assert!(text.contains("orgs:  acme"), "{text}");
    assert!(text.contains("(write)"), "{text}");
    assert_no_token(&out);

    std::fs::write(e.home.path().join("token"), ALICE_WRITE)?;
    let out = e.cli(&["whoami"], &[])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("alice\n"));
    Ok(())
}

#[test]
fn whoami_without_or_with_a_bad_token_fails_clearly() -> TestResult {
    let e = env()?;
    let out = e.cli(&["whoami"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not logged in"), "{}", stderr(&out));
    assert!(stderr(&out).contains("huggingface-cli login"), "{}", stderr(&out));

    let out = e.cli(&["whoami"], &[("HF_TOKEN", "hf_wrong_token_value")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hf_wrong_token_value"));
    Ok(())
}

#[test]
fn env_reports_settings_without_the_token() -> TestResult {
    let e = env()?;
    let out = e.cli(&["env"], &[("HF_TOKEN", ALICE_WRITE)])?;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("- ENDPOINT: {}", e.hub.endpoint())), "{text}");
    assert!(
        text.contains(&format!("- HF_HUB_CACHE: {}", e.home.path().join("hub").display())),
        "{text}"
    );
    assert!(text.contains("- Who am I ?: alice"), "{text}");
    assert_no_token(&out);
    Ok(())
}

#[test]
fn download_one_file_prints_its_cache_path() -> TestResult {
    let e = env()?;
    let out = e.cli(&["download", REPO, "config.json"], &[])?;
    assert!(out.status.success(), "{}", stderr(&out));
    let path = last_line(&out);
    assert!(
        path.starts_with(e.home.path().join("hub/models--alice--cli-model/snapshots")),
        "{}",
        path.display()
    );
    assert_eq!(std::fs::read(&path)?, br#"{"x": 1}"#);
    Ok(())
}

#[test]
fn download_a_whole_repo_prints_the_snapshot_folder() -> TestResult {
    let e = env()?;
    let out = e.cli(&["download", REPO, "--quiet"], &[("HF_TOKEN", ALICE_WRITE)])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "quiet prints only the path");
    let folder = last_line(&out);
    assert_eq!(std::fs::read(folder.join("weights.safetensors"))?, vec![42u8; 4096]);
    assert_eq!(std::fs::read(folder.join("sub/dir/notes.txt"))?, b"notes");
    assert!(folder.join(".gitattributes").exists());
    assert_no_token(&out);

    let offline = e.cli(&["download", REPO, "sub/dir/notes.txt"], &[("HF_HUB_OFFLINE", "1")])?;
    assert!(offline.status.success(), "{}", stderr(&offline));
    assert_eq!(last_line(&offline), folder.join("sub/dir/notes.txt"));
    Ok(())
}

#[test]
fn download_errors_name_the_problem() -> TestResult {
    let e = env()?;
    let cases: [(&[&str], &str); 4] = [
        (&["download", REPO, "missing.txt"], "missing.txt"),
        (&["download", "alice/no-such-repo", "config.json"], "alice/no-such-repo"),
        (&["download", REPO, "config.json", "--revision", "nope"], "nope"),
        (&["download", "bad--id", "x"], "bad--id"),
    ];
    for (args, needle) in cases {
        let out = e.cli(args, &[])?;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = e.cli(&["download", REPO, "config.json"], &[("HF_HUB_OFFLINE", "1")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not in the cache"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn version_and_usage_errors() -> TestResult {
    let e = env()?;
    let out = e.cli(&["--version"], &[])?;
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("huggingface-cli "), "{}", stdout(&out));
    let out = e.cli(&["no-such-command"], &[])?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}
