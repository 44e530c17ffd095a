//! The token stays secret: not in any command's stdout or stderr (with trace
//! logging too), not in the `Debug` output of the library types holding it,
//! not in a URL the emulator saw, not in the emulator's record outside the
//! `Authorization` header, not in `.git/` of a clone, and not in the argument
//! list of a process that git, git-lfs or the library start.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use hub_api::{CallSettings, HubClient};
use hub_cache::DownloadOptions;
use hub_emulator::git_sandbox::GitSandbox;
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE, BOB_WRITE};
use hub_emulator::{EmulatorConfig, SeedRepo};
use hub_repo::{CloneOptions, CommitScope, GitProgram, Repository};
use hub_url::{Endpoint, HubConfig, RepoId, Token};

use crate::support::{BoxError, Env, TestResult, pattern_bytes, report, stderr, stdout};

const REPO: &str = "alice/secret-model";
/// A token the emulator does not know: it must stay as secret as a good one.
const UNKNOWN: &str = "hf_unknown_secret_0123456789";
const TOKENS: [&str; 4] = [ALICE_WRITE, ALICE_READ, BOB_WRITE, UNKNOWN];

fn setup() -> Result<Env, BoxError> {
    let e = Env::start_with(|mut config: EmulatorConfig| {
        config.lfs_threshold = 8 * 1024;
        config
    })?;
    e.hub.seed(
        &SeedRepo::model(REPO)
            .private()
            .file("config.json", br#"{"secret": true}"#.to_vec())
            .file("weights.bin", pattern_bytes(40_000, 3)),
    )?;
    Ok(e)
}

/// Which of the known tokens `text` holds.
fn leaked(text: &[u8]) -> Vec<&'static str> {
    TOKENS
        .into_iter()
        .filter(|t| text.windows(t.len()).any(|w| w == t.as_bytes()))
        .collect()
}

fn assert_no_token_in_output(what: &str, out: &Output) {
    let found = [leaked(&out.stdout), leaked(&out.stderr)].concat();
    assert!(
        found.is_empty(),
        "{what}: a token ({found:?}) is in its output:\n{}\n{}",
        stdout(out),
        stderr(out)
    );
}

/// No token in a request path or query, nor in any header but `Authorization`;
/// and no `Authorization` at all on the CDN's host (another origin).
fn assert_no_token_in_requests(e: &Env) {
    let cdn_host = e.hub.cdn_origin().trim_start_matches("http://").to_string();
    let records = e.hub.log().records();
    for r in &records {
        let url = format!("{} {}?{}", r.method, r.path, r.query);
        assert!(leaked(url.as_bytes()).is_empty(), "a token in a URL: {url}");
        for (name, value) in &r.headers {
            if name != "authorization" {
                assert!(leaked(value.as_bytes()).is_empty(), "a token in {name}: {url}");
            }
        }
        if r.host == cdn_host {
            assert!(r.authorization.is_none(), "the token went to the CDN: {url}");
        }
    }
    assert!(!records.is_empty());
}

#[test]
fn no_command_prints_the_token() -> TestResult {
    let e = setup()?;
    let upload = tempfile::tempdir()?;
    let file = upload.path().join("notes.txt");
    std::fs::write(&file, b"notes")?;
    let file = file.display().to_string();
    let local = tempfile::tempdir()?;
    let local = local.path().display().to_string();

    let ok = |code: Option<i32>| code == Some(0);
    let failed = |code: Option<i32>| code == Some(1);
    type Expect = fn(Option<i32>) -> bool;
    // (arguments, token in HF_TOKEN, how it must end)
    let runs: Vec<(Vec<&str>, Option<&str>, Expect)> = vec![
        (vec!["login", "--token", ALICE_WRITE], None, ok),
        (vec!["whoami"], None, ok),
        (vec!["whoami"], Some(ALICE_READ), ok),
        (vec!["env"], None, ok),
        (vec!["download", REPO, "config.json"], None, ok),
        (vec!["download", REPO, "--token", ALICE_WRITE], Some(UNKNOWN), ok),
        (vec!["download", REPO, "--local-dir", &local], None, ok),
        (vec!["upload", REPO, &file], None, ok),
        (vec!["repo", "create", "secret-new", "-y", "--exist-ok"], None, ok),
        (vec!["scan-cache", "-vvv"], None, ok),
        // 401: a token the Hub does not know.
        (
            vec!["download", REPO, "config.json", "--force-download"],
            Some(UNKNOWN),
            failed,
        ),
        (vec!["whoami"], Some(UNKNOWN), failed),
        // 403: a read token may not write.
        (vec!["upload", REPO, &file], Some(ALICE_READ), failed),
        (vec!["repo", "create", "secret-other", "-y"], Some(ALICE_READ), failed),
        // 404: another user's private repo, and a file that is not there.
        (
            vec!["download", REPO, "config.json", "--force-download"],
            Some(BOB_WRITE),
            failed,
        ),
        (vec!["download", REPO, "missing.txt"], None, failed),
        (vec!["logout"], None, ok),
    ];
    let mut count = 0;
    for log_level in [None, Some("trace")] {
        // Each pass starts logged out.
        let _ = std::fs::remove_file(e.home.path().join("token"));
        for (args, token, expect) in &runs {
            let mut extra = Vec::new();
            if let Some(token) = token {
                extra.push(("HF_TOKEN", *token));
            }
            if let Some(level) = log_level {
                extra.extend([("RUST_LOG", level), ("RUST_BACKTRACE", "1")]);
            }
            let out = e.cli(args, &extra)?;
            let what = format!("huggingface-cli {args:?} with {extra:?}");
            assert!(expect(out.status.code()), "{what}: {:?}\n{}", out.status, stderr(&out));
            assert_no_token_in_output(&what, &out);
            count += 1;
        }
    }

    // The token typed at the prompt (here from a pipe) is not echoed either.
    let mut child = e
        .command(&["login"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(format!("{ALICE_WRITE}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_token_in_output("login from stdin", &out);

    assert_no_token_in_requests(&e);
    let statuses: Vec<u16> = e.hub.log().records().iter().map(|r| r.status).collect();
    for status in [401, 403, 404] {
        assert!(statuses.contains(&status), "a {status} was answered: {statuses:?}");
    }
    report(&format!(
        "{} commands (plain and with RUST_LOG=trace, 7 of each failing) printed no token; {} requests checked",
        count + 1,
        e.hub.log().records().len()
    ));
    Ok(())
}

#[test]
fn debug_output_of_the_library_types_hides_the_token() -> TestResult {
    let e = setup()?;
    let token = Token::new(ALICE_WRITE);
    let config = HubConfig::from_vars(|name| match name {
        "HF_TOKEN" => Some(ALICE_WRITE.to_string()),
        "HF_HOME" => Some(e.home.path().display().to_string()),
        "HF_ENDPOINT" => Some(e.hub.endpoint()),
        _ => None,
    })?;
    let builder = HubClient::builder()
        .endpoint(Endpoint::new(&e.hub.endpoint())?)
        .token(Some(token.clone()));
    let client = builder.clone().build()?;
    let call = CallSettings {
        token: Some(token.clone()),
        headers: vec![("Authorization".to_string(), format!("Bearer {ALICE_WRITE}"))],
        ..CallSettings::default()
    };
    let per_call = client.for_call(&call);
    let options = DownloadOptions::from_config(&config);
    let clone_options = CloneOptions::default().token(token.clone());
    let failure = client.for_call(&CallSettings {
        token: Some(Token::new(UNKNOWN)),
        ..CallSettings::default()
    });
    let error = failure.whoami().err().ok_or("an unknown token is refused")?;
    let shown = [
        ("Token", format!("{token:?} {token}")),
        ("HubConfig", format!("{config:?} {config:#?}")),
        ("HubClientBuilder", format!("{builder:?}")),
        ("HubClient", format!("{client:?} {client:#?}")),
        ("HubClient::for_call", format!("{per_call:?}")),
        ("CallSettings", format!("{call:?} {call:#?}")),
        ("DownloadOptions", format!("{options:?} {options:#?}")),
        ("CloneOptions", format!("{clone_options:?}")),
        ("hub_api::Error", format!("{error:?} {error} {error:#}")),
    ];
    for (name, text) in &shown {
        assert!(leaked(text.as_bytes()).is_empty(), "{name} shows the token: {text}");
    }
    // The values are there, only redacted: the checks above saw real output.
    assert!(shown[1].1.contains("hf_***"), "{}", shown[1].1);
    assert!(per_call.token().is_some_and(|t| t.expose() == ALICE_WRITE));
    Ok(())
}

/// A wrapper for `program` that appends its argument list and the names of
/// its environment variables to `log`, then runs the real one.
fn recording_wrapper(dir: &Path, program: &str, log: &Path) -> Result<PathBuf, BoxError> {
    let real = which(program).ok_or_else(|| format!("{program} is not on PATH"))?;
    let wrapper = dir.join(program);
    let script = dir.join(format!("{program}.script"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             {{ printf 'argv %s' \"$0\"; for a in \"$@\"; do printf ' %s' \"$a\"; done; printf '\\n';\n\
             printf 'env %s\\n' \"$(env | cut -d= -f1 | tr '\\n' ' ')\"; }} >> '{}'\n\
             exec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )?;
    // The executable is written by `install`, not by this process: a file this
    // process held open for writing could be inherited by a child another test
    // thread forks at that moment, and running it would then fail with "Text
    // file busy".
    let status = std::process::Command::new("install")
        .arg("-m755")
        .arg(&script)
        .arg(&wrapper)
        .status()?;
    if !status.success() {
        return Err(format!("install {} failed: {status}", wrapper.display()).into());
    }
    Ok(wrapper)
}

#[allow(clippy::disallowed_methods)] // The test's own PATH, to find the real programs.
fn path_var() -> OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&path_var())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Every file below `dir` that holds one of the tokens.
fn files_with_a_token(dir: &Path) -> Result<Vec<PathBuf>, BoxError> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if entry.file_type()?.is_file() {
                files += 1;
                if !leaked(&std::fs::read(&path)?).is_empty() {
                    found.push(path);
                }
            }
        }
    }
    assert!(files > 10, "{} holds only {files} files", dir.display());
    Ok(found)
}

#[test]
fn git_clone_and_push_keep_the_token_out_of_git_dir_and_argv() -> TestResult {
    let e = setup()?;
    let sandbox = GitSandbox::new()?;
    let bin = tempfile::tempdir()?;
    let log = bin.path().join("calls.log");
    let git = recording_wrapper(bin.path(), "git", &log)?;
    recording_wrapper(bin.path(), "git-lfs", &log)?;
    let mut path = OsString::from(bin.path());
    path.push(":");
    path.push(path_var());
    let home = sandbox.home();
    let program = GitProgram {
        program: git,
        env: vec![
            ("PATH".into(), path),
            ("HOME".into(), home.into()),
            ("GIT_CONFIG_GLOBAL".into(), home.join(".gitconfig").into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
        ],
    };
    let options = CloneOptions::default()
        .token(Token::new(ALICE_WRITE))
        .large_file_threshold(8 * 1024)
        .git(program);
    let dir = sandbox.dir("clone");
    let repo = Repository::clone_from(&Endpoint::new(&e.hub.endpoint())?, &RepoId::new(REPO)?, &dir, &options)?;
    assert_eq!(
        std::fs::read(dir.join("weights.bin"))?,
        pattern_bytes(40_000, 3),
        "LFS content came"
    );
    let pushed = pattern_bytes(30_000, 9);
    repo.commit("Add more weights", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("more.bin"), &pushed).map_err(BoxError::from)
    })?;
    assert_eq!(
        e.hub.file_content("model", REPO, "main", "more.bin")?,
        pushed,
        "the push (through LFS) landed"
    );

    let in_git_dir = files_with_a_token(&dir.join(".git"))?;
    assert!(in_git_dir.is_empty(), "the token is written in {in_git_dir:?}");

    let calls = std::fs::read_to_string(&log)?;
    let argvs: Vec<&str> = calls.lines().filter(|l| l.starts_with("argv ")).collect();
    for argv in &argvs {
        assert!(leaked(argv.as_bytes()).is_empty(), "a token in a command line: {argv}");
    }
    let lfs_calls = argvs.iter().filter(|a| a.contains("/git-lfs ")).count();
    assert!(
        argvs.len() >= 5 && lfs_calls >= 1,
        "the wrappers saw the calls: {calls}"
    );
    assert_no_token_in_requests(&e);
    report(&format!(
        "clone and push: {} git and git-lfs processes ({lfs_calls} git-lfs), no token in their command lines \
         or in .git/",
        argvs.len()
    ));
    Ok(())
}
