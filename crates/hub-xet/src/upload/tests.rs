//! The session against an in-memory CAS that checks what it is sent as the Hub's does.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::*;
use crate::dedupe::is_global_dedupe_eligible;
use crate::file_hasher::hash_reader;
use crate::shard::{ShardChunk, ShardFooter};
use crate::xorb::{XorbChunkReader, parse_xorb};

const KEY: [u8; 32] = [42; 32];

/// A CAS in memory: xorbs checked against their hash, shards against the xorbs, and
/// global dedupe answers for file starts and eligible chunks, keyed with [`KEY`].
#[derive(Default)]
struct MemoryCas {
    xorbs: Mutex<HashMap<XetHash, Vec<u8>>>,
    /// Chunk (plain hash) to the xorb info that holds it.
    dedupe: Mutex<HashMap<XetHash, XorbInfo>>,
    files: Mutex<HashMap<XetHash, FileInfo>>,
    xorb_bytes: Mutex<u64>,
    refuse_xorbs: bool,
    refuse_dedupe_queries: bool,
}

impl MemoryCas {
    fn xorb_info(&self, hash: &XetHash) -> Option<XorbInfo> {
        let bytes = self.xorbs.lock().ok()?.get(hash)?.clone();
        let parsed = parse_xorb(&bytes).ok()?;
        Some(XorbInfo {
            xorb_hash: *hash,
            chunks: parsed
                .chunks
                .iter()
                .map(|c| ShardChunk {
                    hash: c.hash,
                    raw_offset: c.raw_offset,
                    len: c.len,
                    flags: 0,
                })
                .collect(),
            raw_len: parsed.chunks.iter().map(|c| c.len).sum(),
            serialized_len: bytes.len() as u32,
        })
    }

    /// The file's bytes, rebuilt from its terms.
    fn read(&self, file: &XetHash) -> Vec<u8> {
        let info = self.files.lock().expect("lock")[file].clone();
        let xorbs = self.xorbs.lock().expect("lock");
        let mut out = Vec::new();
        for term in &info.terms {
            let chunks: Vec<Vec<u8>> = XorbChunkReader::new(&xorbs[&term.xorb_hash][..])
                .map(|c| c.expect("chunk").data)
                .collect();
            for chunk in &chunks[term.chunks.start as usize..term.chunks.end as usize] {
                out.extend_from_slice(chunk);
            }
        }
        out
    }

    fn xorb_bytes(&self) -> u64 {
        *self.xorb_bytes.lock().expect("lock")
    }
}

fn refused(reason: &str) -> Error {
    Error::InvalidShard {
        reason: Box::leak(reason.to_string().into_boxed_str()),
    }
}

impl CasUpload for MemoryCas {
    fn query_dedupe(&self, chunk_hash: &XetHash) -> Result<Option<Vec<u8>>, Error> {
        if self.refuse_dedupe_queries {
            return Err(refused("dedupe queries are refused"));
        }
        let Some(mut xorb) = self.dedupe.lock().expect("lock").get(chunk_hash).cloned() else {
            return Ok(None);
        };
        for chunk in &mut xorb.chunks {
            chunk.hash = chunk.hash.keyed(&KEY);
        }
        let shard = Shard {
            files: Vec::new(),
            xorbs: vec![xorb],
            footer: Some(ShardFooter {
                chunk_hash_hmac_key: KEY,
                created_at: 1,
                key_expiry: u64::MAX - 1,
            }),
        };
        Ok(Some(shard.to_bytes()?))
    }

    fn upload_xorb(&self, hash: &XetHash, xorb: &std::path::Path, len: u64) -> Result<(), Error> {
        if self.refuse_xorbs {
            return Err(refused("xorbs are refused"));
        }
        let bytes = std::fs::read(xorb).expect("a staged xorb");
        assert_eq!(bytes.len() as u64, len, "a staged xorb's length");
        let parsed = parse_xorb(&bytes)?;
        assert_eq!(parsed.hash, *hash, "a xorb's hash is that of its chunks");
        assert!(bytes.len() <= crate::MAX_XORB_BYTES);
        *self.xorb_bytes.lock().expect("lock") += bytes.len() as u64;
        self.xorbs.lock().expect("lock").insert(*hash, bytes);
        Ok(())
    }

    fn upload_shard(&self, bytes: Vec<u8>) -> Result<(), Error> {
        let shard = Shard::parse(&bytes)?;
        assert!(shard.footer.is_none(), "an upload has no footer");
        for xorb in &shard.xorbs {
            let stored = self.xorb_info(&xorb.xorb_hash).ok_or_else(|| refused("unknown xorb"))?;
            let plain: Vec<_> = stored.chunks.iter().map(|c| (c.hash, c.len)).collect();
            let listed: Vec<_> = xorb.chunks.iter().map(|c| (c.hash, c.len)).collect();
            assert_eq!(plain, listed);
        }
        for file in &shard.files {
            let verification = file.verification.as_ref().ok_or_else(|| refused("no verification"))?;
            let mut chunks = Vec::new();
            for (term, expected) in file.terms.iter().zip(verification) {
                let xorb = self
                    .xorb_info(&term.xorb_hash)
                    .ok_or_else(|| refused("term of an unknown xorb"))?;
                let range = xorb
                    .chunks
                    .get(term.chunks.start as usize..term.chunks.end as usize)
                    .ok_or_else(|| refused("chunk range"))?;
                let hashes: Vec<XetHash> = range.iter().map(|c| c.hash).collect();
                assert_eq!(verification_range_hash(&hashes), *expected);
                assert_eq!(range.iter().map(|c| c.len).sum::<u32>(), term.unpacked_len);
                chunks.extend(range.iter().map(|c| crate::HashedChunk {
                    hash: c.hash,
                    len: u64::from(c.len),
                }));
            }
            assert_eq!(file_hash(&chunks), file.file_hash);
            let mut dedupe = self.dedupe.lock().expect("lock");
            if let Some(first) = file.terms.first() {
                dedupe.insert(chunks[0].hash, self.xorb_info(&first.xorb_hash).expect("xorb"));
            }
            for term in &file.terms {
                let xorb = self.xorb_info(&term.xorb_hash).expect("xorb");
                for chunk in xorb.chunks.iter().filter(|c| is_global_dedupe_eligible(&c.hash)) {
                    dedupe.insert(chunk.hash, xorb.clone());
                }
            }
            self.files.lock().expect("lock").insert(file.file_hash, file.clone());
        }
        Ok(())
    }
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn temp_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::tempdir().map_err(|source| Error::Io {
        action: "create",
        path: "tmp".into(),
        source,
    })
}

/// How many files are in `dir` (`usize::MAX` when it cannot be read, so that no check of
/// an empty folder passes).
fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(usize::MAX, |d| d.count())
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[test]
fn files_come_back_byte_for_byte_with_their_hashes() -> Result<(), Error> {
    let cas = MemoryCas::default();
    let dir = temp_dir()?;
    let big = noise(20 << 20, 1);
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &big).map_err(|source| Error::Io {
        action: "write",
        path: path.clone(),
        source,
    })?;
    let small = b"a small file".to_vec();
    let text = "some text that compresses well. ".repeat(30_000).into_bytes();
    let sources = [
        UploadSource::File(&path),
        UploadSource::Bytes(&small),
        UploadSource::Bytes(&text),
        UploadSource::Bytes(&[]),
    ];
    let outcome = upload_files(&cas, &sources, &UploadOptions::default().file_workers(3), &())?;
    for (file, data) in outcome.files.iter().zip([&big[..], &small, &text, &[]]) {
        assert_eq!(file.size, data.len() as u64);
        assert_eq!(file.sha256, sha256(data));
        let expected = hash_reader(data).map_err(|source| Error::Read { source })?;
        assert_eq!(file.file_hash, expected.file_hash);
        if !data.is_empty() {
            assert_eq!(cas.read(&file.file_hash), data);
        }
    }
    assert_eq!(
        outcome.files[0].sha256_hex(),
        sha256(&big).iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    assert_eq!(outcome.stats.shards_uploaded, 1);
    assert_eq!(outcome.stats.bytes, (big.len() + small.len() + text.len()) as u64);
    // The text compresses; the noise does not.
    assert!(cas.xorb_bytes() < (big.len() + small.len() + text.len() / 10) as u64);
    Ok(())
}

#[test]
fn the_same_content_twice_in_a_session_is_sent_once() -> Result<(), Error> {
    let cas = MemoryCas::default();
    let data = noise(3 << 20, 2);
    let sources = [UploadSource::Bytes(&data), UploadSource::Bytes(&data)];
    let outcome = upload_files(&cas, &sources, &UploadOptions::default().file_workers(1), &())?;
    assert_eq!(outcome.files[0], outcome.files[1]);
    assert_eq!(outcome.stats.new_bytes, data.len() as u64);
    assert!(cas.xorb_bytes() < data.len() as u64 + 100_000);
    Ok(())
}

/// A copy of `data` with 1 MiB in the middle replaced.
fn edited(data: &[u8]) -> Vec<u8> {
    let mut copy = data.to_vec();
    let middle = data.len() / 2;
    copy[middle..middle + (1 << 20)].copy_from_slice(&noise(1 << 20, 99));
    copy
}

#[test]
fn a_cached_shard_makes_a_reupload_send_only_the_change() -> Result<(), Error> {
    let cas = MemoryCas::default();
    let cache = temp_dir()?;
    let options = UploadOptions::default().shard_cache(cache.path()).global_dedupe(false);
    let data = noise(24 << 20, 3);
    upload_files(&cas, &[UploadSource::Bytes(&data)], &options, &())?;
    let first = cas.xorb_bytes();

    // The same bytes: nothing new at all.
    let again = upload_files(&cas, &[UploadSource::Bytes(&data)], &options, &())?;
    assert_eq!(again.stats.new_bytes, 0);
    assert_eq!(again.stats.xorbs_uploaded, 0);

    let changed = edited(&data);
    let outcome = upload_files(&cas, &[UploadSource::Bytes(&changed)], &options, &())?;
    let sent = cas.xorb_bytes() - first;
    assert!(sent < (changed.len() / 5) as u64, "{sent} bytes sent");
    assert_eq!(outcome.stats.dedupe_queries, 0);
    assert_eq!(cas.read(&outcome.files[0].file_hash), changed);
    Ok(())
}

#[test]
fn global_dedupe_alone_makes_a_reupload_send_only_the_change() -> Result<(), Error> {
    let cas = MemoryCas::default();
    let data = noise(24 << 20, 4);
    upload_files(&cas, &[UploadSource::Bytes(&data)], &UploadOptions::default(), &())?;
    let first = cas.xorb_bytes();
    let changed = edited(&data);
    let outcome = upload_files(&cas, &[UploadSource::Bytes(&changed)], &UploadOptions::default(), &())?;
    let sent = cas.xorb_bytes() - first;
    assert!(sent < (changed.len() / 5) as u64, "{sent} bytes sent");
    assert!(outcome.stats.dedupe_hits >= 1);
    assert_eq!(cas.read(&outcome.files[0].file_hash), changed);
    Ok(())
}

#[test]
fn buffers_stay_bounded_whatever_the_file_size() -> Result<(), Error> {
    let cas = MemoryCas::default();
    let staging = temp_dir()?;
    // More than a xorb, and several times the bound: a xorb held in memory would break it.
    let data = noise(80 << 20, 6);
    let options = UploadOptions::default().staging_dir(staging.path());
    let outcome = upload_files(&cas, &[UploadSource::Bytes(&data)], &options, &())?;
    assert!(outcome.stats.xorbs_uploaded >= 2);
    let peak = outcome.stats.peak_buffered_bytes;
    assert!(peak > 0 && peak <= 20 << 20, "{peak} bytes held at once");
    assert_eq!(cas.read(&outcome.files[0].file_hash), data);
    // Staged xorbs are removed once sent.
    assert_eq!(files_in(staging.path()), 0);
    Ok(())
}

/// Uploads `data` with its xorbs staged in a new temporary folder, returned for inspection.
fn upload_staged(cas: &MemoryCas, data: &[u8]) -> (Result<UploadOutcome, Error>, tempfile::TempDir) {
    let staging = temp_dir().expect("a temporary folder");
    let options = UploadOptions::default().staging_dir(staging.path());
    (upload_files(cas, &[UploadSource::Bytes(data)], &options, &()), staging)
}

#[test]
fn a_refused_xorb_fails_the_upload_and_registers_nothing() {
    let cas = MemoryCas {
        refuse_xorbs: true,
        ..MemoryCas::default()
    };
    let (result, staging) = upload_staged(&cas, &noise(1 << 20, 5));
    assert!(result.is_err());
    assert!(cas.files.lock().expect("lock").is_empty());
    // Nothing staged is left behind.
    assert_eq!(files_in(staging.path()), 0);
}

#[test]
fn a_failed_dedupe_query_fails_the_upload_with_its_own_error() {
    // The query is made on the deduplication thread while the file is still being read.
    let cas = MemoryCas {
        refuse_dedupe_queries: true,
        ..MemoryCas::default()
    };
    let staging = temp_dir().expect("a temporary folder");
    let options = UploadOptions::default().staging_dir(staging.path());
    let data = noise(24 << 20, 7);
    match upload_files(&cas, &[UploadSource::Bytes(&data)], &options, &()) {
        Err(Error::InvalidShard { reason }) => assert_eq!(reason, "dedupe queries are refused"),
        other => panic!("{other:?}"),
    }
    assert!(cas.files.lock().expect("lock").is_empty());
    assert_eq!(files_in(staging.path()), 0);
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let cas = MemoryCas::default();
    let path = Path::new("/nonexistent/file.bin");
    let result = upload_files(&cas, &[UploadSource::File(path)], &UploadOptions::default(), &());
    match result {
        Err(Error::Io { path: at, .. }) => assert_eq!(at, path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_shards_are_split() {
    let xorb = |seed: u8| XorbInfo {
        xorb_hash: crate::chunk_hash(&[seed]),
        chunks: vec![
            ShardChunk {
                hash: crate::chunk_hash(&[seed, 1]),
                raw_offset: 0,
                len: 1,
                flags: 0,
            };
            8000
        ],
        raw_len: 8000,
        serialized_len: 9000,
    };
    let shard = Shard {
        xorbs: (0..200).map(xorb).collect(),
        ..Shard::default()
    };
    let parts = split_shard(&shard);
    assert!(parts.len() > 1);
    assert_eq!(parts.iter().map(|p| p.xorbs.len()).sum::<usize>(), 200);
    for part in parts {
        assert!(part.to_bytes().map(|b| b.len()).unwrap_or(usize::MAX) <= MAX_SHARD_BYTES);
    }
}
