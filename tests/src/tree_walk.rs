//! What a test left on disk: every file under a folder, for checks that
//! nothing was written where it must not be.

use std::path::{Path, PathBuf};

/// Every file and symlink under `dir`, at any depth; symlinks to folders are
/// listed, not followed. A folder that cannot be read counts as empty.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => folders.push(path),
                _ => out.push(path),
            }
        }
    }
    out
}
