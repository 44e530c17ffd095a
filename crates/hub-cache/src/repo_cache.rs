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

    /// `blobs/{etag}`.
    pub fn blob_path(&self, etag: &str) -> PathBuf {
        self.root().join("blobs").join(etag)
    }

    /// `refs/{revision}` (`refs/pr/1` nests).
    pub fn ref_path(&self, revision: &str) -> PathBuf {
        self.root().join("refs").join(revision)
    }

    /// `snapshots/{commit}/{path}`.
    pub fn snapshot_path(&self, commit: &str, path: &str) -> Result<PathBuf> {
        Ok(self
            .root()
            .join("snapshots")
            .join(commit)
            .join(safe_relative_path(path)?))
    }

    /// `snapshots/{commit}`.
    pub fn snapshot_dir(&self, commit: &str) -> PathBuf {
        self.root().join("snapshots").join(commit)
    }

    /// `.no_exist/{commit}/{path}`: the marker of a file known to be absent.
    pub fn no_exist_path(&self, commit: &str, path: &str) -> Result<PathBuf> {
        Ok(self
            .root()
            .join(".no_exist")
            .join(commit)
            .join(safe_relative_path(path)?))
    }

    /// `{cache}/.locks/models--org--name/{etag}.lock`.
    pub fn lock_path(&self, etag: &str) -> PathBuf {
        self.cache_dir
            .join(".locks")
            .join(&self.folder_name)
            .join(format!("{etag}.lock"))
    }

    /// The commit a ref points to, if the cache knows it.
    pub fn read_ref(&self, revision: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim();
        (!commit.is_empty()).then(|| commit.to_string())
    }
}

/// A repo path as a relative filesystem path that cannot leave its folder.
pub fn safe_relative_path(path: &str) -> Result<PathBuf> {
    let unsafe_path = || Error::UnsafePath { path: path.to_string() };
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
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
        assert_eq!(cache.root(), Path::new("/c/datasets--org--name"));
        assert_eq!(cache.blob_path("abc"), Path::new("/c/datasets--org--name/blobs/abc"));
        assert_eq!(
            cache.ref_path("refs/pr/1"),
            Path::new("/c/datasets--org--name/refs/refs/pr/1")
        );
        assert_eq!(
            cache.snapshot_path("c0", "a/b.txt")?,
            Path::new("/c/datasets--org--name/snapshots/c0/a/b.txt")
        );
        assert_eq!(cache.lock_path("e"), Path::new("/c/.locks/datasets--org--name/e.lock"));
        Ok(())
    }

    #[test]
    fn paths_never_escape() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a\\b", "..", "./"] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        assert!(safe_relative_path("a/./b c/é.txt").is_ok());
    }
}
