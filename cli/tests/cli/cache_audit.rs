//! Checks a cache against the Hub it was filled from: every ref names a whole
//! commit with a snapshot folder, every snapshot entry links to the whole,
//! verified blob of that file at that commit, every blob's bytes match its
//! name; and what the Python client's `scan_cache_dir()` says of the cache.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use hub_url::RepoType;
use sha2::{Digest, Sha256};

use crate::support::{BoxError, Env, RemoteFile, names_in};

/// What [`audit`] found.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    /// Everything that is not as it must be, one sentence each.
    pub(crate) problems: Vec<String>,
    /// Snapshot entries checked.
    pub(crate) entries: usize,
    /// Whole blobs checked.
    pub(crate) blobs: usize,
    /// `blobs/*.incomplete` files (and their `.parts` records): allowed, the
    /// next download resumes them.
    pub(crate) partial_blobs: usize,
}

impl Audit {
    /// Fails with every problem found, if any.
    pub(crate) fn assert_clean(&self, when: &str) -> Result<(), BoxError> {
        if self.problems.is_empty() {
            return Ok(());
        }
        Err(format!("{when}: the cache is damaged:\n  {}", self.problems.join("\n  ")).into())
    }
}

/// Audits caches filled from the emulator of one [`Env`], remembering what
/// never changes between audits: the file lists of commits, and blobs already
/// verified (by name, size and modification time).
pub(crate) struct Auditor<'a> {
    e: &'a Env,
    trees: BTreeMap<(String, String), BTreeMap<String, RemoteFile>>,
    verified: BTreeMap<PathBuf, (u64, SystemTime)>,
}

impl<'a> Auditor<'a> {
    pub(crate) fn new(e: &'a Env) -> Auditor<'a> {
        Auditor {
            e,
            trees: BTreeMap::new(),
            verified: BTreeMap::new(),
        }
    }

    /// Checks every repo folder of `cache`.
    pub(crate) fn audit(&mut self, cache: &Path) -> Result<Audit, BoxError> {
        let mut audit = Audit::default();
        for name in names_in(cache) {
            let Some((repo_type, repo)) = repo_of_folder(&name) else {
                continue;
            };
            let folder = cache.join(&name);
            audit_refs(&folder, &mut audit)?;
            self.audit_snapshots(&folder, repo_type, &repo, &mut audit)?;
            self.audit_blobs(&folder, &mut audit)?;
        }
        Ok(audit)
    }

    /// The file at `path` of `repo` at `commit`, as the emulator lists it.
    fn remote_file(
        &mut self,
        repo_type: RepoType,
        repo: &str,
        commit: &str,
        path: &str,
    ) -> Result<Option<RemoteFile>, BoxError> {
        let key = (repo.to_string(), commit.to_string());
        if !self.trees.contains_key(&key) {
            let tree = self.e.remote_files(repo_type, repo, commit)?;
            self.trees.insert(key.clone(), tree);
        }
        Ok(self.trees.get(&key).and_then(|t| t.get(path)).cloned())
    }

    fn audit_snapshots(
        &mut self,
        folder: &Path,
        repo_type: RepoType,
        repo: &str,
        audit: &mut Audit,
    ) -> Result<(), BoxError> {
        let snapshots = folder.join("snapshots");
        for commit in names_in(&snapshots) {
            let dir = snapshots.join(&commit);
            if !is_hex(&commit, 40) || !dir.is_dir() {
                audit
                    .problems
                    .push(format!("{} is not a commit's snapshot folder", dir.display()));
                continue;
            }
            for relative in files_below(&dir)? {
                audit.entries += 1;
                let path = dir.join(&relative);
                let repo_path = relative.to_string_lossy().into_owned();
                match self.remote_file(repo_type, repo, &commit, &repo_path)? {
                    Some(expected) => check_entry(folder, &path, &expected, audit),
                    None => audit.problems.push(format!(
                        "{} is no file of the repo at {commit} (a temporary file?)",
                        path.display()
                    )),
                }
            }
        }
        Ok(())
    }

    fn audit_blobs(&mut self, folder: &Path, audit: &mut Audit) -> Result<(), BoxError> {
        let blobs = folder.join("blobs");
        for name in names_in(&blobs) {
            let path = blobs.join(&name);
            // The partial file and its record of finished ranges.
            if name.ends_with(".incomplete") || name.ends_with(".incomplete.parts") {
                audit.partial_blobs += 1;
                continue;
            }
            audit.blobs += 1;
            let meta = std::fs::metadata(&path)?;
            let stamp = (meta.len(), meta.modified()?);
            if self.verified.get(&path) == Some(&stamp) {
                continue;
            }
            let actual = if is_hex(&name, 64) {
                sha256_hex(&std::fs::read(&path)?)
            } else if is_hex(&name, 40) {
                git_blob_id(&path)?
            } else {
                audit
                    .problems
                    .push(format!("{} is no blob name (a temporary file?)", path.display()));
                continue;
            };
            if actual == name {
                self.verified.insert(path, stamp);
            } else {
                audit
                    .problems
                    .push(format!("{} holds bytes whose hash is {actual}", path.display()));
            }
        }
        Ok(())
    }
}

/// A snapshot entry is a relative link to `blobs/{etag}` of its file, and
/// that blob is there with the file's size (its hash is checked with the blobs).
fn check_entry(folder: &Path, path: &Path, expected: &RemoteFile, audit: &mut Audit) {
    let Ok(target) = std::fs::read_link(path) else {
        audit
            .problems
            .push(format!("{} is not a link to a blob", path.display()));
        return;
    };
    let blob_name = target.file_name().map(|n| n.to_string_lossy().into_owned());
    let in_blobs = target.components().rev().nth(1) == Some(Component::Normal("blobs".as_ref()));
    if target.is_absolute() || !in_blobs || blob_name.as_deref() != Some(expected.etag.as_str()) {
        audit.problems.push(format!(
            "{} links to {}, not to ../…/blobs/{}",
            path.display(),
            target.display(),
            expected.etag
        ));
        return;
    }
    let blob = folder.join("blobs").join(&expected.etag);
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == expected.size && meta.is_file() => {}
        Ok(meta) => audit.problems.push(format!(
            "{} leads to {} bytes, not the file's {}",
            path.display(),
            meta.len(),
            expected.size
        )),
        Err(err) => audit.problems.push(format!(
            "{} leads to {}, which cannot be read: {err}",
            path.display(),
            blob.display()
        )),
    }
}

/// `models--alice--x` → (model, `alice/x`).
fn repo_of_folder(name: &str) -> Option<(RepoType, String)> {
    let (kind, rest) = name.split_once("--")?;
    let repo_type = match kind {
        "models" => RepoType::Model,
        "datasets" => RepoType::Dataset,
        "spaces" => RepoType::Space,
        _ => return None,
    };
    Some((repo_type, rest.replace("--", "/")))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Every file below `dir` (following no links), by path relative to it.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>, BoxError> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if std::fs::symlink_metadata(&path)?.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn audit_refs(folder: &Path, audit: &mut Audit) -> Result<(), BoxError> {
    let refs = folder.join("refs");
    for name in files_below(&refs)? {
        let path = refs.join(&name);
        let content = std::fs::read(&path)?;
        let text = String::from_utf8_lossy(&content);
        if !is_hex(&text, 40) {
            audit
                .problems
                .push(format!("{} holds {text:?}, not a 40-hex commit", path.display()));
        } else if !folder.join("snapshots").join(&*text).is_dir() {
            // The Python client's scan calls this a corrupted cache.
            audit
                .problems
                .push(format!("{} names {text}, which has no snapshot folder", path.display()));
        }
    }
    Ok(())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The git blob id (sha1 of `blob {len}\0` and the bytes) of a file.
fn git_blob_id(path: &Path) -> Result<String, BoxError> {
    let out = Command::new("git")
        .arg("hash-object")
        .arg("--no-filters")
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err(format!("git hash-object failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// What the Python client's `scan_cache_dir()` reports of `e`'s cache as wrong:
/// its warnings, or the exception it raised.
pub(crate) fn python_scan_problems(e: &Env) -> Result<Vec<String>, BoxError> {
    let results = e.python(&[serde_json::json!({"op": "scan_cache_dir"})], &[])?;
    let scan = results.first().ok_or("no result from scan_cache_dir")?;
    if let Some(error) = scan.get("error") {
        return Ok(vec![format!("scan_cache_dir raised {error}: {}", scan["message"])]);
    }
    Ok(scan["warnings"]
        .as_array()
        .map(|w| w.iter().map(|w| w.to_string()).collect())
        .unwrap_or_default())
}
