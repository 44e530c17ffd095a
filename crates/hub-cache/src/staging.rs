//! Names for files being made: short and unique whatever the final name
//! (a legal 255-byte file name leaves no room for a prefix or suffix), and
//! ending in `.incomplete`, so that a file left by a killed process is what
//! the Python client's cache scan reports as an interrupted download.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh name in `folder` for a file that will be renamed into place.
pub(crate) fn staging_path(folder: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    folder.join(format!(
        ".staging-{}-{}.incomplete",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_short_and_unique() {
        let a = staging_path(Path::new("/c"));
        let b = staging_path(Path::new("/c"));
        assert_ne!(a, b);
        let name = a.file_name().map(|n| n.len()).unwrap_or(usize::MAX);
        assert!(name < 64, "{a:?}");
        assert!(a.to_string_lossy().ends_with(".incomplete"));
    }
}
