//! The Hub's object ids, as they may become file names: a commit is 40 hex
//! digits; a blob is a git sha1 (40 hex) or an LFS sha256 (64 hex).
//!
//! Servers name commits and blobs, and the cache turns those names into
//! folders and files (`snapshots/{commit}`, `blobs/{etag}`): anything else,
//! such as `../x` or an absolute path, must be refused where it enters.

/// Whether `id` is a full commit id: exactly 40 hexadecimal digits.
pub fn is_commit_id(id: &str) -> bool {
    id.len() == 40 && is_hex(id)
}

/// Whether `id` names a blob: a git sha1 (40 hex digits) or a sha256 (64).
pub fn is_blob_id(id: &str) -> bool {
    matches!(id.len(), 40 | 64) && is_hex(id)
}

/// Whether `id` is a sha256: exactly 64 hexadecimal digits.
pub fn is_sha256(id: &str) -> bool {
    id.len() == 64 && is_hex(id)
}

fn is_hex(id: &str) -> bool {
    id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_ids_of_the_right_length_pass() {
        let sha1 = "0123456789abcdef0123456789ABCDEF01234567";
        let sha256 = "a".repeat(64);
        assert!(is_commit_id(sha1));
        assert!(is_blob_id(sha1) && is_blob_id(&sha256) && is_sha256(&sha256));
        assert!(!is_commit_id(&sha256) && !is_sha256(sha1));
        for bad in [
            "",
            "../../../../etc/passwd",
            "/abs",
            "0123456789abcdef0123456789abcdef0123456/",
            "g".repeat(40).as_str(),
        ] {
            assert!(!is_commit_id(bad) && !is_blob_id(bad), "{bad}");
        }
        let climbing = format!("../{}", "a".repeat(37));
        assert_eq!(climbing.len(), 40);
        assert!(!is_commit_id(&climbing) && !is_blob_id(&climbing));
    }
}
