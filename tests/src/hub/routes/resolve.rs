//! `HEAD|GET /{prefix}{repo}/resolve/{rev}/{path}`: a file's content, or for LFS files a
//! redirect to the presigned CDN URL.

use std::io::{self, Read};

use super::xet_cdn::bridge_query;
use super::{
    Caller, Hub, RepoKey, Request, Response, cdn_origin, check_content_access, entry_not_found, internal_error,
    open_repo, resolve_revision,
};
use crate::http::Body;
use crate::hub::range;
use crate::hub::signing::DEFAULT_TTL_SECS;
use crate::hub::snapshot::Entry;
use crate::hub::xet::token::repo_scope;

/// Regular blobs up to this size are read whole; larger ones are streamed from git.
const IN_MEMORY_BLOB: u64 = 8 * 1024 * 1024;

/// Answers a resolve request.
pub(super) fn resolve(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: &str,
    path: &str,
) -> Response {
    let answer = || -> Result<Response, Response> {
        let repo = open_repo(hub, caller, key)?;
        check_content_access(hub, caller, key, &repo)?;
        let commit = resolve_revision(hub, key, revision)?;
        let snapshot = hub.snapshot(key, &commit).map_err(|e| internal_error(&e))?;
        let Some(entry) = snapshot.get(path).filter(|e| e.is_file()) else {
            return Err(entry_not_found(&commit, path, revision));
        };
        let response = match entry.lfs() {
            Some(lfs) => {
                let xet_hash = xet_hash_of(hub, key, &lfs.oid);
                let location = match (&xet_hash, hub.lfs.object_size(&lfs.oid)) {
                    // Only in Xet storage: plain HTTP clients get the bytes from the bridge.
                    (Some(hash), None) => format!(
                        "{}/cdn/xet/{hash}?{}",
                        cdn_origin(base),
                        bridge_query(hub, hash, hub.xet.as_ref().map_or(DEFAULT_TTL_SECS, |x| x.url_ttl_secs))
                    ),
                    _ => format!(
                        "{}/cdn/lfs/{}?{}",
                        cdn_origin(base),
                        lfs.oid,
                        hub.signer.query(&[&lfs.oid], DEFAULT_TTL_SECS)
                    ),
                };
                let mut response = Response::empty(302)
                    .with_header("Location", location)
                    .with_header("X-Linked-Etag", format!("\"{}\"", lfs.oid))
                    .with_header("X-Linked-Size", lfs.size.to_string())
                    .with_header("ETag", format!("\"{}\"", entry.oid))
                    .with_header("Accept-Ranges", "bytes");
                if let Some(hash) = xet_hash {
                    // Xet clients fetch a read token from the refresh route and reconstruct.
                    let refresh = format!(
                        "{base}/api/{}/{}/xet-read-token/{commit}",
                        key.repo_type.plural(),
                        key.repo_id
                    );
                    response = response
                        .with_header("X-Xet-Hash", hash.to_string())
                        .with_header("Link", format!("<{refresh}>; rel=\"xet-auth\""));
                }
                response
            }
            None => regular_file(hub, request, key, entry).map_err(|e| internal_error(&e))?,
        };
        Ok(response.with_header("X-Repo-Commit", commit.as_str()))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// The Xet hash of the content with this sha256 when Xet storage holds it for the repo.
pub(super) fn xet_hash_of(hub: &Hub, key: &RepoKey, sha256: &str) -> Option<crate::hub::xet::hash::XetHash> {
    hub.xet.as_ref()?.readable_by(sha256, &repo_scope(key))
}

fn regular_file(hub: &Hub, request: &Request, key: &RepoKey, entry: &Entry) -> Result<Response, crate::EmulatorError> {
    let size = entry.size();
    let head = request.method == "HEAD";
    let git_dir = hub.git_dir(key);
    let git = crate::hub::git::Git::new(&git_dir);
    let range = range::parse(request.header("range"), size);
    let response = range::respond(range, size, |offset, len| {
        if head {
            // HEAD announces the length without reading the blob.
            return Ok(Body::Reader {
                reader: Box::new(io::empty()),
                len,
            });
        }
        if size <= IN_MEMORY_BLOB {
            let bytes = hub.blobs.get(&git, &entry.oid)?;
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
            let end = usize::try_from(offset + len).unwrap_or(usize::MAX).min(bytes.len());
            return Ok(Body::Bytes(bytes[start..end].to_vec()));
        }
        let mut stream = git.stream_blob(&entry.oid)?;
        io::copy(&mut (&mut stream).take(offset), &mut io::sink())
            .map_err(|e| crate::EmulatorError::io(&git_dir, e))?;
        Ok(Body::Reader {
            reader: Box::new(stream.take(len)),
            len,
        })
    })?;
    Ok(response
        .with_header("ETag", format!("\"{}\"", entry.oid))
        .with_header("Content-Type", content_type(&entry.path)))
}

/// A content type by extension, as the Hub serves raw files.
fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json; charset=utf-8",
        "md" | "txt" | "py" | "yaml" | "yml" | "csv" | "gitattributes" | "toml" | "cfg" | "ini" => {
            "text/plain; charset=utf-8"
        }
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}
