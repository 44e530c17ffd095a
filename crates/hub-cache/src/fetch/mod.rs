//! Fetching one blob: into a resumable partial file beside it, in parallel
//! ranges when it is large, verified, then renamed into place.

mod git_blob;
mod hasher;
mod idle_cpu;
mod parallel;
mod ramp;
mod single_stream;
mod stall;
mod stream_hasher;
mod xet;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hub_api::{HubClient, RequestTarget};

use crate::connection_budget::ConnectionBudget;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

pub(crate) use git_blob::git_blob_id;
pub(crate) use hasher::{hex, sha256_of};
pub(crate) use xet::{CHUNK_INDEX_FOLDER, XetBlob};

/// How blobs are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferSettings {
    /// Connections for one large file, and files fetched at once by a snapshot.
    pub connections: usize,
    /// The size of one range request of a large file.
    pub chunk_size: u64,
    /// Files at least this large are fetched in parallel ranges.
    pub parallel_threshold: u64,
    /// Check files against their id: the sha256 of LFS files, the git blob
    /// id of the others (sizes are always checked).
    pub verify: bool,
    /// A body that brings less than a few KiB in this long counts as a broken
    /// connection (`HF_HUB_DOWNLOAD_TIMEOUT`): a server trickling bytes cannot
    /// hold a transfer for ever.
    pub stall_timeout: Duration,
}

impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            connections: 8,
            chunk_size: 32 * 1024 * 1024,
            parallel_threshold: 32 * 1024 * 1024,
            verify: true,
            stall_timeout: Duration::from_secs(10),
        }
    }
}

/// What to fetch and how to check it.
pub(crate) struct BlobSource<'a> {
    /// Where the bytes are (the CDN URL for LFS files).
    pub(crate) url: &'a str,
    pub(crate) target: RequestTarget,
    /// The path in the repo, for messages and progress.
    pub(crate) repo_path: &'a str,
    pub(crate) expected_size: Option<u64>,
    /// The sha256 the bytes must have (LFS files).
    pub(crate) expected_sha256: Option<&'a str>,
    /// The git blob id the bytes must have (regular files).
    pub(crate) expected_git_blob: Option<&'a str>,
    /// Whether `url` is where the bytes are, or a `resolve` URL that may redirect.
    pub(crate) url_is_final: bool,
    /// For a file in Xet storage with Xet on: rebuilt from its reconstruction instead.
    pub(crate) xet: Option<XetBlob<'a>>,
}

/// The partial file of a blob: `blobs/{etag}.incomplete`, kept across failures
/// so that the next try resumes it.
pub(crate) fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".incomplete");
    destination.with_file_name(name)
}

/// How the bytes of a fetched blob came, and so what they were checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Rebuilt from Xet storage, whose reconstruction checks the file's Xet hash.
    FromXet,
    /// Over plain HTTP, checked against the size and the sha256 or git blob id.
    OverHttp,
}

/// Fetches a blob into `destination`, and says how. The caller holds the blob's lock.
///
/// Bytes go to the partial file; a dropped connection resumes where it
/// stopped, and a failed call leaves the partial file for the next one. Only
/// bytes of the announced size (and sha256, for LFS) are renamed into place;
/// a hash mismatch deletes the partial file, since its bad bytes cannot be told.
pub(crate) fn fetch_blob(
    client: &HubClient,
    source: &BlobSource<'_>,
    destination: &Path,
    settings: &TransferSettings,
    budget: &ConnectionBudget,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let folder = destination.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(Error::io("create", folder))?;
    let partial = partial_path(destination);
    let sha256 = source.expected_sha256.filter(|_| settings.verify);
    progress.event(&ProgressEvent::Started {
        path: source.repo_path.to_string(),
        total: source.expected_size,
    });

    let rebuilt = match &source.xet {
        Some(xet) => match xet::fetch(client, xet, source, &partial, settings, budget, progress)? {
            xet::XetFetch::Fetched(rebuilt) => Some(rebuilt),
            xet::XetFetch::NotOffered => None,
        },
        None => None,
    };
    let from_xet = rebuilt.is_some();
    let ranged = match source.expected_size {
        _ if from_xet => None,
        Some(size) if size >= settings.parallel_threshold && settings.connections > 1 => {
            // Ranges go straight to where the bytes are, not through one redirect each.
            let location = match source.url_is_final {
                true => source.url.to_string(),
                false => client.file_metadata(source.url, source.target.clone())?.location,
            };
            let direct = BlobSource {
                url: &location,
                target: source.target.clone(),
                ..*source
            };
            let outcome = parallel::fetch(
                client,
                &direct,
                &partial,
                size,
                sha256.is_some(),
                settings,
                budget,
                progress,
            )?;
            match outcome {
                parallel::Outcome::Fetched(hashed) => Some(hashed),
                parallel::Outcome::RangesIgnored => {
                    log::debug!("the server ignored ranges for {}: one stream instead", source.repo_path);
                    // Its preallocated bytes are not the file's: start afresh.
                    discard(&partial);
                    None
                }
            }
        }
        _ => None,
    };
    let git_blob = source.expected_git_blob.filter(|_| settings.verify);
    let (hashed, streamed_git_blob) = match ranged {
        Some(hashed) => (hashed, None),
        None if from_xet => (None, None),
        None => {
            let _permit = budget.acquire();
            let hashing = single_stream::Hashing {
                sha256: sha256.is_some(),
                git_blob: git_blob.is_some(),
            };
            let streamed = single_stream::fetch(client, source, &partial, hashing, settings, progress)?;
            (streamed.sha256, streamed.git_blob)
        }
    };

    let received = std::fs::metadata(&partial).map_err(Error::io("read", &partial))?.len();
    if let Some(expected) = source.expected_size.filter(|&e| e != received) {
        discard(&partial);
        return Err(Error::Integrity {
            path: source.repo_path.to_string(),
            expected: format!("{expected} bytes"),
            actual: format!("{received} bytes"),
        });
    }
    // A rebuilt file's check is its Xet hash, the Merkle hash of its chunks, computed as
    // they arrived: the Hub gives it with the sha256, and a second pass over the bytes to
    // hash them again would check the same word of the same Hub.
    if let Some(expected) = sha256.filter(|_| !from_xet) {
        let actual = match hashed {
            Some(actual) => actual,
            None => sha256_of(std::fs::File::open(&partial).map_err(Error::io("read", &partial))?)
                .map_err(Error::io("read", &partial))?,
        };
        if !actual.eq_ignore_ascii_case(expected) {
            discard(&partial);
            return Err(Error::Integrity {
                path: source.repo_path.to_string(),
                expected: format!("sha256 {expected}"),
                actual: format!("sha256 {actual}"),
            });
        }
    }
    if let Some(expected) = git_blob {
        let actual = match streamed_git_blob {
            Some(actual) => actual,
            None => git_blob::git_blob_id(&partial).map_err(Error::io("read", &partial))?,
        };
        if !actual.eq_ignore_ascii_case(expected) {
            discard(&partial);
            return Err(Error::Integrity {
                path: source.repo_path.to_string(),
                expected: format!("git blob {expected}"),
                actual: format!("git blob {actual}"),
            });
        }
    }
    std::fs::rename(&partial, destination).map_err(Error::io("rename into", destination))?;
    let _ = std::fs::remove_file(parallel::parts_path(&partial));
    if let Some(rebuilt) = &rebuilt {
        rebuilt.moved(&partial, destination);
    }
    progress.event(&ProgressEvent::Finished {
        path: source.repo_path.to_string(),
    });
    Ok(match from_xet {
        true => Fetched::FromXet,
        false => Fetched::OverHttp,
    })
}

/// Removes a partial file whose bytes cannot be trusted, and its record of parts.
fn discard(partial: &Path) {
    let _ = std::fs::remove_file(partial);
    let _ = std::fs::remove_file(parallel::parts_path(partial));
}

/// Opens (creating) a partial file for writing without truncating it.
fn open_partial(partial: &Path) -> Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(partial)
        .map_err(Error::io("open", partial))
}

/// Bytes copied (socket to file, file to hasher) at a time, and so the size of
/// each write into the page cache.
///
/// Small enough that the buffer stays in a core's L2 cache between one copy
/// and the next (copying 2 GiB out of the page cache took 0.22 s with 128 KiB
/// buffers, 1.06 s with 256 KiB ones), and that each write fills page-cache
/// folios of 32 KiB at most: the kernel keeps freed blocks of up to that
/// size per CPU for reuse, while larger folios are split from the free
/// lists' large blocks, which a virtual machine that reports free memory to
/// its hypervisor has given back, and each first touch of them waits for
/// the host. 2 GiB over loopback took 1.17 s and 1.10 CPU-s with 32 KiB
/// writes against 1.98 s and 2.16 CPU-s with 128 KiB ones (plain HTTP,
/// `--no-verify`, medians of six interleaved runs), and 2.46 against 2.77 s
/// over HTTPS with verification.
const COPY_BUFFER: usize = 32 * 1024;

/// How many times a transfer whose connection broke is resumed within one call.
const RESUMES_PER_CALL: u32 = 5;

/// Parses `Content-Range: bytes a-b/n` into its first byte.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_start_is_parsed() {
        assert_eq!(content_range_start("bytes 100-199/1000"), Some(100));
        assert_eq!(content_range_start("bytes */1000"), None);
        assert_eq!(partial_path(Path::new("/b/abc")), Path::new("/b/abc.incomplete"));
    }

    proptest::proptest! {
        #[test]
        fn content_ranges_give_their_first_byte(
            start in proptest::prelude::any::<u64>(),
            end in proptest::prelude::any::<u64>(),
            total in "[0-9]{1,20}|\\*",
            space in "[ \t]{0,2}",
        ) {
            let value = format!("{space}bytes {start}-{end}/{total}{space}");
            proptest::prop_assert_eq!(content_range_start(&value), Some(start));
        }

        #[test]
        fn any_content_range_is_read_or_refused(value in "\\PC{0,24}|bytes[ 0-9*/-]{0,24}") {
            if let Some(start) = content_range_start(&value) {
                proptest::prop_assert!(value.contains(&start.to_string()), "{:?}", value);
            }
        }
    }
}
