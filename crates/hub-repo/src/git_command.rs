//! Running the user's `git`: one place for the environment every call gets
//! (no prompts, stable messages, the token through a credential helper) and
//! for turning failures into errors that never show credentials.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hub_url::{Origin, Token};

use crate::error::{Error, Result};

/// The environment variable that hands the token to the credential helper.
/// It lives only in the environment of the git processes this crate starts.
const TOKEN_VARIABLE: &str = "HF_HUB_REPO_GIT_TOKEN";

/// A credential helper, given to git on its command line (`-c`), that answers
/// `get` with the token from [`TOKEN_VARIABLE`]. The token itself is never in
/// an argument, a URL or a config file.
const CREDENTIAL_HELPER: &str =
    "!f() { test \"$1\" = get && printf 'username=hf_user\\npassword=%s\\n' \"$HF_HUB_REPO_GIT_TOKEN\"; }; f";

/// Which `git` to run, and with what extra environment.
///
/// The default runs `git` from the `PATH` with the caller's environment; tests
/// and sandboxes can point `HOME` and `GIT_CONFIG_GLOBAL` elsewhere.
#[derive(Debug, Clone)]
pub struct GitProgram {
    /// The program (`git` by default).
    pub program: PathBuf,
    /// Variables set for every git process (on top of the caller's environment).
    pub env: Vec<(OsString, OsString)>,
}

impl Default for GitProgram {
    fn default() -> Self {
        GitProgram {
            program: PathBuf::from("git"),
            env: Vec::new(),
        }
    }
}

/// git for one work tree, with credentials for one origin.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    program: GitProgram,
    dir: PathBuf,
    credentials: Option<(Origin, Token)>,
}

impl Git {
    /// git in `dir`; with `token`, answering credential requests for `origin` and no other.
    pub(crate) fn new(program: GitProgram, dir: PathBuf, credentials: Option<(Origin, Token)>) -> Git {
        Git {
            program,
            dir,
            credentials,
        }
    }

    /// The work tree.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The same git, run in another folder.
    pub(crate) fn in_dir(&self, dir: PathBuf) -> Git {
        Git { dir, ..self.clone() }
    }

    /// The token git is given, for cutting it out of what is shown.
    fn held_tokens(&self) -> &[Token] {
        self.credentials
            .as_ref()
            .map(|(_, token)| std::slice::from_ref(token))
            .unwrap_or(&[])
    }

    /// The command for `args`, with the environment every call gets.
    pub(crate) fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        if log::log_enabled!(log::Level::Debug) {
            let shown = args
                .iter()
                .map(|a| a.as_ref().to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ");
            // The token never is an argument; a URL someone gave with credentials might be.
            let shown = hub_url::redact_tokens(&without_credentials(&shown), self.held_tokens()).into_owned();
            log::debug!("git {shown} (in {})", self.dir.display());
        }
        let mut cmd = Command::new(&self.program.program);
        if let Some((origin, token)) = &self.credentials {
            // The empty helper first drops the user's own helpers for this origin,
            // so that a stale stored password cannot win over the token. The origin is
            // written without a default port, as git's own URL matching writes it.
            let key = format!("credential.{origin}.helper");
            cmd.arg("-c")
                .arg(format!("{key}="))
                .arg("-c")
                .arg(format!("{key}={CREDENTIAL_HELPER}"));
            cmd.env(TOKEN_VARIABLE, token.expose());
        }
        cmd.args(args)
            .current_dir(&self.dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(self.program.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs git with `args` and returns its stdout; a failure carries git's stderr.
    pub(crate) fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        self.run_with(args, &[])
    }

    /// [`Git::run`] with these extra variables.
    pub(crate) fn run_with<I, S>(&self, args: I, env: &[(&str, &str)]) -> Result<String>
    where
        I: IntoIterator<Item = S> + Clone,
        S: AsRef<OsStr>,
    {
        let output = self.output(args.clone(), env)?;
        self.check(args, &output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Whether git with `args` exits with success (for questions such as
    /// "does this ref exist"); its output is dropped.
    pub(crate) fn succeeds<I, S>(&self, args: I) -> Result<bool>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ok(self.output(args, &[])?.status.success())
    }

    /// Runs git with `args` and these extra variables; the raw output, whatever the status.
    fn output<I, S>(&self, args: I, env: &[(&str, &str)]) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        cmd.output().map_err(|source| Error::GitMissing {
            program: self.program.program.display().to_string(),
            dir: self.dir.clone(),
            source,
        })
    }

    /// An error unless `output` is a success.
    fn check<I, S>(&self, args: I, output: &Output) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        if output.status.success() {
            return Ok(());
        }
        let args = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let said = if output.stderr.iter().all(u8::is_ascii_whitespace) {
            &output.stdout
        } else {
            &output.stderr
        };
        let stderr = hub_url::redact_tokens(
            &without_credentials(String::from_utf8_lossy(said).trim()),
            self.held_tokens(),
        )
        .into_owned();
        Err(Error::GitFailed {
            args: without_credentials(&args),
            dir: self.dir.clone(),
            stderr,
        })
    }
}

/// `text` with the `user:password@` of every URL in it removed.
pub(crate) fn without_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority.rfind('@') {
            Some(i) => out.push_str(&authority[i + 1..]),
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_cut_from_urls_in_text() {
        assert_eq!(
            without_credentials("fatal: unable to access 'https://user:hf_secret@hub.example/a/b/': 403"),
            "fatal: unable to access 'https://hub.example/a/b/': 403"
        );
        assert_eq!(without_credentials("no urls here"), "no urls here");
        assert_eq!(
            without_credentials("http://a@h:1/x and https://h2/y"),
            "http://h:1/x and https://h2/y"
        );
    }

    #[test]
    fn the_credential_helper_answers_for_the_origin_alone() -> hub_url::Result<()> {
        let origin = Origin::parse("HTTPS://u:p@Hub.Example:443/org/model")?;
        let git = Git::new(
            GitProgram::default(),
            PathBuf::from("."),
            Some((origin, Token::new("hf_x"))),
        );
        let args: Vec<String> = git
            .command(["status"])
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[..2], ["-c", "credential.https://hub.example.helper="]);
        assert!(
            args[3].starts_with("credential.https://hub.example.helper=!"),
            "{args:?}"
        );
        assert!(
            !args.iter().any(|a| a.contains("hf_x")),
            "the token is no argument: {args:?}"
        );
        Ok(())
    }
}
