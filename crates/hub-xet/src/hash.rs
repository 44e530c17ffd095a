//! The 32-byte Xet hash, its string form, and the keyed BLAKE3 hashes built on it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The key of chunk hashes (the specification's `DATA_KEY`).
const DATA_KEY: [u8; 32] = [
    102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16, 155, 235, 43, 88, 180,
    208, 176, 75, 147, 173, 242, 41,
];

/// The key of internal Merkle nodes (the specification's `INTERNAL_NODE_KEY`).
const INTERNAL_NODE_KEY: [u8; 32] = [
    1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83, 111, 55, 199, 109, 210, 248,
    99, 82, 230, 74, 83, 113, 63,
];

/// The key of term verification hashes (the specification's `VERIFICATION_KEY`).
const VERIFICATION_KEY: [u8; 32] = [
    127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38, 213, 181, 219, 73, 230,
    65, 36, 152, 127, 40, 251, 148, 195,
];

/// A Xet hash: the 32 bytes naming a chunk, a xorb or a file.
///
/// Its string form ([`Display`](fmt::Display), [`FromStr`], serde) is the one the Xet API
/// uses in paths and JSON: each 8-byte group is read as a little-endian `u64` and printed as
/// 16 lowercase hex digits. It is not the plain hex of the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct XetHash([u8; 32]);

impl XetHash {
    /// The hash made of these raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, as stored in xorbs and shards.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash of all-zero bytes: the file hash of an empty file.
    pub const fn zero() -> Self {
        Self([0; 32])
    }

    /// The `index`-th 8-byte group as a little-endian integer.
    pub(crate) fn word(&self, index: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[index * 8..index * 8 + 8]);
        u64::from_le_bytes(word)
    }

    /// This hash keyed-hashed with `key`: the `HMAC` of the specification, which protects the
    /// chunk hashes of a global dedupe answer and salts the file hash.
    pub fn keyed(&self, key: &[u8; 32]) -> Self {
        Self(*blake3::keyed_hash(key, &self.0).as_bytes())
    }

    /// Writes the string form into `out` (64 bytes).
    fn write_hex(&self, out: &mut [u8; 64]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (group, digits) in out.chunks_exact_mut(16).enumerate() {
            let word = self.word(group);
            for (i, digit) in digits.iter_mut().enumerate() {
                *digit = DIGITS[((word >> (60 - 4 * i)) & 0xf) as usize];
            }
        }
    }
}

impl fmt::Display for XetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 64];
        self.write_hex(&mut out);
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for XetHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XetHash({self})")
    }
}

impl FromStr for XetHash {
    type Err = Error;

    /// Parses the string form: exactly 64 hex digits (either case).
    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidHash {
            value: text.chars().take(80).collect(),
        };
        let digits = text.as_bytes();
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (group, out) in bytes.chunks_exact_mut(8).enumerate() {
            let hex = text.get(group * 16..group * 16 + 16).ok_or_else(invalid)?;
            let word = u64::from_str_radix(hex, 16).map_err(|_| invalid())?;
            out.copy_from_slice(&word.to_le_bytes());
        }
        Ok(Self(bytes))
    }
}

impl Serialize for XetHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for XetHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = XetHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Xet hash of 64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<XetHash, E> {
                value.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The hash of one chunk's bytes.
pub fn chunk_hash(data: &[u8]) -> XetHash {
    XetHash(*blake3::keyed_hash(&DATA_KEY, data).as_bytes())
}

/// A chunk as the Merkle tree sees it: its hash and its length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashedChunk {
    /// The chunk's hash ([`chunk_hash`] of its bytes).
    pub hash: XetHash,
    /// The chunk's length in bytes (uncompressed).
    pub len: u64,
}

impl HashedChunk {
    /// Hashes `data` as one chunk.
    pub fn of(data: &[u8]) -> Self {
        Self {
            hash: chunk_hash(data),
            len: data.len() as u64,
        }
    }
}

/// The hash of an internal Merkle node over `children`: the keyed hash of one line
/// `{hash} : {len}\n` per child, the hash in its string form.
pub fn internal_node_hash(children: &[HashedChunk]) -> XetHash {
    let mut hasher = blake3::Hasher::new_keyed(&INTERNAL_NODE_KEY);
    let mut line = [0u8; 64];
    for child in children {
        child.hash.write_hex(&mut line);
        hasher.update(&line);
        hasher.update(b" : ");
        hasher.update(child.len.to_string().as_bytes());
        hasher.update(b"\n");
    }
    XetHash(*hasher.finalize().as_bytes())
}

/// The verification hash of a term (a shard's `FileVerificationEntry`): the keyed hash of the
/// raw bytes of the chunk hashes the term covers, in order.
pub fn verification_range_hash(chunk_hashes: &[XetHash]) -> XetHash {
    let mut hasher = blake3::Hasher::new_keyed(&VERIFICATION_KEY);
    for hash in chunk_hashes {
        hasher.update(&hash.0);
    }
    XetHash(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_reverses_each_eight_byte_group() -> Result<(), Error> {
        // The example of the specification's "converting hashes to strings". Its printed string
        // lacks the byte `10` of the third group (62 digits); this is the 64-digit form.
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let hash = XetHash::from_bytes(bytes);
        let text = "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918";
        assert_eq!(hash.to_string(), text);
        assert_eq!(text.parse::<XetHash>()?, hash);
        assert_eq!(text.to_uppercase().parse::<XetHash>()?, hash);
        Ok(())
    }

    #[test]
    fn string_form_refuses_other_text() {
        for bad in [
            "",
            "00",
            &"0".repeat(63),
            &"0".repeat(65),
            &format!("{}g", "0".repeat(63)),
            &format!("+{}", "0".repeat(63)),
            &format!("{}é", "0".repeat(62)),
        ] {
            assert!(bad.parse::<XetHash>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_the_string_form() -> Result<(), serde_json::Error> {
        let hash = chunk_hash(b"abc");
        let json = serde_json::to_string(&hash)?;
        assert_eq!(json, format!("\"{hash}\""));
        assert_eq!(serde_json::from_str::<XetHash>(&json)?, hash);
        assert!(serde_json::from_str::<XetHash>("\"zz\"").is_err());
        assert!(serde_json::from_str::<XetHash>("12").is_err());
        Ok(())
    }

    #[test]
    fn internal_node_hashes_the_text_of_its_children() -> Result<(), Error> {
        // The example node of the specification's hashing document.
        let children = [
            (
                "1f6a2b8e9d3c4075a2e8c5fd4f0b763e6f3c1d7a9b2e6487de3f91ab7c6d5401",
                10000,
            ),
            (
                "7c94fe2a38bdcf9b4d2a6f7e1e08ac35bc24a7903d6f5a0e7d1c2b93e5f748de",
                20000,
            ),
            (
                "cfd18a92e0743bb09e56dbf76ea2c34d99b5a0cf271f8d429b6cd148203df061",
                25000,
            ),
            (
                "e38d7c09a21b4cf8d0f92b3a85e6df19f7c20435e0b1c78a9d635f7b8c2e4da1",
                64000,
            ),
        ];
        let mut text = String::new();
        let mut nodes = Vec::new();
        for (hash, len) in children {
            text.push_str(&format!("{hash} : {len}\n"));
            nodes.push(HashedChunk {
                hash: hash.parse()?,
                len,
            });
        }
        let expected = blake3::keyed_hash(&INTERNAL_NODE_KEY, text.as_bytes());
        assert_eq!(internal_node_hash(&nodes).as_bytes(), expected.as_bytes());
        Ok(())
    }

    #[test]
    fn keyed_hash_with_a_zero_key_differs_from_the_hash() {
        let hash = chunk_hash(b"x");
        assert_ne!(hash.keyed(&[0; 32]), hash);
        assert_eq!(
            hash.keyed(&[0; 32]).as_bytes(),
            blake3::keyed_hash(&[0; 32], hash.as_bytes()).as_bytes()
        );
    }
}
