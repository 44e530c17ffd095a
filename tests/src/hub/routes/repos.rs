//! `POST /api/repos/create` and `DELETE /api/repos/delete`.

use serde::Deserialize;
use serde_json::json;

use super::info::object_id;
use super::{Caller, Hub, RepoKey, RepoType, Request, Response, internal_error, json_body, read_token_refused};
use crate::Role;
use crate::hub::clock;
use crate::hub::repos::RepoMeta;

/// The body both routes take.
#[derive(Debug, Deserialize)]
struct RepoRequest {
    name: String,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default, rename = "type")]
    repo_type: Option<String>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    sdk: Option<String>,
}

impl RepoRequest {
    /// The repo the request names: `organization/name`, else the caller's `user/name`.
    fn key(&self, user: &str) -> Result<RepoKey, Response> {
        let repo_type = match self.repo_type.as_deref() {
            None => RepoType::Model,
            Some(t) => RepoType::from_singular(t)
                .map_err(|_| Response::hub_error(400, None, &format!("Invalid repo type: {t}")))?,
        };
        let repo_id = match (&self.organization, self.name.contains('/')) {
            (_, true) => self.name.clone(),
            (Some(org), false) => format!("{org}/{}", self.name),
            (None, false) => format!("{user}/{}", self.name),
        };
        RepoKey::new(repo_type, &repo_id)
            .map_err(|_| Response::hub_error(400, None, &format!("Invalid repo name: {repo_id}")))
    }
}

/// The caller's grant, refusing anonymous callers (401) and read tokens (403).
fn writer<'a>(caller: Caller<'a>, action: &str) -> Result<&'a crate::TokenGrant, Response> {
    let grant = caller
        .grant()
        .ok_or_else(|| Response::hub_error(401, None, &format!("You must be authenticated to {action} a repo")))?;
    if grant.role != Role::Write {
        return Err(read_token_refused(&format!("{action} repos")));
    }
    Ok(grant)
}

/// The repo's page: `{base}/{prefix}{id}`.
fn repo_url(base: &str, key: &RepoKey) -> String {
    format!("{base}/{key}")
}

/// Creates a repo; 409 (still with its `url`) when it exists.
pub(super) fn create(hub: &Hub, request: &Request, base: &str, caller: Caller<'_>) -> Response {
    let answer = || -> Result<Response, Response> {
        let body: RepoRequest = json_body(request)?;
        let grant = writer(caller, "create")?;
        let key = body.key(&grant.user)?;
        let namespace = key.namespace().unwrap_or_default();
        if !hub.users.acts_for(&grant.user, namespace) {
            return Err(Response::hub_error(
                403,
                None,
                &format!(
                    "You don't have the rights to create a {} under the namespace \"{namespace}\"",
                    key.repo_type.singular()
                ),
            ));
        }
        let private = match body.visibility.as_deref() {
            Some("private") => true,
            Some("public" | "protected") => false,
            Some(other) => {
                return Err(Response::hub_error(400, None, &format!("Invalid visibility: {other}")));
            }
            None => body.private.unwrap_or(false),
        };
        let meta = RepoMeta {
            owner: Some(namespace.to_string()),
            private,
            gated: None,
            disabled: false,
            tags: Vec::new(),
            created_at: clock::iso8601(clock::now_millis()),
            likes: 0,
            downloads: 0,
            sdk: (key.repo_type == RepoType::Space).then(|| body.sdk.clone().unwrap_or_else(|| "static".into())),
        };
        let url = repo_url(base, &key);
        if !hub.create_repo(&key, &meta).map_err(|e| internal_error(&e))? {
            return Ok(Response::json(
                409,
                &json!({
                    "error": format!("You already created this {} repo", key.repo_type.singular()),
                    "url": url,
                }),
            )
            .with_header(
                "X-Error-Message",
                format!("You already created this {} repo", key.repo_type.singular()),
            ));
        }
        Ok(Response::json(
            200,
            &json!({ "url": url, "name": key.repo_id, "id": object_id(&key) }),
        ))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Deletes a repo its owner can write to; 404 when missing.
pub(super) fn delete(hub: &Hub, request: &Request, caller: Caller<'_>) -> Response {
    let answer = || -> Result<Response, Response> {
        let body: RepoRequest = json_body(request)?;
        let grant = writer(caller, "delete")?;
        let key = body.key(&grant.user)?;
        super::writable_repo(hub, caller, &key)?;
        match hub.delete_repo(&key) {
            Ok(true) => Ok(Response::empty(200)),
            Ok(false) => Err(super::repo_not_found(caller)),
            Err(err) => Err(internal_error(&err)),
        }
    };
    answer().unwrap_or_else(|refused| refused)
}
