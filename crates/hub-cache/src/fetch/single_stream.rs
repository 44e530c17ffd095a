//! One connection, appending to the partial file; resumes with `Range` where it stopped.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use hub_api::{HubClient, HubRequest};

use super::hasher::PrefixHasher;
use super::{BlobSource, COPY_BUFFER, RESUMES_PER_CALL, content_range_start, open_partial};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// Fetches the rest of the blob into `partial`; returns its sha256 when asked
/// to hash and the size is known (otherwise the caller hashes the file).
pub(super) fn fetch(
    client: &HubClient,
    source: &BlobSource<'_>,
    partial: &Path,
    hash: bool,
    progress: &dyn Progress,
) -> Result<Option<String>> {
    let mut file = open_partial(partial)?;
    let mut offset = file.seek(SeekFrom::End(0)).map_err(Error::io("read", partial))?;
    if source.expected_size.is_some_and(|size| offset > size) {
        file.set_len(0).map_err(Error::io("truncate", partial))?;
        offset = 0;
    }
    let hasher = match (hash, source.expected_size) {
        (true, Some(size)) => Some(PrefixHasher::start(partial, size).map_err(Error::io("read", partial))?),
        _ => None,
    };
    if offset > 0 {
        progress.event(&ProgressEvent::Advanced {
            path: source.repo_path.to_string(),
            bytes: offset,
        });
        if let Some(h) = &hasher {
            h.advance(offset);
        }
    }
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut resumes = 0;
    loop {
        if source.expected_size == Some(offset) {
            break;
        }
        let mut request = HubRequest::get(source.url).target(source.target.clone());
        if offset > 0 {
            request = request.header("range", format!("bytes={offset}-"));
        }
        let response = client.send(&request)?;
        let url = response.url().to_string();
        match (response.status(), offset) {
            (206, _) => {
                let start = response.header("content-range").and_then(content_range_start);
                if start != Some(offset) {
                    return Err(hub_api::Error::InvalidResponse {
                        url,
                        reason: format!("asked for bytes from {offset}, got range {start:?}"),
                    }
                    .into());
                }
            }
            (_, 0) => {}
            _ => {
                // The server ignored the range: start over.
                file.set_len(0).map_err(Error::io("truncate", partial))?;
                file.seek(SeekFrom::Start(0)).map_err(Error::io("write", partial))?;
                offset = 0;
            }
        }
        let mut reader = response.into_reader();
        let broken = loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e),
            };
            file.write_all(&buffer[..n]).map_err(Error::io("write", partial))?;
            offset += n as u64;
            if let Some(h) = &hasher {
                h.advance(offset);
            }
            progress.event(&ProgressEvent::Advanced {
                path: source.repo_path.to_string(),
                bytes: n as u64,
            });
        };
        let short = source.expected_size.is_some_and(|size| offset < size);
        match broken {
            None if !short => break,
            broken if resumes < RESUMES_PER_CALL => {
                resumes += 1;
                drop(broken);
            }
            Some(source) => return Err(hub_api::Error::Body { url, source }.into()),
            None => break,
        }
    }
    file.flush().map_err(Error::io("write", partial))?;
    drop(file);
    match hasher {
        Some(h) => h.finish().map(Some).map_err(Error::io("hash", partial)),
        None => Ok(None),
    }
}
