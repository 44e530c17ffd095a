//! `cargo xtask demo`: start the bundled local Hub, publish a small model on
//! it, and fetch it with `huggingface-cli`, showing each step.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use hub_emulator::{Emulator, EmulatorConfig, Role, SeedRepo};

use crate::workspace::{cargo, describe, run_command, target_dir};

const DEMO_USER: &str = "demo-user";
const DEMO_TOKEN: &str = "hf_demo_write_token_not_secret";
const DEMO_REPO: &str = "demo-user/tiny-model";
/// Over the Hub's 10 MB threshold, so it is stored in LFS and served from the CDN.
const WEIGHTS_SIZE: usize = 12 * 1024 * 1024;

pub(crate) fn run() -> Result<()> {
    run_command(cargo().args(["build", "--quiet", "--package", "huggingface-cli"]))?;
    let cli = target_dir().join("debug").join("huggingface-cli");
    let work = tempfile::tempdir().context("failed to make a temporary folder")?;

    step("Starting the local Hub");
    let hub = Emulator::start(EmulatorConfig::new(work.path().join("hub")).token(DEMO_TOKEN, DEMO_USER, Role::Write))
        .context("failed to start the local Hub")?;
    println!(
        "  endpoint {}  (LFS files are served from {})",
        hub.endpoint(),
        hub.cdn_origin()
    );

    step(&format!(
        "Publishing {DEMO_REPO} with 4 files, one of {} MB in LFS",
        WEIGHTS_SIZE / (1024 * 1024)
    ));
    let weights = pseudo_random_bytes(WEIGHTS_SIZE);
    let commit = hub
        .seed(
            &SeedRepo::model(DEMO_REPO)
                .file(
                    "config.json",
                    br#"{"architectures": ["TinyModel"], "hidden_size": 8}"#.to_vec(),
                )
                .file("README.md", b"---\nlicense: apache-2.0\n---\n# Tiny model\n".to_vec())
                .file("tokenizer/vocab.txt", b"[PAD]\n[UNK]\nhello\nworld\n".to_vec())
                .file("model.safetensors", weights.clone())
                .tag("pytorch")
                .message("Add tiny model"),
        )
        .context("failed to seed the demo repo")?;
    println!("  commit {commit}");

    let hf_home = work.path().join("hf-home");
    let cli_env = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HF_HOME", &hf_home)
            .env("HF_ENDPOINT", hub.endpoint())
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    };

    step("Who am I? (without a token, then with HF_TOKEN)");
    let out = cli_output(&cli, &["whoami"], &cli_env, &[])?;
    println!("{}", indent(&out.stderr));
    let out = cli_output(&cli, &["whoami"], &cli_env, &[("HF_TOKEN", DEMO_TOKEN)])?;
    ensure!(
        out.success && out.stdout.starts_with(DEMO_USER),
        "whoami failed: {}",
        out.stderr
    );
    println!("{}", indent(&out.stdout));

    step("Downloading one file");
    let out = cli_output(&cli, &["download", DEMO_REPO, "config.json"], &cli_env, &[])?;
    ensure!(out.success, "download failed: {}", out.stderr);
    let config_path = out.stdout.trim().to_string();
    println!("  {config_path}");
    println!("  content: {}", std::fs::read_to_string(&config_path)?);

    step("Downloading the whole repo (the LFS file comes from the CDN host, verified by sha256)");
    let out = cli_output(&cli, &["download", DEMO_REPO], &cli_env, &[])?;
    ensure!(out.success, "download failed: {}", out.stderr);
    let snapshot = out.stdout.trim().to_string();
    print!("{}", indent(&out.stderr));
    println!("  snapshot folder: {snapshot}");
    let fetched = std::fs::read(Path::new(&snapshot).join("model.safetensors"))?;
    ensure!(
        fetched == weights,
        "the downloaded weights differ from the published ones"
    );
    println!(
        "  model.safetensors: {} bytes, identical to what was published",
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

    step("Environment");
    let out = cli_output(&cli, &["env"], &cli_env, &[("HF_TOKEN", DEMO_TOKEN)])?;
    ensure!(!out.stdout.contains(DEMO_TOKEN), "env printed the token");
    print!("{}", indent(&out.stdout));

    println!("\nDemo complete.");
    Ok(())
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

/// Deterministic bytes that do not compress (xorshift).
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
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
