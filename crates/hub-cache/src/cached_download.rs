//! `cached_download`: any URL into the cache. A Hub `resolve` URL lands in
//! the same repo entry `hf_hub_download` uses; any other URL in an entry keyed
//! by the URL under `{cache}/.url_cache/`.

use std::path::PathBuf;

use hub_api::{HubClient, HubRequest, RequestTarget, normalize_etag};
use hub_url::{RepoId, RepoType, Revision};
use sha2::{Digest, Sha256};

use crate::blob_lock::BlobLock;
use crate::connection_budget::ConnectionBudget;
use crate::download::{DownloadOptions, FetchOptions, download_file};
use crate::error::{Error, Result};
use crate::fetch::{BlobSource, fetch_blob, hex};

/// A Hub file named by its `resolve` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveUrl {
    /// The repo type.
    pub repo_type: RepoType,
    /// The repo id.
    pub repo_id: RepoId,
    /// The revision.
    pub revision: Revision,
    /// The path in the repo.
    pub path: String,
}

/// Reads `{endpoint}/{prefix}{repo}/resolve/{revision}/{path}` back into its parts.
pub fn parse_resolve_url(url: &str, endpoint: &str) -> Option<ResolveUrl> {
    let rest = url.strip_prefix(endpoint.trim_end_matches('/'))?.strip_prefix('/')?;
    let rest = rest.split(['?', '#']).next()?;
    let (repo_type, rest) = match rest.split_once('/')? {
        ("datasets", r) => (RepoType::Dataset, r),
        ("spaces", r) => (RepoType::Space, r),
        _ => (RepoType::Model, rest),
    };
    let (repo, after) = rest.split_once("/resolve/")?;
    let (revision, path) = after.split_once('/')?;
    Some(ResolveUrl {
        repo_type,
        repo_id: RepoId::new(&percent_decode(repo)).ok()?,
        revision: Revision::new(&percent_decode(revision)).ok()?,
        path: percent_decode(path),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Downloads a URL into the cache and returns the local path. A `resolve`
/// URL of the client's Hub is [`hf_hub_download`](crate::hf_hub_download) of
/// the file it names.
///
/// ```no_run
/// use hub_cache::{FetchOptions, HubClient, HubConfig, cached_download};
///
/// # fn main() -> Result<(), hub_cache::Error> {
/// let config = HubConfig::from_env()?;
/// let client = HubClient::from_config(&config)?;
/// let url = "https://huggingface.co/openai-community/gpt2/resolve/main/config.json";
/// let path = cached_download(&client, url, &FetchOptions::from_config(&config))?;
/// # Ok(())
/// # }
/// ```
pub fn cached_download(client: &HubClient, url: &str, options: &FetchOptions<'_>) -> Result<PathBuf> {
    let client = &client.for_call(&options.call);
    if let Some(resolved) = parse_resolve_url(url, client.endpoint().as_str()) {
        let options = DownloadOptions::with_fetch(options.clone())
            .repo_type(resolved.repo_type)
            .revision(resolved.revision);
        return download_file(client, &resolved.repo_id, &resolved.path, &options);
    }
    let folder = options.cache_dir.join(".url_cache");
    let key = hex(&Sha256::digest(url.as_bytes()));
    if options.local_files_only {
        return find_cached_url(&folder, &key).ok_or_else(|| Error::NotCached {
            repo: url.to_string(),
            revision: "-".into(),
            path: url.to_string(),
            cache_dir: options.cache_dir.clone(),
        });
    }
    let response = client.send(&HubRequest::head(url))?;
    let etag = response.header("etag").map(normalize_etag);
    let size = response.header("content-length").and_then(|s| s.parse().ok());
    let final_url = response.url().to_string();
    let name = match &etag {
        Some(etag) => format!("{key}.{}", hex(&Sha256::digest(etag.as_bytes()))),
        None => key.clone(),
    };
    let destination = folder.join(&name);
    if destination.exists() && !options.force_download && etag.is_some() {
        return Ok(destination);
    }
    let _lock = BlobLock::acquire(&folder.join(format!("{name}.lock")))?;
    let source = BlobSource {
        url: &final_url,
        target: RequestTarget::default(),
        repo_path: url,
        expected_size: size,
        expected_sha256: None,
        expected_git_blob: None,
        url_is_final: true,
        xet: None,
    };
    fetch_blob(
        client,
        &source,
        &destination,
        &options.transfer,
        &ConnectionBudget::new(options.transfer.connections),
        options.progress,
    )?;
    Ok(destination)
}

/// The newest cached copy of a URL, whatever its etag.
fn find_cached_url(folder: &std::path::Path, key: &str) -> Option<PathBuf> {
    std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(key) && !n.ends_with(".lock") && !n.ends_with(".incomplete") && !n.ends_with(".parts")
            })
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_urls_parse_back() {
        let parsed = parse_resolve_url(
            "https://hf.co/datasets/org/data/resolve/refs%2Fpr%2F1/sub/a%20b.txt",
            "https://hf.co",
        )
        .expect("a resolve URL");
        assert_eq!(parsed.repo_type, RepoType::Dataset);
        assert_eq!(parsed.repo_id.as_str(), "org/data");
        assert_eq!(parsed.revision.as_str(), "refs/pr/1");
        assert_eq!(parsed.path, "sub/a b.txt");
        let model = parse_resolve_url("https://hf.co/gpt2/resolve/main/config.json", "https://hf.co").expect("model");
        assert_eq!(model.repo_id.as_str(), "gpt2");
        assert_eq!(model.repo_type, RepoType::Model);
        assert!(parse_resolve_url("https://other.example/gpt2/resolve/main/x", "https://hf.co").is_none());
    }
}
