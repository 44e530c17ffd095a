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
    /// Where Xet read tokens for the file come from, when the Hub named the route
    /// (`Link: <…>; rel="xet-auth"`, else `X-Xet-Refresh-Route`), as an absolute URL.
    pub xet_refresh_route: Option<String>,
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
        let xet_refresh_route = xet_hash
            .as_ref()
            .and_then(|_| {
                response
                    .header("link")
                    .and_then(xet_auth_link)
                    .or_else(|| header("x-xet-refresh-route"))
            })
            .and_then(|route| crate::redirect::resolve_location(response.url(), &route));
        Ok(FileMetadata {
            commit_hash,
            etag,
            location,
            size,
            is_lfs,
            xet_hash,
            xet_refresh_route,
        })
    }
}

/// The target of the `rel="xet-auth"` link of a `Link` header, if it has one.
fn xet_auth_link(value: &str) -> Option<String> {
    value.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_xet_auth = params.split(';').any(|param| {
            param
                .trim()
                .split_once('=')
                .is_some_and(|(name, value)| name.trim() == "rel" && value.trim().trim_matches('"') == "xet-auth")
        });
        is_xet_auth.then(|| target.to_string())
    })
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
    fn the_xet_auth_link_is_found_among_others() {
        let header = r#"<https://hub/next>; rel="next", <https://hub/api/models/a/b/xet-read-token/c>; rel="xet-auth""#;
        assert_eq!(
            xet_auth_link(header).as_deref(),
            Some("https://hub/api/models/a/b/xet-read-token/c")
        );
        assert_eq!(xet_auth_link("<https://hub/next>; rel=\"next\""), None);
        assert_eq!(xet_auth_link("garbage"), None);
    }

    #[test]
    fn etags_lose_quotes_and_weak_marker() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
    }
}
