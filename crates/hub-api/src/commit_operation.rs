//! What a commit does: add, delete or copy files.

use std::io::Read;
use std::path::PathBuf;

use hub_url::Revision;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
#[cfg(test)]
use crate::read_ahead::READ_AHEAD_FROM;
use crate::read_ahead::each_piece;

/// The bytes of a file to add.
#[derive(Clone, PartialEq, Eq)]
pub enum AddSource {
    /// A file on disk, read when it is hashed and again when it is sent.
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for AddSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddSource::File(path) => write!(f, "File({})", path.display()),
            AddSource::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
        }
    }
}

/// One change of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitOperation {
    /// Add or replace a file.
    Add {
        /// Where in the repo.
        path_in_repo: String,
        /// Its content.
        source: AddSource,
    },
    /// Delete a file.
    Delete {
        /// The file in the repo.
        path_in_repo: String,
    },
    /// Delete a folder and everything below it.
    DeleteFolder {
        /// The folder in the repo.
        path_in_repo: String,
    },
    /// Copy a file of the repo (LFS files are copied without moving their bytes).
    Copy {
        /// The file to copy.
        src_path_in_repo: String,
        /// Where the copy goes.
        path_in_repo: String,
        /// The revision to copy from (default: the commit's revision).
        src_revision: Option<Revision>,
    },
}

impl CommitOperation {
    /// Adds a file from disk.
    pub fn add_file(path_in_repo: &str, local_path: impl Into<PathBuf>) -> Self {
        CommitOperation::Add {
            path_in_repo: path_in_repo.to_string(),
            source: AddSource::File(local_path.into()),
        }
    }

    /// Adds a file from bytes.
    pub fn add_bytes(path_in_repo: &str, bytes: impl Into<Vec<u8>>) -> Self {
        CommitOperation::Add {
            path_in_repo: path_in_repo.to_string(),
            source: AddSource::Bytes(bytes.into()),
        }
    }

    /// Deletes a file.
    pub fn delete(path_in_repo: &str) -> Self {
        CommitOperation::Delete {
            path_in_repo: path_in_repo.to_string(),
        }
    }

    /// The path in the repo it writes or removes.
    pub fn path_in_repo(&self) -> &str {
        match self {
            CommitOperation::Add { path_in_repo, .. }
            | CommitOperation::Delete { path_in_repo }
            | CommitOperation::DeleteFolder { path_in_repo }
            | CommitOperation::Copy { path_in_repo, .. } => path_in_repo,
        }
    }
}

/// The folders no commit may write into.
const FORBIDDEN_FOLDERS: [&str; 2] = [".git", ".cache"];

/// Normalizes a path in the repo as the Python client does, or says why it is refused.
pub(crate) fn validate_path_in_repo(path: &str) -> Result<String> {
    let invalid = |why: &str| Error::InvalidPathInRepo {
        path: path.to_string(),
        reason: why.to_string(),
    };
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    if trimmed.is_empty() || trimmed == "." || trimmed.split('/').any(|p| p == "..") {
        return Err(invalid("it must name a file inside the repo, without `..`"));
    }
    if let Some(folder) = FORBIDDEN_FOLDERS.iter().find(|f| trimmed.split('/').any(|p| p == **f)) {
        return Err(invalid(&format!(
            "files under a `{folder}/` folder cannot be committed"
        )));
    }
    Ok(trimmed.to_string())
}

/// What the Hub needs to know of a file before it is uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadInfo {
    pub(crate) size: u64,
    pub(crate) sha256: String,
    /// The first 512 bytes, from which the Hub guesses text or binary.
    pub(crate) sample: Vec<u8>,
}

const SAMPLE_SIZE: usize = 512;

impl AddSource {
    /// Reads the content once: size, sha256 and sample.
    pub(crate) fn upload_info(&self) -> Result<UploadInfo> {
        match self {
            AddSource::Bytes(bytes) => Ok(UploadInfo {
                size: bytes.len() as u64,
                sha256: hex(&Sha256::digest(bytes)),
                sample: bytes[..bytes.len().min(SAMPLE_SIZE)].to_vec(),
            }),
            AddSource::File(path) => {
                let io = |source| Error::Io {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(path).map_err(io)?;
                let mut hasher = Sha256::new();
                let mut sample = Vec::new();
                let size = each_piece(file, |piece| {
                    if sample.len() < SAMPLE_SIZE {
                        let wanted = (SAMPLE_SIZE - sample.len()).min(piece.len());
                        sample.extend_from_slice(&piece[..wanted]);
                    }
                    hasher.update(piece);
                })
                .map_err(io)?;
                Ok(UploadInfo {
                    size,
                    sha256: hex(&hasher.finalize()),
                    sample,
                })
            }
        }
    }

    /// The size and the first 512 bytes (the preupload's sample), without reading more.
    pub(crate) fn sample(&self) -> Result<(u64, Vec<u8>)> {
        match self {
            AddSource::Bytes(bytes) => Ok((bytes.len() as u64, bytes[..bytes.len().min(SAMPLE_SIZE)].to_vec())),
            AddSource::File(path) => {
                let io = |source| Error::Io {
                    path: path.clone(),
                    source,
                };
                let file = std::fs::File::open(path).map_err(io)?;
                let size = file.metadata().map_err(io)?.len();
                let mut sample = Vec::with_capacity(SAMPLE_SIZE);
                file.take(SAMPLE_SIZE as u64).read_to_end(&mut sample).map_err(io)?;
                Ok((size, sample))
            }
        }
    }

    /// The whole content, for files sent inline in the commit.
    pub(crate) fn read_all(&self) -> Result<Vec<u8>> {
        match self {
            AddSource::Bytes(bytes) => Ok(bytes.clone()),
            AddSource::File(path) => std::fs::read(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            }),
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_or_refused() {
        assert_eq!(validate_path_in_repo("/a/b.txt").ok().as_deref(), Some("a/b.txt"));
        assert_eq!(validate_path_in_repo("./a.txt").ok().as_deref(), Some("a.txt"));
        for bad in ["", ".", "a/../b", "..", ".git/config", "x/.cache/y"] {
            assert!(validate_path_in_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn upload_info_of_bytes_and_files_agree() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Write {
            action: "create",
            path: "tmp".into(),
            source: e,
        })?;
        // A small file, read inline, and a large one, read ahead on a second thread.
        for size in [2000, READ_AHEAD_FROM as usize + 777] {
            let content: Vec<u8> = (0..size as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
                .collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &content).map_err(|e| Error::Write {
                action: "write",
                path: path.clone(),
                source: e,
            })?;
            let a = AddSource::Bytes(content.clone()).upload_info()?;
            let b = AddSource::File(path).upload_info()?;
            assert_eq!(a, b);
            assert_eq!(a.sample, content[..512]);
            assert_eq!(a.size, size as u64);
        }
        Ok(())
    }
}
