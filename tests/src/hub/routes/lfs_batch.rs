//! The git-lfs API of a repo, `/{prefix}{repo}.git/info/lfs/…`: the batch endpoint
//! (`objects/batch`, upload and download), `objects/verify`, and an empty
//! `locks/verify` so that git-lfs pushes quietly.
//!
//! An upload batch whose client offers the `xet` transfer (git-xet, the `hf-hub` crate)
//! is answered with it on a Hub with Xet storage: each object to send gets an upload
//! action whose headers name the CAS and carry a write token for the repo, and the
//! client sends the content there instead (the shard it registers makes the oid known).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::lfs_upload::{basic_url, completion_url, part_urls, verify_is_presigned, verify_url};
use super::xet_cdn::bridge_query;
use super::xet_token::{XetCredentials, credentials};
use super::{Caller, Hub, RepoKey, Request, Response, cdn_origin, check_content_access, open_repo, writable_repo};
use crate::hub::lfs_store::is_sha256;
use crate::hub::lfs_uploads::MultipartPlan;
use crate::hub::signing::{DEFAULT_TTL_SECS, random_id};
use crate::hub::xet::token::{Scope, repo_scope};

/// The media type of every git-lfs request and answer.
const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

#[derive(Debug, Deserialize)]
struct BatchRequest {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    objects: Vec<BatchObject>,
    #[serde(default)]
    hash_algo: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BatchObject {
    oid: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
struct VerifyRequest {
    oid: String,
    size: u64,
}

/// A git-lfs JSON answer.
fn lfs_json(status: u16, value: &Value) -> Response {
    let mut response = Response::json(status, value);
    response
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
    response.with_header("Content-Type", LFS_MEDIA_TYPE)
}

/// A git-lfs error: git-lfs shows `message`, the Hub's clients read `error`.
fn lfs_error(status: u16, message: &str) -> Response {
    lfs_json(status, &json!({ "message": message, "error": message })).with_header("X-Error-Message", message)
}

/// Lets git and git-lfs know that credentials would help.
pub(super) fn ask_for_credentials(response: Response) -> Response {
    if response.status == 401 {
        response
            .with_header("WWW-Authenticate", "Basic realm=\"Hugging Face Hub\"")
            .with_header("LFS-Authenticate", "Basic realm=\"Hugging Face Hub\"")
    } else {
        response
    }
}

/// An access refusal in git-lfs terms: the same status and Hub headers, a git-lfs
/// body, and a request for credentials on 401.
fn lfs_refusal(refused: Response) -> Response {
    let message = refused
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-error-message"))
        .map_or_else(|| "Request refused".to_string(), |(_, value)| value.clone());
    let mut response = lfs_error(refused.status, &message);
    response.headers.extend(
        refused
            .headers
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-error-code")),
    );
    ask_for_credentials(response)
}

/// `POST …/info/lfs/objects/batch`.
pub(super) fn batch(hub: &Hub, request: &Request, base: &str, caller: Caller<'_>, key: &RepoKey) -> Response {
    let answer = || -> Result<Response, Response> {
        let body: BatchRequest = serde_json::from_slice(&request.body)
            .map_err(|e| lfs_error(422, &format!("Invalid batch request: {e}")))?;
        let upload = match body.operation.as_str() {
            "upload" => {
                writable_repo(hub, caller, key).map_err(lfs_refusal)?;
                true
            }
            "download" => {
                let repo = open_repo(hub, caller, key).map_err(lfs_refusal)?;
                check_content_access(hub, caller, key, &repo).map_err(lfs_refusal)?;
                false
            }
            other => return Err(lfs_error(422, &format!("Unknown operation {other:?}"))),
        };
        if body.hash_algo.as_deref().is_some_and(|algo| algo != "sha256") {
            return Err(lfs_error(409, "Only the sha256 hash algorithm is supported"));
        }
        // One transfer for the whole batch (git-lfs uses it for every object): xet when
        // the client offers it and the Hub has Xet storage; else multipart when the client
        // offers it and some object to send reaches the threshold.
        let xet = match &hub.xet {
            Some(xet) if upload && body.transfers.iter().any(|t| t == "xet") => {
                Some(credentials(hub, xet, base, key, Scope::Write))
            }
            _ => None,
        };
        let multipart = upload
            && xet.is_none()
            && body.transfers.iter().any(|t| t == "multipart")
            && body.objects.iter().any(|o| {
                is_sha256(&o.oid)
                    && o.size > 0
                    && o.size >= hub.multipart_threshold
                    && hub.lfs.object_size(&o.oid).is_none()
            });
        let cdn = cdn_origin(base);
        let objects: Vec<Value> = body
            .objects
            .iter()
            .map(|object| {
                if !is_sha256(&object.oid) {
                    return object_error(object, 422, "Invalid object id: a sha256 is expected");
                }
                let stored = hub.lfs.object_size(&object.oid);
                if let Some(xet) = &xet {
                    xet_upload_object(hub, key, xet, object, stored)
                } else if upload {
                    upload_object(hub, base, &cdn, key, object, stored, multipart)
                } else {
                    download_object(hub, &cdn, key, object, stored)
                }
            })
            .collect();
        Ok(lfs_json(
            200,
            &json!({
                "transfer": if xet.is_some() {
                    "xet"
                } else if multipart {
                    "multipart"
                } else {
                    "basic"
                },
                "objects": objects,
                "hash_algo": "sha256",
            }),
        ))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// The answer for an upload of content stored already with `stored` bytes: nothing to
/// send, or an error when the sizes differ; `None` when nothing is stored.
fn already_stored(object: &BatchObject, stored: Option<u64>) -> Option<Value> {
    let size = stored?;
    Some(if size == object.size {
        json!({ "oid": object.oid, "size": object.size, "authenticated": true })
    } else {
        object_error(
            object,
            422,
            &format!("Object {} is stored with {size} bytes, not {}", object.oid, object.size),
        )
    })
}

fn object_error(object: &BatchObject, code: u16, message: &str) -> Value {
    json!({ "oid": object.oid, "size": object.size, "error": { "code": code, "message": message } })
}

fn upload_object(
    hub: &Hub,
    base: &str,
    cdn: &str,
    key: &RepoKey,
    object: &BatchObject,
    stored: Option<u64>,
    multipart: bool,
) -> Value {
    if let Some(answer) = already_stored(object, stored) {
        return answer;
    }
    let verify = json!({ "href": verify_url(hub, base, key, &object.oid), "expires_in": DEFAULT_TTL_SECS });
    let upload = if multipart && object.size > 0 {
        let plan = MultipartPlan {
            upload_id: random_id(),
            oid: object.oid.clone(),
            size: object.size,
            part_size: hub.multipart_part_size,
        };
        let mut header = Map::new();
        header.insert("chunk_size".into(), json!(plan.part_size.to_string()));
        for (i, url) in part_urls(hub, cdn, &plan).into_iter().enumerate() {
            header.insert(format!("{:05}", i + 1), json!(url));
        }
        json!({ "href": completion_url(hub, base, &plan), "header": header, "expires_in": DEFAULT_TTL_SECS })
    } else {
        json!({ "href": basic_url(hub, cdn, &object.oid, object.size), "expires_in": DEFAULT_TTL_SECS })
    };
    json!({
        "oid": object.oid,
        "size": object.size,
        "authenticated": true,
        "actions": { "upload": upload, "verify": verify },
    })
}

/// An object of an upload batch answered with the `xet` transfer: nothing to do when its
/// content is stored already (by LFS, or registered through Xet for this repo), else an
/// upload action that points at the CAS with the token in its headers; the expiry is a
/// string of Unix seconds, as git-xet parses it.
fn xet_upload_object(
    hub: &Hub,
    key: &RepoKey,
    credentials: &XetCredentials,
    object: &BatchObject,
    stored: Option<u64>,
) -> Value {
    let registered = hub.xet.as_ref().and_then(|xet| {
        let hash = xet.readable_by(&object.oid, &repo_scope(key))?;
        xet.store.file(&hash).map(|record| record.size)
    });
    match already_stored(object, stored.or(registered)) {
        Some(answer) => answer,
        None => {
            let expires_in = (credentials.expires - crate::hub::signing::now_secs()).max(0);
            json!({
                "oid": object.oid,
                "size": object.size,
                "authenticated": true,
                "actions": { "upload": {
                    "href": credentials.cas_url,
                    "header": {
                        "X-Xet-Cas-Url": credentials.cas_url,
                        "X-Xet-Access-Token": credentials.access_token,
                        "X-Xet-Token-Expiration": credentials.expires.to_string(),
                    },
                    "expires_in": expires_in,
                } },
            })
        }
    }
}

fn download_object(hub: &Hub, cdn: &str, key: &RepoKey, object: &BatchObject, stored: Option<u64>) -> Value {
    // Content of this repo uploaded through Xet only: git-lfs gets it from the bridge.
    if stored.is_none()
        && let Some(xet) = &hub.xet
        && let Some(hash) = xet.readable_by(&object.oid, &repo_scope(key))
        && let Some(size) = xet.store.file(&hash).map(|record| record.size)
    {
        let query = bridge_query(hub, &hash, xet.url_ttl_secs);
        return json!({
            "oid": object.oid,
            "size": size,
            "authenticated": true,
            "actions": { "download": {
                "href": format!("{cdn}/cdn/xet/{hash}?{query}"),
                "expires_in": xet.url_ttl_secs,
            } },
        });
    }
    match stored {
        Some(size) => {
            let query = hub.signer.query(&[&object.oid], DEFAULT_TTL_SECS);
            json!({
                "oid": object.oid,
                "size": size,
                "authenticated": true,
                "actions": { "download": {
                    "href": format!("{cdn}/cdn/lfs/{}?{query}", object.oid),
                    "expires_in": DEFAULT_TTL_SECS,
                } },
            })
        }
        None => object_error(object, 404, "Object does not exist"),
    }
}

/// `POST …/info/lfs/objects/verify` `{oid, size}`: 200 when the object is stored with
/// that size. Presigned, or for a caller who may write to the repo.
pub(super) fn verify(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey) -> Response {
    let answer = || -> Result<Response, Response> {
        let body: VerifyRequest = serde_json::from_slice(&request.body)
            .map_err(|e| lfs_error(422, &format!("Invalid verify request: {e}")))?;
        if !verify_is_presigned(hub, request, key, &body.oid) {
            writable_repo(hub, caller, key).map_err(lfs_refusal)?;
        }
        match hub.lfs.object_size(&body.oid) {
            Some(size) if size == body.size => Ok(lfs_json(200, &json!({ "oid": body.oid, "size": size }))),
            Some(size) => Err(lfs_error(
                422,
                &format!("Object {} is stored with {size} bytes, not {}", body.oid, body.size),
            )),
            None => Err(lfs_error(404, &format!("Object {} was not uploaded", body.oid))),
        }
    };
    answer().unwrap_or_else(|refused| refused)
}

/// `POST …/info/lfs/locks/verify`: the Hub has no locks.
pub(super) fn locks_verify(hub: &Hub, caller: Caller<'_>, key: &RepoKey) -> Response {
    match open_repo(hub, caller, key) {
        Ok(_) => lfs_json(200, &json!({ "ours": [], "theirs": [] })),
        Err(refused) => lfs_refusal(refused),
    }
}
