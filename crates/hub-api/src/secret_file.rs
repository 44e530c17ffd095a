//! Writing secrets: owner-only file (0600) in a folder created owner-only
//! (0700) when missing, by temp file and rename.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `content` to `path` so that no other user can ever read it, and no
/// reader ever sees a half-written file.
pub(crate) fn write_secret(path: &Path, content: &str) -> Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    create_private_dir(folder)?;
    let io = |source| Error::Write {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut temp = builder.tempfile_in(folder).map_err(io)?;
    temp.write_all(content.as_bytes()).map_err(io)?;
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Creates `folder` and its missing parents as 0700. A folder that exists keeps
/// its mode: `HF_HOME` may be shared on purpose (a group's 2775 cache), and the
/// secret itself is protected by its file's 0600.
fn create_private_dir(folder: &Path) -> Result<()> {
    let io = |source| Error::Write {
        action: "create",
        path: folder.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // `mkdir` applies the mode to the folders it makes and to no other.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(io)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(folder).map_err(io)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The permission bits in octal, so that a failed comparison reads as a mode.
    fn mode(path: &Path) -> std::io::Result<String> {
        Ok(format!("{:o}", std::fs::metadata(path)?.permissions().mode() & 0o7777))
    }

    #[test]
    fn an_existing_folder_keeps_its_mode() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let shared = dir.path().join("shared-home");
        std::fs::create_dir(&shared)?;
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o2775))?;
        write_secret(&shared.join("token"), "hf_x")?;
        write_secret(&shared.join("stored_tokens"), "[x]\nhf_token = hf_x\n")?;
        assert_eq!(mode(&shared)?, "2775");
        assert_eq!(mode(&shared.join("token"))?, "600");
        assert_eq!(mode(&shared.join("stored_tokens"))?, "600");
        Ok(())
    }

    #[test]
    fn folders_it_creates_are_owner_only() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let token = dir.path().join("a/b/token");
        write_secret(&token, "hf_x")?;
        assert_eq!(mode(&dir.path().join("a"))?, "700");
        assert_eq!(mode(&dir.path().join("a/b"))?, "700");
        assert_eq!(mode(&token)?, "600");
        assert_eq!(mode(dir.path())?, "755", "the folder that was there is left alone");
        Ok(())
    }

    #[test]
    fn a_secret_replaced_stays_owner_only() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let token = dir.path().join("token");
        std::fs::write(&token, "old")?;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644))?;
        write_secret(&token, "hf_new")?;
        assert_eq!(std::fs::read_to_string(&token)?, "hf_new");
        assert_eq!(mode(&token)?, "600");
        Ok(())
    }
}
