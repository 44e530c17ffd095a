//! Files a session writes a xorb to while it is built and sent, so that a xorb is never
//! held in memory: removed once dropped (sent, or the session failed).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::Error;

/// Distinguishes the staged files of one process.
static STAGED_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file in the staging folder, removed when dropped.
#[derive(Debug)]
pub(crate) struct StagedFile {
    path: PathBuf,
}

impl StagedFile {
    /// Creates an empty staged file in `dir` (created if missing), open for writing.
    pub(crate) fn create(dir: &Path, what: &str) -> Result<(Self, File), Error> {
        let path = dir.join(format!(
            ".hub-rs-{what}-{}-{}.tmp",
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
