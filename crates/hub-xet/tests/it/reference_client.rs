//! File hashes against `hf_xet` 1.8.0, the Xet client the Python `huggingface_hub` uses.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sample;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The Python with the pinned client: `HUB_TEST_PYTHON`, else the workspace's `.venv`.
#[allow(clippy::disallowed_methods)] // A test's own setting, not the Hub's configuration.
fn python() -> PathBuf {
    std::env::var_os("HUB_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python")))
}

/// `hf_xet.hash_files` of these files, in order.
fn reference_hashes(paths: &[PathBuf]) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let python = python();
    assert!(
        python.exists(),
        "the Python client is needed at {}: run `cargo xtask ci` (it creates .venv) or set HUB_TEST_PYTHON",
        python.display()
    );
    let script =
        "import sys, hf_xet\nfor info in hf_xet.hash_files(sys.argv[1:]):\n    print(info.hash, info.file_size)\n";
    let output = Command::new(&python).arg("-c").arg(script).args(paths).output()?;
    assert!(
        output.status.success(),
        "hf_xet.hash_files failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout)?;
    let mut hashes = Vec::new();
    for (line, path) in text.lines().zip(paths) {
        let (hash, size) = line.split_once(' ').ok_or("unexpected hf_xet output")?;
        assert_eq!(size.parse::<u64>()?, fs::metadata(path)?.len(), "{}", path.display());
        hashes.push(hash.to_owned());
    }
    assert_eq!(hashes.len(), paths.len(), "hf_xet output: {text}");
    Ok(hashes)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, std::io::Error> {
    let path = dir.join(name);
    fs::write(&path, bytes)?;
    Ok(path)
}

#[test]
fn file_hashes_match_hf_xet() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text: Vec<u8> = (0..400_000)
        .flat_map(|i: u32| format!("line {i}: the quick brown fox\n").into_bytes())
        .collect();
    let floats: Vec<u8> = (0..1_000_000u32)
        .flat_map(|i| ((i as f32) * 0.001).sin().to_le_bytes())
        .collect();
    let mut mixed = sample::bytes(3_000_000, 7, 0);
    mixed.extend(std::iter::repeat_n(0u8, 1_000_000));
    mixed.extend(sample::bytes(2_500_000, 8, 0));
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one", vec![b'a']),
        ("under-min", sample::bytes(8191, 1, 0)),
        ("min", sample::bytes(8192, 2, 0)),
        ("over-min", sample::bytes(8193, 3, 0)),
        ("max", sample::bytes(128 * 1024, 4, 0)),
        ("random-3mb", sample::bytes(3 << 20, 5, 0)),
        ("zeros-5mb", vec![0u8; 5 << 20]),
        ("repeating", b"0123456789abcdef".repeat(300_000)),
        ("text", text),
        ("floats", floats),
        ("mixed", mixed),
        ("random-20mb", sample::bytes(20 << 20, 6, 0)),
    ];
    let mut paths = Vec::new();
    let mut ours = Vec::new();
    for (name, bytes) in &files {
        paths.push(write(dir.path(), name, bytes)?);
        let outcome = hub_xet::hash_reader(&bytes[..])?;
        assert_eq!(outcome.size, bytes.len() as u64);
        ours.push(outcome.file_hash.to_string());
    }
    let reference = reference_hashes(&paths)?;
    for (((name, _), ours), reference) in files.iter().zip(&ours).zip(&reference) {
        assert_eq!(ours, reference, "file hash of {name}");
    }
    Ok(())
}
