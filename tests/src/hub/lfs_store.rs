//! The content-addressed LFS store (`{root}/lfs/objects/{oid[0..2]}/{oid[2..4]}/{oid}`)
//! and the pointer files git keeps in place of LFS content.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::EmulatorError;

/// The first line of every LFS pointer file.
pub(crate) const POINTER_VERSION: &str = "version https://git-lfs.github.com/spec/v1";

/// git-lfs never reads a pointer larger than this.
pub(crate) const MAX_POINTER_SIZE: u64 = 1024;

/// Bytes read or written at a time while objects are hashed, stored and
/// assembled: small enough to stay in a core's L2 cache between the copy and
/// the hash.
///
/// Nothing in the store is synced to disk: the emulator is a test fixture whose
/// store need not survive a power cut, and an `fsync` per object would make the
/// disk what the upload benchmarks measure.
pub(crate) const CHUNK: usize = 128 * 1024;

/// An LFS pointer: what git stores for an LFS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LfsPointer {
    /// The sha256 of the content, 64 lowercase hex digits.
    pub(crate) oid: String,
    /// The size of the content.
    pub(crate) size: u64,
}

impl LfsPointer {
    /// The pointer file's text, as git-lfs writes it.
    pub(crate) fn text(&self) -> String {
        format!("{POINTER_VERSION}\noid sha256:{}\nsize {}\n", self.oid, self.size)
    }

    /// Reads a pointer file; `None` when `bytes` is not one.
    pub(crate) fn parse(bytes: &[u8]) -> Option<LfsPointer> {
        if bytes.len() as u64 > MAX_POINTER_SIZE {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != POINTER_VERSION {
            return None;
        }
        let mut oid = None;
        let mut size = None;
        for line in lines {
            if let Some(hex) = line.strip_prefix("oid sha256:") {
                oid = is_sha256(hex).then(|| hex.to_string());
            } else if let Some(n) = line.strip_prefix("size ") {
                size = n.parse().ok();
            }
        }
        Some(LfsPointer { oid: oid?, size: size? })
    }
}

/// Whether `s` is 64 lowercase hex digits.
pub(crate) fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The LFS object store.
#[derive(Debug)]
pub(crate) struct LfsStore {
    root: PathBuf,
    temp_counter: AtomicU64,
}

impl LfsStore {
    /// A store rooted at `{root}/lfs`.
    pub(crate) fn new(root: &Path) -> Self {
        LfsStore {
            root: root.join("lfs"),
            temp_counter: AtomicU64::new(0),
        }
    }

    /// Where the object `oid` lives (whether or not it exists).
    pub(crate) fn object_path(&self, oid: &str) -> PathBuf {
        let (a, b) = (oid.get(0..2).unwrap_or("__"), oid.get(2..4).unwrap_or("__"));
        self.root.join("objects").join(a).join(b).join(oid)
    }

    /// The size of the stored object, or `None` when it is absent.
    pub(crate) fn object_size(&self, oid: &str) -> Option<u64> {
        if !is_sha256(oid) {
            return None;
        }
        fs::metadata(self.object_path(oid))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// A fresh temp file path inside the store, on the same file system as the objects.
    pub(crate) fn temp_path(&self) -> Result<PathBuf, EmulatorError> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir).map_err(|e| EmulatorError::io(&dir, e))?;
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        Ok(dir.join(format!("{}-{n}.tmp", std::process::id())))
    }

    /// Streams `reader` into the store, hashing on the way, and returns its pointer.
    /// The object appears under its final name only once complete. `source` names the
    /// reader in errors.
    pub(crate) fn store_reader(&self, reader: &mut dyn Read, source: &Path) -> Result<LfsPointer, EmulatorError> {
        let temp = self.temp_path()?;
        let result = self.write_temp(reader, source, &temp).and_then(|pointer| {
            self.adopt(&temp, &pointer.oid)?;
            Ok(pointer)
        });
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Stores `bytes` and returns their pointer.
    pub(crate) fn store_bytes(&self, bytes: &[u8]) -> Result<LfsPointer, EmulatorError> {
        self.store_reader(&mut &bytes[..], Path::new("<memory>"))
    }

    /// Stores the file at `path`, streamed, and returns its pointer.
    pub(crate) fn store_file(&self, path: &Path) -> Result<LfsPointer, EmulatorError> {
        let mut file = File::open(path).map_err(|e| EmulatorError::io(path, e))?;
        self.store_reader(&mut file, path)
    }

    /// Moves a complete temp file whose sha256 is `oid` into place.
    pub(crate) fn adopt(&self, temp: &Path, oid: &str) -> Result<(), EmulatorError> {
        let dest = self.object_path(oid);
        if dest.is_file() {
            // Same content already stored.
            let _ = fs::remove_file(temp);
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| EmulatorError::io(parent, e))?;
        }
        fs::rename(temp, &dest).map_err(|e| EmulatorError::io(&dest, e))
    }

    fn write_temp(&self, reader: &mut dyn Read, source: &Path, temp: &Path) -> Result<LfsPointer, EmulatorError> {
        let mut out = File::create(temp).map_err(|e| EmulatorError::io(temp, e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(EmulatorError::io(source, e)),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| EmulatorError::io(temp, e))?;
            size += n as u64;
        }
        Ok(LfsPointer {
            oid: hex(&hasher.finalize()),
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{LfsPointer, LfsStore};

    #[test]
    fn pointer_round_trips_and_rejects_other_text() {
        let pointer = LfsPointer {
            oid: "a".repeat(64),
            size: 42,
        };
        assert_eq!(LfsPointer::parse(pointer.text().as_bytes()), Some(pointer));
        assert_eq!(LfsPointer::parse(b"hello"), None);
        let bad_oid = "version https://git-lfs.github.com/spec/v1\noid sha256:xyz\nsize 3\n";
        assert_eq!(LfsPointer::parse(bad_oid.as_bytes()), None);
    }

    #[test]
    fn stores_content_under_its_sha256() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = LfsStore::new(dir.path());
        let pointer = store.store_bytes(b"hello")?;
        assert_eq!(
            pointer.oid,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(pointer.size, 5);
        let path = store.object_path(&pointer.oid);
        assert!(path.ends_with("2c/f2/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
        assert_eq!(std::fs::read(path)?, b"hello");
        assert_eq!(store.object_size(&pointer.oid), Some(5));
        // Storing again keeps one copy and leaves no temp file behind.
        store.store_bytes(b"hello")?;
        assert_eq!(std::fs::read_dir(dir.path().join("lfs/tmp"))?.count(), 0);
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn pointers_round_trip(oid in "[0-9a-f]{64}", size in proptest::prelude::any::<u64>()) {
            let pointer = LfsPointer { oid, size };
            proptest::prop_assert_eq!(LfsPointer::parse(pointer.text().as_bytes()), Some(pointer));
        }

        #[test]
        fn any_bytes_are_a_pointer_or_not(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            lines in proptest::collection::vec("oid sha256:[0-9a-fA-F]{62,66}|size [+-]?[0-9]{1,22}|[ -~]{0,20}", 0..5),
        ) {
            let text = format!("{}\n{}", super::POINTER_VERSION, lines.join("\n"));
            for candidate in [body.as_slice(), text.as_bytes()] {
                if let Some(pointer) = LfsPointer::parse(candidate) {
                    proptest::prop_assert!(super::is_sha256(&pointer.oid), "{:?}", pointer);
                }
            }
        }
    }
}
