//! Published test vectors: the specification's and xet-core's own reference tables.

use std::str::FromStr;

use hub_xet::{HashedChunk, XetHash, chunk_boundaries, file_hash, xorb_hash};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn numbers(fields: &[&str]) -> Result<Vec<usize>, std::num::ParseIntError> {
    fields.iter().map(|f| f.parse()).collect()
}

#[test]
fn chunk_boundaries_match_xet_core_tables() -> TestResult {
    let table = include_str!("chunking_vectors.txt");
    let mut pattern = Vec::new();
    let mut checked = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[0] {
            "pattern" => {
                pattern = numbers(&fields[1..])?.into_iter().map(|b| b as u8).collect();
            }
            "padded" => {
                let values = numbers(&fields[1..])?;
                let (padding, byte_at_11111, expected) = (values[0], values[1], &values[2..]);
                // The input as xet-core's test builds it: pattern, padding, repeated to 64 KiB.
                let mut data = pattern.clone();
                data.resize(pattern.len() + padding, 0);
                while data.len() < 65536 {
                    let take = (65536 - data.len()).min(data.len());
                    data.extend_from_within(0..take);
                }
                assert_eq!(usize::from(data[11111]), byte_at_11111, "input of padding {padding}");
                assert_eq!(chunk_boundaries(&data), expected, "padding {padding}");
                checked += 1;
            }
            "constant" => {
                let values = numbers(&fields[1..])?;
                let data = vec![values[0] as u8; values[1]];
                assert_eq!(chunk_boundaries(&data), values[2..]);
                checked += 1;
            }
            other => return Err(format!("unknown line kind {other}").into()),
        }
    }
    assert_eq!(checked, 129);
    Ok(())
}

#[test]
fn xorb_and_file_hashes_match_xet_core_table() -> TestResult {
    let table = include_str!("merkle_vectors.txt");
    let mut leaves: Vec<HashedChunk> = Vec::new();
    let mut cases = 0;
    for line in table.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["case"] => {
                leaves.clear();
                cases += 1;
            }
            ["leaf", hash, len] => leaves.push(HashedChunk {
                hash: hash.parse()?,
                len: len.parse()?,
            }),
            ["xorb", hash] => assert_eq!(xorb_hash(&leaves).to_string(), *hash, "case {cases}"),
            ["file", salt, hash] => {
                let salt = XetHash::from_str(salt)?;
                let salted = if leaves.is_empty() {
                    XetHash::zero()
                } else {
                    xorb_hash(&leaves).keyed(salt.as_bytes())
                };
                assert_eq!(salted.to_string(), *hash, "case {cases}");
                if salt == XetHash::zero() {
                    assert_eq!(file_hash(&leaves).to_string(), *hash, "case {cases}");
                }
            }
            _ => return Err(format!("unknown line {line}").into()),
        }
    }
    assert_eq!(cases, 18);
    Ok(())
}

#[test]
fn string_form_matches_xet_core() -> TestResult {
    // xet-core's test_hash_hex_string_endianness.
    let raw = [
        22, 175, 58, 132, 4, 75, 131, 214, 190, 153, 138, 66, 226, 3, 153, 242, 204, 86, 80, 234, 249, 153, 80, 99,
        159, 80, 65, 138, 236, 231, 149, 78,
    ];
    let text = "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f";
    assert_eq!(XetHash::from_bytes(raw).to_string(), text);
    assert_eq!(XetHash::from_str(text)?, XetHash::from_bytes(raw));
    Ok(())
}
