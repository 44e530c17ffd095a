//! The git push part of `cargo xtask bench upload`: the large file pushed with
//! plain git to a Hub whose single-PUT limit it exceeds, so git-lfs hands it
//! to a multipart transfer agent: ours (`huggingface-cli lfs-multipart-upload`,
//! parts in parallel) or the Python client's (`hf lfs-multipart-upload`, parts
//! one after the other). Only the `git push` is timed; the clone and the
//! commit are made before each run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use hub_emulator::{Emulator, EmulatorConfig, Role, SeedRepo};

use super::RUNS;
use super::measure::{Invocation, Sample, Stats, run_once};
use super::remove_dir;
use super::report::format_table;
use super::workloads::human_size;

const TOKEN: &str = "hf_bench_push_write";
const USER: &str = "bench";

/// The agent a run's clone is configured with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Agent {
    Ours,
    Python,
}

impl Agent {
    fn label(self) -> &'static str {
        match self {
            Agent::Ours => "git push + huggingface-cli lfs-multipart-upload",
            Agent::Python => "git push + hf lfs-multipart-upload (Python)",
        }
    }
}

/// Pushes `large_file` [`RUNS`] times with each agent and returns the report
/// section. `part_size` is the emulator's part size; its single-PUT limit is
/// half the file.
pub(crate) fn run(
    scratch: &Path,
    large_file: &Path,
    oid: &str,
    part_size: u64,
    cli: &Path,
    python: Option<&Path>,
    gnu_time: bool,
) -> Result<String> {
    let size = std::fs::metadata(large_file)
        .with_context(|| format!("failed to read {}", large_file.display()))?
        .len();
    let hub_root = scratch.join("push-hub");
    remove_dir(&hub_root)?;
    let mut config = EmulatorConfig::new(&hub_root).token(TOKEN, USER, Role::Write);
    config.multipart_threshold = size / 2;
    config.multipart_part_size = part_size;
    // Room for the large file's pointer and `.gitattributes`; the file itself is in LFS.
    let emulator = Emulator::start(config).context("failed to start the emulator")?;
    let run_dir = scratch.join("push-run");
    let python_agent = python
        .and_then(|p| p.parent())
        .map(|bin| bin.join("hf"))
        .filter(|hf| hf.is_file());

    let mut rows = vec![
        ["client", "workload", "wall s", "MB/s", "CPU s", "RSS MB", "vs python"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    ];
    let mut results = Vec::new();
    for agent in [Agent::Ours, Agent::Python] {
        eprintln!("\n== {} ({})", agent.label(), human_size(size));
        let program = match agent {
            Agent::Ours => cli.to_path_buf(),
            Agent::Python => match &python_agent {
                Some(hf) => hf.clone(),
                None => {
                    results.push((agent, Err("the Python client's `hf` is not available".to_string())));
                    continue;
                }
            },
        };
        let mut samples: Vec<Sample> = Vec::new();
        let mut failure = None;
        for run in 1..=RUNS {
            let repo = format!(
                "{USER}/push-{}-{run}",
                if agent == Agent::Ours { "ours" } else { "python" }
            );
            let result =
                prepare_clone(&emulator, &hub_root, &run_dir, &repo, large_file, &program).and_then(|(clone, env)| {
                    let mut push = Invocation::new("git")
                        .arg("-C")
                        .arg(&clone)
                        .args(["push", "-q", "origin", "main"]);
                    for (key, value) in &env {
                        push = push.env(key, value);
                    }
                    let sample = run_once(&push, &run_dir, gnu_time)?;
                    check_pushed(&emulator, &repo, &clone, oid)?;
                    Ok(sample)
                });
            match result {
                Ok(sample) => {
                    eprintln!("  run {run}/{RUNS}: {:7.2} s", sample.wall.as_secs_f64());
                    samples.push(sample);
                }
                Err(e) => {
                    eprintln!("  failed: {e:#}");
                    failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        let stats = match failure {
            Some(why) => Err(why),
            None => Stats::of(&samples).ok_or_else(|| "no runs".to_string()),
        };
        results.push((agent, stats));
    }
    drop(emulator);
    remove_dir(&run_dir)?;
    remove_dir(&hub_root)?;

    let python_wall = results
        .iter()
        .find(|(a, _)| *a == Agent::Python)
        .and_then(|(_, s)| s.as_ref().ok())
        .map(|s| s.wall_secs);
    for (agent, stats) in &results {
        let mut cells = vec![agent.label().to_string(), format!("1 x {} in parts", human_size(size))];
        match stats {
            Ok(s) => cells.extend([
                format!("{:.2}", s.wall_secs),
                format!("{:.0}", size as f64 / 1e6 / s.wall_secs),
                s.cpu_secs.map_or("-".into(), |c| format!("{c:.2}")),
                s.peak_rss_mb.map_or("-".into(), |m| format!("{m:.1}")),
                python_wall.map_or("-".into(), |p| format!("{:.2}x", s.wall_secs / p)),
            ]),
            Err(why) => cells.push(format!("failed: {why}")),
        }
        rows.push(cells);
    }
    let mut out = format!(
        "\ngit push of a file over the single-PUT limit (emulator: limit {}, parts of {}), median of {RUNS}\n",
        human_size(size / 2),
        human_size(part_size)
    );
    out.push_str(&format_table(&rows));
    out.push_str(
        "- only `git push` is timed (git-lfs's batch call, the agent's parts and completion, the git pack); \
         CPU and RSS are of git and everything it waited for, the agent included\n",
    );
    out.push_str(
        "- hf-hub 1.0 has no column here: it has no git-lfs transfer agent (its uploads are in the tables \
         above)\n",
    );
    Ok(out)
}

/// A fresh repo on the emulator and a clone of it with the large file
/// committed and the agent `program` configured; returns the clone and the
/// environment its git commands need.
fn prepare_clone(
    emulator: &Emulator,
    hub_root: &Path,
    run_dir: &Path,
    repo: &str,
    large_file: &Path,
    program: &Path,
) -> Result<(PathBuf, Vec<(String, String)>)> {
    remove_dir(run_dir)?;
    remove_dir(&hub_root.join("lfs").join("objects"))?;
    let home = run_dir.join("home");
    std::fs::create_dir_all(&home).with_context(|| format!("failed to create {}", home.display()))?;
    let gitconfig = home.join(".gitconfig");
    std::fs::write(&gitconfig, "[user]\n\tname = Bench\n\temail = bench@example.com\n")
        .with_context(|| format!("failed to write {}", gitconfig.display()))?;
    emulator
        .seed(&SeedRepo::model(repo).file("README.md", "# Push target\n"))
        .with_context(|| format!("failed to seed {repo}"))?;
    let endpoint = emulator.endpoint();
    // The token goes to the Hub's origin as a header given in the environment:
    // never into a URL or a config file.
    let env = vec![
        ("HOME".to_string(), home.display().to_string()),
        ("GIT_CONFIG_GLOBAL".to_string(), gitconfig.display().to_string()),
        ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()),
        ("GIT_TERMINAL_PROMPT".to_string(), "0".to_string()),
        ("GIT_CONFIG_COUNT".to_string(), "1".to_string()),
        ("GIT_CONFIG_KEY_0".to_string(), format!("http.{endpoint}/.extraHeader")),
        (
            "GIT_CONFIG_VALUE_0".to_string(),
            format!("Authorization: Bearer {TOKEN}"),
        ),
        ("HF_HUB_DISABLE_TELEMETRY".to_string(), "1".to_string()),
    ];
    let clone = run_dir.join("clone");
    let git = |dir: &Path, args: &[&str]| -> Result<()> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .context("failed to run git")?;
        if !out.status.success() {
            bail!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    };
    let clone_arg = clone.to_str().context("the clone's path is not UTF-8")?;
    git(run_dir, &["clone", "-q", &format!("{endpoint}/{repo}"), clone_arg])?;
    git(&clone, &["lfs", "install", "--local"])?;
    let program = program.to_str().context("the agent's path is not UTF-8")?;
    git(&clone, &["config", "lfs.customtransfer.multipart.path", program])?;
    git(
        &clone,
        &["config", "lfs.customtransfer.multipart.args", "lfs-multipart-upload"],
    )?;
    // A hard link when the scratch folder allows it: no copy of the file.
    let target = clone.join("model.bin");
    if std::fs::hard_link(large_file, &target).is_err() {
        std::fs::copy(large_file, &target).with_context(|| format!("failed to copy {}", large_file.display()))?;
    }
    git(&clone, &["add", "model.bin"])?;
    git(&clone, &["commit", "-q", "-m", "Add the large file"])?;
    let _ = Command::new("sync").status();
    Ok((clone, env))
}

/// The push left the clone's commit on `main` and the object in the store.
fn check_pushed(emulator: &Emulator, repo: &str, clone: &Path, oid: &str) -> Result<()> {
    let out = Command::new("git")
        .arg("-C")
        .arg(clone)
        .args(["rev-parse", "HEAD"])
        .output()
        .context("failed to run git")?;
    let head = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let main = emulator
        .resolve_revision("model", repo, "main")
        .with_context(|| format!("no main in {repo}"))?;
    ensure!(
        main == head,
        "the push did not reach {repo}: main is {main}, the clone's HEAD {head}"
    );
    ensure!(
        emulator.lfs_object_path(oid).is_file(),
        "the large file is not in the emulator's LFS store after the push"
    );
    Ok(())
}
