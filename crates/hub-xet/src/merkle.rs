//! The aggregated Merkle tree of xorb and file hashes, with its content-defined branching.

use crate::hash::{HashedChunk, XetHash, internal_node_hash};

/// The mean number of children of an internal node: a node closes after a child whose hash
/// is a multiple of this.
const MEAN_BRANCHING: u64 = 4;
/// The fewest children a node has (except a lone last one).
const MIN_CHILDREN: usize = 2;
/// The most children a node has.
const MAX_CHILDREN: usize = 2 * MEAN_BRANCHING as usize + 1;

/// How many of `nodes` the next parent takes: it closes after the first child at index 2 or
/// more whose hash is a multiple of [`MEAN_BRANCHING`], after [`MAX_CHILDREN`], or at the end.
fn next_parent_len(nodes: &[HashedChunk]) -> usize {
    if nodes.len() <= MIN_CHILDREN {
        return nodes.len();
    }
    let end = MAX_CHILDREN.min(nodes.len());
    (MIN_CHILDREN..end)
        .find(|&i| nodes[i].hash.word(3).is_multiple_of(MEAN_BRANCHING))
        .map_or(end, |i| i + 1)
}

/// The root of the tree over `leaves`; the zero hash when there are none.
fn merkle_root(leaves: &[HashedChunk]) -> XetHash {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        let mut parents = Vec::with_capacity(level.len() / MIN_CHILDREN + 1);
        let mut rest = &level[..];
        while !rest.is_empty() {
            let (children, tail) = rest.split_at(next_parent_len(rest));
            parents.push(HashedChunk {
                hash: internal_node_hash(children),
                len: children.iter().map(|c| c.len).sum(),
            });
            rest = tail;
        }
        level = parents;
    }
    level.first().map_or_else(XetHash::zero, |root| root.hash)
}

/// The hash of a xorb holding these chunks, in order: the root of their Merkle tree.
pub fn xorb_hash(chunks: &[HashedChunk]) -> XetHash {
    merkle_root(chunks)
}

/// The hash of a file made of these chunks, in order: the root of their Merkle tree, keyed
/// with 32 zero bytes. An empty file's hash is the zero hash.
pub fn file_hash(chunks: &[HashedChunk]) -> XetHash {
    if chunks.is_empty() {
        return XetHash::zero();
    }
    merkle_root(chunks).keyed(&[0; 32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::chunk_hash;

    fn leaf(seed: u32, len: u64) -> HashedChunk {
        HashedChunk {
            hash: chunk_hash(&seed.to_le_bytes()),
            len,
        }
    }

    #[test]
    fn one_chunk_is_its_own_root() {
        let only = leaf(1, 10);
        assert_eq!(xorb_hash(&[only]), only.hash);
        assert_eq!(file_hash(&[only]), only.hash.keyed(&[0; 32]));
    }

    #[test]
    fn empty_input_has_the_zero_hash() {
        assert_eq!(xorb_hash(&[]), XetHash::zero());
        assert_eq!(file_hash(&[]), XetHash::zero());
    }

    #[test]
    fn two_and_three_chunks_make_one_node() {
        let leaves = [leaf(1, 1), leaf(2, 2), leaf(3, 3)];
        assert_eq!(xorb_hash(&leaves[..2]), internal_node_hash(&leaves[..2]));
        // A third child closes the node whether its hash cuts or not: the list ends.
        assert_eq!(xorb_hash(&leaves), internal_node_hash(&leaves));
    }

    #[test]
    fn parents_close_after_a_cutting_hash_or_nine_children() {
        let leaves: Vec<HashedChunk> = (0..40).map(|i| leaf(i, 100 + u64::from(i))).collect();
        // The first level, computed by hand from the rule.
        let mut level = Vec::new();
        let mut start = 0;
        while start < leaves.len() {
            let remaining = leaves.len() - start;
            let mut take = remaining.min(9);
            if remaining > 2 {
                for i in 2..remaining.min(9) {
                    if leaves[start + i].hash.word(3).is_multiple_of(4) {
                        take = i + 1;
                        break;
                    }
                }
            } else {
                take = remaining;
            }
            let children = &leaves[start..start + take];
            assert!(children.len() >= 2 || start + take == leaves.len());
            level.push(HashedChunk {
                hash: internal_node_hash(children),
                len: children.iter().map(|c| c.len).sum(),
            });
            start += take;
        }
        assert!(level.len() < leaves.len());
        assert_eq!(xorb_hash(&leaves), xorb_hash(&level));
    }
}
