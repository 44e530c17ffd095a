//! Writing commits with git plumbing: blobs with `hash-object`, a temporary index with
//! `update-index --index-info`, then `write-tree`, `commit-tree` and a compare-and-swap
//! `update-ref`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::clock;
use super::git::{COMMITTER_EMAIL, COMMITTER_NAME, Git, ZERO_OID};
use super::gitattributes::LfsPatterns;
use super::lfs_store::{LfsPointer, LfsStore};
use super::repo_id::is_valid_repo_path;
use super::snapshot::{Snapshot, SnapshotCache};
use super::xet::XetCas;
use crate::EmulatorError;

/// The bytes of a file to commit.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// In memory.
    Bytes(Vec<u8>),
    /// A file on disk, streamed (never read whole into memory when stored with LFS).
    File(PathBuf),
}

impl Content {
    fn len(&self) -> Result<u64, EmulatorError> {
        match self {
            Content::Bytes(b) => Ok(b.len() as u64),
            Content::File(path) => fs::metadata(path)
                .map(|m| m.len())
                .map_err(|e| EmulatorError::io(path, e)),
        }
    }
}

/// One change of a commit.
#[derive(Debug, Clone)]
pub(crate) enum CommitOp {
    /// A file stored with LFS when larger than the threshold or matched by the root
    /// `.gitattributes`, as a regular blob otherwise.
    Auto {
        /// Path in the repo.
        path: String,
        /// The content.
        content: Content,
    },
    /// A file stored as a regular git blob.
    Regular {
        /// Path in the repo.
        path: String,
        /// The content.
        content: Content,
    },
    /// A pointer to an object already in the LFS store (the commit API's `lfsFile`).
    Lfs {
        /// Path in the repo.
        path: String,
        /// The object's sha256.
        oid: String,
        /// The size the client declares, checked against the store when given.
        size: Option<u64>,
    },
    /// Removes a file, or every file under a folder.
    Delete {
        /// Path in the repo.
        path: String,
    },
    /// Removes a file; a folder or a missing path is an error.
    DeleteFile {
        /// Path in the repo.
        path: String,
    },
}

impl CommitOp {
    fn path(&self) -> &str {
        match self {
            CommitOp::Auto { path, .. }
            | CommitOp::Regular { path, .. }
            | CommitOp::Lfs { path, .. }
            | CommitOp::Delete { path }
            | CommitOp::DeleteFile { path } => path,
        }
    }
}

/// What to commit where.
#[derive(Debug, Clone)]
pub(crate) struct CommitSpec {
    /// The full ref to advance, like `refs/heads/main` or `refs/pr/1`.
    pub(crate) reference: String,
    /// When set, the ref must point at this commit (the Hub's `parentCommit`).
    pub(crate) expected_parent: Option<String>,
    /// When the ref does not exist yet, the commit it starts from (`None`: a root commit).
    pub(crate) start_from: Option<String>,
    /// The commit message.
    pub(crate) message: String,
    /// The author's name and e-mail; the emulator's identity when `None`.
    pub(crate) author: Option<(String, String)>,
    /// The changes, applied in order.
    pub(crate) ops: Vec<CommitOp>,
}

/// Where a commit is written and the settings it depends on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommitTarget<'a> {
    /// The repo id, for errors.
    pub(crate) repo_id: &'a str,
    /// The bare repository.
    pub(crate) git_dir: &'a Path,
    /// Where LFS content goes.
    pub(crate) lfs: &'a LfsStore,
    /// Xet storage, whose registered files an `lfsFile` may also name by sha256.
    pub(crate) xet: Option<&'a XetCas>,
    /// Snapshots of existing commits.
    pub(crate) snapshots: &'a SnapshotCache,
    /// Files larger than this are stored with LFS by [`CommitOp::Auto`].
    pub(crate) lfs_threshold: u64,
}

static WORK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A scratch folder inside the repository, removed when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes the commit and moves the ref to it; returns the new commit sha.
/// The caller holds the repo's write lock.
pub(crate) fn write_commit(target: CommitTarget<'_>, spec: &CommitSpec) -> Result<String, EmulatorError> {
    let git = Git::new(target.git_dir);
    for op in &spec.ops {
        if !is_valid_repo_path(op.path()) {
            return Err(EmulatorError::InvalidPath {
                repo_id: target.repo_id.to_string(),
                path: op.path().to_string(),
            });
        }
    }
    let old = git.rev_parse_commit(&spec.reference)?;
    if let Some(expected) = &spec.expected_parent
        && old.as_deref() != Some(expected.as_str())
    {
        return Err(EmulatorError::Conflict {
            repo_id: target.repo_id.to_string(),
            reference: spec.reference.clone(),
            expected: expected.clone(),
        });
    }
    let base = old.clone().or_else(|| spec.start_from.clone());
    let base_snapshot = match &base {
        Some(commit) => Some(target.snapshots.get(target.git_dir, commit)?),
        None => None,
    };

    let n = WORK_COUNTER.fetch_add(1, Ordering::Relaxed);
    let work = WorkDir(
        target
            .git_dir
            .join(format!("emulator-commit-{}-{n}", std::process::id())),
    );
    fs::create_dir_all(&work.0).map_err(|e| EmulatorError::io(&work.0, e))?;
    let index = work.0.join("index");
    let staged = git.with_index(&index);
    if let Some(commit) = &base {
        staged.run(&["read-tree", commit.as_str()], None)?;
    }

    let patterns = if spec.ops.iter().any(|op| matches!(op, CommitOp::Auto { .. })) {
        lfs_patterns(git, &spec.ops, base_snapshot.as_deref())?
    } else {
        LfsPatterns::default()
    };

    let mut index_info = Vec::new();
    let mut blobs: Vec<(&str, PathBuf)> = Vec::new();
    for (i, op) in spec.ops.iter().enumerate() {
        let scratch = work.0.join(format!("blob-{i}"));
        match op {
            CommitOp::Delete { path } => {
                let removed = deleted_files(base_snapshot.as_deref(), path);
                if removed.is_empty() {
                    return Err(EmulatorError::EntryNotFound {
                        repo_id: target.repo_id.to_string(),
                        path: path.clone(),
                    });
                }
                for file in removed {
                    index_info.extend_from_slice(format!("0 {ZERO_OID}\t{file}\0").as_bytes());
                }
            }
            CommitOp::DeleteFile { path } => {
                if !base_snapshot
                    .as_deref()
                    .and_then(|s| s.get(path))
                    .is_some_and(|e| e.is_file())
                {
                    return Err(EmulatorError::EntryNotFound {
                        repo_id: target.repo_id.to_string(),
                        path: path.clone(),
                    });
                }
                index_info.extend_from_slice(format!("0 {ZERO_OID}\t{path}\0").as_bytes());
            }
            CommitOp::Regular { path, content } => {
                blobs.push((path, blob_source(content, scratch)?));
            }
            CommitOp::Lfs { path, oid, size } => {
                // Content uploaded by LFS, or registered with the CAS by a Xet upload.
                let stored = target
                    .lfs
                    .object_size(oid)
                    .or_else(|| target.xet.and_then(|xet| xet.file_by_sha256(oid)).map(|(_, size)| size))
                    .ok_or_else(|| EmulatorError::LfsObjectNotFound {
                        repo_id: target.repo_id.to_string(),
                        path: path.clone(),
                        oid: oid.clone(),
                    })?;
                if let Some(declared) = size.filter(|declared| *declared != stored) {
                    return Err(EmulatorError::LfsSizeMismatch {
                        path: path.clone(),
                        oid: oid.clone(),
                        declared,
                        stored,
                    });
                }
                let pointer = LfsPointer {
                    oid: oid.clone(),
                    size: stored,
                };
                write_scratch(&scratch, pointer.text().as_bytes())?;
                blobs.push((path, scratch));
            }
            CommitOp::Auto { path, content } => {
                let size = content.len()?;
                if size > target.lfs_threshold || patterns.matches(path) {
                    let pointer = match content {
                        Content::Bytes(bytes) => target.lfs.store_bytes(bytes)?,
                        Content::File(source) => target.lfs.store_file(source)?,
                    };
                    write_scratch(&scratch, pointer.text().as_bytes())?;
                    blobs.push((path, scratch));
                } else {
                    blobs.push((path, blob_source(content, scratch)?));
                }
            }
        }
    }

    if !blobs.is_empty() {
        let mut paths = String::new();
        for (_, source) in &blobs {
            let source = source.to_str().filter(|s| !s.contains('\n')).ok_or_else(|| {
                EmulatorError::io(source, std::io::Error::other("path not usable by git hash-object"))
            })?;
            paths.push_str(source);
            paths.push('\n');
        }
        let out = git.run(
            &["hash-object", "-w", "--no-filters", "--stdin-paths"],
            Some(paths.as_bytes()),
        )?;
        let shas: Vec<&str> = std::str::from_utf8(&out)
            .map_err(|_| git.bad_output("hash-object"))?
            .lines()
            .collect();
        if shas.len() != blobs.len() {
            return Err(git.bad_output("hash-object"));
        }
        for ((path, _), sha) in blobs.iter().zip(shas) {
            index_info.extend_from_slice(format!("100644 {sha}\t{path}\0").as_bytes());
        }
    }
    if !index_info.is_empty() {
        staged.run(
            &["update-index", "--add", "--replace", "-z", "--index-info"],
            Some(&index_info),
        )?;
    }
    let tree_out = staged.run(&["write-tree"], None)?;
    let tree = String::from_utf8_lossy(&tree_out).trim().to_string();

    let secs = (clock::now_millis() / 1000).to_string();
    let date = format!("{secs} +0000");
    let (author_name, author_email) = spec
        .author
        .clone()
        .unwrap_or_else(|| (COMMITTER_NAME.to_string(), COMMITTER_EMAIL.to_string()));
    let env = [
        ("GIT_AUTHOR_NAME", author_name.as_str()),
        ("GIT_AUTHOR_EMAIL", author_email.as_str()),
        ("GIT_AUTHOR_DATE", date.as_str()),
        ("GIT_COMMITTER_NAME", COMMITTER_NAME),
        ("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    let mut args = vec!["commit-tree", tree.as_str()];
    if let Some(parent) = &base {
        args.extend(["-p", parent.as_str()]);
    }
    args.extend(["-F", "-"]);
    let mut message = spec.message.clone();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let commit_out = git.run_with_env(&args, Some(message.as_bytes()), &env)?;
    let commit = String::from_utf8_lossy(&commit_out).trim().to_string();
    if commit.len() != 40 {
        return Err(git.bad_output("commit-tree"));
    }

    let old_value = old.as_deref().unwrap_or(ZERO_OID);
    let update = git.output(
        &["update-ref", spec.reference.as_str(), commit.as_str(), old_value],
        None,
        &[],
    )?;
    if !update.status.success() {
        // Someone else (a push) moved the ref since it was read.
        return Err(EmulatorError::Conflict {
            repo_id: target.repo_id.to_string(),
            reference: spec.reference.clone(),
            expected: old_value.to_string(),
        });
    }
    Ok(commit)
}

/// The patterns of the `.gitattributes` the commit will have: the one it writes, else the base's.
fn lfs_patterns(git: Git<'_>, ops: &[CommitOp], base: Option<&Snapshot>) -> Result<LfsPatterns, EmulatorError> {
    let written = ops.iter().rev().find_map(|op| match op {
        CommitOp::Auto {
            path,
            content: Content::Bytes(b),
        }
        | CommitOp::Regular {
            path,
            content: Content::Bytes(b),
        } if path == ".gitattributes" => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    });
    if let Some(text) = written {
        return Ok(LfsPatterns::parse(&text));
    }
    match base
        .and_then(|s| s.get(".gitattributes"))
        .filter(|e| e.is_file() && e.lfs().is_none())
    {
        Some(entry) => Ok(LfsPatterns::parse(&String::from_utf8_lossy(
            &git.read_blob(&entry.oid)?,
        ))),
        None => Ok(LfsPatterns::default()),
    }
}

/// The files a delete of `path` removes: the file itself, or everything under the folder.
fn deleted_files(base: Option<&Snapshot>, path: &str) -> Vec<String> {
    let Some(base) = base else { return Vec::new() };
    let prefix = format!("{path}/");
    base.files()
        .filter(|e| e.path == path || e.path.starts_with(&prefix))
        .map(|e| e.path.clone())
        .collect()
}

fn blob_source(content: &Content, scratch: PathBuf) -> Result<PathBuf, EmulatorError> {
    match content {
        Content::Bytes(bytes) => {
            write_scratch(&scratch, bytes)?;
            Ok(scratch)
        }
        // Absolute, so the path means the same whatever folder git runs in.
        Content::File(path) => std::path::absolute(path).map_err(|e| EmulatorError::io(path, e)),
    }
}

fn write_scratch(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
    fs::write(path, bytes).map_err(|e| EmulatorError::io(path, e))
}
