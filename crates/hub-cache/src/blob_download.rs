//! Streams a file from the Hub into `blobs/`, checking its size and (for LFS
//! files) its sha256 before it is renamed into place.

use std::io::{Read, Write};
use std::path::Path;

use hub_api::{HubClient, HubRequest, RequestTarget};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// What to fetch and how to check it.
pub(crate) struct BlobSource<'a> {
    pub(crate) url: &'a str,
    pub(crate) target: RequestTarget,
    pub(crate) repo_path: &'a str,
    pub(crate) expected_size: Option<u64>,
    /// The sha256 the bytes must have (LFS files).
    pub(crate) expected_sha256: Option<&'a str>,
}

const BUFFER_SIZE: usize = 256 * 1024;

/// Downloads into a temporary file beside `destination`, verifies it, and
/// renames it into place. On any failure the temporary file is removed and
/// `destination` is untouched.
pub(crate) fn download_blob(
    client: &HubClient,
    source: &BlobSource<'_>,
    destination: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let folder = destination.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let blob_name = destination.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
    let mut temp = tempfile::Builder::new()
        .prefix(&format!("{blob_name}."))
        .suffix(".incomplete")
        .tempfile_in(folder)
        .map_err(Error::io("create a temporary file in", folder))?;

    let response = client.send(&HubRequest::get(source.url).target(source.target.clone()))?;
    let url = response.url().to_string();
    let mut reader = response.into_reader();
    let mut hasher = source.expected_sha256.map(|_| Sha256::new());
    let mut buffer = vec![0u8; BUFFER_SIZE];
    let mut received: u64 = 0;
    progress.event(&ProgressEvent::Started { path: source.repo_path.to_string(), total: source.expected_size });
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(hub_api::Error::Body { url, source }.into()),
        };
        let chunk = &buffer[..n];
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
        temp.write_all(chunk).map_err(Error::io("write", temp.path()))?;
        received += n as u64;
        progress.event(&ProgressEvent::Advanced { path: source.repo_path.to_string(), bytes: n as u64 });
    }
    if let Some(expected) = source.expected_size.filter(|&e| e != received) {
        return Err(Error::Integrity {
            path: source.repo_path.to_string(),
            expected: format!("{expected} bytes"),
            actual: format!("{received} bytes"),
        });
    }
    if let (Some(h), Some(expected)) = (hasher, source.expected_sha256) {
        let actual = hex(&h.finalize());
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::Integrity {
                path: source.repo_path.to_string(),
                expected: format!("sha256 {expected}"),
                actual: format!("sha256 {actual}"),
            });
        }
    }
    temp.as_file().sync_all().map_err(Error::io("write", temp.path()))?;
    temp.persist(destination).map_err(|e| Error::Io { action: "rename into", path: destination.to_path_buf(), source: e.error })?;
    progress.event(&ProgressEvent::Finished { path: source.repo_path.to_string() });
    Ok(())
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
