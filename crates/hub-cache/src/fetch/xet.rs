//! Fetching a blob from Xet storage: the file's reconstruction, its xorb ranges fetched in
//! parallel and rebuilt into the partial file (`hub_xet::reconstruct_file`), taking the
//! chunks that files on this machine already hold from them, through the chunk index that
//! every download shares (across files, revisions, repos and processes). The rebuild checks
//! the file's Xet hash; the size check and the rename that follow are those of every blob.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hub_api::HubClient;
use hub_xet::{CasClient, ChunkIndex, ChunkSpan, ReconstructOptions, XetHash, XetScope, XetTokenSource, xet_token_url};
use sha2::{Digest, Sha256};

use super::{BlobSource, TransferSettings, hex, open_partial};
use crate::connection_budget::ConnectionBudget;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressEvent};

/// The folder of the chunk index under `HF_XET_CACHE` (`hf_xet` keeps its own chunk cache,
/// off by default, in `chunk-cache`).
pub(crate) const CHUNK_INDEX_FOLDER: &str = "hub-rs-chunk-index";

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
    /// The chunk index folder, if chunks are looked for on this machine.
    pub(crate) chunk_index: Option<&'a Path>,
}

/// Whether the blob came through Xet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XetFetch {
    /// The partial file holds the rebuilt bytes, their Xet hash checked, to be renamed.
    Fetched(Rebuilt),
    /// The Hub offers no Xet for it (an LFS-only hub answers 404 to the token route):
    /// fetch it over plain HTTP.
    NotOffered,
}

/// A rebuilt blob's chunks, to record in the chunk index where the blob stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rebuilt {
    index: Option<PathBuf>,
    spans: Vec<ChunkSpan>,
}

impl Rebuilt {
    /// Records that the blob rebuilt in `partial` is now at `destination`.
    pub(crate) fn moved(&self, partial: &Path, destination: &Path) {
        let Some(index) = self.index.as_deref().map(chunk_index) else {
            return;
        };
        if let Err(error) = index.moved(partial, destination, &self.spans) {
            log::debug!("could not record {} in the chunk index: {error}", destination.display());
        }
    }
}

/// Rebuilds the blob into `partial` from Xet storage. Whatever `partial` held is not
/// trusted: every byte is checked or written again. What a killed download had written
/// there is found through the chunk index, checked in place and kept, instead of being
/// fetched again.
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
    let index = xet.chunk_index.map(chunk_index);
    let file = open_partial(partial)?;
    let path = source.repo_path;
    let advance = |bytes: u64| {
        progress.event(&ProgressEvent::Advanced {
            path: path.to_string(),
            bytes,
        })
    };
    // Each xorb request takes a connection of the call's budget, which a snapshot's files
    // share: however many Xet files are in flight, the call never holds more than its budget.
    let gate = |request: &mut dyn FnMut()| {
        let _permit = budget.acquire();
        request();
    };
    let mut options = ReconstructOptions::default()
        .workers(settings.connections.max(1))
        .progress(&advance)
        .connection_gate(&gate);
    if let Some(index) = index.as_deref() {
        options = options.chunk_index(index);
    }
    let outcome = hub_xet::reconstruct_file(&cas, &file_hash, size, &file, partial, &options).map_err(xet_error)?;
    log::debug!(
        "{path} rebuilt from Xet storage: {} bytes found on this machine, {} xorb bytes in {} requests",
        outcome.bytes_found_locally,
        outcome.xorb_bytes_fetched,
        outcome.fetches
    );
    Ok(XetFetch::Fetched(Rebuilt {
        index: xet.chunk_index.map(Path::to_path_buf),
        spans: outcome.spans,
    }))
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

/// The chunk index in `folder`, one for the process.
fn chunk_index(folder: &Path) -> Arc<ChunkIndex> {
    static INDEXES: OnceLock<Mutex<Kept<PathBuf, ChunkIndex>>> = OnceLock::new();
    let mut indexes = INDEXES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, index)) = indexes.iter().find(|(path, _)| path == folder) {
        return index.clone();
    }
    let index = Arc::new(ChunkIndex::new(folder));
    indexes.push((folder.to_path_buf(), index.clone()));
    index
}
