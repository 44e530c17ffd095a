//! Fetching a blob from Xet storage: the file's reconstruction, its xorb ranges fetched in
//! parallel and rebuilt into the partial file (`hub_xet::reconstruct_file`), through the
//! chunk cache that every download shares (across files, revisions, repos and processes).
//! The size and sha256 checks and the rename that follow are those of every blob.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hub_api::HubClient;
use hub_xet::{CasClient, ChunkCache, ReconstructOptions, XetHash, XetScope, XetTokenSource, xet_token_url};
use sha2::{Digest, Sha256};

use super::hasher::PrefixHasher;
use super::{BlobSource, TransferSettings, discard, hex, open_partial};
use crate::connection_budget::ConnectionBudget;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// The folder of the chunk cache under `HF_XET_CACHE`. Not `hf_xet`'s own `chunk-cache`:
/// the two formats differ, and neither client must take the other's files for damaged ones.
pub(crate) const CHUNK_CACHE_FOLDER: &str = "hub-rs-chunk-cache";

/// Token sources kept for the process, as the Python client keeps its Xet connection
/// info: one token exchange serves every file of a repo's revision.
const TOKEN_SOURCES_KEPT: usize = 64;

/// Values kept for the process by key, oldest use first.
type Kept<K, V> = Vec<(K, Arc<V>)>;

/// What a blob's Xet download needs besides the blob itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct XetBlob<'a> {
    /// The file's Xet hash (`X-Xet-Hash`, `xetHash`).
    pub(crate) file_hash: &'a str,
    /// The route tokens come from, as the file's `HEAD` named it (`rel="xet-auth"`); else
    /// the read-token route of the repo at `commit`.
    pub(crate) refresh_route: Option<&'a str>,
    /// The commit the file is read at.
    pub(crate) commit: &'a str,
    /// The chunk cache folder, if chunks are kept.
    pub(crate) chunk_cache: Option<&'a Path>,
}

/// Whether the blob came through Xet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XetFetch {
    /// The partial file holds the rebuilt bytes, to be checked and renamed; with their
    /// sha256 when one is to be checked and it could be computed as the terms were written
    /// (else the file is read again to hash it).
    Fetched {
        /// The bytes' sha256, lowercase hex.
        sha256: Option<String>,
    },
    /// The Hub offers no Xet for it (an LFS-only hub answers 404 to the token route):
    /// fetch it over plain HTTP.
    NotOffered,
}

/// Rebuilds the blob into `partial` from Xet storage. Whatever `partial` held is not
/// trusted: it is rewritten whole, and what a killed download had fetched comes back from
/// the chunk cache instead of the network.
pub(crate) fn fetch(
    client: &HubClient,
    xet: &XetBlob<'_>,
    source: &BlobSource<'_>,
    partial: &Path,
    settings: &TransferSettings,
    budget: &ConnectionBudget,
    progress: &dyn Progress,
) -> Result<XetFetch> {
    let (Ok(file_hash), Some(size)) = (xet.file_hash.parse::<XetHash>(), source.expected_size) else {
        return Ok(XetFetch::NotOffered);
    };
    let xet_error = |error: hub_xet::Error| Error::Xet {
        path: source.repo_path.to_string(),
        source: Box::new(error),
    };
    let tokens = token_source(client, xet, source)?;
    // Asked first, so that a hub without Xet is told from a file the CAS does not know.
    match tokens.token() {
        Ok(_) => {}
        Err(error) if error.status() == Some(404) => {
            log::debug!("no Xet token for {}: fetching it over HTTP", source.repo_path);
            return Ok(XetFetch::NotOffered);
        }
        Err(error) => return Err(xet_error(error)),
    }
    let cas = CasClient::new(client, tokens);
    let cache = xet.chunk_cache.map(chunk_cache);
    discard(partial);
    let file = open_partial(partial)?;
    let path = source.repo_path;
    let advance = |bytes: u64| {
        progress.event(&ProgressEvent::Advanced {
            path: path.to_string(),
            bytes,
        })
    };
    // Each xorb request takes a connection of the call's budget, which a snapshot's files
    // share: many Xet files at once never open more connections than one large file would.
    let gate = |request: &mut dyn FnMut()| {
        let _permit = budget.acquire();
        request();
    };
    let mut options = ReconstructOptions::default()
        .workers(settings.connections.max(1))
        .progress(&advance)
        .connection_gate(&gate);
    if let Some(cache) = cache.as_deref().filter(|c| c.is_enabled()) {
        options = options.chunk_cache(cache);
    }
    // The sha256 is computed in file order as the terms are written, while the others
    // arrive: what it reads back is still in the page cache, and the check does not wait
    // for the whole file to be read again after the rebuild.
    let hasher = match source.expected_sha256.is_some() && settings.verify {
        true => Some(PrefixHasher::start(partial, size).map_err(Error::io("read", partial))?),
        false => None,
    };
    let frontier = Mutex::new(Frontier::default());
    let term_written = |offset: u64, len: u64| {
        let ready = frontier
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .written(offset, len);
        if let (Some(hasher), Some(ready)) = (&hasher, ready) {
            hasher.advance(ready);
        }
    };
    if hasher.is_some() {
        options = options.term_written(&term_written);
    }
    let outcome = hub_xet::reconstruct_file(&cas, &file_hash, size, &file, partial, &options).map_err(xet_error)?;
    let rewritten = frontier
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .rewritten;
    let sha256 = match hasher {
        Some(hasher) if !rewritten => Some(hasher.finish().map_err(Error::io("read", partial))?),
        // Bytes it had hashed may have been written again since: the file is read again.
        _ => None,
    };
    log::debug!(
        "{path} rebuilt from Xet storage: {} bytes from the chunk cache, {} xorb bytes in {} requests",
        outcome.bytes_from_cache,
        outcome.xorb_bytes_fetched,
        outcome.fetches
    );
    Ok(XetFetch::Fetched { sha256 })
}

/// The terms of a rebuild written so far, as far as they make a prefix of the file.
#[derive(Debug, Default)]
struct Frontier {
    /// Bytes from the start of the file that are written.
    end: u64,
    /// Terms written beyond `end`: offset to length.
    ahead: BTreeMap<u64, u64>,
    /// A term was reported twice (its fetch broke off, or the file was fetched again after
    /// a failed check): bytes already hashed may have been written again.
    rewritten: bool,
}

impl Frontier {
    /// Records the term at `offset`; returns the new end of the prefix when it grew.
    fn written(&mut self, offset: u64, len: u64) -> Option<u64> {
        if offset < self.end || self.ahead.contains_key(&offset) {
            self.rewritten = true;
            return None;
        }
        self.ahead.insert(offset, len);
        let start = self.end;
        while let Some(len) = self.ahead.remove(&self.end) {
            self.end += len;
        }
        (self.end > start).then_some(self.end)
    }
}

/// The token source for this blob's repo and revision: one per route and Hub token for the
/// process, so that a snapshot's files, and the next call's, share one token.
fn token_source(client: &HubClient, xet: &XetBlob<'_>, source: &BlobSource<'_>) -> Result<Arc<XetTokenSource>> {
    static SOURCES: OnceLock<Mutex<Kept<String, XetTokenSource>>> = OnceLock::new();
    let Some((repo_type, repo_id)) = source.target.repo.as_ref() else {
        return Err(Error::Xet {
            path: source.repo_path.to_string(),
            source: "a Xet download needs the repo the file is in".into(),
        });
    };
    let route = match xet.refresh_route {
        Some(route) => route.to_string(),
        None => xet_token_url(client.endpoint(), *repo_type, repo_id, xet.commit, XetScope::Read),
    };
    // The Hub token is part of the key (hashed: the key is kept), so a token is never used
    // for another caller's repo access.
    let fingerprint = client
        .token()
        .map(|token| hex(&Sha256::digest(token.expose().as_bytes())));
    let key = format!("{route} {}", fingerprint.unwrap_or_default());
    let mut sources = SOURCES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(index) = sources.iter().position(|(k, _)| *k == key) {
        let entry = sources.remove(index);
        let tokens = entry.1.clone();
        sources.push(entry);
        return Ok(tokens);
    }
    let tokens = match xet.refresh_route {
        Some(route) => {
            XetTokenSource::from_refresh_route(client, route, *repo_type, repo_id).map_err(|error| Error::Xet {
                path: source.repo_path.to_string(),
                source: Box::new(error),
            })?
        }
        None => XetTokenSource::new(client, *repo_type, repo_id, xet.commit, XetScope::Read),
    };
    let tokens = Arc::new(tokens);
    if sources.len() >= TOKEN_SOURCES_KEPT {
        sources.remove(0);
    }
    sources.push((key, tokens.clone()));
    Ok(tokens)
}

/// The chunk cache in `folder`, one for the process (it counts its size once).
fn chunk_cache(folder: &Path) -> Arc<ChunkCache> {
    static CACHES: OnceLock<Mutex<Kept<PathBuf, ChunkCache>>> = OnceLock::new();
    let mut caches = CACHES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, cache)) = caches.iter().find(|(path, _)| path == folder) {
        return cache.clone();
    }
    let cache = Arc::new(ChunkCache::new(folder, hub_xet::DEFAULT_CHUNK_CACHE_BYTES));
    caches.push((folder.to_path_buf(), cache.clone()));
    cache
}

#[cfg(test)]
mod tests {
    use super::Frontier;

    #[test]
    fn frontier_grows_over_terms_written_out_of_order() {
        let mut frontier = Frontier::default();
        assert_eq!(frontier.written(10, 5), None);
        assert_eq!(frontier.written(0, 10), Some(15));
        assert_eq!(frontier.written(20, 5), None);
        assert_eq!(frontier.written(15, 5), Some(25));
        assert!(!frontier.rewritten);
    }

    #[test]
    fn a_term_written_twice_is_noticed() {
        let mut frontier = Frontier::default();
        assert_eq!(frontier.written(0, 10), Some(10));
        assert_eq!(frontier.written(0, 10), None);
        assert!(frontier.rewritten);
        let mut ahead = Frontier::default();
        assert_eq!(ahead.written(10, 5), None);
        assert_eq!(ahead.written(10, 5), None);
        assert!(ahead.rewritten);
    }
}
