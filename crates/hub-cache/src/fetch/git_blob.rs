//! The git blob id of a file: sha1 of `blob {len}\0` and the bytes, the id
//! the Hub gives regular (non-LFS) files as their ETag.

use std::io::Read;
use std::path::Path;

use sha1::{Digest, Sha1};

use super::hasher::{digest_all, hex};

/// The git blob id of the file at `path` (lowercase hex).
pub(crate) fn git_blob_id(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = GitBlobHasher::new(len);
    if digest_all(file, &mut hasher.sha1)? != len {
        return Err(std::io::Error::other("the file changed while it was hashed"));
    }
    Ok(hasher.finish())
}

/// The git blob id of a file of known length whose bytes come in order (a
/// stream, as it is received), so that it is never read back.
pub(crate) struct GitBlobHasher {
    sha1: Sha1,
}

impl GitBlobHasher {
    /// For a file of `len` bytes.
    pub(crate) fn new(len: u64) -> GitBlobHasher {
        let mut sha1 = Sha1::new();
        sha1.update(format!("blob {len}\0").as_bytes());
        GitBlobHasher { sha1 }
    }

    /// For a file of `len` bytes whose first `prefix` are already in `partial` (read now).
    pub(crate) fn with_prefix(len: u64, partial: &Path, prefix: u64) -> std::io::Result<GitBlobHasher> {
        let mut hasher = GitBlobHasher::new(len);
        if prefix > 0 {
            let file = std::fs::File::open(partial)?;
            if digest_all(file.take(prefix), &mut hasher.sha1)? != prefix {
                return Err(std::io::Error::other("the partial file is shorter than it was"));
            }
        }
        Ok(hasher)
    }

    /// The next bytes of the file.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.sha1.update(bytes);
    }

    /// The id (lowercase hex); right only if exactly `len` bytes were given.
    pub(crate) fn finish(self) -> String {
        hex(&self.sha1.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_git_hash_object() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n")?;
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(git_blob_id(&path)?, "ce013625030ba8dba906f756967f9e9ca394464a");
        Ok(())
    }

    #[test]
    fn a_stream_with_a_prefix_on_disk_gets_the_same_id() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("partial");
        std::fs::write(&path, b"hel")?;
        let mut hasher = GitBlobHasher::with_prefix(6, &path, 3)?;
        hasher.update(b"lo");
        hasher.update(b"\n");
        assert_eq!(hasher.finish(), "ce013625030ba8dba906f756967f9e9ca394464a");
        let err = GitBlobHasher::with_prefix(6, &path, 4).err().expect("one byte missing");
        assert!(err.to_string().contains("shorter"), "{err}");
        Ok(())
    }
}
