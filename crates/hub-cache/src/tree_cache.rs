//! The per-commit tree listing cache the Python client keeps beside a repo's
//! snapshots (`trees/{commit}.json`): a commit never changes, so its listing
//! is fetched once, and an offline snapshot can tell whether it is complete.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format version this code reads and writes (the Python client's).
const FORMAT_VERSION: u64 = 1;

/// One file of a cached listing, with the `/tree` endpoint's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TreeEntry {
    pub(crate) size: u64,
    pub(crate) blob_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lfs_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lfs_size: Option<u64>,
    /// Kept as read, so that a listing written by the Python client survives a rewrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) xet_hash: Option<String>,
}

impl TreeEntry {
    /// The blob's name in the cache: the sha256 for LFS files, the git blob id otherwise.
    pub(crate) fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.blob_id)
    }
}

#[derive(Serialize, Deserialize)]
struct TreeFile {
    format_version: u64,
    files: BTreeMap<String, TreeEntry>,
}

fn path(folder: &Path, commit: &str) -> PathBuf {
    folder.join("trees").join(format!("{commit}.json"))
}

/// The cached listing of a commit, if there is a readable one.
pub(crate) fn read(folder: &Path, commit: &str) -> Option<BTreeMap<String, TreeEntry>> {
    let text = std::fs::read(path(folder, commit)).ok()?;
    let file: TreeFile = serde_json::from_slice(&text).ok()?;
    (file.format_version == FORMAT_VERSION).then_some(file.files)
}

/// Saves a commit's listing (temp file and rename). A failure only means the
/// listing is fetched again next time.
pub(crate) fn write(folder: &Path, commit: &str, files: &BTreeMap<String, TreeEntry>) {
    let target = path(folder, commit);
    let Some(dir) = target.parent() else { return };
    let file = TreeFile {
        format_version: FORMAT_VERSION,
        files: files.clone(),
    };
    let mut text = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
    if file.serialize(&mut serializer).is_err() || std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let temp = dir.join(format!(".{commit}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temp).and_then(|mut f| f.write_all(&text));
    if written.is_err() || std::fs::rename(&temp, &target).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_the_python_format() {
        let dir = std::env::temp_dir().join(format!("tree-cache-{}", std::process::id()));
        let mut files = BTreeMap::new();
        files.insert(
            "a.txt".to_string(),
            TreeEntry {
                size: 3,
                blob_id: "b1".into(),
                lfs_sha256: None,
                lfs_size: None,
                xet_hash: None,
            },
        );
        files.insert(
            "w.bin".to_string(),
            TreeEntry {
                size: 9,
                blob_id: "b2".into(),
                lfs_sha256: Some("s".into()),
                lfs_size: Some(9),
                xet_hash: None,
            },
        );
        write(&dir, "c0", &files);
        let text = std::fs::read_to_string(dir.join("trees/c0.json")).unwrap_or_default();
        assert!(
            text.starts_with("{\n \"format_version\": 1,\n \"files\": {\n  \"a.txt\": {"),
            "{text}"
        );
        assert_eq!(read(&dir, "c0"), Some(files));
        assert_eq!(read(&dir, "other"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
