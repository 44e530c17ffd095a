//! `git` (and git-lfs) run in a private home, for tests: its own `HOME` and
//! global config, no system config, no prompts, so nothing touches the user's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A temporary home for `git` with a user name and `main` as the default branch.
pub struct GitSandbox {
    home: tempfile::TempDir,
}

impl GitSandbox {
    /// A fresh home with its `.gitconfig`.
    pub fn new() -> std::io::Result<GitSandbox> {
        let home = tempfile::tempdir()?;
        std::fs::write(
            home.path().join(".gitconfig"),
            "[user]\n\tname = Alice Local\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n",
        )?;
        Ok(GitSandbox { home })
    }

    /// The home folder (work trees can go inside it).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// A path inside the home.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// `git` in `cwd` with the sandbox's environment.
    pub fn command(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(cwd)
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_GLOBAL", self.home.path().join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs git in `cwd` and returns its trimmed stdout; an error carries git's stderr.
    pub fn run(&self, cwd: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let output = self.command(cwd).args(args).output()?;
        if !output.status.success() {
            return Err(format!("git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
        }
        Ok(String::from_utf8(output.stdout)?.trim_end().to_string())
    }

    /// Runs git in `cwd`, which must fail; returns its stderr.
    pub fn fail(&self, cwd: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let output = self.command(cwd).args(args).output()?;
        if output.status.success() {
            return Err(format!("git {args:?} should have failed").into());
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
