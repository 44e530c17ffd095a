//! `lfs-enable-largefiles`: the git config that makes git-lfs hand objects the
//! Hub wants in parts (over 5 GB) to this crate's agent.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The transfer's name, as the Hub's batch API calls it.
pub const TRANSFER_NAME: &str = "multipart";

/// The subcommand of `huggingface-cli` that runs the agent.
pub const AGENT_SUBCOMMAND: &str = "lfs-multipart-upload";

/// Configures the git repository containing `dir` so that git-lfs offers the
/// `multipart` transfer and runs `program AGENT_SUBCOMMAND` for it
/// (`lfs.customtransfer.multipart.{path,args,direction}` in the repo's own
/// config; nothing global is touched). Returns the repo's top folder.
///
/// `program` should be an absolute path, so that git-lfs finds the agent
/// whatever its `PATH`.
pub fn enable_largefiles(dir: &Path, program: &Path) -> Result<PathBuf> {
    let top = git(dir, [OsStr::new("rev-parse"), OsStr::new("--show-toplevel")]).map_err(|error| match error {
        Error::GitFailed { .. } => Error::NotARepository {
            path: dir.to_path_buf(),
        },
        other => other,
    })?;
    let top = PathBuf::from(top.trim_end_matches(['\n', '\r']));
    let key = |name: &str| format!("lfs.customtransfer.{TRANSFER_NAME}.{name}");
    let settings = [
        (key("path"), program.as_os_str()),
        (key("args"), OsStr::new(AGENT_SUBCOMMAND)),
        // The Hub only asks for multipart on uploads.
        (key("direction"), OsStr::new("upload")),
    ];
    for (name, value) in settings {
        git(
            &top,
            [OsStr::new("config"), OsStr::new("--local"), OsStr::new(&name), value],
        )?;
    }
    Ok(top)
}

/// Runs `git args` in `dir` and returns its stdout.
fn git<'a>(dir: &Path, args: impl IntoIterator<Item = &'a OsStr> + Clone) -> Result<String> {
    let output = Command::new("git")
        .args(args.clone())
        .current_dir(dir)
        .output()
        .map_err(|source| Error::GitMissing {
            dir: dir.to_path_buf(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::GitFailed {
            args: args
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            dir: dir.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::enable_largefiles;
    use crate::Error;

    fn git_config(dir: &Path, key: &str) -> Result<String, Box<dyn std::error::Error>> {
        let out = Command::new("git")
            .args(["config", "--get", key])
            .current_dir(dir)
            .output()?;
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    #[test]
    fn sets_the_agent_in_the_repo_config_from_a_subfolder() -> Result<(), Box<dyn std::error::Error>> {
        let repo = tempfile::tempdir()?;
        let status = Command::new("git")
            .args(["init", "-q"])
            .current_dir(repo.path())
            .status()?;
        assert!(status.success());
        let sub = repo.path().join("weights");
        std::fs::create_dir(&sub)?;
        let top = enable_largefiles(&sub, Path::new("/opt/hf/huggingface-cli"))?;
        assert_eq!(top.canonicalize()?, repo.path().canonicalize()?);
        assert_eq!(
            git_config(repo.path(), "lfs.customtransfer.multipart.path")?,
            "/opt/hf/huggingface-cli"
        );
        assert_eq!(
            git_config(repo.path(), "lfs.customtransfer.multipart.args")?,
            "lfs-multipart-upload"
        );
        assert_eq!(
            git_config(repo.path(), "lfs.customtransfer.multipart.direction")?,
            "upload"
        );
        let config = std::fs::read_to_string(repo.path().join(".git/config"))?;
        assert!(config.contains("[lfs \"customtransfer.multipart\"]"), "{config}");
        Ok(())
    }

    #[test]
    fn a_folder_outside_git_is_refused_by_name() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        match enable_largefiles(dir.path(), Path::new("/x")) {
            Err(Error::NotARepository { path }) => assert_eq!(path, dir.path()),
            other => return Err(format!("expected NotARepository, got {other:?}").into()),
        }
        Ok(())
    }
}
