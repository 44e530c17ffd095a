//! Files a session writes a xorb to while it is built and sent, so that a xorb is never
//! held in memory: removed once dropped (sent, or the session failed), or by a later
//! session once a day old (a killed process's).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use crate::Error;

/// Distinguishes the staged files of one process.
static STAGED_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The start of a staged file's name.
const PREFIX: &str = ".hub-rs-";
/// Staged files older than this are a killed process's.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes the staged files in `dir` a day old or more; what cannot be removed stays.
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    for entry in listing.filter_map(Result::ok) {
        let stale = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|age| age >= STALE_AFTER));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A temporary file in the staging folder, removed when dropped.
#[derive(Debug)]
pub(crate) struct StagedFile {
    path: PathBuf,
}

impl StagedFile {
    /// Creates an empty staged file in `dir` (created if missing), open for writing.
    pub(crate) fn create(dir: &Path, what: &str) -> Result<(Self, File), Error> {
        let path = dir.join(format!(
            "{PREFIX}{what}-{}-{}.tmp",
            std::process::id(),
            STAGED_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let io_error = |source| Error::Io {
            action: "create a staged xorb file",
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_error)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error)?;
        Ok((Self { path }, file))
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Counts the bytes of the buffers a session holds, and the most it held at once.
#[derive(Debug, Default)]
pub(crate) struct Held {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Held {
    /// `bytes` more are held.
    pub(crate) fn hold(&self, bytes: usize) {
        let now = self.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// `bytes` are let go.
    pub(crate) fn release(&self, bytes: usize) {
        self.now.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// A buffer counted as `counted` bytes now takes `bytes`: counts the difference.
    pub(crate) fn resize(&self, counted: &mut usize, bytes: usize) {
        if bytes > *counted {
            self.hold(bytes - *counted);
        } else {
            self.release(*counted - bytes);
        }
        *counted = bytes;
    }

    /// The most bytes held at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_staged_files_a_day_old_are_removed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        let (fresh, _) = StagedFile::create(dir.path(), "xorb")?;
        let (stale, file) = StagedFile::create(dir.path(), "xorb")?;
        file.set_modified(old)?;
        let other = dir.path().join("someone-elses.tmp");
        File::create(&other)?.set_modified(old)?;
        let stale_path = stale.path().to_path_buf();
        std::mem::forget(stale);
        remove_stale(dir.path());
        assert!(fresh.path().exists());
        assert!(!stale_path.exists());
        assert!(other.exists());
        drop(fresh);
        assert_eq!(fs::read_dir(dir.path())?.count(), 1);
        Ok(())
    }
}
