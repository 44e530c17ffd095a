//! git plumbing, run as processes against a bare repository.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

use crate::EmulatorError;

/// The identity of commits the emulator writes itself.
pub(crate) const COMMITTER_NAME: &str = "Hub Emulator";
/// The e-mail of commits the emulator writes itself.
pub(crate) const COMMITTER_EMAIL: &str = "emulator@hub.localhost";

/// The all-zero object id: "this ref must not exist yet" for `update-ref`.
pub(crate) const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// Runs git commands in one bare repository.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Git<'a> {
    git_dir: &'a Path,
    index_file: Option<&'a Path>,
}

impl<'a> Git<'a> {
    /// Commands for the repository at `git_dir`.
    pub(crate) fn new(git_dir: &'a Path) -> Self {
        Git {
            git_dir,
            index_file: None,
        }
    }

    /// The same repository, with `GIT_INDEX_FILE` pointing at `index`.
    pub(crate) fn with_index(self, index: &'a Path) -> Self {
        Git {
            index_file: Some(index),
            ..self
        }
    }

    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = base_command();
        cmd.arg("--git-dir").arg(self.git_dir).args(args);
        if let Some(index) = self.index_file {
            cmd.env("GIT_INDEX_FILE", index);
        }
        cmd
    }

    /// Runs git with `args` (and `stdin`), returning its whole output whatever the exit status.
    pub(crate) fn output<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Result<Output, EmulatorError> {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd, stdin).map_err(|source| EmulatorError::GitSpawn {
            command: subcommand(args),
            git_dir: self.git_dir.to_path_buf(),
            source,
        })
    }

    /// Runs git and returns its stdout; a non-zero exit is an error.
    pub(crate) fn run<S: AsRef<OsStr>>(&self, args: &[S], stdin: Option<&[u8]>) -> Result<Vec<u8>, EmulatorError> {
        self.run_with_env(args, stdin, &[])
    }

    /// [`Git::run`] with extra environment variables.
    pub(crate) fn run_with_env<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        stdin: Option<&[u8]>,
        env: &[(&str, &str)],
    ) -> Result<Vec<u8>, EmulatorError> {
        let output = self.output(args, stdin, env)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(self.failure(args, &output))
        }
    }

    /// The error for a git process that exited with a failure.
    pub(crate) fn failure<S: AsRef<OsStr>>(&self, args: &[S], output: &Output) -> EmulatorError {
        EmulatorError::Git {
            command: subcommand(args),
            git_dir: self.git_dir.to_path_buf(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }
    }

    /// The error for output that does not parse.
    pub(crate) fn bad_output(&self, command: &str) -> EmulatorError {
        EmulatorError::GitOutput {
            command: command.to_string(),
            git_dir: self.git_dir.to_path_buf(),
        }
    }

    /// The commit `spec` names (`refs/heads/main`, a sha, ...), or `None` when it names no commit.
    pub(crate) fn rev_parse_commit(&self, spec: &str) -> Result<Option<String>, EmulatorError> {
        let arg = format!("{spec}^{{commit}}");
        let output = self.output(&["rev-parse", "--verify", "-q", "--end-of-options", &arg], None, &[])?;
        if !output.status.success() {
            return Ok(None);
        }
        let sha = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if sha.len() == 40 {
            Ok(Some(sha))
        } else {
            Err(self.bad_output("rev-parse"))
        }
    }

    /// The content of the blob `oid`, read whole.
    pub(crate) fn read_blob(&self, oid: &str) -> Result<Vec<u8>, EmulatorError> {
        self.run(&["cat-file", "blob", oid], None)
    }

    /// A stream of the blob `oid`'s content, for blobs too large to hold in memory.
    pub(crate) fn stream_blob(&self, oid: &str) -> Result<BlobStream, EmulatorError> {
        let mut cmd = self.command(&["cat-file", "blob", oid]);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(|source| EmulatorError::GitSpawn {
            command: "cat-file".into(),
            git_dir: self.git_dir.to_path_buf(),
            source,
        })?;
        match child.stdout.take() {
            Some(stdout) => Ok(BlobStream { child, stdout }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(self.bad_output("cat-file"))
            }
        }
    }

    /// `git cat-file --batch` over `oids`: each object, `None` when missing.
    pub(crate) fn cat_file_batch(&self, oids: &[&str]) -> Result<Vec<Option<GitObject>>, EmulatorError> {
        let mut input = Vec::new();
        for oid in oids {
            input.extend_from_slice(oid.as_bytes());
            input.push(b'\n');
        }
        let out = self.run(&["cat-file", "--batch"], Some(&input))?;
        let mut results = Vec::with_capacity(oids.len());
        let mut pos = 0;
        for _ in oids {
            let line_end = out[pos..]
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| self.bad_output("cat-file"))?;
            let header = String::from_utf8_lossy(&out[pos..pos + line_end]).to_string();
            pos += line_end + 1;
            let parts: Vec<&str> = header.split(' ').collect();
            match parts.as_slice() {
                [_, "missing"] | [_, "ambiguous"] => results.push(None),
                [_, kind, size] => {
                    let size: usize = size.parse().map_err(|_| self.bad_output("cat-file"))?;
                    let content = out
                        .get(pos..pos + size)
                        .ok_or_else(|| self.bad_output("cat-file"))?
                        .to_vec();
                    pos += size + 1;
                    results.push(Some(GitObject {
                        kind: kind.to_string(),
                        content,
                    }));
                }
                _ => return Err(self.bad_output("cat-file")),
            }
        }
        Ok(results)
    }
}

/// An object read with `git cat-file --batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitObject {
    /// `blob`, `tree`, `commit` or `tag`.
    pub(crate) kind: String,
    /// The raw content.
    pub(crate) content: Vec<u8>,
}

/// `git init --bare` with `main` as the default branch and pushes over HTTP allowed.
pub(crate) fn init_bare(git_dir: &Path) -> Result<(), EmulatorError> {
    let mut cmd = base_command();
    cmd.args(["init", "--quiet", "--bare", "--initial-branch=main"])
        .arg(git_dir);
    let output = run(cmd, None).map_err(|source| EmulatorError::GitSpawn {
        command: "init".into(),
        git_dir: git_dir.to_path_buf(),
        source,
    })?;
    let git = Git::new(git_dir);
    if !output.status.success() {
        return Err(git.failure(&["init"], &output));
    }
    git.run(&["config", "http.receivepack", "true"], None)?;
    git.run(&["config", "uploadpack.allowAnySHA1InWant", "true"], None)?;
    Ok(())
}

/// A git command isolated from the user's configuration and environment.
pub(crate) fn base_command() -> Command {
    let mut cmd = Command::new("git");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_NAMESPACE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", null_device())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    cmd
}

fn null_device() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from("NUL")
    } else {
        PathBuf::from("/dev/null")
    }
}

fn subcommand<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.first()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `cmd` to completion, feeding `stdin` from another thread so that large
/// inputs and outputs cannot deadlock on full pipes.
fn run(mut cmd: Command, stdin: Option<&[u8]>) -> io::Result<Output> {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let input = child.stdin.take();
    std::thread::scope(|scope| {
        if let (Some(mut pipe), Some(bytes)) = (input, stdin) {
            scope.spawn(move || {
                // A child that exits early closes the pipe; its status tells what happened.
                let _ = pipe.write_all(bytes);
            });
        }
        child.wait_with_output()
    })
}

/// The output of a running `git cat-file blob`; the process is reaped when dropped.
#[derive(Debug)]
pub(crate) struct BlobStream {
    child: Child,
    stdout: ChildStdout,
}

impl Read for BlobStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Drop for BlobStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
