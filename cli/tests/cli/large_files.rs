//! Files over the Hub's single-PUT limit pushed with plain git and git-lfs:
//! `lfs-enable-largefiles` makes git-lfs hand them to `lfs-multipart-upload`.

use hub_emulator::git_sandbox::GitSandbox;
use hub_emulator::test_hub::ALICE_WRITE;
use hub_emulator::{EmulatorConfig, SeedRepo};
use sha2::{Digest, Sha256};

use crate::support::{BoxError, Env, TestResult, pattern_bytes, stdout};

const REPO: &str = "alice/huge-model";
const PART_SIZE: u64 = 40_000;

/// An emulator whose "5 GB" limit is 100 kB, with parts of 40 kB.
fn env() -> Result<Env, BoxError> {
    let env = Env::start_with(|mut config: EmulatorConfig| {
        config.multipart_threshold = 100_000;
        config.multipart_part_size = PART_SIZE;
        config
    })?;
    env.hub.seed(&SeedRepo::model(REPO).file("README.md", "# Huge\n"))?;
    Ok(env)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A clone of the repo with git-lfs installed and a large and a small LFS file committed.
fn clone_with_files(env: &Env, git: &GitSandbox, large: &[u8], small: &[u8]) -> Result<std::path::PathBuf, BoxError> {
    let endpoint = env.hub.endpoint();
    let host = endpoint.trim_start_matches("http://");
    let remote = format!("http://alice:{ALICE_WRITE}@{host}/{REPO}");
    git.run(git.home(), &["clone", "-q", &remote, "work"])?;
    let work = git.dir("work");
    git.run(&work, &["lfs", "install", "--local"])?;
    std::fs::write(work.join("model.bin"), large)?;
    std::fs::write(work.join("tokenizer.bin"), small)?;
    git.run(&work, &["add", "."])?;
    git.run(&work, &["commit", "-q", "-m", "Add weights"])?;
    Ok(work)
}

#[test]
fn git_push_sends_large_files_in_parts_through_the_agent() -> TestResult {
    let env = env()?;
    let git = GitSandbox::new()?;
    let large = pattern_bytes(250_000, 61);
    let small = pattern_bytes(5_000, 62);
    let work = clone_with_files(&env, &git, &large, &small)?;

    let sub = work.join("notes");
    std::fs::create_dir(&sub)?;
    let out = env.cli_ok(&["lfs-enable-largefiles", sub.to_str().ok_or("path")?], &[])?;
    assert!(stdout(&out).contains("set up for largefiles"), "{}", stdout(&out));
    let agent = git.run(&work, &["config", "lfs.customtransfer.multipart.path"])?;
    assert_eq!(
        std::path::Path::new(&agent),
        std::path::Path::new(env!("CARGO_BIN_EXE_huggingface-cli"))
    );

    env.hub.log().clear();
    git.run(&work, &["push", "-q", "origin", "main"])?;

    let head = git.run(&work, &["rev-parse", "HEAD"])?;
    assert_eq!(env.hub.resolve_revision("model", REPO, "main")?, head);
    assert_eq!(std::fs::read(env.hub.lfs_object_path(&sha256_hex(&large)))?, large);
    assert_eq!(std::fs::read(env.hub.lfs_object_path(&sha256_hex(&small)))?, small);
    assert_eq!(env.hub.file_content("model", REPO, "main", "model.bin")?, large);

    let records = env.hub.log().records();
    let batches: Vec<_> = records.iter().filter(|r| r.path.ends_with("/objects/batch")).collect();
    assert!(!batches.is_empty());
    let parts = records
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/lfs-part/"))
        .count();
    assert_eq!(parts, 7 + 1, "250 kB in parts of 40 kB, and the small file in one part");
    let basic = records.iter().filter(|r| r.path.contains("/lfs-upload/")).count();
    assert_eq!(basic, 0, "nothing went up in one PUT");
    let completions = records
        .iter()
        .filter(|r| r.path.ends_with("/complete_multipart"))
        .count();
    assert_eq!(completions, 2);
    assert!(
        records
            .iter()
            .filter(|r| r.path.contains("/lfs-part/") || r.path.ends_with("/complete_multipart"))
            .all(|r| r.authorization.is_none()),
        "the agent sends no credentials to presigned URLs"
    );
    Ok(())
}

#[test]
fn without_the_agent_git_lfs_cannot_push_a_file_over_the_limit() -> TestResult {
    let env = env()?;
    let git = GitSandbox::new()?;
    let large = pattern_bytes(250_000, 63);
    let work = clone_with_files(&env, &git, &large, b"small")?;
    let before = env.hub.resolve_revision("model", REPO, "main")?;

    // git-lfs would retry the refused PUT for half a minute.
    let no_retries = ["-c", "lfs.transfer.maxretries=1", "push", "-q", "origin", "main"];
    let refused = git.fail(&work, &no_retries)?;

    assert!(refused.contains("LFS"), "{refused}");
    assert_eq!(
        env.hub.resolve_revision("model", REPO, "main")?,
        before,
        "nothing pushed"
    );
    assert!(!env.hub.lfs_object_path(&sha256_hex(&large)).exists());
    let refused_puts = env
        .hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.contains("/lfs-upload/") && r.status == 400)
        .count();
    assert!(refused_puts >= 1, "the store refused the single PUT");
    Ok(())
}

#[test]
fn enabling_largefiles_outside_a_repo_says_so() -> TestResult {
    let env = Env::empty()?;
    let dir = tempfile::tempdir()?;
    let out = env.cli(&["lfs-enable-largefiles", dir.path().to_str().ok_or("path")?], &[])?;
    assert!(!out.status.success());
    let err = crate::support::stderr(&out);
    assert!(err.contains("is not a git repository"), "{err}");
    Ok(())
}

#[test]
fn the_python_clients_agent_pushes_through_the_emulator_too() -> TestResult {
    let python = crate::support::python();
    let hf = python.parent().ok_or("venv bin folder")?.join("hf");
    if !hf.exists() {
        return Err(format!(
            "the Python client's `hf` is needed at {}: run `cargo xtask ci`",
            hf.display()
        )
        .into());
    }
    let env = env()?;
    let git = GitSandbox::new()?;
    let large = pattern_bytes(250_000, 64);
    let work = clone_with_files(&env, &git, &large, b"tiny")?;
    // What `hf lfs-enable-largefiles` sets, with the agent's full path (it names `hf`).
    let agent = hf.to_str().ok_or("path")?;
    git.run(&work, &["config", "lfs.customtransfer.multipart.path", agent])?;
    git.run(
        &work,
        &["config", "lfs.customtransfer.multipart.args", "lfs-multipart-upload"],
    )?;

    env.hub.log().clear();
    git.run(&work, &["push", "-q", "origin", "main"])?;

    assert_eq!(env.hub.file_content("model", REPO, "main", "model.bin")?, large);
    let parts = env
        .hub
        .log()
        .records()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/lfs-part/"))
        .count();
    assert_eq!(parts, 7 + 1);
    Ok(())
}
