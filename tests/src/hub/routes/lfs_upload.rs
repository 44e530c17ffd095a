//! The presigned upload URLs the LFS batch hands out, and their routes:
//! `PUT {cdn}/cdn/lfs-upload/{oid}` (a `basic` upload), `PUT {cdn}/cdn/lfs-part/{id}/{n}`
//! (one part of a `multipart` upload, answered with its `ETag`) and
//! `POST {endpoint}/api/complete_multipart` (the completion). They carry no token: a
//! signed, expiring query authorises exactly the object, size and part they name.
//! Large PUT bodies reach these routes spooled to disk and hashed; they are moved
//! into the store, not copied.

use serde::Deserialize;
use serde_json::json;

use super::{Hub, Request, Response, internal_error};
use crate::http::Body;
use crate::hub::lfs_uploads::{MultipartPlan, UploadBody, UploadRejection, store_basic};
use crate::hub::repo_id::RepoKey;

/// How long upload URLs stay valid: long enough for very large uploads.
const UPLOAD_TTL_SECS: i64 = 24 * 3600;

/// The presigned `basic` upload URL of an object.
pub(super) fn basic_url(hub: &Hub, cdn: &str, oid: &str, size: u64) -> String {
    let size = size.to_string();
    let query = hub
        .signer
        .signed_query("upload", &[("oid", oid), ("size", &size)], UPLOAD_TTL_SECS);
    format!("{cdn}/cdn/lfs-upload/{oid}?{query}")
}

/// The presigned part URLs of a multipart upload, in part order.
pub(super) fn part_urls(hub: &Hub, cdn: &str, plan: &MultipartPlan) -> Vec<String> {
    let (size, part_size) = (plan.size.to_string(), plan.part_size.to_string());
    (1..=plan.part_count())
        .map(|n| {
            let part = n.to_string();
            let query = hub.signer.signed_query(
                "part",
                &[
                    ("upload_id", &plan.upload_id),
                    ("oid", &plan.oid),
                    ("size", &size),
                    ("part_size", &part_size),
                    ("part", &part),
                ],
                UPLOAD_TTL_SECS,
            );
            format!("{cdn}/cdn/lfs-part/{}/{n}?{query}", plan.upload_id)
        })
        .collect()
}

/// The presigned completion URL of a multipart upload, on the Hub's endpoint.
pub(super) fn completion_url(hub: &Hub, base: &str, plan: &MultipartPlan) -> String {
    let (size, part_size) = (plan.size.to_string(), plan.part_size.to_string());
    let query = hub.signer.signed_query(
        "complete",
        &[
            ("upload_id", &plan.upload_id),
            ("oid", &plan.oid),
            ("size", &size),
            ("part_size", &part_size),
        ],
        UPLOAD_TTL_SECS,
    );
    format!("{base}/api/complete_multipart?{query}")
}

/// The presigned verify URL of an object of the repo `key`.
pub(super) fn verify_url(hub: &Hub, base: &str, key: &RepoKey, oid: &str) -> String {
    let repo = key.to_string();
    let query = hub
        .signer
        .signed_query("verify", &[("repo", &repo), ("oid", oid)], UPLOAD_TTL_SECS);
    format!("{base}/{key}.git/info/lfs/objects/verify?{query}")
}

/// Whether the request carries a valid signature for verifying `oid` in `key`.
pub(super) fn verify_is_presigned(hub: &Hub, request: &Request, key: &RepoKey, oid: &str) -> bool {
    hub.signer
        .check_query("verify", &["repo", "oid"], &request.query_pairs())
        .is_some_and(|values| values[0] == key.to_string() && values[1] == oid)
}

fn bad_signature() -> Response {
    Response::hub_error(403, None, "Request has expired or the signature does not match")
}

/// The object store's answer to a single PUT over its size limit.
fn entity_too_large() -> Response {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>EntityTooLarge</Code>\
                <Message>Your proposed upload exceeds the maximum allowed size</Message></Error>";
    Response {
        status: 400,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: Body::Bytes(body.as_bytes().to_vec()),
    }
}

fn rejection(rejected: UploadRejection) -> Response {
    match rejected {
        UploadRejection::Invalid(message) => Response::hub_error(400, None, &message),
        UploadRejection::Storage(err) => internal_error(&err),
    }
}

fn number(value: &str) -> Option<u64> {
    value.parse().ok()
}

/// The multipart upload a signed query of `kind` describes.
fn signed_plan(hub: &Hub, request: &Request, kind: &str, extra: &[&str]) -> Option<(MultipartPlan, Vec<String>)> {
    let mut names = vec!["upload_id", "oid", "size", "part_size"];
    names.extend_from_slice(extra);
    let values = hub.signer.check_query(kind, &names, &request.query_pairs())?;
    let plan = MultipartPlan {
        upload_id: values[0].clone(),
        oid: values[1].clone(),
        size: number(&values[2])?,
        part_size: number(&values[3])?.max(1),
    };
    Some((plan, values[4..].to_vec()))
}

/// `PUT /cdn/lfs-upload/{oid}`: a whole object, checked against its oid and size.
/// Objects over the multipart threshold are refused as the object store refuses a
/// single PUT over 5 GiB: they must go up in parts (git-lfs needs the multipart agent).
pub(super) fn basic(hub: &Hub, request: &Request, oid: &str) -> Response {
    let Some(values) = hub
        .signer
        .check_query("upload", &["oid", "size"], &request.query_pairs())
    else {
        return bad_signature();
    };
    let Some(size) = number(&values[1]).filter(|_| values[0] == oid) else {
        return bad_signature();
    };
    if size > hub.multipart_threshold {
        return entity_too_large();
    }
    match store_basic(&hub.lfs, oid, size, UploadBody::of(request)) {
        Ok(()) => Response::empty(200),
        Err(rejected) => rejection(rejected),
    }
}

/// `PUT /cdn/lfs-part/{upload_id}/{n}`: one part, answered with its `ETag`.
pub(super) fn part(hub: &Hub, request: &Request, upload_id: &str, part: &str) -> Response {
    let Some((plan, extra)) = signed_plan(hub, request, "part", &["part"]) else {
        return bad_signature();
    };
    let Some(n) = number(part).filter(|n| plan.upload_id == upload_id && extra[0] == n.to_string()) else {
        return bad_signature();
    };
    match hub.uploads.store_part(&plan, n, UploadBody::of(request)) {
        Ok(etag) => Response::empty(200).with_header("ETag", etag),
        Err(rejected) => rejection(rejected),
    }
}

#[derive(Debug, Deserialize)]
struct Completion {
    oid: String,
    parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompletedPart {
    part_number: u64,
    etag: String,
}

/// `POST /api/complete_multipart`: assembles the parts once every ETag, the sha256 and
/// the size check out.
pub(super) fn complete(hub: &Hub, request: &Request) -> Response {
    let Some((plan, _)) = signed_plan(hub, request, "complete", &[]) else {
        return bad_signature();
    };
    let completion: Completion = match super::json_body(request) {
        Ok(completion) => completion,
        Err(refused) => return refused,
    };
    if completion.oid != plan.oid {
        return Response::hub_error(
            400,
            None,
            &format!(
                "the completion is for {}, this upload is for {}",
                completion.oid, plan.oid
            ),
        );
    }
    let parts: Vec<(u64, String)> = completion.parts.into_iter().map(|p| (p.part_number, p.etag)).collect();
    match hub.uploads.complete(&hub.lfs, &plan, &parts) {
        Ok(()) => Response::json(200, &json!({ "oid": plan.oid, "size": plan.size })),
        Err(rejected) => rejection(rejected),
    }
}
