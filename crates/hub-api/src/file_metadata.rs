//! `get_hf_file_metadata`: what the Hub says of a file without downloading it.

use crate::client::HubClient;
use crate::error::{Error, Result};
use crate::redirect::RedirectPolicy;
use crate::request::HubRequest;
use crate::server_ids::{check_blob_id, check_commit_id};
use crate::target::RequestTarget;

/// A file's metadata, from a `HEAD` on its `resolve` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileMetadata {
    /// The commit the revision resolved to (`X-Repo-Commit`).
    pub commit_hash: String,
    /// The blob's identity: the sha256 for LFS files (`X-Linked-Etag`), the git blob id otherwise.
    pub etag: String,
    /// Where the bytes are: the CDN URL for LFS files, the resolve URL otherwise.
    pub location: String,
    /// The size in bytes.
    pub size: Option<u64>,
    /// Whether the bytes live on another origin (an LFS file on the CDN).
    pub is_lfs: bool,
    /// The Xet hash of a file in Xet storage (`X-Xet-Hash`), when it is one:
    /// 64 lowercase hex digits, anything else is left out.
    pub xet_hash: Option<String>,
}

/// An etag without its quotes and weak marker, as the cache names blobs.
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_start_matches("W/").trim_matches('"').to_string()
}

impl HubClient {
    /// Reads a file's metadata with a `HEAD` on its resolve URL: redirects on
    /// the endpoint (renamed repos) are followed, the redirect to the CDN is not.
    pub fn file_metadata(&self, url: &str, target: RequestTarget) -> Result<FileMetadata> {
        let mut request = HubRequest::head(url)
            .target(target)
            .redirects(RedirectPolicy::SameOriginOnly);
        request.timeout = self.etag_timeout();
        let response = self.send(&request)?;
        let header = |name: &str| response.header(name).map(str::to_string).filter(|v| !v.is_empty());
        let invalid = |reason: String| Error::InvalidResponse {
            url: url.to_string(),
            reason,
        };
        let missing = |what: &str| invalid(format!("the Hub sent no {what}: is the endpoint a Hugging Face Hub?"));
        let commit_hash = header("x-repo-commit").ok_or_else(|| missing("X-Repo-Commit header"))?;
        check_commit_id("X-Repo-Commit", &commit_hash).map_err(invalid)?;
        let linked_etag = header("x-linked-etag");
        let is_lfs = linked_etag.is_some();
        let (etag_header, etag) = match linked_etag {
            Some(linked) => ("X-Linked-Etag", linked),
            None => ("ETag", header("etag").ok_or_else(|| missing("ETag header"))?),
        };
        let etag = normalize_etag(&etag);
        check_blob_id(etag_header, &etag).map_err(invalid)?;
        // A redirect's own Content-Length is the size of the redirect's body,
        // not of the file: behind a redirect only X-Linked-Size tells, and
        // without it the size is learnt from the response that has the bytes.
        let redirected = crate::redirect::is_redirect(response.status());
        let size = match header("x-linked-size") {
            Some(size) => Some(parse_size("X-Linked-Size", &size).map_err(invalid)?),
            None if redirected => None,
            None => header("content-length")
                .map(|size| parse_size("Content-Length", &size))
                .transpose()
                .map_err(invalid)?,
        };
        let location = match header("location") {
            Some(location) => crate::redirect::resolve_location(response.url(), &location)
                .ok_or_else(|| missing("usable Location header"))?,
            None => response.url().to_string(),
        };
        let xet_hash = header("x-xet-hash").and_then(|hash| crate::server_ids::xet_hash("X-Xet-Hash", hash));
        Ok(FileMetadata {
            commit_hash,
            etag,
            location,
            size,
            is_lfs,
            xet_hash,
        })
    }
}

/// A size header as a number of bytes, or the reason it is refused.
fn parse_size(header: &str, value: &str) -> std::result::Result<u64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{header} {value:?} is not a size in bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_lose_quotes_and_weak_marker() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
    }
}
