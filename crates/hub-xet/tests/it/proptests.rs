//! Arbitrary input to every parser of server data: nothing panics, what is accepted reads
//! back as it was written, and damaged bytes are refused or read without panicking.

use hub_xet::{
    ChunkHeader, ChunkRange, Chunker, CompressionPolicy, CompressionScheme, FileInfo, QueryReconstructionResponse,
    QueryReconstructionResponseV1, Shard, ShardChunk, ShardFooter, Term, XetHash, XorbBuilder, XorbChunkReader,
    XorbInfo, chunk_boundaries, chunk_hash, parse_xorb,
};
use proptest::prelude::*;

use crate::sample;

fn hash() -> impl Strategy<Value = XetHash> {
    any::<[u8; 32]>().prop_map(XetHash::from_bytes)
}

/// Bytes that compress well, badly, or as numbers.
fn chunk_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        (any::<u8>(), 1..20_000usize).prop_map(|(b, n)| vec![b; n]),
        prop::collection::vec(any::<f32>(), 0..2000).prop_map(|v| v.iter().flat_map(|f| f.to_le_bytes()).collect()),
    ]
}

fn scheme() -> impl Strategy<Value = CompressionPolicy> {
    prop_oneof![
        Just(CompressionPolicy::Auto),
        Just(CompressionPolicy::Always(CompressionScheme::None)),
        Just(CompressionPolicy::Always(CompressionScheme::Lz4)),
        Just(CompressionPolicy::Always(CompressionScheme::ByteGrouping4Lz4)),
    ]
}

fn shard() -> impl Strategy<Value = Shard> {
    let term = (hash(), 0..100u32, 1..50u32, any::<u32>()).prop_map(|(xorb_hash, start, n, len)| Term {
        xorb_hash,
        chunks: ChunkRange { start, end: start + n },
        unpacked_len: len,
    });
    let file = (
        hash(),
        prop::collection::vec(term, 0..5),
        any::<bool>(),
        prop::option::of(any::<[u8; 32]>()),
    )
        .prop_map(|(file_hash, terms, verified, sha256)| FileInfo {
            file_hash,
            verification: verified.then(|| terms.iter().map(|t| chunk_hash(t.xorb_hash.as_bytes())).collect()),
            terms,
            sha256,
        });
    let xorb = (
        hash(),
        prop::collection::vec((hash(), 0..200_000u32, any::<u32>()), 0..6),
        any::<u32>(),
    )
        .prop_map(|(xorb_hash, chunks, serialized_len)| {
            let mut offset = 0u32;
            let chunks: Vec<ShardChunk> = chunks
                .into_iter()
                .map(|(hash, len, flags)| {
                    let chunk = ShardChunk {
                        hash,
                        raw_offset: offset,
                        len,
                        flags,
                    };
                    offset += len;
                    chunk
                })
                .collect();
            XorbInfo {
                xorb_hash,
                chunks,
                raw_len: offset,
                serialized_len,
            }
        });
    let footer = prop::option::of((any::<[u8; 32]>(), any::<u64>(), any::<u64>()).prop_map(
        |(key, created_at, key_expiry)| ShardFooter {
            chunk_hash_hmac_key: key,
            created_at,
            key_expiry,
        },
    ));
    (
        prop::collection::vec(file, 0..4),
        any::<bool>(),
        prop::collection::vec(xorb, 0..4),
        footer,
    )
        .prop_map(|(mut files, verified, xorbs, footer)| {
            // A shard verifies all its files or none.
            for file in &mut files {
                if !verified {
                    file.verification = None;
                } else if file.verification.is_none() {
                    file.verification = Some(file.terms.iter().map(|t| t.xorb_hash).collect());
                }
            }
            Shard { files, xorbs, footer }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hash_strings_round_trip(bytes in any::<[u8; 32]>()) {
        let hash = XetHash::from_bytes(bytes);
        prop_assert_eq!(hash.to_string().parse::<XetHash>().ok(), Some(hash));
    }

    #[test]
    fn hash_parsing_never_panics(text in "\\PC{0,80}") {
        if let Ok(hash) = text.parse::<XetHash>() {
            prop_assert_eq!(hash.to_string(), text.to_lowercase());
        }
    }

    #[test]
    fn chunk_headers_read_back(bytes in any::<[u8; 8]>()) {
        if let Ok(header) = ChunkHeader::parse(&bytes) {
            prop_assert_eq!(header.to_bytes(), bytes);
        }
    }

    #[test]
    fn xorb_readers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        let _ = parse_xorb(&bytes);
        for chunk in XorbChunkReader::new(&bytes[..]) {
            match chunk {
                Ok(chunk) => prop_assert!(chunk.data.len() <= hub_xet::MAX_CHUNK_SIZE),
                Err(_) => break,
            }
        }
    }

    #[test]
    fn arbitrary_lz4_frames_never_panic(
        scheme in 1..3u8,
        len in 0..140_000u32,
        frame in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        // A well-formed header in front of an LZ4 frame magic and arbitrary frame bytes.
        let mut stored = vec![0x04, 0x22, 0x4D, 0x18];
        stored.extend(frame);
        let mut bytes = ChunkHeader::to_bytes(&ChunkHeader {
            scheme: if scheme == 1 { CompressionScheme::Lz4 } else { CompressionScheme::ByteGrouping4Lz4 },
            stored_len: stored.len() as u32,
            len,
        })
        .to_vec();
        bytes.extend(stored);
        if let Some(Ok(chunk)) = XorbChunkReader::new(&bytes[..]).next() {
            prop_assert_eq!(chunk.data.len(), len as usize);
        }
    }

    #[test]
    fn xorbs_round_trip_and_survive_damage(
        chunks in prop::collection::vec(chunk_bytes().prop_filter("chunks are not empty", |c| !c.is_empty()), 1..6),
        policy in scheme(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut builder = XorbBuilder::with_policy(policy);
        for chunk in &chunks {
            builder.push(chunk).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let xorb = builder.finish().ok_or_else(|| TestCaseError::fail("no chunk"))?;
        let read: Vec<Vec<u8>> = XorbChunkReader::new(&xorb.bytes[..])
            .map(|c| c.map(|c| c.data))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&read, &chunks);
        let parsed = parse_xorb(&xorb.bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.hash, xorb.hash);

        let mut damaged = xorb.bytes.clone();
        for (at, byte) in damage {
            let at = at.index(damaged.len());
            damaged[at] = byte;
        }
        if let Ok(parsed) = parse_xorb(&damaged) {
            // Whatever reads back is still well-formed chunks.
            prop_assert!(parsed.chunks.iter().all(|c| c.len as usize <= hub_xet::MAX_CHUNK_SIZE));
        }
    }

    #[test]
    fn shards_round_trip(shard in shard()) {
        let bytes = shard.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parsed = Shard::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, shard);
    }

    #[test]
    fn shard_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Shard::parse(&bytes);
    }

    #[test]
    fn damaged_shards_never_panic(
        shard in shard(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = shard.to_bytes().map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let _ = Shard::parse(&bytes);
        let _ = Shard::parse(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn reconstruction_parsing_never_panics(json in "\\PC{0,200}") {
        let _ = QueryReconstructionResponse::from_json(json.as_bytes());
        let _ = QueryReconstructionResponseV1::from_json(json.as_bytes());
    }

    #[test]
    fn reconstruction_values_are_checked(
        offset in any::<u64>(),
        start in any::<u32>(),
        end in any::<u32>(),
        unpacked in any::<u32>(),
        byte_start in any::<u64>(),
        byte_end in any::<u64>(),
    ) {
        let hash = XetHash::from_bytes([1; 32]);
        let json = format!(
            r#"{{"offset_into_first_range": {offset}, "terms": [{{"hash": "{hash}", "unpacked_length": {unpacked}, "range": {{"start": {start}, "end": {end}}}}}],
               "xorbs": {{"{hash}": [{{"url": "u", "ranges": [{{"chunks": {{"start": {start}, "end": {end}}}, "bytes": {{"start": {byte_start}, "end": {byte_end}}}}}]}}]}}}}"#
        );
        if let Ok(response) = QueryReconstructionResponse::from_json(json.as_bytes()) {
            let term = response.terms[0];
            prop_assert!(term.chunks.start < term.chunks.end);
            prop_assert!(u64::from(term.unpacked_len) <= u64::from(term.chunks.len()) * 131072);
            prop_assert!(response.offset_into_first_range < u64::from(term.unpacked_len));
            prop_assert!(byte_start <= byte_end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn chunking_in_any_pieces_matches_chunking_at_once(
        seed in any::<u64>(),
        len in 0..400_000usize,
        cuts in prop::collection::vec(1..70_000usize, 1..20),
    ) {
        // Data with runs of zeros, so that both cut rules (mask and maximum) occur.
        let data = sample::bytes(len, seed, 50_000);
        let whole = chunk_boundaries(&data);
        let mut ends = Vec::new();
        let mut total = 0;
        let mut chunker = Chunker::new();
        let mut rest = &data[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            chunker.update(piece, |c| { total += c.len(); ends.push(total); });
            rest = tail;
        }
        chunker.finish(|c| { total += c.len(); ends.push(total); });
        prop_assert_eq!(ends, whole);
    }
}
