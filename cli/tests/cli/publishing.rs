//! Publishing through the CLI: login, logout, repo create/delete, upload.

use hub_emulator::test_hub::{ALICE_WRITE, BOB_WRITE};

use crate::support::{Env, TestResult, last_line, stderr, stdout};

fn no_token_in(out: &std::process::Output) -> bool {
    !stdout(out).contains(ALICE_WRITE) && !stderr(out).contains(ALICE_WRITE)
}

#[test]
fn login_whoami_logout() -> TestResult {
    let env = Env::empty()?;
    let out = env.cli(&["login", "--token", "hf_not_valid"], &[])?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid"), "{}", stderr(&out));
    assert!(!env.home.path().join("token").exists(), "a bad token is not saved");

    let out = env.cli_ok(&["login", "--token", ALICE_WRITE], &[])?;
    assert!(stdout(&out).contains("Logged in as alice"), "{}", stdout(&out));
    assert!(no_token_in(&out));
    assert_eq!(std::fs::read_to_string(env.home.path().join("token"))?, ALICE_WRITE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["token", "stored_tokens"] {
            let mode = std::fs::metadata(env.home.path().join(name))?.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    let out = env.cli_ok(&["whoami"], &[])?;
    assert!(stdout(&out).starts_with("alice\n"));

    let out = env.cli_ok(&["logout"], &[])?;
    assert!(stdout(&out).contains("logged out"), "{}", stdout(&out));
    assert!(!env.home.path().join("token").exists());
    let out = env.cli(&["whoami"], &[])?;
    assert_eq!(out.status.code(), Some(1));
    Ok(())
}

#[test]
fn login_reads_the_token_from_standard_input() -> TestResult {
    let env = Env::empty()?;
    let out = env.cli_with_input(&["login"], &format!("{ALICE_WRITE}\n"))?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(no_token_in(&out));
    assert_eq!(std::fs::read_to_string(env.home.path().join("token"))?, ALICE_WRITE);
    Ok(())
}

/// Runs a Python snippet with the real client against the emulator and this home.
fn python(env: &Env, code: &str) -> Result<std::process::Output, Box<dyn std::error::Error>> {
    // The same environment as the other Python steps, with a snippet to run.
    let (cmd, _plan) = env.python_command(&[], &[])?;
    let python = crate::support::python();
    let mut run = std::process::Command::new(python);
    run.arg("-c").arg(code).env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            run.env(key, value);
        }
    }
    Ok(run.output()?)
}

#[test]
fn the_python_client_sees_our_login_and_we_see_its() -> TestResult {
    let env = Env::empty()?;
    env.cli_ok(&["login", "--token", ALICE_WRITE], &[])?;
    let out = python(
        &env,
        "from huggingface_hub import whoami; from huggingface_hub.utils import get_stored_tokens; print(whoami()['name'], sorted(get_stored_tokens()))",
    )?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("alice ["), "{}", stdout(&out));

    env.cli_ok(&["logout"], &[])?;
    let code = format!("from huggingface_hub import login; login(token='{BOB_WRITE}', add_to_git_credential=False)");
    let out = python(&env, &code)?;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.cli_ok(&["whoami"], &[])?;
    assert!(
        stdout(&out).starts_with("bob\n"),
        "we see the Python client's login: {}",
        stdout(&out)
    );
    Ok(())
}

#[test]
fn repo_create_and_delete() -> TestResult {
    let env = Env::empty()?;
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let out = env.cli(&["repo", "create", "my-model"], &token)?;
    assert_eq!(out.status.code(), Some(1), "no terminal to confirm on");
    assert!(stderr(&out).contains("-y"), "{}", stderr(&out));

    let out = env.cli_ok(&["repo", "create", "my-model", "-y"], &token)?;
    assert_eq!(
        last_line(&out).display().to_string(),
        format!("{}/alice/my-model", env.hub.endpoint())
    );
    let out = env.cli(&["repo", "create", "my-model", "-y"], &token)?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exist"), "{}", stderr(&out));
    env.cli_ok(&["repo", "create", "my-model", "-y", "--exist-ok"], &token)?;

    let out = env.cli_ok(
        &[
            "repo",
            "create",
            "data",
            "--type",
            "dataset",
            "--organization",
            "acme",
            "--private",
            "-y",
        ],
        &token,
    )?;
    assert_eq!(
        last_line(&out).display().to_string(),
        format!("{}/datasets/acme/data", env.hub.endpoint())
    );
    let out = env.cli(
        &["repo", "create", "stolen", "--organization", "alice", "-y"],
        &[("HF_TOKEN", BOB_WRITE)],
    )?;
    assert_eq!(out.status.code(), Some(1), "bob cannot create under alice");

    env.cli_ok(&["repo", "delete", "alice/my-model", "-y"], &token)?;
    let out = env.cli(&["repo", "delete", "alice/my-model", "-y"], &token)?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("alice/my-model"), "{}", stderr(&out));
    env.cli_ok(&["repo", "delete", "alice/my-model", "-y", "--missing-ok"], &token)?;
    let out = env.cli(&["repo", "create", "x", "-y"], &[])?;
    assert!(stderr(&out).contains("not logged in"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn upload_a_file_and_a_folder_then_download_them() -> TestResult {
    let env = Env::empty()?;
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let work = tempfile::tempdir()?;
    let weights: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 9) as u8)
        .collect();
    std::fs::write(work.path().join("model.safetensors"), &weights)?;
    let out = env.cli_ok(
        &[
            "upload",
            "alice/published",
            &work.path().join("model.safetensors").display().to_string(),
        ],
        &token,
    )?;
    let url = last_line(&out).display().to_string();
    assert!(url.contains("alice/published") && url.contains("commit"), "{url}");
    assert!(no_token_in(&out));

    let folder = work.path().join("folder");
    std::fs::create_dir_all(folder.join("sub dir"))?;
    std::fs::write(folder.join("config.json"), "{}")?;
    std::fs::write(folder.join("sub dir/é.txt"), "unicode")?;
    std::fs::write(folder.join("skip.log"), "not uploaded")?;
    let args = [
        "upload",
        "alice/published",
        &folder.display().to_string(),
        "extra",
        "--exclude",
        "*.log",
        "--commit-message",
        "add folder",
    ];
    env.cli_ok(&args, &token)?;

    let out = env.cli_ok(&["download", "alice/published", "--quiet"], &token)?;
    let snapshot = last_line(&out);
    assert_eq!(std::fs::read(snapshot.join("model.safetensors"))?, weights);
    assert_eq!(
        std::fs::read_to_string(snapshot.join("extra/sub dir/é.txt"))?,
        "unicode"
    );
    assert!(snapshot.join("extra/config.json").exists());
    assert!(!snapshot.join("extra/skip.log").exists());

    let out = env.cli_ok(
        &[
            "upload",
            "alice/published",
            &folder.join("config.json").display().to_string(),
            "proposal.json",
            "--create-pr",
        ],
        &token,
    )?;
    assert!(
        last_line(&out).display().to_string().contains("discussions")
            || last_line(&out).display().to_string().contains("pr")
    );

    let out = env.cli(
        &["upload", "alice/published", &folder.display().to_string()],
        &[("HF_TOKEN", BOB_WRITE)],
    )?;
    assert_eq!(out.status.code(), Some(1), "bob cannot write to alice's repo");
    let out = env.cli(&["upload", "alice/published", "/no/such/path"], &token)?;
    assert!(stderr(&out).contains("/no/such/path"), "{}", stderr(&out));
    Ok(())
}

#[test]
fn upload_creates_a_private_repo_and_a_branch() -> TestResult {
    let env = Env::empty()?;
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let work = tempfile::tempdir()?;
    std::fs::write(work.path().join("a.txt"), "a")?;
    let file = work.path().join("a.txt").display().to_string();
    env.cli_ok(
        &["upload", "alice/fresh", &file, "--private", "--revision", "dev"],
        &token,
    )?;
    let out = env.cli(&["download", "alice/fresh", "a.txt", "--revision", "dev"], &[])?;
    assert_eq!(out.status.code(), Some(1), "private: invisible without a token");
    let out = env.cli_ok(&["download", "alice/fresh", "a.txt", "--revision", "dev"], &token)?;
    assert_eq!(std::fs::read_to_string(last_line(&out))?, "a");
    Ok(())
}

#[test]
fn what_python_uploads_we_download_and_the_other_way_round() -> TestResult {
    let env = Env::empty()?;
    let token = [("HF_TOKEN", ALICE_WRITE)];
    let work = tempfile::tempdir()?;
    let weights: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(40503) >> 5) as u8).collect();
    let ours = work.path().join("ours.bin");
    std::fs::write(&ours, &weights)?;
    env.cli_ok(
        &["upload", "alice/both-ways", &ours.display().to_string(), "ours.bin"],
        &token,
    )?;

    let theirs = work.path().join("theirs.bin");
    let their_bytes: Vec<u8> = weights.iter().rev().copied().collect();
    std::fs::write(&theirs, &their_bytes)?;
    let code = format!(
        "import hashlib\n\
         from huggingface_hub import HfApi, hf_hub_download\n\
         api = HfApi(token='{ALICE_WRITE}')\n\
         api.upload_file(path_or_fileobj='{theirs}', path_in_repo='theirs.bin', repo_id='alice/both-ways')\n\
         api.upload_file(path_or_fileobj=b'hello', path_in_repo='small.txt', repo_id='alice/both-ways')\n\
         path = hf_hub_download('alice/both-ways', 'ours.bin', token='{ALICE_WRITE}')\n\
         print(hashlib.sha256(open(path, 'rb').read()).hexdigest())",
        theirs = theirs.display()
    );
    let out = python(&env, &code)?;
    assert!(out.status.success(), "{}", stderr(&out));
    let sha = |bytes: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(
        stdout(&out).trim(),
        sha(&weights),
        "the Python client downloads what we uploaded"
    );

    let out = env.cli_ok(&["download", "alice/both-ways", "--quiet"], &token)?;
    let snapshot = last_line(&out);
    assert_eq!(
        std::fs::read(snapshot.join("theirs.bin"))?,
        their_bytes,
        "we download what Python uploaded"
    );
    assert_eq!(std::fs::read(snapshot.join("small.txt"))?, b"hello");
    Ok(())
}
