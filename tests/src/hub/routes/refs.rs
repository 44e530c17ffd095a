//! Refs: `GET /api/{type}/{repo}/refs[?include_prs=1]`, `POST|DELETE …/branch/{branch}`,
//! `POST …/tag/{rev}` `{tag, message?}` and `DELETE …/tag/{tag}`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Caller, Hub, RepoKey, Request, Response, flag, internal_error, json_body, open_repo, resolve_revision,
    storage_error, writable_repo,
};
use crate::EmulatorError;
use crate::hub::git::Git;
use crate::hub::refs::{self, RefEntry};
use crate::hub::repo_id::is_valid_ref_name;

/// Lists branches, tags and (with `include_prs`) pull-request refs.
pub(super) fn list(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey) -> Response {
    let answer = || -> Result<Response, Response> {
        open_repo(hub, caller, key)?;
        let git_dir = hub.git_dir(key);
        let all = refs::list(Git::new(&git_dir)).map_err(|e| internal_error(&e))?;
        let of_kind = |prefix: &str| -> Vec<Value> {
            all.iter()
                .filter(|r| r.reference.starts_with(prefix))
                .map(ref_json)
                .collect()
        };
        let mut body = json!({
            "branches": of_kind("refs/heads/"),
            "converts": [],
            "tags": of_kind("refs/tags/"),
        });
        if flag(request, "include_prs") {
            body["pullRequests"] = Value::Array(of_kind("refs/pr/"));
        }
        Ok(Response::json(200, &body))
    };
    answer().unwrap_or_else(|refused| refused)
}

fn ref_json(entry: &RefEntry) -> Value {
    json!({ "name": entry.short_name(), "ref": entry.reference, "targetCommit": entry.commit })
}

/// 400 for a branch or tag name git would refuse.
fn checked_name(kind: &str, name: &str) -> Result<(), Response> {
    if is_valid_ref_name(name) && !name.starts_with("refs/") {
        Ok(())
    } else {
        Err(Response::hub_error(
            400,
            None,
            &format!("Invalid {kind} name: {name:?}"),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BranchRequest {
    #[serde(default)]
    starting_point: Option<String>,
}

/// Creates a branch at `startingPoint` (default `main`); 409 when it exists.
pub(super) fn create_branch(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey, branch: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        writable_repo(hub, caller, key)?;
        let body: BranchRequest = json_body(request)?;
        checked_name("branch", branch)?;
        let from = body.starting_point.as_deref().unwrap_or("main");
        match hub.create_ref(key, &format!("refs/heads/{branch}"), from) {
            Ok(_) => Ok(Response::empty(200)),
            Err(EmulatorError::RefExists { .. }) => Err(Response::hub_error(
                409,
                None,
                &format!("Reference already exists: branch {branch}"),
            )),
            Err(err) => Err(storage_error(&err)),
        }
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Deletes a branch other than `main`.
pub(super) fn delete_branch(hub: &Hub, caller: Caller<'_>, key: &RepoKey, branch: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        writable_repo(hub, caller, key)?;
        if branch == "main" {
            return Err(Response::hub_error(
                403,
                None,
                "The default branch main cannot be deleted",
            ));
        }
        checked_name("branch", branch)?;
        delete_ref(hub, key, &format!("refs/heads/{branch}"), branch)
    };
    answer().unwrap_or_else(|refused| refused)
}

#[derive(Debug, Deserialize)]
struct TagRequest {
    tag: String,
    #[serde(default)]
    message: Option<String>,
}

/// Tags the commit `revision` names: annotated (by the caller) when a message is given.
pub(super) fn create_tag(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey, revision: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        let (_, grant) = writable_repo(hub, caller, key)?;
        let body: TagRequest = json_body(request)?;
        checked_name("tag", &body.tag)?;
        let reference = format!("refs/tags/{}", body.tag);
        let exists = || Response::hub_error(409, None, &format!("Reference already exists: tag {}", body.tag));
        match body.message.as_deref().filter(|m| !m.trim().is_empty()) {
            None => match hub.create_ref(key, &reference, revision) {
                Ok(_) => Ok(Response::empty(200)),
                Err(EmulatorError::RefExists { .. }) => Err(exists()),
                Err(err) => Err(storage_error(&err)),
            },
            Some(message) => {
                let lock = hub.repos.lock(key);
                let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
                let commit = resolve_revision(hub, key, revision)?;
                let git_dir = hub.git_dir(key);
                let git = Git::new(&git_dir);
                if git
                    .rev_parse_commit(&reference)
                    .map_err(|e| internal_error(&e))?
                    .is_some()
                {
                    return Err(exists());
                }
                let email = format!("{}@users.hub.localhost", grant.user);
                refs::create_annotated_tag(git, &body.tag, &commit, message, (&grant.user, &email))
                    .map_err(|e| internal_error(&e))?;
                Ok(Response::empty(200))
            }
        }
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Deletes a tag.
pub(super) fn delete_tag(hub: &Hub, caller: Caller<'_>, key: &RepoKey, tag: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        writable_repo(hub, caller, key)?;
        checked_name("tag", tag)?;
        delete_ref(hub, key, &format!("refs/tags/{tag}"), tag)
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Deletes `reference`; 404 `RevisionNotFound` when it does not exist.
fn delete_ref(hub: &Hub, key: &RepoKey, reference: &str, name: &str) -> Result<Response, Response> {
    let lock = hub.repos.lock(key);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let git_dir = hub.git_dir(key);
    let git = Git::new(&git_dir);
    let object = git
        .output(&["rev-parse", "--verify", "-q", reference], None, &[])
        .map_err(|e| internal_error(&e))?;
    let object = String::from_utf8_lossy(&object.stdout).trim().to_string();
    if object.len() != 40 {
        return Err(Response::hub_error(
            404,
            Some("RevisionNotFound"),
            &format!("Invalid rev id: {name}"),
        ));
    }
    refs::delete(git, reference, &object).map_err(|e| internal_error(&e))?;
    Ok(Response::empty(200))
}
