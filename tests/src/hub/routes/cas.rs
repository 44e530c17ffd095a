//! The Xet CAS API under `{endpoint}/~cas` (the `casUrl` the token routes hand out):
//!
//! | Route | Scope | Answer |
//! | --- | --- | --- |
//! | `POST /v1/xorbs/default/{hash}` | write | `{"was_inserted": bool}`; 400 unless the body is a xorb whose chunks hash to `hash` |
//! | `POST /v1/shards` | write | `{"result": 0\|1}`; 400 for a malformed shard or one that fails verification |
//! | `GET /v1/reconstructions/{file}` | read | terms and `fetch_info` with presigned xorb range URLs on the CDN (`Range` honoured, 416 past the end) |
//! | `GET /v1/chunks/{default-merkledb\|default}/{hash}` | read | a shard describing the xorb holding the chunk, 404 when none |
//! | `HEAD /v1/xorbs/default/{hash}` | read | 200 with the xorb's length, 404 |
//! | `POST /v1/telemetry` | none | 200 |
//!
//! Every other route answers 404, notably the newer `POST /v1/xorb-grants/…`,
//! `POST /v2/shards` and `GET /v2/reconstructions/…`, on which `hf_xet` falls back to
//! the calls above. The token is checked on every call: 401 without a valid, unexpired
//! token, 403 for a read token on a write call.

use serde_json::{Map, Value, json};

use super::{Hub, Request, Response, cdn_origin, internal_error, not_found};
use crate::http::Body;
use crate::hub::range::{self, ByteRange};
use crate::hub::signing::now_secs;
use crate::hub::xet::hash::XetHash;
use crate::hub::xet::reconstruction::plan;
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
        ("GET", ["v1", "reconstructions", file]) => reconstruction(hub, xet, request, base, file, &token.repo),
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

/// The v1 reconstruction: terms, then per xorb the chunk ranges with their byte ranges
/// and presigned URLs on the CDN. A token reads the files of its repo only; others are
/// not found, as on the Hub.
fn reconstruction(hub: &Hub, xet: &XetCas, request: &Request, base: &str, file: &str, repo: &str) -> Response {
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
    let mut terms = Vec::with_capacity(plan.slices.len());
    let mut fetch_info: Map<String, Value> = Map::new();
    for slice in &plan.slices {
        let xorb = slice.index.hash.to_string();
        let chunk_range = json!({ "start": slice.start, "end": slice.end });
        terms.push(json!({
            "hash": xorb,
            "unpacked_length": slice.index.unpacked_len(slice.start, slice.end),
            "range": chunk_range,
        }));
        let entries = fetch_info
            .entry(xorb.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(entries) = entries else { continue };
        if entries.iter().any(|e| e["range"] == chunk_range) {
            continue;
        }
        let bytes_start = slice.index.chunks[slice.start].start;
        let bytes_end = slice.index.chunks[slice.end - 1].end - 1;
        let query = hub.signer.signed_query(
            "xorb",
            &[("hash", &xorb), ("bytes", &format!("{bytes_start}-{bytes_end}"))],
            xet.url_ttl_secs,
        );
        entries.push(json!({
            "range": chunk_range,
            "url": format!("{cdn}/cdn/xorb/{xorb}?{query}"),
            "url_range": { "start": bytes_start, "end": bytes_end },
        }));
    }
    crate::hub::xet::counters::add(&xet.counters.reconstructions, 1);
    Response::json(
        200,
        &json!({
            "offset_into_first_range": plan.offset_into_first_range,
            "terms": terms,
            "fetch_info": fetch_info,
        }),
    )
}
