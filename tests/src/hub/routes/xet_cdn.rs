//! What the CDN serves of Xet storage, presigned (no token):
//! `GET {cdn}/cdn/xorb/{hash}?hash=…&bytes=S-E&expires=…&signature=…`, a byte range of a
//! stored xorb as a reconstruction hands it out (the `Range` must lie inside the signed
//! range), and `GET|HEAD {cdn}/cdn/xet/{file}?expires=…&signature=…`, the bridge that
//! serves a Xet-backed file whole (with `Range`) to clients that speak plain HTTP.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

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

/// Serves signed byte ranges of a xorb: the `Range` may ask for any ranges inside the
/// signed ones (all of them without a `Range`); one range is a plain 206, several a
/// `multipart/byteranges` 206, as a CDN answers.
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
    let (Some(signed), Some(xorb)) = (parse_ranges(signed_bytes), XetHash::parse(hash)) else {
        return expired_or_forged();
    };
    if signed_hash != hash {
        return expired_or_forged();
    }
    let Some(size) = xet.store.xorb_len(&xorb) else {
        return Response::hub_error(404, None, "Object not found");
    };
    // No `Range` asks for the signed ranges; one outside them is not authorised.
    let asked = match request.header("range") {
        None => signed.clone(),
        Some(header) => match header.trim().strip_prefix("bytes=").and_then(parse_ranges) {
            Some(asked) => asked,
            None => {
                let single = match range::parse(Some(header), size) {
                    ByteRange::Partial { start, end } => (start, end),
                    ByteRange::Full | ByteRange::Unsatisfiable => (size, size),
                };
                vec![single]
            }
        },
    };
    let inside = |&(start, end): &(u64, u64)| end < size && signed.iter().any(|&(f, l)| f <= start && end <= l);
    if !asked.iter().all(inside) {
        return Response::hub_error(403, None, "The requested range is outside the signed range");
    }
    let path = xet.store.xorb_path(&xorb);
    let head = request.method == "HEAD";
    let open = || File::open(&path).map_err(|e| internal_error(&EmulatorError::io(&path, e)));
    let served: u64 = asked.iter().map(|(s, e)| e - s + 1).sum();
    if let [(start, end)] = asked[..] {
        let len = end - start + 1;
        let body = if head {
            Body::Reader {
                reader: Box::new(std::io::empty()),
                len,
            }
        } else {
            match open() {
                Ok(file) => Body::File {
                    file,
                    offset: start,
                    len,
                },
                Err(refused) => return refused,
            }
        };
        if !head {
            add(&xet.counters.xorb_bytes_served, served);
        }
        return Response {
            status: 206,
            headers: vec![
                ("Content-Range".into(), format!("bytes {start}-{end}/{size}")),
                ("Accept-Ranges".into(), "bytes".into()),
                ("Content-Type".into(), "application/octet-stream".into()),
            ],
            body,
        };
    }
    let mut reader: Box<dyn Read + Send> = Box::new(std::io::empty());
    let mut len = 0u64;
    for &(start, end) in &asked {
        let header = format!(
            "--{MULTIPART_BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {start}-{end}/{size}\r\n\r\n"
        );
        len += header.len() as u64 + (end - start + 1) + 2;
        if head {
            continue;
        }
        let mut file = match open() {
            Ok(file) => file,
            Err(refused) => return refused,
        };
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            return internal_error(&EmulatorError::io(&path, e));
        }
        reader = Box::new(
            reader
                .chain(std::io::Cursor::new(header.into_bytes()))
                .chain(file.take(end - start + 1))
                .chain(&b"\r\n"[..]),
        );
    }
    let closing = format!("--{MULTIPART_BOUNDARY}--\r\n");
    len += closing.len() as u64;
    let reader: Box<dyn Read + Send> = match head {
        true => Box::new(std::io::empty()),
        false => {
            add(&xet.counters.xorb_bytes_served, served);
            Box::new(reader.chain(std::io::Cursor::new(closing.into_bytes())))
        }
    };
    Response {
        status: 206,
        headers: vec![
            ("Accept-Ranges".into(), "bytes".into()),
            (
                "Content-Type".into(),
                format!("multipart/byteranges; boundary={MULTIPART_BOUNDARY}"),
            ),
        ],
        body: Body::Reader { reader, len },
    }
}

/// The boundary between the parts of a multi-range answer.
const MULTIPART_BOUNDARY: &str = "xet_emulator_byteranges";

/// Reads `S-E[,S-E]…` (inclusive ends, ascending, not overlapping) into its ranges.
pub(super) fn parse_ranges(text: &str) -> Option<Vec<(u64, u64)>> {
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for part in text.split(',') {
        let (start, end) = part.trim().split_once('-')?;
        let (start, end) = (start.trim().parse::<u64>().ok()?, end.trim().parse::<u64>().ok()?);
        if end < start || ranges.last().is_some_and(|&(_, last)| start <= last) {
            return None;
        }
        ranges.push((start, end));
    }
    (!ranges.is_empty() && ranges.len() <= 1024).then_some(ranges)
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
