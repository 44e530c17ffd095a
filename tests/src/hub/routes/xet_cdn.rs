//! What the CDN serves of Xet storage, presigned (no token):
//! `GET {cdn}/cdn/xorb/{hash}?hash=…&bytes=S-E&expires=…&signature=…`, a byte range of a
//! stored xorb as a reconstruction hands it out (the `Range` must lie inside the signed
//! range), and `GET|HEAD {cdn}/cdn/xet/{file}?expires=…&signature=…`, the bridge that
//! serves a Xet-backed file whole (with `Range`) to clients that speak plain HTTP.

use std::fs::File;

use super::{Hub, Request, Response, internal_error};
use crate::EmulatorError;
use crate::http::Body;
use crate::hub::range::{self, ByteRange};
use crate::hub::signing::now_secs;
use crate::hub::xet::counters::add;
use crate::hub::xet::hash::XetHash;
use crate::hub::xet::reconstruction::{ContentReader, plan};

/// What the bridge's signature covers besides the file hash.
const BRIDGE_KIND: &str = "xet-bridge";

fn expired_or_forged() -> Response {
    Response::hub_error(403, None, "Request has expired or the signature does not match")
}

/// Serves a signed byte range of a xorb.
pub(super) fn xorb_range(hub: &Hub, request: &Request, hash: &str) -> Response {
    let Some(xet) = &hub.xet else {
        return super::not_found();
    };
    let Some(values) = hub
        .signer
        .check_query("xorb", &["hash", "bytes"], &request.query_pairs())
    else {
        return expired_or_forged();
    };
    let [signed_hash, signed_bytes] = values.as_slice() else {
        return expired_or_forged();
    };
    let signed = signed_bytes
        .split_once('-')
        .and_then(|(s, e)| Some((s.parse::<u64>().ok()?, e.parse::<u64>().ok()?)));
    let (Some((first, last)), Some(xorb)) = (signed, XetHash::parse(hash)) else {
        return expired_or_forged();
    };
    if signed_hash != hash {
        return expired_or_forged();
    }
    let Some(size) = xet.store.xorb_len(&xorb) else {
        return Response::hub_error(404, None, "Object not found");
    };
    // No `Range` asks for the signed range; one outside it is not authorised.
    let (start, end) = match range::parse(request.header("range"), size) {
        ByteRange::Full => (first, last),
        ByteRange::Partial { start, end } => (start, end),
        ByteRange::Unsatisfiable => (size, size),
    };
    if start < first || end > last || end >= size {
        return Response::hub_error(403, None, "The requested range is outside the signed range");
    }
    let path = xet.store.xorb_path(&xorb);
    let len = end - start + 1;
    let head = request.method == "HEAD";
    let body = if head {
        Body::Reader {
            reader: Box::new(std::io::empty()),
            len,
        }
    } else {
        match File::open(&path) {
            Ok(file) => Body::File {
                file,
                offset: start,
                len,
            },
            Err(e) => return internal_error(&EmulatorError::io(&path, e)),
        }
    };
    if !head {
        add(&xet.counters.xorb_bytes_served, len);
    }
    Response {
        status: 206,
        headers: vec![
            ("Content-Range".into(), format!("bytes {start}-{end}/{size}")),
            ("Accept-Ranges".into(), "bytes".into()),
            ("Content-Type".into(), "application/octet-stream".into()),
        ],
        body,
    }
}

/// The query string of a bridge URL for `file`, valid for the CAS's URL lifetime.
pub(super) fn bridge_query(hub: &Hub, file: &XetHash, ttl_secs: i64) -> String {
    hub.signer.query(&[BRIDGE_KIND, &file.to_string()], ttl_secs)
}

/// Serves a Xet-backed file rebuilt from its xorbs.
pub(super) fn bridge(hub: &Hub, request: &Request, file: &str) -> Response {
    let Some(xet) = &hub.xet else {
        return super::not_found();
    };
    let expires = request.query_param("expires").unwrap_or_default();
    let signature = request.query_param("signature").unwrap_or_default();
    let Some(hash) = XetHash::parse(file) else {
        return expired_or_forged();
    };
    if !hub
        .signer
        .verify(&[BRIDGE_KIND, &hash.to_string()], &expires, &signature, now_secs())
    {
        return expired_or_forged();
    }
    let Some(record) = xet.store.file(&hash) else {
        return Response::hub_error(404, None, "Object not found");
    };
    let head = request.method == "HEAD";
    let answer = range::respond(
        range::parse(request.header("range"), record.size),
        record.size,
        |offset, len| {
            if head || len == 0 {
                // HEAD announces the length without rebuilding anything.
                return Ok(Body::Reader {
                    reader: Box::new(std::io::empty()),
                    len,
                });
            }
            let plan = plan(&xet.store, &record, offset, offset + len - 1)?;
            add(&xet.counters.bridge_bytes_served, len);
            Ok::<_, EmulatorError>(Body::Reader {
                reader: Box::new(ContentReader::new(&xet.store, &plan)),
                len,
            })
        },
    );
    match answer {
        Ok(response) => response
            .with_header("ETag", format!("\"{}\"", record.sha256))
            .with_header("Content-Type", "application/octet-stream"),
        Err(err) => internal_error(&err),
    }
}
