//! The chunks an upload can deduplicate against: xorbs made earlier in the session, xorbs
//! of the local shard cache, and xorbs that global dedupe answers described, whose chunk
//! hashes are keyed with their shard's HMAC key.

use std::collections::{HashMap, HashSet};

use crate::hash::XetHash;
use crate::shard::{Shard, XorbInfo};

/// Which xorb a term of a file reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TermXorb {
    /// A xorb the CAS has or will have before the shard: its hash is known.
    Known(XetHash),
    /// A xorb of this session still being filled; its hash comes when it is finished.
    Session(usize),
}

/// Consecutive chunks of a file found, in the same order, in one xorb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// The xorb holding them.
    pub(crate) xorb: TermXorb,
    /// The index of the first of them in the xorb.
    pub(crate) start: u32,
    /// The index after the last.
    pub(crate) end: u32,
    /// Their length, decompressed.
    pub(crate) bytes: u64,
}

impl Run {
    /// The number of chunks.
    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

/// A xorb a shard listed: its chunks' hashes are in the index only (about 50 bytes a chunk
/// in all, so that a large shard cache stays affordable).
#[derive(Debug)]
struct KnownXorb {
    hash: XetHash,
    lens: Vec<u32>,
}

/// Every chunk the session may reference instead of uploading it, found by its plain hash.
#[derive(Debug, Default)]
pub(crate) struct KnownChunks {
    xorbs: Vec<KnownXorb>,
    /// Plain chunk hash to (xorb slot, chunk index).
    plain: HashMap<XetHash, (u32, u32)>,
    /// Per HMAC key, keyed chunk hash to (xorb slot, chunk index).
    keyed: HashMap<[u8; 32], HashMap<XetHash, (u32, u32)>>,
    /// Xorbs already indexed (with their key), so that none is indexed twice.
    seen: HashSet<(XetHash, Option<[u8; 32]>)>,
}

impl KnownChunks {
    /// Indexes the xorbs of a shard, keyed with its HMAC key when it has one.
    pub(crate) fn add_shard(&mut self, shard: &Shard) {
        let key = shard.chunk_hash_hmac_key();
        for xorb in &shard.xorbs {
            self.add_xorb(xorb, key);
        }
    }

    /// Indexes one xorb.
    pub(crate) fn add_xorb(&mut self, xorb: &XorbInfo, key: Option<[u8; 32]>) {
        if xorb.chunks.is_empty() || !self.seen.insert((xorb.xorb_hash, key)) {
            return;
        }
        let Ok(slot) = u32::try_from(self.xorbs.len()) else {
            return;
        };
        let map = match key {
            Some(key) => self.keyed.entry(key).or_default(),
            None => &mut self.plain,
        };
        for (index, chunk) in (0u32..).zip(&xorb.chunks) {
            map.entry(chunk.hash).or_insert((slot, index));
        }
        self.xorbs.push(KnownXorb {
            hash: xorb.xorb_hash,
            lens: xorb.chunks.iter().map(|c| c.len).collect(),
        });
    }

    /// The number of chunks indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.plain.len() + self.keyed.values().map(HashMap::len).sum::<usize>()
    }

    /// The longest run of `hashes`, from the first, that a known xorb holds in order; `None`
    /// when no xorb holds the first. (A chunk stored in several xorbs is indexed at its first;
    /// a run through such a chunk ends there.)
    pub(crate) fn find_run(&self, hashes: &[XetHash]) -> Option<Run> {
        let first = hashes.first()?;
        let (slot, start, key) = match self.plain.get(first) {
            Some(&(slot, start)) => (slot, start, None),
            None => self.keyed.iter().find_map(|(key, map)| {
                map.get(&first.keyed(key))
                    .map(|&(slot, start)| (slot, start, Some(key)))
            })?,
        };
        let map = match key {
            Some(key) => self.keyed.get(key)?,
            None => &self.plain,
        };
        let xorb = &self.xorbs[slot as usize];
        let mut end = start + 1;
        for hash in &hashes[1..] {
            let stored = match key {
                Some(key) => hash.keyed(key),
                None => *hash,
            };
            if map.get(&stored) != Some(&(slot, end)) {
                break;
            }
            end += 1;
        }
        let (start, end) = (start as usize, end as usize);
        Some(Run {
            xorb: TermXorb::Known(xorb.hash),
            start: start as u32,
            end: end as u32,
            bytes: xorb.lens[start..end].iter().map(|&l| u64::from(l)).sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::chunk_hash;
    use crate::shard::{ShardChunk, ShardFooter};

    fn xorb(seed: u8, chunks: &[XetHash]) -> XorbInfo {
        XorbInfo {
            xorb_hash: chunk_hash(&[seed, 0xee]),
            chunks: (0u32..)
                .zip(chunks)
                .map(|(i, hash)| ShardChunk {
                    hash: *hash,
                    raw_offset: i * 10,
                    len: 10,
                    flags: 0,
                })
                .collect(),
            raw_len: chunks.len() as u32 * 10,
            serialized_len: 0,
        }
    }

    #[test]
    fn runs_follow_the_xorb_order() {
        let h: Vec<XetHash> = (0..10u8).map(|i| chunk_hash(&[i])).collect();
        let mut known = KnownChunks::default();
        known.add_xorb(&xorb(1, &h[2..8]), None);
        let run = known.find_run(&[h[3], h[4], h[5], h[9]]);
        assert_eq!(
            run,
            Some(Run {
                xorb: TermXorb::Known(chunk_hash(&[1, 0xee])),
                start: 1,
                end: 4,
                bytes: 30
            })
        );
        assert_eq!(known.find_run(&[h[0], h[3]]), None);
        // The xorb ends: the run ends with it.
        assert_eq!(known.find_run(&[h[7], h[8]]).map(|r| r.len()), Some(1));
        // Indexing a xorb again changes nothing.
        known.add_xorb(&xorb(1, &h[2..8]), None);
        assert_eq!(known.len(), 6);
    }

    #[test]
    fn keyed_shards_are_searched_by_keying_the_plain_hash() {
        let key = [7u8; 32];
        let h: Vec<XetHash> = (0..4u8).map(|i| chunk_hash(&[i])).collect();
        let keyed: Vec<XetHash> = h.iter().map(|c| c.keyed(&key)).collect();
        let shard = Shard {
            xorbs: vec![xorb(2, &keyed)],
            footer: Some(ShardFooter {
                chunk_hash_hmac_key: key,
                ..ShardFooter::default()
            }),
            ..Shard::default()
        };
        let mut known = KnownChunks::default();
        known.add_shard(&shard);
        assert_eq!(known.find_run(&h[1..]).map(|r| (r.start, r.end)), Some((1, 4)));
        assert_eq!(known.find_run(&keyed[1..]), None);
    }
}
