//! `cargo xtask demo`: start the bundled local Hub, log in, create a repo,
//! publish a small model with `huggingface-cli upload`, fetch it back, and
//! push a large file with plain git through the multipart agent, showing
//! each step.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use hub_emulator::{Emulator, EmulatorConfig, Role};
use hub_repo::{CloneOptions, CommitScope, Repository};
use hub_url::{Endpoint, RepoId, Token};

use crate::workspace::{cargo, describe, run_command, target_dir};

const DEMO_USER: &str = "demo-user";
const DEMO_TOKEN: &str = "hf_demo_write_token_not_secret";
const DEMO_REPO: &str = "demo-user/tiny-model";
/// Over the Hub's 10 MB threshold, so it is stored in LFS and served from the CDN.
const WEIGHTS_SIZE: usize = 12 * 1024 * 1024;
/// The demo Hub takes at most this much in one PUT (the real one: 5 GB), so
/// that the git push of a larger file shows the multipart agent at work.
const SINGLE_PUT_LIMIT: u64 = 16 * 1024 * 1024;
/// The part size of the demo Hub's multipart uploads.
const PART_SIZE: u64 = 4 * 1024 * 1024;
/// The file pushed with git: over the single-PUT limit.
const LARGE_SIZE: usize = 40 * 1024 * 1024;

pub(crate) fn run() -> Result<()> {
    run_command(cargo().args(["build", "--quiet", "--package", "huggingface-cli"]))?;
    let cli = target_dir().join("debug").join("huggingface-cli");
    let work = tempfile::tempdir().context("failed to make a temporary folder")?;

    step("Starting the local Hub");
    let mut config = EmulatorConfig::new(work.path().join("hub")).token(DEMO_TOKEN, DEMO_USER, Role::Write);
    config.multipart_threshold = SINGLE_PUT_LIMIT;
    config.multipart_part_size = PART_SIZE;
    let hub = Emulator::start(config).context("failed to start the local Hub")?;
    println!(
        "  endpoint {}  (LFS files are served from {})",
        hub.endpoint(),
        hub.cdn_origin()
    );

    let hf_home = work.path().join("hf-home");
    let cli_env = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_HOME", &hf_home)
            .env("HF_ENDPOINT", hub.endpoint())
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    };
    let run_ok = |args: &[&str]| -> Result<CliOutput> {
        // The demo token is no secret, but a token is never printed.
        println!("  $ huggingface-cli {}", args.join(" ").replace(DEMO_TOKEN, "hf_***"));
        let out = cli_output(&cli, args, &cli_env, &[])?;
        ensure!(
            out.success,
            "`huggingface-cli {}` failed: {}",
            args.join(" "),
            out.stderr
        );
        Ok(out)
    };

    step("Who am I? Not logged in yet");
    let out = cli_output(&cli, &["whoami"], &cli_env, &[])?;
    println!("{}", indent(&out.stderr));

    step("Logging in: the token is checked with the Hub, then saved (mode 0600)");
    let out = run_ok(&["login", "--token", DEMO_TOKEN])?;
    print!("{}", indent(&out.stdout));
    print!("{}", indent(&out.stderr));
    ensure!(
        !out.stdout.contains(DEMO_TOKEN) && !out.stderr.contains(DEMO_TOKEN),
        "login printed the token"
    );
    let out = run_ok(&["whoami"])?;
    print!("{}", indent(&out.stdout));

    step(&format!("Creating {DEMO_REPO}"));
    let out = run_ok(&["repo", "create", "tiny-model", "-y"])?;
    print!("{}", indent(&out.stdout));

    step(&format!(
        "Uploading a folder in one commit: 4 files, one of {} MB through LFS",
        WEIGHTS_SIZE / (1024 * 1024)
    ));
    let weights = pseudo_random_bytes(WEIGHTS_SIZE, 1);
    let folder = work.path().join("tiny-model");
    write_model_folder(&folder, &weights)?;
    let folder_arg = folder.to_str().context("the temporary folder's path is not UTF-8")?;
    let out = run_ok(&["upload", DEMO_REPO, folder_arg, "--commit-message", "Add tiny model"])?;
    print!("{}", indent(&out.stdout));

    step("Downloading one file");
    let out = run_ok(&["download", DEMO_REPO, "config.json"])?;
    let config_path = out.stdout.trim().to_string();
    println!("  {config_path}");
    println!("  content: {}", std::fs::read_to_string(&config_path)?);

    step("Downloading the whole repo (the LFS file comes from the CDN host, verified by sha256)");
    let out = run_ok(&["download", DEMO_REPO])?;
    let snapshot = out.stdout.trim().to_string();
    print!("{}", indent(&out.stderr));
    println!("  snapshot folder: {snapshot}");
    let fetched = std::fs::read(Path::new(&snapshot).join("model.safetensors"))?;
    ensure!(
        fetched == weights,
        "the downloaded weights differ from the published ones"
    );
    println!(
        "  model.safetensors: {} bytes, identical to what was uploaded",
        fetched.len()
    );

    step("The cache, laid out as the Python client lays it out");
    print_tree(&hf_home.join("hub"), &hf_home.join("hub"))?;

    step("Offline (HF_HUB_OFFLINE=1): served from the cache without the network");
    let out = cli_output(
        &cli,
        &["download", DEMO_REPO, "tokenizer/vocab.txt"],
        &cli_env,
        &[("HF_HUB_OFFLINE", "1")],
    )?;
    ensure!(out.success, "offline download failed: {}", out.stderr);
    println!("  {}", out.stdout.trim());

    step("Errors name what was wrong and what to do");
    for args in [
        &["download", DEMO_REPO, "missing.txt"][..],
        &["download", "demo-user/no-such-model", "config.json"][..],
        &["download", DEMO_REPO, "config.json", "--revision", "v9"][..],
        &["download", "bad//id", "x"][..],
    ] {
        let out = cli_output(&cli, args, &cli_env, &[])?;
        if out.success {
            bail!("`huggingface-cli {}` should have failed", args.join(" "));
        }
        println!("  $ huggingface-cli {}", args.join(" "));
        print!("{}", indent(&out.stderr));
    }

    step(&format!(
        "Pushing a {} MB file with plain git: over the Hub's single-PUT limit ({} MB here, 5 GB on the Hub), so git-lfs hands it to `huggingface-cli lfs-multipart-upload`",
        LARGE_SIZE >> 20,
        SINGLE_PUT_LIMIT >> 20
    ));
    if git_lfs_is_installed() {
        push_large_file_with_git(&hub, work.path(), &run_ok)?;
    } else {
        println!("  skipped: git-lfs is not installed (apt-get install git-lfs)");
    }

    step("Environment");
    let out = cli_output(&cli, &["env"], &cli_env, &[])?;
    ensure!(!out.stdout.contains(DEMO_TOKEN), "env printed the token");
    print!("{}", indent(&out.stdout));

    println!("\nDemo complete.");
    Ok(())
}

/// A small model: a config, a README, a vocabulary and the weights.
fn write_model_folder(folder: &Path, weights: &[u8]) -> Result<()> {
    std::fs::create_dir_all(folder.join("tokenizer"))?;
    std::fs::write(
        folder.join("config.json"),
        r#"{"architectures": ["TinyModel"], "hidden_size": 8}"#,
    )?;
    std::fs::write(
        folder.join("README.md"),
        "---\nlicense: apache-2.0\n---\n# Tiny model\n",
    )?;
    std::fs::write(folder.join("tokenizer/vocab.txt"), "[PAD]\n[UNK]\nhello\nworld\n")?;
    std::fs::write(folder.join("model.safetensors"), weights)?;
    Ok(())
}

fn git_lfs_is_installed() -> bool {
    Command::new("git")
        .args(["lfs", "version"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Clones the demo repo with `hub_repo::Repository`, enables the multipart
/// agent, and commits and pushes a large file; shows the parts the Hub took.
fn push_large_file_with_git(hub: &Emulator, work: &Path, run_ok: &dyn Fn(&[&str]) -> Result<CliOutput>) -> Result<()> {
    let options = CloneOptions::default()
        .token(Token::new(DEMO_TOKEN))
        .git_identity("Demo User", "demo@example.com");
    let endpoint = Endpoint::new(&hub.endpoint())?;
    let clone = work.join("clone");
    let repo = Repository::clone_from(&endpoint, &RepoId::new(DEMO_REPO)?, &clone, &options)
        .context("failed to clone the demo repo")?;
    println!(
        "  cloned into {} (the token is in no URL and no git config)",
        clone.display()
    );
    let clone_arg = clone.to_str().context("the clone's path is not UTF-8")?;
    let out = run_ok(&["lfs-enable-largefiles", clone_arg])?;
    print!("{}", indent(&out.stdout));

    hub.log().clear();
    let large = pseudo_random_bytes(LARGE_SIZE, 2);
    repo.commit("Add a second shard", &CommitScope::tracked(), |repo| {
        std::fs::write(repo.local_dir().join("model-00002.safetensors"), &large)?;
        Ok::<_, anyhow::Error>(())
    })
    .context("failed to commit and push the large file")?;
    let records = hub.log().records();
    let parts = records
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/lfs-part/"))
        .count();
    let completions = records
        .iter()
        .filter(|r| r.path.ends_with("/complete_multipart"))
        .count();
    println!(
        "  pushed {}: {parts} parts of {} MB, {completions} completion",
        repo.git_head_commit_url()?,
        PART_SIZE >> 20
    );
    let oid = sha2_hex(&large);
    ensure!(
        std::fs::read(hub.lfs_object_path(&oid))? == large,
        "the Hub does not hold the pushed file"
    );
    Ok(())
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

struct CliOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

fn cli_output(cli: &Path, args: &[&str], env: &dyn Fn(&mut Command), extra_env: &[(&str, &str)]) -> Result<CliOutput> {
    let mut cmd = Command::new(cli);
    cmd.args(args);
    env(&mut cmd);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .with_context(|| format!("failed to run {}", describe(&cmd)))?;
    Ok(CliOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn step(title: &str) {
    println!("\n==> {title}");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// Prints a folder tree, showing where symlinks point.
fn print_tree(dir: &Path, base: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(base).unwrap_or(&path);
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            println!("  {} -> {}", rel.display(), std::fs::read_link(&path)?.display());
        } else if meta.is_dir() {
            println!("  {}/", rel.display());
            print_tree(&path, base)?;
        } else {
            println!("  {} ({} bytes)", rel.display(), meta.len());
        }
    }
    Ok(())
}

/// Deterministic bytes that do not compress (xorshift), one stream a seed.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
