//! Writing secrets: owner-only folder (0700) and file (0600), by temp file and rename.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `content` to `path` so that no other user can ever read it, and no
/// reader ever sees a half-written file.
pub(crate) fn write_secret(path: &Path, content: &str) -> Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    create_private_dir(folder)?;
    let io = |source| Error::Io {
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

fn create_private_dir(folder: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: folder.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(io)?;
        // An existing folder is tightened too, as the Python client does.
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(folder).map_err(io)?;
    Ok(())
}
