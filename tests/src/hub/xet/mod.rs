//! The Hub's Xet storage: a content-addressed store (CAS) of xorbs and file
//! reconstructions, as the Xet protocol 1.1 describes it, served under `/~cas` of the
//! emulator's origin and driven by the real `hf_xet` client.
//!
//! The CAS checks what it is given the way the real one does ([`xorb::verify`],
//! [`register::register`]) but never chunks anything itself: clients do. Files registered
//! here become repo files when a commit names their sha256 (an `lfsFile` entry), and are
//! then served by reconstruction to Xet clients and by a bridge to plain HTTP ones.

pub(crate) mod counters;
pub(crate) mod hash;
pub(crate) mod reconstruction;
pub(crate) mod register;
pub(crate) mod shard;
pub(crate) mod store;
pub(crate) mod token;
pub(crate) mod xorb;

use std::io::Read;
use std::path::Path;

use self::counters::{Counters, add};
use self::hash::XetHash;
use self::reconstruction::{ContentReader, plan};
use self::shard::DedupeXorb;
use self::store::CasStore;
use super::signing::{UrlSigner, now_secs};
use crate::EmulatorError;

/// How long dedupe answers may be used by clients: a week.
const DEDUPE_VALIDITY_SECS: u64 = 7 * 24 * 3600;

/// The path prefix of the CAS on the emulator's origin.
pub(crate) const CAS_PREFIX: &str = "/~cas";

/// Why the CAS refused or failed a request.
#[derive(Debug)]
pub(crate) enum XetError {
    /// The request is wrong (400).
    Refused(String),
    /// The store failed (500).
    Storage(EmulatorError),
}

/// A 400 with this reason.
pub(crate) fn refused(reason: String) -> XetError {
    XetError::Refused(reason)
}

/// The CAS and its settings.
#[derive(Debug)]
pub(crate) struct XetCas {
    /// Xorbs and files on disk.
    pub(crate) store: CasStore,
    /// What was received and served.
    pub(crate) counters: Counters,
    /// The key dedupe answers protect chunk hashes with.
    dedupe_key: XetHash,
    /// How long Xet access tokens live (negative: already expired).
    pub(crate) token_ttl_secs: i64,
    /// How long presigned xorb and bridge URLs live (negative: already expired).
    pub(crate) url_ttl_secs: i64,
    /// Whether `GET /v2/reconstructions/…` is served.
    pub(crate) v2_reconstructions: bool,
}

impl XetCas {
    /// A CAS stored under `{root}/xet`.
    pub(crate) fn new(
        root: &Path,
        token_ttl_secs: i64,
        url_ttl_secs: i64,
        v2_reconstructions: bool,
    ) -> Result<XetCas, EmulatorError> {
        let seed = UrlSigner::new().sign(&["dedupe-key"], 0);
        Ok(XetCas {
            store: CasStore::new(root)?,
            counters: Counters::default(),
            dedupe_key: hash::chunk_hash(seed.as_bytes()),
            token_ttl_secs,
            url_ttl_secs,
            v2_reconstructions,
        })
    }

    /// Verifies and stores an uploaded xorb named `hash`; whether it was new.
    pub(crate) fn put_xorb(&self, hash: &XetHash, body: &[u8]) -> Result<bool, XetError> {
        add(&self.counters.xorb_uploads, 1);
        add(&self.counters.xorb_bytes_received, body.len() as u64);
        let index = xorb::verify(body, hash).map_err(XetError::Refused)?;
        let inserted = self.store.put_xorb(index, body).map_err(XetError::Storage)?;
        if inserted {
            add(&self.counters.xorbs_stored, 1);
        }
        Ok(inserted)
    }

    /// Checks and registers an uploaded shard for `repo`; how many files it registered.
    pub(crate) fn put_shard(&self, body: &[u8], repo: &str) -> Result<usize, XetError> {
        add(&self.counters.shard_uploads, 1);
        let shard = shard::parse(body).map_err(XetError::Refused)?;
        let files = register::register(&self.store, &shard, repo)?;
        add(&self.counters.shards_stored, 1);
        add(&self.counters.files_registered, files as u64);
        Ok(files)
    }

    /// The shard answering a global dedupe query for `chunk`, when a stored xorb holds it.
    pub(crate) fn dedupe(&self, chunk: &XetHash) -> Result<Option<Vec<u8>>, EmulatorError> {
        add(&self.counters.dedupe_queries, 1);
        let Some(xorb) = self.store.dedupe(chunk) else {
            return Ok(None);
        };
        let (Some(index), Some(stored_len)) = (self.store.xorb_index(&xorb)?, self.store.xorb_len(&xorb)) else {
            return Ok(None);
        };
        add(&self.counters.dedupe_hits, 1);
        let now = u64::try_from(now_secs()).unwrap_or(0);
        let xorbs = [DedupeXorb {
            index: &index,
            stored_len,
        }];
        Ok(Some(shard::dedupe_shard(
            &xorbs,
            &self.dedupe_key,
            now,
            now + DEDUPE_VALIDITY_SECS,
        )))
    }

    /// The Xet hash and size of the registered file with this sha256.
    pub(crate) fn file_by_sha256(&self, sha256: &str) -> Option<(XetHash, u64)> {
        let hash = self.store.file_by_sha256(sha256)?;
        let record = self.store.file(&hash)?;
        Some((hash, record.size))
    }

    /// The Xet hash of the registered file with this sha256 when `repo`'s tokens may read it.
    pub(crate) fn readable_by(&self, sha256: &str, repo: &str) -> Option<XetHash> {
        let hash = self.store.file_by_sha256(sha256)?;
        let record = self.store.file(&hash)?;
        record.repos.iter().any(|r| r == repo).then_some(hash)
    }

    /// The whole content of a registered file.
    pub(crate) fn read_file(&self, hash: &XetHash) -> Result<Option<Vec<u8>>, EmulatorError> {
        let Some(record) = self.store.file(hash) else {
            return Ok(None);
        };
        if record.size == 0 {
            return Ok(Some(Vec::new()));
        }
        let plan = plan(&self.store, &record, 0, record.size - 1)?;
        let mut out = Vec::with_capacity(usize::try_from(record.size).unwrap_or(0));
        ContentReader::new(&self.store, &plan)
            .read_to_end(&mut out)
            .map_err(|e| EmulatorError::io(self.store.xorb_path(hash), e))?;
        Ok(Some(out))
    }
}
