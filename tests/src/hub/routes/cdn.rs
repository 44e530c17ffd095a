//! `GET /cdn/lfs/{oid}?expires=…&signature=…`: LFS content from the store, presigned, so
//! it needs (and looks at) no `Authorization`.

use std::fs::File;

use super::{Hub, Request, Response, internal_error};
use crate::EmulatorError;
use crate::http::Body;
use crate::hub::lfs_store::is_sha256;
use crate::hub::range;
use crate::hub::signing::now_secs;

/// Serves an LFS object when the URL's signature and expiry hold.
pub(super) fn serve(hub: &Hub, request: &Request, oid: &str) -> Response {
    let expires = request.query_param("expires").unwrap_or_default();
    let signature = request.query_param("signature").unwrap_or_default();
    if !is_sha256(oid) || !hub.signer.verify(&[oid], &expires, &signature, now_secs()) {
        return Response::hub_error(403, None, "Request has expired or the signature does not match");
    }
    let path = hub.lfs.object_path(oid);
    let Some(size) = hub.lfs.object_size(oid) else {
        return Response::hub_error(404, None, "Object not found");
    };
    let head = request.method == "HEAD";
    let answer = range::respond(range::parse(request.header("range"), size), size, |offset, len| {
        if head {
            return Ok(Body::Reader {
                reader: Box::new(std::io::empty()),
                len,
            });
        }
        let file = File::open(&path).map_err(|e| EmulatorError::io(&path, e))?;
        Ok::<_, EmulatorError>(Body::File { file, offset, len })
    });
    match answer {
        Ok(response) => response
            .with_header("ETag", format!("\"{oid}\""))
            .with_header("Content-Type", "application/octet-stream"),
        Err(err) => internal_error(&err),
    }
}
