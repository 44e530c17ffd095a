//! Uploading LFS objects: the batch API, then `basic` PUTs or `multipart`
//! parts in parallel, completion and verify. One multipart routine serves
//! commits and the git-lfs transfer agent alike.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_url::{RepoId, RepoType};
use serde::Deserialize;
use serde_json::json;

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};
use crate::request::{HubRequest, Method};
use crate::request_body::{RequestBody, SentBytes};
use crate::target::RequestTarget;

/// The content type of the git-lfs batch API.
pub(crate) const LFS_CONTENT_TYPE: &str = "application/vnd.git-lfs+json";

/// How long a multipart completion may take to answer: the store assembles
/// the object first, which takes minutes for the largest files.
pub(crate) const COMPLETION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Parts of one `multipart` upload sent at once, unless told otherwise.
pub const DEFAULT_PART_WORKERS: usize = 8;

/// How many objects one batch request names (as the Python client).
pub(crate) const BATCH_SIZE: usize = 256;

/// The batch API's answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchResponse {
    #[serde(default)]
    pub(crate) objects: Vec<BatchObject>,
}

/// One object of the batch answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchObject {
    pub(crate) oid: String,
    #[serde(default)]
    pub(crate) actions: Option<BatchActions>,
    #[serde(default)]
    pub(crate) error: Option<BatchError>,
}

/// What to do with an object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchActions {
    #[serde(default)]
    pub(crate) upload: Option<LfsAction>,
    #[serde(default)]
    pub(crate) verify: Option<LfsAction>,
}

/// An error the batch API gives for one object.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchError {
    #[serde(default)]
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) message: String,
}

/// A transfer action: where to send, with which headers.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct LfsAction {
    /// The URL.
    pub href: String,
    /// Headers, or for multipart the part size and the part URLs.
    #[serde(default)]
    pub header: BTreeMap<String, serde_json::Value>,
}

impl LfsAction {
    /// An action at `href` with these header entries.
    pub fn new(href: impl Into<String>, header: BTreeMap<String, serde_json::Value>) -> Self {
        LfsAction {
            href: href.into(),
            header,
        }
    }

    fn header_str(&self, key: &str) -> Option<String> {
        self.header.get(key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The part size, when this is a multipart upload.
    pub fn chunk_size(&self) -> Option<u64> {
        self.header_str("chunk_size").and_then(|s| s.parse().ok())
    }

    /// The part URLs in part order: keys compared as numbers, never as strings.
    pub fn part_urls(&self) -> Vec<String> {
        let mut parts: Vec<(u64, String)> = self
            .header
            .iter()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_str()?.to_string())))
            .collect();
        parts.sort_by_key(|(n, _)| *n);
        parts.into_iter().map(|(_, url)| url).collect()
    }
}

/// Where the bytes of an object are.
#[derive(Clone)]
pub enum LfsContent {
    /// A file on disk.
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Arc<Vec<u8>>),
}

impl LfsContent {
    fn slice<'a>(&self, offset: u64, len: u64, on_sent: Option<SentBytes<'a>>) -> RequestBody<'a> {
        match self {
            LfsContent::File(path) => RequestBody::File {
                path: path.clone(),
                offset,
                len,
                on_sent,
            },
            LfsContent::Bytes(bytes) => {
                let start = offset as usize;
                let end = (offset + len) as usize;
                if let Some(report) = on_sent {
                    report(len);
                }
                RequestBody::Bytes(bytes.get(start..end).unwrap_or_default().to_vec())
            }
        }
    }
}

/// One object to upload.
pub struct LfsObject<'a> {
    /// Its sha256.
    pub oid: &'a str,
    /// Its size.
    pub size: u64,
    /// Its bytes.
    pub content: LfsContent,
    /// The name progress events carry.
    pub label: &'a str,
}

impl HubClient {
    /// Asks the batch API what to upload for these objects.
    pub(crate) fn lfs_batch(
        &self,
        repo_id: &RepoId,
        repo_type: RepoType,
        revision: &str,
        objects: &[(String, u64)],
    ) -> Result<BatchResponse> {
        let url = format!(
            "{}.git/info/lfs/objects/batch",
            self.endpoint().repo_url(repo_type, repo_id)
        );
        let payload = json!({
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": objects.iter().map(|(oid, size)| json!({ "oid": oid, "size": size })).collect::<Vec<_>>(),
            "hash_algo": "sha256",
            "ref": { "name": revision },
        });
        let request = HubRequest::new(Method::Post, url)
            .json_body(&payload)
            .header("accept", LFS_CONTENT_TYPE)
            .header("content-type", LFS_CONTENT_TYPE)
            .target(RequestTarget::repo(repo_type, repo_id).at(revision))
            .retry_post();
        self.send(&request)?.json()
    }

    /// Uploads one object as the batch answer says: one PUT (with the action's
    /// headers), or, when the action has a `chunk_size`, the parts in parallel
    /// (`part_workers` at once) then the completion; then the verify call when
    /// there is one. Progress events are named by the object's `label`.
    pub fn upload_lfs_object(
        &self,
        object: &LfsObject<'_>,
        upload: &LfsAction,
        verify: Option<&LfsAction>,
        part_workers: usize,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.event(&ProgressEvent::Started {
            path: object.label.to_string(),
            total: Some(object.size),
        });
        match upload.chunk_size() {
            Some(chunk_size) => self.upload_multipart(object, upload, chunk_size, part_workers, progress)?,
            None => {
                let report = |bytes| {
                    progress.event(&ProgressEvent::Advanced {
                        path: object.label.to_string(),
                        bytes,
                    })
                };
                let mut request = HubRequest::new(Method::Put, &upload.href).body(object.content.slice(
                    0,
                    object.size,
                    Some(&report),
                ));
                for (name, value) in &upload.header {
                    if let Some(value) = value.as_str() {
                        request = request.header(name, value);
                    }
                }
                self.send(&request)?.discard();
            }
        }
        if let Some(verify) = verify {
            let request = HubRequest::new(Method::Post, &verify.href)
                .json_body(&json!({ "oid": object.oid, "size": object.size }))
                .header("accept", LFS_CONTENT_TYPE)
                .header("content-type", LFS_CONTENT_TYPE)
                .retry_post();
            self.send(&request)?.discard();
        }
        progress.event(&ProgressEvent::Finished {
            path: object.label.to_string(),
        });
        Ok(())
    }

    /// Uploads the parts of an object in parallel (`workers` at once, each part
    /// retried on its own), then posts the completion with every part's ETag.
    pub fn upload_multipart(
        &self,
        object: &LfsObject<'_>,
        action: &LfsAction,
        chunk_size: u64,
        workers: usize,
        progress: &dyn Progress,
    ) -> Result<()> {
        let urls = action.part_urls();
        let expected_parts = object.size.div_ceil(chunk_size.max(1)) as usize;
        if urls.len() != expected_parts || chunk_size == 0 {
            return Err(Error::InvalidResponse {
                url: action.href.clone(),
                reason: format!(
                    "{} part URLs of {chunk_size} bytes for {} bytes: expected {expected_parts}",
                    urls.len(),
                    object.size
                ),
            });
        }
        let next = Mutex::new(0usize);
        let etags: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; urls.len()]);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let report = |bytes| {
            progress.event(&ProgressEvent::Advanced {
                path: object.label.to_string(),
                bytes,
            })
        };
        std::thread::scope(|scope| {
            for _ in 0..workers.clamp(1, urls.len().max(1)) {
                scope.spawn(|| {
                    loop {
                        if failed.load(Ordering::SeqCst) {
                            return;
                        }
                        let index = {
                            let Ok(mut n) = next.lock() else { return };
                            let index = *n;
                            *n += 1;
                            index
                        };
                        let Some(url) = urls.get(index) else { return };
                        let offset = index as u64 * chunk_size;
                        let len = chunk_size.min(object.size - offset);
                        let body = object.content.slice(offset, len, Some(&report));
                        let result = self
                            .send(&HubRequest::new(Method::Put, url).body(body))
                            .and_then(|response| {
                                let etag = response.header("etag").map(str::to_string).filter(|e| !e.is_empty());
                                response.discard();
                                etag.ok_or_else(|| Error::InvalidResponse {
                                    url: url.clone(),
                                    reason: format!("part {} was stored without an ETag", index + 1),
                                })
                            });
                        match result {
                            Ok(etag) => {
                                if let Ok(mut etags) = etags.lock() {
                                    etags[index] = Some(etag);
                                }
                            }
                            Err(error) => {
                                failed.store(true, Ordering::SeqCst);
                                if let Ok(mut slot) = first_error.lock() {
                                    slot.get_or_insert(error);
                                }
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = first_error.lock().ok().and_then(|mut e| e.take()) {
            return Err(error);
        }
        let etags = etags.into_inner().unwrap_or_default();
        let parts: Vec<_> = etags
            .into_iter()
            .enumerate()
            .map(|(i, etag)| json!({ "partNumber": i + 1, "etag": etag.unwrap_or_default() }))
            .collect();
        // The store assembles the whole object before it answers, minutes for the
        // largest files: wait for it rather than time out and send it again while
        // the first completion is still at work.
        let request = HubRequest::new(Method::Post, &action.href)
            .json_body(&json!({ "oid": object.oid, "parts": parts }))
            .header("accept", LFS_CONTENT_TYPE)
            .header("content-type", LFS_CONTENT_TYPE)
            .answer_timeout(COMPLETION_TIMEOUT)
            .retry_post();
        self.send(&request)?.discard();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_urls_are_ordered_by_number_not_text() {
        let mut header = BTreeMap::new();
        header.insert("chunk_size".to_string(), json!("5"));
        for n in [1, 2, 10, 3] {
            header.insert(n.to_string(), json!(format!("https://cdn/part{n}")));
        }
        let action = LfsAction::new("https://hub/complete", header);
        assert_eq!(action.chunk_size(), Some(5));
        let urls = action.part_urls();
        assert_eq!(
            urls,
            vec![
                "https://cdn/part1",
                "https://cdn/part2",
                "https://cdn/part3",
                "https://cdn/part10"
            ]
        );
    }
}
