//! The git blob id of a file: sha1 of `blob {len}\0` and the bytes, the id
//! the Hub gives regular (non-LFS) files as their ETag.

use std::path::Path;

use sha1::{Digest, Sha1};

use super::hasher::{digest_all, hex};

/// The git blob id of the file at `path` (lowercase hex).
pub(crate) fn git_blob_id(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {len}\0").as_bytes());
    if digest_all(file, &mut hasher)? != len {
        return Err(std::io::Error::other("the file changed while it was hashed"));
    }
    Ok(hex(&hasher.finalize()))
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
}
