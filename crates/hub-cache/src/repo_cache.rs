//! Where a repo's blobs, refs and snapshots live in the cache, as the Python client lays them out.

use std::path::{Component, Path, PathBuf};

use hub_url::{RepoId, RepoType};

use crate::error::{Error, Result};

/// One repo's folder in the cache: `{cache}/models--org--name/{blobs,refs,snapshots,.no_exist}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCache {
    cache_dir: PathBuf,
    folder_name: String,
}

impl RepoCache {
    /// The cache entry of a repo under `cache_dir`.
    pub fn new(cache_dir: &Path, repo_type: RepoType, repo_id: &RepoId) -> Self {
        RepoCache {
            cache_dir: cache_dir.to_path_buf(),
            folder_name: repo_id.cache_folder_name(repo_type),
        }
    }

    /// The cache root.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// `{cache}/models--org--name`.
    pub fn root(&self) -> PathBuf {
        self.cache_dir.join(&self.folder_name)
    }

    /// `blobs/{etag}`; the etag must be a blob id.
    pub fn blob_path(&self, etag: &str) -> Result<PathBuf> {
        Ok(self.root().join("blobs").join(checked_blob(etag)?))
    }

    /// `refs/{revision}` (`refs/pr/1` nests).
    pub fn ref_path(&self, revision: &str) -> PathBuf {
        self.root().join("refs").join(revision)
    }

    /// `snapshots/{commit}/{path}`; the commit must be a commit id.
    pub fn snapshot_path(&self, commit: &str, path: &str) -> Result<PathBuf> {
        Ok(self.snapshot_dir(commit)?.join(safe_relative_path(path)?))
    }

    /// `snapshots/{commit}`; the commit must be a commit id.
    pub fn snapshot_dir(&self, commit: &str) -> Result<PathBuf> {
        Ok(self.root().join("snapshots").join(checked_commit(commit)?))
    }

    /// `.no_exist/{commit}/{path}`: the marker of a file known to be absent.
    pub fn no_exist_path(&self, commit: &str, path: &str) -> Result<PathBuf> {
        Ok(self
            .root()
            .join(".no_exist")
            .join(checked_commit(commit)?)
            .join(safe_relative_path(path)?))
    }

    /// `{cache}/.locks/models--org--name/{etag}.lock`; the etag must be a blob id.
    pub fn lock_path(&self, etag: &str) -> Result<PathBuf> {
        Ok(self
            .cache_dir
            .join(".locks")
            .join(&self.folder_name)
            .join(format!("{}.lock", checked_blob(etag)?)))
    }

    /// The commit a ref points to, if the cache knows it (a ref holding
    /// anything but a commit id is not trusted).
    pub fn read_ref(&self, revision: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim();
        hub_url::is_commit_id(commit).then(|| commit.to_string())
    }

    /// The folder where files of this repo are made before being renamed into
    /// `refs/` or `snapshots/`: beside them on the same file system, yet
    /// somewhere no reader of the cache looks (`blobs/` is read only through
    /// the links that name its files), so a process killed half-way leaves
    /// nothing a scan of the cache would take for a ref or a file.
    pub fn staging_dir(&self) -> PathBuf {
        self.root().join("blobs")
    }
}

/// A commit id as a name in the cache.
fn checked_commit(commit: &str) -> Result<&str> {
    checked_id("commit", commit, hub_url::is_commit_id)
}

/// A blob id (git sha1 or sha256) as a name in the cache.
fn checked_blob(etag: &str) -> Result<&str> {
    checked_id("blob", etag, hub_url::is_blob_id)
}

fn checked_id<'a>(kind: &'static str, id: &'a str, valid: fn(&str) -> bool) -> Result<&'a str> {
    match valid(id) {
        true => Ok(id),
        false => Err(Error::UnsafeId {
            kind,
            id: id.to_string(),
        }),
    }
}

/// A repo path as a relative filesystem path that cannot leave its folder.
///
/// Control characters are refused too: the Hub allows none in file names, and
/// a name is printed to terminals, where they could rewrite what is shown.
pub fn safe_relative_path(path: &str) -> Result<PathBuf> {
    let unsafe_path = || Error::UnsafePath { path: path.to_string() };
    if path.is_empty() || path.contains('\\') || path.chars().any(char::is_control) {
        return Err(unsafe_path());
    }
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return Err(unsafe_path()),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(unsafe_path());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_python_cache() -> Result<()> {
        let repo = RepoId::new("org/name")?;
        let cache = RepoCache::new(Path::new("/c"), RepoType::Dataset, &repo);
        let (commit, etag) = ("c".repeat(40), "e".repeat(64));
        assert_eq!(cache.root(), Path::new("/c/datasets--org--name"));
        assert_eq!(
            cache.blob_path(&etag)?,
            Path::new("/c/datasets--org--name/blobs").join(&etag)
        );
        assert_eq!(
            cache.ref_path("refs/pr/1"),
            Path::new("/c/datasets--org--name/refs/refs/pr/1")
        );
        assert_eq!(
            cache.snapshot_path(&commit, "a/b.txt")?,
            Path::new("/c/datasets--org--name/snapshots")
                .join(&commit)
                .join("a/b.txt")
        );
        assert_eq!(
            cache.lock_path(&etag)?,
            Path::new("/c/.locks/datasets--org--name").join(format!("{etag}.lock"))
        );
        Ok(())
    }

    #[test]
    fn ids_that_are_not_hex_never_become_names() {
        let repo = RepoId::new("org/name").expect("valid");
        let cache = RepoCache::new(Path::new("/c"), RepoType::Model, &repo);
        for bad in [
            "../../x",
            "/etc",
            "",
            "..",
            &"g".repeat(40),
            &format!("../{}", "a".repeat(37)),
        ] {
            assert!(cache.blob_path(bad).is_err(), "{bad}");
            assert!(cache.lock_path(bad).is_err(), "{bad}");
            assert!(cache.snapshot_dir(bad).is_err(), "{bad}");
            assert!(cache.no_exist_path(bad, "a").is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_never_escape() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "",
            "a\\b",
            "..",
            "./",
            "a\0b",
            "x\u{1b}]0;owned\u{7}.txt",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        assert!(safe_relative_path("a/./b c/é.txt").is_ok());
    }
}
