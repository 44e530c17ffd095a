//! The per-commit tree listing cache the Python client keeps beside a repo's
//! snapshots (`trees/{commit}.json`): a commit never changes, so its listing
//! is fetched once, and an offline snapshot can tell whether it is complete.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::staging::staging_path;

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

fn path(folder: &Path, commit: &str) -> PathBuf {
    folder.join("trees").join(format!("{commit}.json"))
}

/// The files of a commit's cached listing that `keep` picks, if there is a
/// readable listing. The file is read as a stream: memory holds the picked
/// entries, not the listing.
pub(crate) fn read(folder: &Path, commit: &str, keep: &dyn Fn(&str) -> bool) -> Option<BTreeMap<String, TreeEntry>> {
    let file = std::fs::File::open(path(folder, commit)).ok()?;
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    let listing = ListingSeed { keep }.deserialize(&mut deserializer).ok()?;
    (listing.format_version == Some(FORMAT_VERSION)).then_some(listing.files)
}

/// A listing being saved as its entries arrive: into a staging file renamed
/// into place by [`ListingWriter::finish`]. Any failure only means the
/// listing is fetched again next time, so writing stops quietly.
pub(crate) struct ListingWriter {
    staging: PathBuf,
    target: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    first: bool,
}

impl ListingWriter {
    pub(crate) fn create(folder: &Path, commit: &str) -> ListingWriter {
        let target = path(folder, commit);
        let dir = target.parent().unwrap_or(folder).to_path_buf();
        let staging = staging_path(&dir);
        let out = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::File::create(&staging))
            .map(std::io::BufWriter::new)
            .ok();
        let mut writer = ListingWriter {
            staging,
            target,
            out,
            first: true,
        };
        writer.write(format!("{{\n \"format_version\": {FORMAT_VERSION},\n \"files\": {{").as_bytes());
        writer
    }

    /// Adds one file.
    pub(crate) fn add(&mut self, path: &str, entry: &TreeEntry) {
        let (Ok(key), Ok(value)) = (serde_json::to_string(path), serde_json::to_string(entry)) else {
            self.out = None;
            return;
        };
        let separator = if self.first { "\n  " } else { ",\n  " };
        self.first = false;
        self.write(format!("{separator}{key}: {value}").as_bytes());
    }

    /// Completes the file and renames it into place.
    pub(crate) fn finish(mut self) {
        self.write(b"\n }\n}\n");
        let Some(out) = self.out.take() else { return };
        let done = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all());
        if done.is_err() || std::fs::rename(&self.staging, &self.target).is_err() {
            let _ = std::fs::remove_file(&self.staging);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = &mut self.out
            && out.write_all(bytes).is_err()
        {
            self.out = None;
        }
    }
}

impl Drop for ListingWriter {
    /// A listing not finished (the listing failed part-way) is not kept.
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

/// The cached listing, as far as it is read: its version and the picked files.
struct Listing {
    format_version: Option<u64>,
    files: BTreeMap<String, TreeEntry>,
}

/// Reads `{"format_version": 1, "files": {path: entry, …}}`, keeping only
/// the files `keep` picks, without holding the others.
struct ListingSeed<'a> {
    keep: &'a dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for ListingSeed<'_> {
    type Value = Listing;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listing, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListingSeed<'_> {
    type Value = Listing;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a tree listing")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listing, A::Error> {
        let mut listing = Listing {
            format_version: None,
            files: BTreeMap::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format_version" => listing.format_version = Some(map.next_value()?),
                "files" => map.next_value_seed(FilesSeed {
                    keep: self.keep,
                    files: &mut listing.files,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(listing)
    }
}

struct FilesSeed<'a, 'b> {
    keep: &'a dyn Fn(&str) -> bool,
    files: &'b mut BTreeMap<String, TreeEntry>,
}

impl<'de> DeserializeSeed<'de> for FilesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FilesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map of files")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(path) = map.next_key::<String>()? {
            if (self.keep)(&path) {
                let entry: TreeEntry = map.next_value()?;
                self.files.insert(path, entry);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
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
        let mut writer = ListingWriter::create(&dir, "c0");
        for (path, entry) in &files {
            writer.add(path, entry);
        }
        writer.finish();
        let text = std::fs::read_to_string(dir.join("trees/c0.json")).unwrap_or_default();
        assert!(
            text.starts_with("{\n \"format_version\": 1,\n \"files\": {\n  \"a.txt\": {"),
            "{text}"
        );
        let all = |_: &str| true;
        assert_eq!(read(&dir, "c0", &all), Some(files.clone()));
        let only_bin = |path: &str| path.ends_with(".bin");
        files.remove("a.txt");
        assert_eq!(read(&dir, "c0", &only_bin), Some(files));
        assert_eq!(read(&dir, "other", &all), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
