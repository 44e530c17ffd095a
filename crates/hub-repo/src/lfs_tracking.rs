//! Which files git-lfs should take: those of at least 10 MiB and binary ones,
//! as the Hub refuses both outside LFS.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Files at least this large are tracked with LFS (the Hub's limit: 10 MiB).
pub const LARGE_FILE_THRESHOLD: u64 = 10 * 1024 * 1024;

/// How much of a file is read to decide whether it is binary.
const BINARY_SAMPLE: u64 = 10 * 1024 * 1024;

/// Whether `byte` appears in text: printable ASCII and everything from 0x80
/// up, plus BEL, BS, TAB, LF, FF, CR and ESC (the Python client's set).
fn is_text_byte(byte: u8) -> bool {
    matches!(byte, 7 | 8 | 9 | 10 | 12 | 13 | 27) || (byte >= 0x20 && byte != 0x7f)
}

/// Whether the first 10 MiB of the file hold a byte that text does not.
/// Read in small pieces, stopping at the first such byte.
pub(crate) fn is_binary_file(path: &Path) -> std::io::Result<bool> {
    let mut file = File::open(path)?.take(BINARY_SAMPLE);
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !buf[..n].iter().copied().all(is_text_byte) {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_binary_file;

    #[test]
    fn control_bytes_make_a_file_binary_and_utf8_does_not() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let cases: [(&str, &[u8], bool); 5] = [
            ("text.md", "# Größe\tété\r\n\x1b[0m".as_bytes(), false),
            ("empty", b"", false),
            ("nul.bin", b"abc\0def", true),
            ("del.bin", b"abc\x7f", true),
            ("vt.bin", b"a\x0bb", true),
        ];
        for (name, bytes, binary) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes)?;
            assert_eq!(is_binary_file(&path)?, binary, "{name}");
        }
        Ok(())
    }
}
