//! git over HTTP for a repo, `/{prefix}{repo}[.git]/…`: the smart protocol
//! (`info/refs?service=…`, `git-upload-pack`, `git-receive-pack`) through
//! `git http-backend`, and the git-lfs API under `.git/info/lfs/`.
//!
//! Public repos clone anonymously; private ones need a token (HTTP Basic `user:token`
//! or Bearer), and pushes need a write token of the owner. A push runs under the repo's
//! write lock, so it never interleaves with a commit made through the API.

use super::lfs_batch::{self, ask_for_credentials};
use super::{Caller, Hub, RepoKey, RepoType, Request, Response, check_content_access, internal_error, not_found};
use super::{decode, open_repo, writable_repo};
use crate::http::Body;
use crate::hub::http_backend::{self, CgiRequest};

/// What a git URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GitEndpoint {
    /// `info/refs?service=…`: the ref advertisement.
    InfoRefs,
    /// `git-upload-pack`: fetches and clones.
    UploadPack,
    /// `git-receive-pack`: pushes.
    ReceivePack,
    /// `info/lfs/objects/batch`.
    LfsBatch,
    /// `info/lfs/objects/verify`.
    LfsVerify,
    /// `info/lfs/locks/verify`.
    LfsLocksVerify,
}

const ENDPOINTS: &[(&[&str], GitEndpoint)] = &[
    (&["info", "refs"], GitEndpoint::InfoRefs),
    (&["git-upload-pack"], GitEndpoint::UploadPack),
    (&["git-receive-pack"], GitEndpoint::ReceivePack),
    (&["info", "lfs", "objects", "batch"], GitEndpoint::LfsBatch),
    (&["info", "lfs", "objects", "verify"], GitEndpoint::LfsVerify),
    (&["info", "lfs", "locks", "verify"], GitEndpoint::LfsLocksVerify),
];

/// Recognises `[datasets/|spaces/]{repo}[.git]/{endpoint}`.
pub(super) fn parse(segments: &[&str]) -> Option<(RepoKey, GitEndpoint)> {
    let (repo, endpoint) = ENDPOINTS
        .iter()
        .find_map(|(tail, endpoint)| segments.strip_suffix(*tail).map(|repo| (repo, *endpoint)))?;
    let (repo_type, repo) = match repo.first() {
        Some(&"datasets") => (RepoType::Dataset, &repo[1..]),
        Some(&"spaces") => (RepoType::Space, &repo[1..]),
        _ => (RepoType::Model, repo),
    };
    let strip = |name: &str| {
        let name = decode(name);
        name.strip_suffix(".git").map(str::to_string).unwrap_or(name)
    };
    let repo_id = match repo {
        [name] => strip(name),
        [namespace, name] => format!("{}/{}", decode(namespace), strip(name)),
        _ => return None,
    };
    RepoKey::new(repo_type, &repo_id).ok().map(|key| (key, endpoint))
}

/// Answers a git or git-lfs request.
pub(super) fn serve(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    endpoint: GitEndpoint,
) -> Response {
    let post = request.method == "POST";
    let get = matches!(request.method.as_str(), "GET" | "HEAD");
    match endpoint {
        GitEndpoint::LfsBatch if post => lfs_batch::batch(hub, request, base, caller, key),
        GitEndpoint::LfsVerify if post => lfs_batch::verify(hub, request, caller, key),
        GitEndpoint::LfsLocksVerify if post => lfs_batch::locks_verify(hub, caller, key),
        GitEndpoint::InfoRefs if get => match request.query_param("service").as_deref() {
            Some("git-upload-pack") => smart(hub, request, caller, key, "info/refs", false),
            Some("git-receive-pack") => smart(hub, request, caller, key, "info/refs", true),
            _ => Response::hub_error(403, None, "Only the smart HTTP protocol is served"),
        },
        GitEndpoint::UploadPack if post => smart(hub, request, caller, key, "git-upload-pack", false),
        GitEndpoint::ReceivePack if post => smart(hub, request, caller, key, "git-receive-pack", true),
        _ => not_found(),
    }
}

/// Checks access, then lets `git http-backend` answer.
fn smart(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey, tail: &str, push: bool) -> Response {
    let answer = || -> Result<Response, Response> {
        if push {
            writable_repo(hub, caller, key).map_err(ask_for_credentials)?;
        } else {
            let repo = open_repo(hub, caller, key).map_err(ask_for_credentials)?;
            check_content_access(hub, caller, key, &repo).map_err(ask_for_credentials)?;
        }
        let git_dir = hub.git_dir(key);
        let project_root = git_dir
            .parent()
            .ok_or_else(|| Response::hub_error(500, None, "repository without a parent folder"))?;
        let cgi = CgiRequest {
            project_root,
            path_info: format!("/{}.git/{tail}", key.name()),
            method: &request.method,
            query: &request.query,
            content_type: request.header("content-type"),
            content_encoding: request.header("content-encoding"),
            git_protocol: request.header("git-protocol"),
            remote_user: caller.user(),
            body: &request.body,
        };
        // A push changes refs: one writer at a time, API commits included.
        let lock = hub.repos.lock(key);
        let _guard = if push && tail != "info/refs" {
            Some(lock.lock().unwrap_or_else(|e| e.into_inner()))
        } else {
            None
        };
        let output = http_backend::run(&cgi).map_err(|e| internal_error(&e))?;
        Ok(Response {
            status: output.status,
            headers: output.headers,
            body: Body::File {
                file: output.file,
                offset: output.body_offset,
                len: output.body_len,
            },
        })
    };
    answer().unwrap_or_else(|refused| refused)
}

#[cfg(test)]
mod tests {
    use super::{GitEndpoint, parse};
    use crate::hub::repo_id::RepoType;

    #[test]
    fn git_urls_parse_with_and_without_dot_git() {
        let (key, endpoint) = parse(&["alice", "m.git", "info", "lfs", "objects", "batch"]).expect("parses");
        assert_eq!(
            (key.repo_type, key.repo_id.as_str(), endpoint),
            (RepoType::Model, "alice/m", GitEndpoint::LfsBatch)
        );
        let (key, endpoint) = parse(&["datasets", "alice", "d", "info", "refs"]).expect("parses");
        assert_eq!(
            (key.repo_type, key.repo_id.as_str(), endpoint),
            (RepoType::Dataset, "alice/d", GitEndpoint::InfoRefs)
        );
        let (key, _) = parse(&["gpt2.git", "git-upload-pack"]).expect("parses");
        assert_eq!(key.repo_id, "gpt2");
        assert!(parse(&["alice", "m", "resolve", "main", "x"]).is_none());
        assert!(parse(&["a", "b", "c", "git-upload-pack"]).is_none());
    }
}
