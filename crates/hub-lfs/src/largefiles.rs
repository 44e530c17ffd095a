//! `lfs-enable-largefiles`: the git config that makes git-lfs hand objects the
//! Hub wants in parts (over 5 GB) to this crate's agent.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use hub_repo::{OpenOptions, Repository};

use crate::error::Result;

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
///
/// ```no_run
/// use std::path::Path;
///
/// # fn main() -> Result<(), hub_lfs::Error> {
/// let top = hub_lfs::enable_largefiles(Path::new("my-model"), Path::new("/usr/local/bin/huggingface-cli"))?;
/// # Ok(())
/// # }
/// ```
pub fn enable_largefiles(dir: &Path, program: &Path) -> Result<PathBuf> {
    let repo = Repository::open(dir, &OpenOptions::default())?;
    let key = |name: &str| format!("lfs.customtransfer.{TRANSFER_NAME}.{name}");
    repo.git_config(&key("path"), program)?;
    repo.git_config(&key("args"), AGENT_SUBCOMMAND)?;
    // The Hub only asks for multipart on uploads.
    repo.git_config(&key("direction"), OsStr::new("upload"))?;
    Ok(repo.local_dir().to_path_buf())
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
        let err = enable_largefiles(dir.path(), Path::new("/x")).expect_err("not a clone");
        let Error::Repo { source } = &err else {
            return Err(format!("expected a repo error, got {err:?}").into());
        };
        match source.downcast_ref::<hub_repo::Error>() {
            Some(hub_repo::Error::NotARepository { dir: path }) => assert_eq!(path, dir.path()),
            other => return Err(format!("expected NotARepository, got {other:?}").into()),
        }
        Ok(())
    }
}
