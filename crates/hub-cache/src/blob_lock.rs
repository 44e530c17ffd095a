//! The per-blob lock shared with the Python client: `.locks/{repo}/{etag}.lock`.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Error, Result};

/// An exclusive lock on one blob, held while it is fetched or linked.
///
/// It is an advisory `flock` on the same file the Python client locks, so
/// Rust and Python processes never fetch the same blob at once. Dropping the
/// value releases it; the lock file itself stays, as with the Python client.
#[derive(Debug)]
pub(crate) struct BlobLock {
    file: File,
}

impl BlobLock {
    /// Waits until the lock at `path` is free, then takes it.
    pub(crate) fn acquire(path: &Path) -> Result<BlobLock> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io("open the lock", path))?;
        file.lock().map_err(Error::io("lock", path))?;
        Ok(BlobLock { file })
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first makes it prompt.
        let _ = self.file.unlock();
    }
}
