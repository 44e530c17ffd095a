//! A file through every format: chunked and hashed, packed into xorbs, recorded in an upload
//! shard, then rebuilt from the shard's terms and the xorbs' byte ranges, as a download does.

use std::collections::HashMap;

use hub_xet::{
    ChunkRange, Chunker, DedupeIndex, FileInfo, HashedChunk, SerializedXorb, Shard, Term, XetHash, XorbBuilder,
    XorbChunkReader, XorbInfo, file_hash,
};
use sha2::{Digest, Sha256};

use crate::sample;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Packs a file's chunks into xorbs, starting a new xorb when one is full, and returns the
/// file's terms and chunk hashes.
fn pack(data: &[u8], xorbs: &mut Vec<SerializedXorb>, builder: &mut XorbBuilder) -> (Vec<Term>, Vec<HashedChunk>) {
    let mut chunks = Vec::new();
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut chunker = Chunker::new();
    chunker.update(data, |c| pieces.push(c.to_vec()));
    chunker.finish(|c| pieces.push(c.to_vec()));

    builder.start_file();
    // (xorb index in `xorbs`, or usize::MAX for the builder's, first chunk, end chunk, bytes)
    let mut terms: Vec<(usize, u32, u32, u32)> = Vec::new();
    for piece in &pieces {
        if !builder.fits(piece.len()) {
            let full = std::mem::take(builder).finish().expect("a full xorb has chunks");
            xorbs.push(full);
            for term in terms.iter_mut().filter(|t| t.0 == usize::MAX) {
                term.0 = xorbs.len() - 1;
            }
            builder.start_file();
        }
        let index = builder.len() as u32;
        let chunk = builder.push(piece).expect("the chunk fits");
        chunks.push(chunk);
        match terms.last_mut() {
            Some(term) if term.0 == usize::MAX && term.2 == index => {
                term.2 += 1;
                term.3 += chunk.len as u32;
            }
            _ => terms.push((usize::MAX, index, index + 1, chunk.len as u32)),
        }
    }
    let pending: Vec<(usize, u32, u32, u32)> = terms;
    (
        pending
            .into_iter()
            .map(|(xorb, start, end, len)| Term {
                // Filled in once the builder's xorb is finished and named.
                xorb_hash: if xorb == usize::MAX {
                    XetHash::zero()
                } else {
                    xorbs[xorb].hash
                },
                chunks: ChunkRange { start, end },
                unpacked_len: len,
            })
            .collect(),
        chunks,
    )
}

/// Rebuilds a file from its terms, reading each term's byte range of its xorb.
fn rebuild(terms: &[Term], xorbs: &HashMap<XetHash, &SerializedXorb>) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for term in terms {
        let xorb = xorbs.get(&term.xorb_hash).ok_or("unknown xorb")?;
        let from = xorb.chunks[term.chunks.start as usize].stored_offset as usize;
        let to = xorb
            .chunks
            .get(term.chunks.end as usize)
            .map_or(xorb.bytes.len(), |c| c.stored_offset as usize);
        let before = out.len();
        for chunk in XorbChunkReader::new(&xorb.bytes[from..to]) {
            out.extend_from_slice(&chunk?.data);
        }
        assert_eq!(out.len() - before, term.unpacked_len as usize);
    }
    Ok(out)
}

#[test]
fn files_survive_xorbs_and_shards() -> TestResult {
    let files = [
        sample::bytes(70 << 20, 1, 300_000),
        sample::bytes(3 << 20, 2, 300_000),
        vec![1u8; 10],
    ];
    let mut xorbs = Vec::new();
    let mut builder = XorbBuilder::new();
    let mut packed = Vec::new();
    for data in &files {
        packed.push(pack(data, &mut xorbs, &mut builder));
    }
    let last = builder.finish().ok_or("no chunks")?;
    for (terms, _) in &mut packed {
        for term in terms.iter_mut().filter(|t| t.xorb_hash == XetHash::zero()) {
            term.xorb_hash = last.hash;
        }
    }
    xorbs.push(last);
    // 70 MiB of partly compressible data takes more than one xorb.
    assert!(xorbs.len() >= 2);
    assert!(xorbs.iter().all(|x| x.bytes.len() <= hub_xet::MAX_XORB_BYTES));

    let infos: Vec<XorbInfo> = xorbs.iter().map(XorbInfo::of).collect();
    let by_hash: HashMap<XetHash, &XorbInfo> = infos.iter().map(|x| (x.xorb_hash, x)).collect();
    let mut shard = Shard::default();
    for (data, (terms, chunks)) in files.iter().zip(&packed) {
        let verification = terms
            .iter()
            .map(|t| {
                by_hash[&t.xorb_hash]
                    .verification_hash(t.chunks)
                    .ok_or("term outside its xorb")
            })
            .collect::<Result<_, _>>()?;
        shard.files.push(FileInfo {
            file_hash: file_hash(chunks),
            terms: terms.clone(),
            verification: Some(verification),
            sha256: Some(Sha256::digest(data).into()),
        });
    }
    shard.xorbs = infos.clone();

    let bytes = shard.to_bytes()?;
    let parsed = Shard::parse(&bytes)?;
    assert_eq!(parsed, shard);

    let xorb_bytes: HashMap<XetHash, &SerializedXorb> = xorbs.iter().map(|x| (x.hash, x)).collect();
    for (data, file) in files.iter().zip(&parsed.files) {
        let rebuilt = rebuild(&file.terms, &xorb_bytes)?;
        assert!(rebuilt == *data, "a file rebuilds from its terms");
        assert_eq!(file.file_hash, hub_xet::hash_reader(&data[..])?.file_hash);
    }

    // Every chunk of the files is found again through the shard, as a later upload would.
    let index = DedupeIndex::new(&parsed);
    for (_, chunks) in &packed {
        for chunk in chunks {
            let at = index.find(&chunk.hash).ok_or("chunk not found")?;
            assert_eq!(u64::from(at.len), chunk.len);
        }
    }
    Ok(())
}
