//! One connection, appending to the partial file; resumes with `Range` where it stopped.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use hub_api::{HubClient, HubRequest};

use super::git_blob::GitBlobHasher;
use super::stall::{StallGuard, fill};
use super::stream_hasher::StreamHasher;
use super::{BlobSource, COPY_BUFFER, RESUMES_PER_CALL, TransferSettings, content_range_start, open_partial};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// The hashes a stream computed as its bytes arrived.
pub(super) struct StreamHashes {
    /// The sha256, when asked for and the size was known up front.
    pub(super) sha256: Option<String>,
    /// The git blob id, when asked for and the size was known up front.
    pub(super) git_blob: Option<String>,
}

/// What a stream hashes as its bytes arrive: what it does not, the caller
/// hashes from the file.
#[derive(Clone, Copy)]
pub(super) struct Hashing {
    /// The sha256, on a thread of its own (LFS files, which can be large).
    pub(super) sha256: bool,
    /// The git blob id, as the bytes are written (regular files, small).
    pub(super) git_blob: bool,
}

/// Fetches the rest of the blob into `partial`, hashing what `hashing` asks
/// for when the size is known up front.
///
/// Never more than the announced size is written: a body that goes on is an
/// error, and so is one that keeps ending short after every resume.
pub(super) fn fetch(
    client: &HubClient,
    source: &BlobSource<'_>,
    partial: &Path,
    hashing: Hashing,
    settings: &TransferSettings,
    progress: &dyn Progress,
) -> Result<StreamHashes> {
    let mut file = open_partial(partial)?;
    let mut offset = file.seek(SeekFrom::End(0)).map_err(Error::io("read", partial))?;
    let mut expected = source.expected_size;
    if expected.is_some_and(|size| offset > size) || (expected.is_none() && offset > 0) {
        // Bytes of unknown standing: only a known size lets a fetch resume.
        file.set_len(0).map_err(Error::io("truncate", partial))?;
        offset = 0;
    }
    let start_hasher = |prefix: u64| StreamHasher::start(partial, prefix).map_err(Error::io("read", partial));
    let mut hasher = match (hashing.sha256, expected) {
        (true, Some(_)) => Some(start_hasher(offset)?),
        _ => None,
    };
    let start_git_blob = |expected: Option<u64>, prefix: u64| -> Result<Option<GitBlobHasher>> {
        match (hashing.git_blob, expected) {
            (true, Some(size)) => GitBlobHasher::with_prefix(size, partial, prefix)
                .map(Some)
                .map_err(Error::io("read", partial)),
            _ => Ok(None),
        }
    };
    let mut git_blob = start_git_blob(expected, offset)?;
    if offset > 0 {
        log::debug!("resuming {} from byte {offset} of its partial file", source.repo_path);
        progress.event(&ProgressEvent::Advanced {
            path: source.repo_path.to_string(),
            bytes: offset,
        });
    }
    // The buffer not handed to the hasher (all of them, without one).
    let mut spare: Option<Vec<u8>> = None;
    let mut resumes = 0;
    loop {
        if expected == Some(offset) {
            break;
        }
        let mut request = HubRequest::get(source.url).target(source.target.clone());
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let response = client.send(&request)?;
        let url = response.url().to_string();
        let invalid = |reason: String| -> Error {
            hub_api::Error::InvalidResponse {
                url: url.clone(),
                reason,
            }
            .into()
        };
        match (response.status(), offset) {
            (206, _) => {
                let start = response.header("content-range").and_then(content_range_start);
                if start != Some(offset) {
                    return Err(invalid(format!("asked for bytes from {offset}, got range {start:?}")));
                }
            }
            (_, 0) => {
                if expected.is_none() {
                    // Without an announced size, the response that has the
                    // bytes says how many there are.
                    expected = response.header("content-length").and_then(|v| v.trim().parse().ok());
                    git_blob = start_git_blob(expected, 0)?;
                }
            }
            _ => {
                // The server ignored the range: start over.
                file.set_len(0).map_err(Error::io("truncate", partial))?;
                file.seek(SeekFrom::Start(0)).map_err(Error::io("write", partial))?;
                offset = 0;
                if hasher.is_some() {
                    hasher = Some(start_hasher(0)?);
                }
                git_blob = start_git_blob(expected, 0)?;
            }
        }
        let mut reader = response.into_reader();
        let mut stall = StallGuard::new(settings.stall_timeout);
        let broken = loop {
            let mut buffer = spare
                .take()
                .or_else(|| hasher.as_mut().map(StreamHasher::buffer))
                .unwrap_or_else(|| vec![0u8; COPY_BUFFER]);
            // One byte more than is left, to see a body that goes on.
            let want = match expected {
                Some(size) => (size - offset + 1).min(buffer.len() as u64) as usize,
                None => buffer.len(),
            };
            // Filled before it is written: a TLS body comes a record (16 KiB)
            // at a time, and each write and hand-over costs the same whatever its size.
            let (n, broken) = fill(&mut reader, &mut buffer[..want], &mut stall);
            if n == 0 {
                spare = Some(buffer);
                break broken;
            }
            if let Some(size) = expected.filter(|&size| offset + n as u64 > size) {
                return Err(invalid(format!("the body goes on past the announced {size} bytes")));
            }
            file.write_all(&buffer[..n]).map_err(Error::io("write", partial))?;
            offset += n as u64;
            if let Some(g) = &mut git_blob {
                g.update(&buffer[..n]);
            }
            match &mut hasher {
                Some(h) => h.hash(buffer, n),
                None => spare = Some(buffer),
            }
            progress.event(&ProgressEvent::Advanced {
                path: source.repo_path.to_string(),
                bytes: n as u64,
            });
            if broken.is_some() || n < want {
                break broken;
            }
        };
        let short = expected.is_some_and(|size| offset < size);
        if broken.is_none() && !short {
            break;
        }
        if resumes >= RESUMES_PER_CALL {
            let source = broken.unwrap_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the body ended at byte {offset} of {}", expected.unwrap_or(offset)),
                )
            });
            return Err(hub_api::Error::Body { url, source }.into());
        }
        resumes += 1;
        log::debug!(
            "the body of {} stopped at byte {offset}; resuming from there",
            source.repo_path
        );
    }
    file.flush().map_err(Error::io("write", partial))?;
    drop(file);
    let sha256 = match hasher {
        Some(h) => Some(h.finish().map_err(Error::io("hash", partial))?),
        None => None,
    };
    Ok(StreamHashes {
        sha256,
        git_blob: git_blob.map(GitBlobHasher::finish),
    })
}
