//! One run of the CLI against a hostile hub, in a fresh `HF_HOME`, bounded in
//! time, with what it printed, how it ended, its peak memory and what it
//! left on disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hub_emulator::tree_walk::files_under;

/// GNU time, for the run's peak memory.
const GNU_TIME: &str = "/usr/bin/time";

/// The token every run holds, which must never show.
pub(crate) const TOKEN: &str = "hf_HardeningSecretToken0123456789abcdef";

/// What one run did.
pub(crate) struct Outcome {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) wall: Duration,
    pub(crate) peak_rss_kib: Option<u64>,
}

/// A scratch root holding the run's `HF_HOME` (and nothing else).
pub(crate) struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Result<Sandbox> {
        Ok(Sandbox {
            root: tempfile::tempdir().context("failed to make a scratch folder")?,
        })
    }

    pub(crate) fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub(crate) fn cache(&self) -> PathBuf {
        self.home().join("hub")
    }

    /// Fails when anything was written outside `HF_HOME`.
    pub(crate) fn check_nothing_outside(&self) -> Result<()> {
        let home = self.home();
        for path in files_under(self.root.path()) {
            if !path.starts_with(&home) && !path.ends_with("time-report") {
                bail!("written outside HF_HOME: {}", path.display());
            }
        }
        Ok(())
    }

    /// Fails when a file under a `snapshots/` folder is not whole: each must
    /// resolve to one of `expected` (the bytes the hub's files really have).
    pub(crate) fn check_snapshots(&self, expected: &[&[u8]]) -> Result<usize> {
        let mut count = 0;
        for path in files_under(&self.cache()) {
            if !path.components().any(|c| c.as_os_str() == "snapshots") {
                continue;
            }
            let bytes = std::fs::read(&path).with_context(|| format!("unreadable {}", path.display()))?;
            if !expected.contains(&bytes.as_slice()) {
                bail!(
                    "{} holds {} bytes the hub's files do not have",
                    path.display(),
                    bytes.len()
                );
            }
            count += 1;
        }
        Ok(count)
    }

    /// The bytes of the files under every `blobs/` folder.
    pub(crate) fn blob_bytes(&self) -> u64 {
        files_under(&self.cache())
            .iter()
            .filter(|p| p.parent().is_some_and(|d| d.ends_with("blobs")))
            .filter_map(|p| std::fs::symlink_metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Runs the CLI with `args` against `endpoint`, killed after `limit`.
    pub(crate) fn run(
        &self,
        cli: &Path,
        endpoint: &str,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Result<Outcome> {
        std::fs::create_dir_all(self.home())?;
        let report = self.root.path().join("time-report");
        let stdout_path = self.home().join(".stdout");
        let stderr_path = self.home().join(".stderr");
        let gnu_time = Path::new(GNU_TIME).is_file();
        let mut cmd = match gnu_time {
            true => {
                let mut cmd = Command::new(GNU_TIME);
                cmd.arg("-f").arg("%M").arg("-o").arg(&report).arg(cli);
                cmd
            }
            false => Command::new(cli),
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("HF_HOME", self.home())
            .env("HF_ENDPOINT", endpoint)
            .env("HF_TOKEN", TOKEN)
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .envs(env.iter().copied())
            .current_dir(self.home())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path)?)
            .stderr(std::fs::File::create(&stderr_path)?);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("failed to start {}", cli.display()))?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                bail!("still running after {limit:?}: it hangs");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let wall = started.elapsed();
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        let outcome = Outcome {
            success: status.success(),
            stdout: read(&stdout_path),
            stderr: read(&stderr_path),
            wall,
            peak_rss_kib: read(&report).lines().rev().find_map(|l| l.trim().parse().ok()),
        };
        let _ = std::fs::remove_file(&stdout_path);
        let _ = std::fs::remove_file(&stderr_path);
        if outcome.stdout.contains(TOKEN) || outcome.stderr.contains(TOKEN) {
            bail!("the token was printed");
        }
        if outcome.stderr.contains("panicked") {
            bail!("the CLI panicked: {}", outcome.stderr.trim());
        }
        Ok(outcome)
    }
}

impl Outcome {
    /// Fails unless the run failed cleanly (exit code 1, `error: …`) saying `says`.
    pub(crate) fn refused(&self, says: &str) -> Result<()> {
        if self.success {
            bail!("it succeeded; stdout: {}", self.stdout.trim());
        }
        let text = self.stderr.to_lowercase();
        if !text.contains("error:") || !text.contains(&says.to_lowercase()) {
            bail!("the error does not say {says:?}: {}", self.stderr.trim());
        }
        Ok(())
    }
}
