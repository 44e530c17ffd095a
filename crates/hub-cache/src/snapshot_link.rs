//! Puts a blob into a snapshot: a relative symlink, or a copy (or the blob
//! itself, moved) where links are off.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::staging::staging_path;

/// Makes `pointer` (inside `snapshots/{commit}/`) refer to `blob`, atomically
/// replacing what was there: a relative symlink, as the Python client writes
/// it, or a copy when `copy` is set.
///
/// The link or copy is made beside the blob, under a short staging name, and
/// renamed into the snapshot: a process killed half-way leaves no stray or
/// partial file under `snapshots/`, and a 255-byte file name still fits.
pub(crate) fn link_blob(blob: &Path, pointer: &Path, copy: bool) -> Result<()> {
    let folder = pointer.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let temp = staging_path(blob.parent().unwrap_or(Path::new(".")));
    let made = match copy {
        true => std::fs::copy(blob, &temp)
            .map(drop)
            .map_err(Error::io("copy into", &temp)),
        // The link's text is relative to where it will stand, not to where it is made.
        false => symlink(&relative_target(blob, folder), &temp).map_err(Error::io("link", &temp)),
    };
    if let Err(error) = made {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    std::fs::rename(&temp, pointer).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        Error::Io {
            action: "rename into",
            path: pointer.to_path_buf(),
            source,
        }
    })
}

/// Moves a blob to `pointer`, making it the snapshot's copy (symlinks off).
pub(crate) fn move_blob(blob: &Path, pointer: &Path) -> Result<()> {
    let folder = pointer.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    std::fs::rename(blob, pointer).map_err(Error::io("rename into", pointer))
}

/// The path of `blob` relative to the folder `from`: `../../blobs/{etag}`.
pub(crate) fn relative_target(blob: &Path, from: &Path) -> PathBuf {
    let blob_parts: Vec<_> = blob.components().collect();
    let from_parts: Vec<_> = from.components().collect();
    let common = blob_parts.iter().zip(&from_parts).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from_parts.len() {
        out.push("..");
    }
    for part in &blob_parts[common..] {
        out.push(part);
    }
    out
}

/// A symlink at `link` whose text is `target`.
#[cfg(unix)]
pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// A symlink at `link` whose text is `target`.
#[cfg(windows)]
pub(crate) fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_relative_like_the_python_cache() {
        let blob = Path::new("/c/models--a--b/blobs/e1");
        assert_eq!(
            relative_target(blob, Path::new("/c/models--a--b/snapshots/c0")),
            Path::new("../../blobs/e1")
        );
        assert_eq!(
            relative_target(blob, Path::new("/c/models--a--b/snapshots/c0/x/y")),
            Path::new("../../../../blobs/e1")
        );
    }
}
