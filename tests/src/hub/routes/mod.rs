//! Request routing and what all routes share: repo access rules and the Hub's error answers.

mod cas;
mod cdn;
mod commit;
mod commits;
mod git_http;
mod info;
mod lfs_batch;
mod lfs_upload;
mod listing;
mod paths_info;
mod preupload;
mod refs;
mod repos;
mod resolve;
mod tree;
mod validate_yaml;
mod whoami;
mod xet_cdn;
mod xet_token;

use serde::de::DeserializeOwned;

use super::Hub;
use super::auth::Caller;
use super::repo_id::{RepoKey, RepoType};
use super::repos::RepoMeta;
use super::xet::token::Scope;
use crate::http::{Request, Response, percent_decode};
use crate::{EmulatorError, Role, TokenGrant};

/// The words that follow a repo id in `/api/{type}/{repo}/…` paths.
const REPO_ACTIONS: &[&str] = &[
    "revision",
    "tree",
    "refs",
    "commits",
    "paths-info",
    "preupload",
    "commit",
    "branch",
    "tag",
    "settings",
    "discussions",
    "treesize",
    "resolve",
    "xet-read-token",
    "xet-write-token",
    "lfs-files",
];

/// Answers one request.
pub(crate) fn route(hub: &Hub, request: &Request, base: &str) -> Response {
    let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let method = request.method.as_str();
    let read = matches!(method, "GET" | "HEAD");

    // Presigned: no token needed, and one sent by mistake does not matter.
    match (method, segments.as_slice()) {
        (_, ["cdn", "lfs", oid]) => {
            return if read {
                cdn::serve(hub, request, oid)
            } else {
                not_found()
            };
        }
        ("PUT", ["cdn", "lfs-upload", oid]) => return lfs_upload::basic(hub, request, oid),
        ("PUT", ["cdn", "lfs-part", upload_id, number]) => return lfs_upload::part(hub, request, upload_id, number),
        ("POST", ["api", "complete_multipart"]) => return lfs_upload::complete(hub, request),
        // Xet: the CAS checks its own tokens (its prefix has a `~`, which no repo name
        // holds); the CDN's URLs are presigned.
        (_, ["~cas", rest @ ..]) => return cas::serve(hub, request, base, rest),
        ("POST", ["v1", "telemetry"]) if hub.xet.is_some() => return cas::telemetry(),
        (_, ["cdn", "xorb", hash]) if read => return xet_cdn::xorb_range(hub, request, hash),
        (_, ["cdn", "xet", file]) if read => return xet_cdn::bridge(hub, request, file),
        _ => {}
    }

    let caller = match hub.users.caller(request) {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    match (method, segments.as_slice()) {
        (_, ["api", "whoami-v2"]) if read => whoami::whoami(hub, caller),
        ("POST", ["api", "repos", "create"]) => repos::create(hub, request, base, caller),
        ("DELETE", ["api", "repos", "delete"]) => repos::delete(hub, request, caller),
        ("POST", ["api", "validate-yaml"]) => validate_yaml::validate(request),
        (_, ["api", plural]) if read => match RepoType::from_plural(plural) {
            Some(repo_type) => listing::list(hub, request, base, caller, repo_type),
            None => not_found(),
        },
        (_, ["api", plural, rest @ ..]) => match RepoType::from_plural(plural) {
            Some(repo_type) => repo_api(hub, request, base, caller, repo_type, rest),
            None => not_found(),
        },
        _ => {
            if let Some((key, endpoint)) = git_http::parse(&segments) {
                return git_http::serve(hub, request, base, caller, &key, endpoint);
            }
            match parse_resolve(&segments) {
                Some((key, revision, path)) if read => {
                    resolve::resolve(hub, request, base, caller, &key, &revision, &path)
                }
                _ => not_found(),
            }
        }
    }
}

/// `/api/{type}/{repo}[/{action}/…]`: info, tree, refs, commits, and the write side.
fn repo_api(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    repo_type: RepoType,
    rest: &[&str],
) -> Response {
    let (repo_id, action, tail) = match rest {
        [name] => (decode(name), "", &[][..]),
        [namespace, name] => (format!("{}/{}", decode(namespace), decode(name)), "", &[][..]),
        [namespace, name, action, tail @ ..] if REPO_ACTIONS.contains(action) => {
            (format!("{}/{}", decode(namespace), decode(name)), *action, tail)
        }
        [name, action, tail @ ..] if REPO_ACTIONS.contains(action) => (decode(name), *action, tail),
        _ => return not_found(),
    };
    let Ok(key) = RepoKey::new(repo_type, &repo_id) else {
        return repo_not_found(caller);
    };
    // Revisions and ref names come percent-encoded as one segment; `/` is tolerated.
    let joined = || decode(&tail.join("/"));
    match (request.method.as_str(), action, tail) {
        ("GET" | "HEAD", "", []) => info::info(hub, request, caller, &key, None),
        ("GET" | "HEAD", "revision", [_, ..]) => info::info(hub, request, caller, &key, Some(&joined())),
        ("GET" | "HEAD", "tree", [revision, path @ ..]) => {
            let path = decode(&path.join("/"));
            tree::tree(
                hub,
                request,
                base,
                caller,
                &key,
                &decode(revision),
                path.trim_matches('/'),
            )
        }
        ("GET" | "HEAD", "refs", []) => refs::list(hub, request, caller, &key),
        ("GET" | "HEAD", "commits", [_, ..]) => commits::list(hub, request, base, caller, &key, &joined()),
        ("POST", "paths-info", [_, ..]) => paths_info::paths_info(hub, request, caller, &key, &joined()),
        ("POST", "preupload", [_, ..]) => preupload::preupload(hub, request, caller, &key, &joined()),
        ("POST", "commit", [_, ..]) => commit::commit(hub, request, base, caller, &key, &joined()),
        ("POST", "branch", [_, ..]) => refs::create_branch(hub, request, caller, &key, &joined()),
        ("DELETE", "branch", [_, ..]) => refs::delete_branch(hub, caller, &key, &joined()),
        ("POST", "tag", [_, ..]) => refs::create_tag(hub, request, caller, &key, &joined()),
        ("DELETE", "tag", [_, ..]) => refs::delete_tag(hub, caller, &key, &joined()),
        ("GET", "xet-read-token", [_, ..]) => xet_token::token(hub, base, caller, &key, &joined(), Scope::Read),
        ("GET", "xet-write-token", [_, ..]) => xet_token::token(hub, base, caller, &key, &joined(), Scope::Write),
        _ => not_found(),
    }
}

/// `[datasets/|spaces/]{repo}/resolve/{rev}/{path}` → (repo, revision, path), decoded.
fn parse_resolve(segments: &[&str]) -> Option<(RepoKey, String, String)> {
    let (repo_type, rest) = match segments.first() {
        Some(&"datasets") => (RepoType::Dataset, &segments[1..]),
        Some(&"spaces") => (RepoType::Space, &segments[1..]),
        _ => (RepoType::Model, segments),
    };
    let (repo_id, revision, path) = match rest {
        [namespace, name, "resolve", revision, path @ ..] if !path.is_empty() => {
            (format!("{}/{}", decode(namespace), decode(name)), revision, path)
        }
        [name, "resolve", revision, path @ ..] if !path.is_empty() => (decode(name), revision, path),
        _ => return None,
    };
    let path = path.iter().map(|s| decode(s)).collect::<Vec<_>>().join("/");
    let key = RepoKey::new(repo_type, &repo_id).ok()?;
    Some((key, decode(revision), path))
}

fn decode(segment: &str) -> String {
    percent_decode(segment, false)
}

/// A repo the caller may see.
#[derive(Debug)]
struct OpenRepo {
    meta: RepoMeta,
}

/// The repo's metadata when it exists and `caller` may see it; otherwise the Hub's answer
/// for a missing repo (private repos are indistinguishable from missing ones).
fn open_repo(hub: &Hub, caller: Caller<'_>, key: &RepoKey) -> Result<OpenRepo, Response> {
    match hub.repos.read_meta(key) {
        Ok(Some(meta)) if !meta.private || hub.users.is_owner(caller, meta.owner.as_deref()) => Ok(OpenRepo { meta }),
        Ok(_) => Err(repo_not_found(caller)),
        Err(err) => Err(internal_error(&err)),
    }
}

/// A repo `caller` may write to: it must see the repo, be its owner (or a member of
/// the owning organisation) and hold a write token. Returns the caller's grant.
fn writable_repo<'a>(hub: &Hub, caller: Caller<'a>, key: &RepoKey) -> Result<(OpenRepo, &'a TokenGrant), Response> {
    let repo = open_repo(hub, caller, key)?;
    let Some(grant) = caller.grant() else {
        return Err(Response::hub_error(
            401,
            None,
            &format!(
                "You must be authenticated to write to {} {}",
                key.repo_type.singular(),
                key.repo_id
            ),
        ));
    };
    let what = format!("{} {}", key.repo_type.singular(), key.repo_id);
    if !hub.users.is_owner(caller, repo.meta.owner.as_deref()) {
        return Err(Response::hub_error(
            403,
            None,
            &format!(
                "You don't have the rights to write to {what}: {} is not its owner",
                grant.user
            ),
        ));
    }
    if grant.role != Role::Write {
        return Err(read_token_refused(&what));
    }
    Ok((repo, grant))
}

/// 403 for a read token used to write.
fn read_token_refused(what: &str) -> Response {
    Response::hub_error(
        403,
        None,
        &format!("You don't have the rights to write to {what}: this token has the read role, use a write token"),
    )
}

/// The Hub's answer for a failed storage operation: the error's status and message.
fn storage_error(err: &EmulatorError) -> Response {
    match err {
        EmulatorError::InvalidPath { .. }
        | EmulatorError::LfsObjectNotFound { .. }
        | EmulatorError::LfsSizeMismatch { .. } => Response::hub_error(422, None, &err.to_string()),
        EmulatorError::InvalidRefName { .. } | EmulatorError::InvalidRepoId { .. } => {
            Response::hub_error(400, None, &err.to_string())
        }
        EmulatorError::RepoNotFound { .. } => Response::hub_error(404, Some("RepoNotFound"), "Repository not found"),
        EmulatorError::RevisionNotFound { revision, .. } => {
            Response::hub_error(404, Some("RevisionNotFound"), &format!("Invalid rev id: {revision}"))
        }
        EmulatorError::EntryNotFound { path, .. } => Response::hub_error(
            404,
            Some("EntryNotFound"),
            &format!("A file with this name doesn't exist: {path}"),
        ),
        EmulatorError::RefExists { .. } => Response::hub_error(409, None, &err.to_string()),
        EmulatorError::Conflict { .. } => Response::hub_error(412, None, &err.to_string()),
        _ => internal_error(err),
    }
}

/// The JSON body of a request, or a 400 saying what is wrong with it.
fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T, Response> {
    let body: &[u8] = if request.body.is_empty() { b"{}" } else { &request.body };
    serde_json::from_slice(body).map_err(|e| Response::hub_error(400, None, &format!("Invalid JSON body: {e}")))
}

/// Refuses content of a gated repo to callers outside it, and of a disabled repo to all.
fn check_content_access(hub: &Hub, caller: Caller<'_>, key: &RepoKey, repo: &OpenRepo) -> Result<(), Response> {
    if repo.meta.disabled {
        return Err(Response::hub_error(403, None, "Access to this resource is disabled."));
    }
    if repo.meta.gated.is_none() || hub.users.is_owner(caller, repo.meta.owner.as_deref()) {
        return Ok(());
    }
    let what = key.repo_type.singular();
    let id = &key.repo_id;
    Err(match caller {
        Caller::Anonymous => Response::hub_error(
            401,
            Some("GatedRepo"),
            &format!(
                "Access to {what} {id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            ),
        ),
        Caller::User(_) => Response::hub_error(
            403,
            Some("GatedRepo"),
            &format!(
                "Access to {what} {id} is restricted and you are not in the authorized list. Visit https://huggingface.co/{}{id} to ask for access.",
                key.repo_type.url_prefix()
            ),
        ),
    })
}

/// The commit `revision` names, or the Hub's 404 `RevisionNotFound`.
fn resolve_revision(hub: &Hub, key: &RepoKey, revision: &str) -> Result<String, Response> {
    match hub.resolve_revision(key, revision) {
        Ok(Some(commit)) => Ok(commit),
        Ok(None) => Err(Response::hub_error(
            404,
            Some("RevisionNotFound"),
            &format!("Invalid rev id: {revision}"),
        )),
        Err(err) => Err(internal_error(&err)),
    }
}

/// 401 without a token (the Hub cannot tell "private" from "missing" to strangers), 404 with one.
fn repo_not_found(caller: Caller<'_>) -> Response {
    let status = match caller {
        Caller::Anonymous => 401,
        Caller::User(_) => 404,
    };
    Response::hub_error(status, Some("RepoNotFound"), "Repository not found")
}

/// 404 `EntryNotFound`, with the commit so clients can remember the absence.
fn entry_not_found(commit: &str, path: &str, revision: &str) -> Response {
    Response::hub_error(
        404,
        Some("EntryNotFound"),
        &format!("{path} does not exist on \"{revision}\""),
    )
    .with_header("X-Repo-Commit", commit)
}

/// The answer to an unknown route.
fn not_found() -> Response {
    Response::json(404, &serde_json::json!({ "error": "Not Found" }))
}

/// A 500 carrying the error chain.
fn internal_error(err: &EmulatorError) -> Response {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    // Header values cannot hold line breaks.
    let message = message.replace(['\r', '\n'], " ");
    Response::hub_error(500, None, &message)
}

/// Whether a query flag is set (`true`, `True`, `1`).
fn flag(request: &Request, name: &str) -> bool {
    request
        .query_param(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The origin of the "CDN": the same server under the host name `localhost`, so that
/// clients treat it as another host (and drop their `Authorization` header).
pub(crate) fn cdn_origin(base: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let port = rest
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(port) => format!("{scheme}://localhost:{port}"),
        None => format!("{scheme}://localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::{cdn_origin, parse_resolve};
    use crate::hub::repo_id::RepoType;

    #[test]
    fn resolve_paths_parse_with_and_without_namespace() {
        let (key, rev, path) =
            parse_resolve(&["org", "m", "resolve", "refs%2Fpr%2F1", "a%20b", "c.txt"]).expect("parses");
        assert_eq!((key.repo_type, key.repo_id.as_str()), (RepoType::Model, "org/m"));
        assert_eq!((rev.as_str(), path.as_str()), ("refs/pr/1", "a b/c.txt"));
        let (key, _, path) = parse_resolve(&["datasets", "squad", "resolve", "main", "x"]).expect("parses");
        assert_eq!(
            (key.repo_type, key.repo_id.as_str(), path.as_str()),
            (RepoType::Dataset, "squad", "x")
        );
        assert!(parse_resolve(&["org", "m", "blob", "main", "x"]).is_none());
    }

    #[test]
    fn cdn_is_localhost_on_the_same_port() {
        assert_eq!(cdn_origin("http://127.0.0.1:8080"), "http://localhost:8080");
        assert_eq!(cdn_origin("https://[::1]:443"), "https://localhost:443");
    }
}
