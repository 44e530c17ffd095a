//! Registering an uploaded shard, all or nothing, after the checks the CAS makes: every
//! xorb it names is stored and lists the chunks it says, every term's chunk range exists
//! and has the declared size and verification hash, every file's chunks hash to its Xet
//! hash, and its content (rebuilt from the xorbs) has the declared sha256.

use std::io::Read;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::hash::{XetHash, file_hash, verification_hash};
use super::reconstruction::{ContentReader, plan};
use super::shard::{FileInfo, Shard};
use super::store::{CasStore, FileRecord, StoredTerm};
use super::xorb::XorbIndex;
use super::{XetError, refused};
use crate::hub::lfs_store::hex;

/// Chunks whose hash leaves this remainder are offered to global dedupe (besides each
/// file's first chunk), as the spec's eligibility rule says.
const DEDUPE_MODULUS: u64 = 1024;

/// Checks `shard` against `store` and registers its files for `repo` (the upload token's);
/// returns how many.
pub(crate) fn register(store: &CasStore, shard: &Shard, repo: &str) -> Result<usize, XetError> {
    for xorb in &shard.xorbs {
        let index = stored(store, &xorb.hash)?;
        let listed: Vec<XetHash> = index.chunks.iter().map(|c| c.hash).collect();
        if listed != xorb.chunks {
            return Err(refused(format!("the shard lists other chunks for xorb {}", xorb.hash)));
        }
    }
    let mut records = Vec::with_capacity(shard.files.len());
    for file in &shard.files {
        records.push((file.hash, check_file(store, file)?));
    }
    for (hash, (record, first_chunk)) in &records {
        store.put_file(hash, record, repo).map_err(XetError::Storage)?;
        if let Some((chunk, xorb)) = first_chunk {
            store.put_dedupe(chunk, xorb).map_err(XetError::Storage)?;
        }
    }
    for xorb in &shard.xorbs {
        for chunk in xorb.chunks.iter().filter(|c| c.tail().is_multiple_of(DEDUPE_MODULUS)) {
            store.put_dedupe(chunk, &xorb.hash).map_err(XetError::Storage)?;
        }
    }
    Ok(records.len())
}

fn stored(store: &CasStore, xorb: &XetHash) -> Result<Arc<XorbIndex>, XetError> {
    store
        .xorb_index(xorb)
        .map_err(XetError::Storage)?
        .ok_or_else(|| refused(format!("the shard names xorb {xorb}, which was not uploaded")))
}

/// A file's record once checked, and its first chunk with the xorb holding it.
type Checked = (FileRecord, Option<(XetHash, XetHash)>);

fn check_file(store: &CasStore, file: &FileInfo) -> Result<Checked, XetError> {
    let name = file.hash;
    let verification = file
        .verification
        .as_ref()
        .ok_or_else(|| refused(format!("file {name} has no verification entries")))?;
    let sha256 = file
        .sha256
        .ok_or_else(|| refused(format!("file {name} has no sha256 metadata entry")))?;
    let mut leaves = Vec::new();
    let mut terms = Vec::with_capacity(file.terms.len());
    for (term, expected) in file.terms.iter().zip(verification) {
        let index = stored(store, &term.xorb)?;
        let (start, end) = (term.start as usize, term.end as usize);
        if start >= end || end > index.chunks.len() {
            return Err(refused(format!(
                "file {name}: chunks {start}..{end} of xorb {} do not exist (it has {})",
                term.xorb,
                index.chunks.len()
            )));
        }
        let unpacked = index.unpacked_len(start, end);
        if unpacked != term.unpacked {
            return Err(refused(format!(
                "file {name}: a term declares {} bytes, its chunks hold {unpacked}",
                term.unpacked
            )));
        }
        let hashes: Vec<XetHash> = index.chunks[start..end].iter().map(|c| c.hash).collect();
        if verification_hash(&hashes) != *expected {
            return Err(refused(format!(
                "file {name}: a term's verification hash does not match"
            )));
        }
        leaves.extend(index.chunks[start..end].iter().map(|c| (c.hash, c.len)));
        terms.push(StoredTerm {
            xorb: term.xorb.to_string(),
            start: term.start,
            end: term.end,
        });
    }
    if file_hash(&leaves) != name {
        return Err(refused(format!(
            "file {name}: its chunks hash to {}",
            file_hash(&leaves)
        )));
    }
    let record = FileRecord {
        size: leaves.iter().map(|(_, len)| len).sum(),
        // xet-core stores the sha256 as it stores its own hashes: read as a hash string,
        // each 8-byte group reversed, it is the usual hex.
        sha256: XetHash(sha256).to_string(),
        terms,
        repos: Vec::new(),
    };
    let actual = content_sha256(store, &record)?;
    if actual != record.sha256 {
        return Err(refused(format!(
            "file {name}: its content has sha256 {actual}, not {}",
            record.sha256
        )));
    }
    let first_chunk = file.terms.first().zip(leaves.first()).map(|(t, (c, _))| (*c, t.xorb));
    Ok((record, first_chunk))
}

/// The sha256 of a file rebuilt from its xorbs.
fn content_sha256(store: &CasStore, record: &FileRecord) -> Result<String, XetError> {
    let mut hasher = Sha256::new();
    if record.size > 0 {
        let plan = plan(store, record, 0, record.size - 1).map_err(XetError::Storage)?;
        let mut reader = ContentReader::new(store, &plan);
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| XetError::Storage(crate::EmulatorError::io("xet/xorbs", e)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hex(&hasher.finalize()))
}
