//! The term-based representation of a file, and the reconstruction API's JSON answers.
//!
//! A file is a list of terms, each a run of chunks of one xorb; the reconstruction API
//! (`GET /v2/reconstructions/{file_hash}`, or the older `/v1/…`) answers with the terms and the
//! signed URLs of the xorb byte ranges that hold them. Field names are the API's.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::chunking::MAX_CHUNK_SIZE;
use crate::hash::XetHash;
use crate::xorb::{CHUNK_HEADER_LEN, MAX_XORB_BYTES, MAX_XORB_CHUNKS};

/// A run of chunk indices in a xorb, `start` included, `end` excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkRange {
    /// The first chunk's index.
    pub start: u32,
    /// One past the last chunk's index.
    pub end: u32,
}

impl ChunkRange {
    /// The number of chunks (0 for an empty or reversed range).
    pub fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no chunk.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `other` lies within this range.
    pub fn contains(&self, other: &ChunkRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// A range of bytes with an inclusive end, as in an HTTP `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpRange {
    /// The first byte's offset.
    pub start: u64,
    /// The last byte's offset (included).
    pub end: u64,
}

impl HttpRange {
    /// The number of bytes (0 when `end < start`).
    pub fn len(&self) -> u64 {
        if self.end < self.start {
            0
        } else {
            self.end - self.start + 1
        }
    }

    /// Whether the range holds no byte (only when reversed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of a `Range` header for these bytes: `bytes={start}-{end}`.
    pub fn header_value(&self) -> String {
        format!("bytes={}-{}", self.start, self.end)
    }
}

/// One term of a file: a run of chunks of one xorb, and their length once decompressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Term {
    /// The xorb that holds the chunks.
    #[serde(rename = "hash")]
    pub xorb_hash: XetHash,
    /// The chunks' indices in the xorb.
    #[serde(rename = "range")]
    pub chunks: ChunkRange,
    /// The bytes the chunks make once decompressed.
    #[serde(rename = "unpacked_length")]
    pub unpacked_len: u32,
}

impl Term {
    /// Checks what a term's own values can say: a non-empty chunk range within a xorb's
    /// limits, and a length that its chunks can have.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidReconstruction { reason });
        if self.chunks.is_empty() {
            return invalid(format!(
                "term of xorb {} has the empty chunk range {}..{}",
                self.xorb_hash, self.chunks.start, self.chunks.end
            ));
        }
        if self.chunks.end as usize > MAX_XORB_CHUNKS {
            return invalid(format!(
                "term of xorb {} ends at chunk {}, past a xorb's {MAX_XORB_CHUNKS} chunks",
                self.xorb_hash, self.chunks.end
            ));
        }
        let most = u64::from(self.chunks.len()) * MAX_CHUNK_SIZE as u64;
        if self.unpacked_len == 0 || u64::from(self.unpacked_len) > most {
            return invalid(format!(
                "term of xorb {} claims {} bytes for {} chunks",
                self.xorb_hash,
                self.unpacked_len,
                self.chunks.len()
            ));
        }
        Ok(())
    }
}

/// One byte range of a xorb in a v2 answer: which chunks, and where they are stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorbRangeDescriptor {
    /// The chunks the bytes hold.
    pub chunks: ChunkRange,
    /// The bytes in the serialized xorb, for the `Range` header.
    pub bytes: HttpRange,
}

/// One signed URL of a xorb in a v2 answer, and the byte ranges it may fetch (in one
/// request: a `multipart/byteranges` answer when there are several).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorbMultiRangeFetch {
    /// The signed URL; short-lived.
    pub url: String,
    /// The ranges, in ascending order.
    pub ranges: Vec<XorbRangeDescriptor>,
}

/// The answer of `GET /v2/reconstructions/{file_hash}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryReconstructionResponse {
    /// Bytes of the first term's data to skip: where a `Range` request starts in it.
    pub offset_into_first_range: u64,
    /// The file's terms, in order.
    pub terms: Vec<Term>,
    /// The fetches of each xorb the terms name, keyed by xorb hash.
    pub xorbs: HashMap<XetHash, Vec<XorbMultiRangeFetch>>,
}

/// One signed URL of a xorb range in a v1 answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorbReconstructionFetchInfo {
    /// The chunks the bytes hold.
    pub range: ChunkRange,
    /// The signed URL; short-lived.
    pub url: String,
    /// The bytes in the serialized xorb, for the `Range` header.
    pub url_range: HttpRange,
}

/// The answer of the deprecated `GET /v1/reconstructions/{file_hash}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryReconstructionResponseV1 {
    /// Bytes of the first term's data to skip: where a `Range` request starts in it.
    pub offset_into_first_range: u64,
    /// The file's terms, in order.
    pub terms: Vec<Term>,
    /// The fetches of each xorb the terms name, keyed by xorb hash.
    pub fetch_info: HashMap<XetHash, Vec<XorbReconstructionFetchInfo>>,
}

impl QueryReconstructionResponse {
    /// Parses and [validates](Self::validate) a v2 answer.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let response: Self = parse_json(json)?;
        response.validate()?;
        Ok(response)
    }

    /// Checks the values a server sent before they are used: every term
    /// [valid](Term::validate), the first term longer than the offset into it, and every
    /// term's chunks within one range of its xorb's fetches; each range non-empty and no
    /// longer than its chunks can be stored in, and the ranges of a fetch in ascending order
    /// without overlap.
    pub fn validate(&self) -> Result<(), Error> {
        let mut ranges = HashMap::new();
        for (xorb, fetches) in &self.xorbs {
            let all: &mut Vec<(ChunkRange, HttpRange)> = ranges.entry(xorb).or_default();
            for fetch in fetches {
                for pair in fetch.ranges.windows(2) {
                    if pair[1].chunks.start < pair[0].chunks.end || pair[1].bytes.start <= pair[0].bytes.end {
                        return Err(Error::InvalidReconstruction {
                            reason: format!("the ranges of a fetch of xorb {xorb} overlap or are out of order"),
                        });
                    }
                }
                all.extend(fetch.ranges.iter().map(|r| (r.chunks, r.bytes)));
            }
        }
        validate_response(self.offset_into_first_range, &self.terms, &ranges)
    }
}

impl QueryReconstructionResponseV1 {
    /// Parses and [validates](Self::validate) a v1 answer.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let response: Self = parse_json(json)?;
        response.validate()?;
        Ok(response)
    }

    /// The checks of [`QueryReconstructionResponse::validate`] (v1 ranges have no order).
    pub fn validate(&self) -> Result<(), Error> {
        let ranges = self
            .fetch_info
            .iter()
            .map(|(xorb, fetches)| (xorb, fetches.iter().map(|f| (f.range, f.url_range)).collect()))
            .collect();
        validate_response(self.offset_into_first_range, &self.terms, &ranges)
    }
}

fn parse_json<T: DeserializeOwned>(json: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(json).map_err(|err| Error::ReconstructionJson { source: Box::new(err) })
}

/// The checks common to both versions, given each xorb's fetchable ranges.
fn validate_response(
    offset_into_first_range: u64,
    terms: &[Term],
    ranges: &HashMap<&XetHash, Vec<(ChunkRange, HttpRange)>>,
) -> Result<(), Error> {
    for term in terms {
        term.validate()?;
    }
    let first_len = terms.first().map_or(0, |t| u64::from(t.unpacked_len));
    if offset_into_first_range > 0 && offset_into_first_range >= first_len {
        return Err(Error::InvalidReconstruction {
            reason: format!("offset {offset_into_first_range} into the first term is not below its {first_len} bytes"),
        });
    }
    for (xorb, ranges) in ranges {
        for &(chunks, bytes) in ranges {
            let most = u64::from(chunks.len()) * (CHUNK_HEADER_LEN + 2 * MAX_CHUNK_SIZE) as u64;
            if chunks.is_empty()
                || chunks.end as usize > MAX_XORB_CHUNKS
                || bytes.is_empty()
                || bytes.len() > most
                || bytes.end >= MAX_XORB_BYTES as u64
            {
                return Err(Error::InvalidReconstruction {
                    reason: format!(
                        "xorb {xorb} has an impossible range: chunks {}..{}, bytes {}-{}",
                        chunks.start, chunks.end, bytes.start, bytes.end
                    ),
                });
            }
        }
    }
    for term in terms {
        let covered = ranges
            .get(&term.xorb_hash)
            .is_some_and(|ranges| ranges.iter().any(|(chunks, _)| chunks.contains(&term.chunks)));
        if !covered {
            return Err(Error::InvalidReconstruction {
                reason: format!(
                    "no fetch covers chunks {}..{} of xorb {}",
                    term.chunks.start, term.chunks.end, term.xorb_hash
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first example of the download protocol document, with its non-hex placeholder
    /// hash replaced by a real one.
    fn example() -> String {
        let hash = "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456";
        format!(
            r#"{{
  "offset_into_first_range": 0,
  "terms": [
    {{
      "hash": "{hash}",
      "unpacked_length": 263873,
      "range": {{ "start": 0, "end": 4 }}
    }}
  ],
  "xorbs": {{
    "{hash}": [
      {{
        "url": "https://transfer.xethub.hf.co/xorb/default/{hash}?X-Xet-Signed-Range=bytes%3D0-131071&Expires=1735689600",
        "ranges": [
          {{ "chunks": {{ "start": 0, "end": 4 }}, "bytes": {{ "start": 0, "end": 131071 }} }}
        ]
      }}
    ]
  }}
}}"#
        )
    }

    #[test]
    fn the_specification_example_parses() -> Result<(), Error> {
        let response = QueryReconstructionResponse::from_json(example().as_bytes())?;
        assert_eq!(response.terms.len(), 1);
        let term = response.terms[0];
        assert_eq!(term.chunks, ChunkRange { start: 0, end: 4 });
        assert_eq!(term.unpacked_len, 263873);
        let fetches = &response.xorbs[&term.xorb_hash];
        assert_eq!(fetches[0].ranges[0].bytes.header_value(), "bytes=0-131071");
        assert_eq!(fetches[0].ranges[0].bytes.len(), 131072);
        // Serialization keeps the API's field names.
        let json = serde_json::to_value(&response).map_err(|e| Error::ReconstructionJson { source: Box::new(e) })?;
        assert!(json["terms"][0]["unpacked_length"].is_u64());
        assert!(json["terms"][0]["range"]["end"].is_u64());
        Ok(())
    }

    #[test]
    fn inconsistent_answers_are_refused() {
        let good = example();
        for (from, to) in [
            (
                r#""range": { "start": 0, "end": 4 }"#,
                r#""range": { "start": 0, "end": 5 }"#,
            ),
            (
                r#""range": { "start": 0, "end": 4 }"#,
                r#""range": { "start": 4, "end": 4 }"#,
            ),
            ("263873", "0"),
            ("263873", "900000"),
            (
                r#""offset_into_first_range": 0"#,
                r#""offset_into_first_range": 263873"#,
            ),
            (r#""start": 0, "end": 131071"#, r#""start": 131071, "end": 0"#),
            (
                r#""chunks": { "start": 0, "end": 4 }"#,
                r#""chunks": { "start": 4, "end": 4 }"#,
            ),
        ] {
            let bad = good.replacen(from, to, 1);
            assert_ne!(bad, good, "{from}");
            assert!(
                QueryReconstructionResponse::from_json(bad.as_bytes()).is_err(),
                "{from} -> {to}"
            );
        }
        for bad in [
            "",
            "{}",
            "[]",
            r#"{"offset_into_first_range": -1, "terms": [], "xorbs": {}}"#,
        ] {
            assert!(QueryReconstructionResponse::from_json(bad.as_bytes()).is_err());
        }
        let bad_hash = good.replace("a1b2c3d4", "zzzzzzzz");
        assert!(matches!(
            QueryReconstructionResponse::from_json(bad_hash.as_bytes()),
            Err(Error::ReconstructionJson { .. })
        ));
    }

    #[test]
    fn ranges_of_a_fetch_must_ascend() {
        let good = example();
        let two = r#"{ "chunks": { "start": 0, "end": 4 }, "bytes": { "start": 0, "end": 131071 } },
          { "chunks": { "start": 4, "end": 6 }, "bytes": { "start": 131072, "end": 150000 } }"#;
        let one = r#"{ "chunks": { "start": 0, "end": 4 }, "bytes": { "start": 0, "end": 131071 } }"#;
        let ascending = good.replacen(one, two, 1);
        assert!(QueryReconstructionResponse::from_json(ascending.as_bytes()).is_ok());
        let overlapping = ascending.replacen(r#""start": 4, "end": 6"#, r#""start": 3, "end": 6"#, 1);
        assert!(QueryReconstructionResponse::from_json(overlapping.as_bytes()).is_err());
        let bytes_back = ascending.replacen(r#""start": 131072, "end": 150000"#, r#""start": 100, "end": 150000"#, 1);
        assert!(QueryReconstructionResponse::from_json(bytes_back.as_bytes()).is_err());
    }

    #[test]
    fn v1_answers_parse() -> Result<(), Error> {
        let hash = XetHash::from_bytes([7; 32]);
        let json = format!(
            r#"{{"offset_into_first_range": 10, "terms": [{{"hash": "{hash}", "unpacked_length": 100, "range": {{"start": 2, "end": 3}}}}],
               "fetch_info": {{"{hash}": [{{"range": {{"start": 0, "end": 3}}, "url": "http://x/y", "url_range": {{"start": 0, "end": 499}}}}]}}}}"#
        );
        let response = QueryReconstructionResponseV1::from_json(json.as_bytes())?;
        assert_eq!(response.terms[0].xorb_hash, hash);
        assert_eq!(response.fetch_info[&hash][0].url_range.len(), 500);
        Ok(())
    }

    #[test]
    fn an_empty_file_has_no_terms() -> Result<(), Error> {
        let response =
            QueryReconstructionResponse::from_json(br#"{"offset_into_first_range": 0, "terms": [], "xorbs": {}}"#)?;
        assert!(response.terms.is_empty());
        Ok(())
    }
}
