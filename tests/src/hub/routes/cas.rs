//! The Xet CAS API under `{endpoint}/~cas` (the `casUrl` the token routes hand out):
//!
//! | Route | Scope | Answer |
//! | --- | --- | --- |
//! | `POST /v1/xorbs/default/{hash}` | write | `{"was_inserted": bool}`; 400 unless the body is a xorb whose chunks hash to `hash` |
//! | `POST /v1/shards` | write | `{"result": 0\|1}`; 400 for a malformed shard or one that fails verification |
//! | `GET /v2/reconstructions/{file}` | read | terms and per xorb `xorbs` fetch entries: one presigned CDN URL for several byte ranges (fetched in one request, a `multipart/byteranges` answer), `Range` honoured, 416 past the end |
//! | `GET /v1/reconstructions/{file}` | read | the same as terms and `fetch_info`, one presigned URL a range |
//! | `GET /v1/chunks/{default-merkledb\|default}/{hash}` | read | a shard describing the xorb holding the chunk, 404 when none |
//! | `HEAD /v1/xorbs/default/{hash}` | read | 200 with the xorb's length, 404 |
//! | `POST /v1/telemetry` | none | 200 |
//!
//! Every other route answers 404, notably the newer `POST /v1/xorb-grants/…` and
//! `POST /v2/shards`, on which `hf_xet` falls back to the calls above. With
//! `EmulatorConfig::xet_v2_reconstructions` off, `GET /v2/reconstructions/…` answers 404 too,
//! as older CAS deployments do. The token is checked on every call: 401 without a valid, unexpired
//! token, 403 for a read token on a write call.

use serde_json::{Map, Value, json};

use super::{Hub, Request, Response, cdn_origin, internal_error, not_found};
use crate::http::Body;
use crate::hub::range::{self, ByteRange};
use crate::hub::signing::now_secs;
use crate::hub::xet::hash::XetHash;
use crate::hub::xet::reconstruction::{Slice, plan};
use crate::hub::xet::shard::MAX_SHARD_BYTES;
use crate::hub::xet::token::{Scope, check};
use crate::hub::xet::xorb::MAX_XORB_BYTES;
use crate::hub::xet::{XetCas, XetError};

/// The one prefix under which xorbs are stored.
const XORB_PREFIX: &str = "default";

/// Answers a request whose path starts with `/~cas`; `rest` is the path after it.
pub(super) fn serve(hub: &Hub, request: &Request, base: &str, rest: &[&str]) -> Response {
    let Some(xet) = &hub.xet else {
        return not_found();
    };
    let method = request.method.as_str();
    let needed = match (method, rest) {
        ("POST", ["v1", "xorbs", XORB_PREFIX, _]) | ("POST", ["v1", "shards"]) => Scope::Write,
        ("GET", ["v1", "reconstructions", _])
        | ("GET", ["v2", "reconstructions", _])
        | ("GET", ["v1", "chunks", "default-merkledb" | "default", _])
        | ("HEAD", ["v1", "xorbs", XORB_PREFIX, _]) => Scope::Read,
        ("POST", ["v1", "telemetry"]) => return telemetry(),
        _ => return not_found(),
    };
    let token = match check(&hub.signer, request.header("authorization"), now_secs()) {
        Ok(token) => token,
        Err(refusal) => return Response::hub_error(401, None, refusal.message()),
    };
    if needed == Scope::Write && token.scope != Scope::Write {
        return Response::hub_error(
            403,
            None,
            "This Xet access token has the read scope, a write scope is needed",
        );
    }
    match (method, rest) {
        ("POST", ["v1", "xorbs", _, hash]) => upload_xorb(xet, request, hash),
        ("HEAD", ["v1", "xorbs", _, hash]) => head_xorb(xet, hash),
        ("POST", ["v1", "shards"]) => upload_shard(xet, request, &token.repo),
        ("GET", [version @ ("v1" | "v2"), "reconstructions", file]) => {
            if *version == "v2" && !xet.v2_reconstructions {
                return not_found();
            }
            reconstruction(hub, xet, request, base, file, &token.repo, *version == "v2")
        }
        ("GET", ["v1", "chunks", _, hash]) => dedupe(xet, hash),
        _ => not_found(),
    }
}

/// `POST /v1/telemetry` (at the CAS root and at the origin's): accepted and dropped.
pub(super) fn telemetry() -> Response {
    Response::json(200, &json!({}))
}

fn parse_hash(text: &str) -> Result<XetHash, Response> {
    XetHash::parse(text).ok_or_else(|| Response::hub_error(400, None, &format!("Malformed hash {text:?}")))
}

fn cas_error(err: &XetError) -> Response {
    match err {
        XetError::Refused(reason) => Response::hub_error(400, None, reason),
        XetError::Storage(err) => internal_error(err),
    }
}

fn upload_xorb(xet: &XetCas, request: &Request, hash: &str) -> Response {
    let hash = match parse_hash(hash) {
        Ok(hash) => hash,
        Err(refused) => return refused,
    };
    if request.body_len() > MAX_XORB_BYTES as u64 || request.body_file.is_some() {
        return Response::hub_error(400, None, "The xorb exceeds the size limit");
    }
    match xet.put_xorb(&hash, &request.body) {
        Ok(inserted) => Response::json(200, &json!({ "was_inserted": inserted })),
        Err(err) => cas_error(&err),
    }
}

fn head_xorb(xet: &XetCas, hash: &str) -> Response {
    let hash = match parse_hash(hash) {
        Ok(hash) => hash,
        Err(refused) => return refused,
    };
    match xet.store.xorb_len(&hash) {
        Some(len) => Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Reader {
                reader: Box::new(std::io::empty()),
                len,
            },
        },
        None => Response::hub_error(404, None, "Xorb not found"),
    }
}

fn upload_shard(xet: &XetCas, request: &Request, repo: &str) -> Response {
    if request.body_len() > MAX_SHARD_BYTES as u64 || request.body_file.is_some() {
        return Response::hub_error(400, None, "The shard exceeds the size limit");
    }
    match xet.put_shard(&request.body, repo) {
        // 1: "sync performed", the shard was registered.
        Ok(_) => Response::json(200, &json!({ "result": 1 })),
        Err(err) => cas_error(&err),
    }
}

fn dedupe(xet: &XetCas, hash: &str) -> Response {
    let hash = match parse_hash(hash) {
        Ok(hash) => hash,
        Err(refused) => return refused,
    };
    match xet.dedupe(&hash) {
        Ok(Some(shard)) => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body: Body::Bytes(shard),
        },
        Ok(None) => Response::hub_error(404, None, "Chunk not tracked by global deduplication"),
        Err(err) => internal_error(&err),
    }
}

/// A reconstruction: terms, then per xorb the byte ranges that hold them with presigned URLs
/// on the CDN: one URL a range in v1 (`fetch_info`), one URL for all the ranges of a xorb in v2
/// (`xorbs`, chunk ranges merged where they overlap or touch, a new entry every
/// [`RANGES_PER_FETCH`] ranges, as a URL has a length limit). A token reads the files of its
/// repo only; others are not found, as on the Hub.
fn reconstruction(
    hub: &Hub,
    xet: &XetCas,
    request: &Request,
    base: &str,
    file: &str,
    repo: &str,
    v2: bool,
) -> Response {
    let hash = match parse_hash(file) {
        Ok(hash) => hash,
        Err(refused) => return refused,
    };
    let Some(record) = xet.store.file(&hash).filter(|r| r.repos.iter().any(|r| r == repo)) else {
        return Response::hub_error(404, None, "File not found");
    };
    let (first, last) = match range::parse(request.header("range"), record.size) {
        ByteRange::Full => (0, record.size.saturating_sub(1)),
        ByteRange::Partial { start, end } => (start, end),
        ByteRange::Unsatisfiable => {
            return Response::hub_error(416, None, "The range starts past the end of the file")
                .with_header("Content-Range", format!("bytes */{}", record.size));
        }
    };
    let plan = match plan(&xet.store, &record, first, last) {
        Ok(plan) => plan,
        Err(err) => return internal_error(&err),
    };
    let cdn = cdn_origin(base);
    let sign = |xorb: &str, bytes: &str| {
        let query = hub
            .signer
            .signed_query("xorb", &[("hash", xorb), ("bytes", bytes)], xet.url_ttl_secs);
        format!("{cdn}/cdn/xorb/{xorb}?{query}")
    };
    let mut terms = Vec::with_capacity(plan.slices.len());
    // Per xorb, in order of first use: its index and the chunk ranges the terms use.
    let mut used: Vec<(String, &Slice, ChunkRanges)> = Vec::new();
    for slice in &plan.slices {
        let xorb = slice.index.hash.to_string();
        terms.push(json!({
            "hash": xorb,
            "unpacked_length": slice.index.unpacked_len(slice.start, slice.end),
            "range": { "start": slice.start, "end": slice.end },
        }));
        match used.iter_mut().find(|(x, _, _)| *x == xorb) {
            Some((_, _, ranges)) => ranges.push((slice.start, slice.end)),
            None => used.push((xorb, slice, vec![(slice.start, slice.end)])),
        }
    }
    let byte_range = |slice: &Slice, (start, end): (usize, usize)| {
        (slice.index.chunks[start].start, slice.index.chunks[end - 1].end - 1)
    };
    let mut fetches: Map<String, Value> = Map::new();
    for (xorb, slice, mut ranges) in used {
        let entries = if v2 {
            ranges.sort_unstable();
            let mut merged: Vec<(usize, usize)> = Vec::new();
            for (start, end) in ranges {
                match merged.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => merged.push((start, end)),
                }
            }
            merged
                .chunks(RANGES_PER_FETCH)
                .map(|group| {
                    let bytes: Vec<(u64, u64)> = group.iter().map(|&r| byte_range(slice, r)).collect();
                    let signed = bytes
                        .iter()
                        .map(|(s, e)| format!("{s}-{e}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    let ranges: Vec<Value> = group
                        .iter()
                        .zip(&bytes)
                        .map(|(&(start, end), &(s, e))| {
                            json!({ "chunks": { "start": start, "end": end }, "bytes": { "start": s, "end": e } })
                        })
                        .collect();
                    json!({ "url": sign(&xorb, &signed), "ranges": ranges })
                })
                .collect()
        } else {
            let mut seen = Vec::new();
            ranges
                .into_iter()
                .filter(|r| {
                    let new = !seen.contains(r);
                    seen.push(*r);
                    new
                })
                .map(|(start, end)| {
                    let (s, e) = byte_range(slice, (start, end));
                    json!({
                        "range": { "start": start, "end": end },
                        "url": sign(&xorb, &format!("{s}-{e}")),
                        "url_range": { "start": s, "end": e },
                    })
                })
                .collect()
        };
        fetches.insert(xorb, Value::Array(entries));
    }
    crate::hub::xet::counters::add(&xet.counters.reconstructions, 1);
    let fetch_key = if v2 { "xorbs" } else { "fetch_info" };
    Response::json(
        200,
        &json!({
            "offset_into_first_range": plan.offset_into_first_range,
            "terms": terms,
            fetch_key: fetches,
        }),
    )
}

/// Chunk ranges of a xorb, `start..end`.
type ChunkRanges = Vec<(usize, usize)>;

/// The most byte ranges one v2 fetch entry (one presigned URL) carries.
const RANGES_PER_FETCH: usize = 64;
