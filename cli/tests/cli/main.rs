//! `huggingface-cli` end to end, against the local Hub emulator (and, for
//! interop, the real Python client sharing its cache).

mod cache_audit;
mod cache_commands;
mod concurrent_processes;
mod disk_faults;
mod faults;
mod interop;
mod kill_safety;
mod large_files;
mod local_dir;
mod lying_hub;
mod patterns;
mod publishing;
mod secrets;
mod shared_blobs;
mod support;
mod token_secrecy;
mod xet_download;
mod xet_upload;

use std::process::Output;

use hub_emulator::SeedRepo;
use hub_emulator::test_hub::ALICE_WRITE;

use crate::support::{BoxError, Env, TestResult, last_line, stderr, stdout};

const REPO: &str = "alice/cli-model";

fn env() -> Result<Env, BoxError> {
    let e = Env::empty()?;
    e.hub.seed(
        &SeedRepo::model(REPO)
            .file("config.json", br#"{"x": 1}"#.to_vec())
            .file("weights.safetensors", vec![42u8; 4096])
            .file("sub/dir/notes.txt", b"notes".to_vec()),
    )?;
    Ok(e)
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

#[test]
fn rate_limited_download_says_to_wait() -> TestResult {
    let e = env()?;
    e.hub.faults().push(
        hub_emulator::http::Fault::new(
            "/resolve/",
            hub_emulator::http::FaultAction::Status {
                status: 429,
                retry_after: Some(3600),
            },
        )
        .times(10),
    );
    let out = e.cli(&["download", REPO, "config.json"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: failed to download config.json from alice/cli-model"),
        "{err}"
    );
    assert!(err.contains("rate limited"), "{err}");
    // The hint is found through the cache's error, which wraps the client's.
    assert!(err.contains("hint: wait"), "{err}");
    Ok(())
}

#[test]
fn snapshot_errors_name_the_problem() -> TestResult {
    let e = env()?;
    let cases: [(&[&str], &str); 3] = [
        (&["download", "alice/no-such-repo"], "alice/no-such-repo"),
        (&["download", REPO, "--revision", "nope"], "nope"),
        (
            &["download", REPO, "--include", "*.json", "--repo-type", "dataset"],
            REPO,
        ),
    ];
    for (args, needle) in cases {
        let out = e.cli(args, &[])?;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: failed to download {}", args[1])),
            "{err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "no path is printed");
    }
    let out = e.cli(&["download", REPO], &[("HF_HUB_OFFLINE", "1")])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not in the cache"), "{}", stderr(&out));
    let out = e.cli(&["download", REPO, "--repo-type", "nonsense"], &[])?;
    assert_eq!(out.status.code(), Some(2), "a usage error");
    Ok(())
}
