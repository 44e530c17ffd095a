//! `POST /api/{type}/{repo}/paths-info/{rev}`: facts about some paths, given as a form
//! (`paths=a&paths=b&expand=false`, as the Python client sends them) or as JSON
//! (`{"paths": [...], "expand": bool}`). Missing paths are left out.

use serde::Deserialize;
use serde_json::{Value, json};

use super::tree::entry_json;
use super::{Caller, Hub, RepoKey, Request, Response, internal_error, open_repo, resolve_revision};
use crate::http::percent_decode;
use crate::hub::clock;
use crate::hub::git::Git;
use crate::hub::history;

#[derive(Debug, Default, Deserialize)]
struct PathsRequest {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    expand: bool,
}

/// The paths and the `expand` flag of the request body.
fn read_body(request: &Request) -> Result<PathsRequest, Response> {
    let is_json = request
        .header("content-type")
        .is_some_and(|t| t.trim_start().starts_with("application/json"));
    if is_json {
        return super::json_body(request);
    }
    let text = String::from_utf8_lossy(&request.body);
    let mut out = PathsRequest::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name, true), percent_decode(value, true));
        match name.as_str() {
            "paths" | "paths[]" => out.paths.push(value),
            "expand" => out.expand = value.eq_ignore_ascii_case("true") || value == "1",
            _ => {}
        }
    }
    Ok(out)
}

/// Answers a paths-info request.
pub(super) fn paths_info(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey, revision: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        open_repo(hub, caller, key)?;
        let body = read_body(request)?;
        let commit = resolve_revision(hub, key, revision)?;
        let snapshot = hub.snapshot(key, &commit).map_err(|e| internal_error(&e))?;
        let git_dir = hub.git_dir(key);
        let mut items = Vec::new();
        for path in &body.paths {
            let Some(entry) = snapshot.get(path.trim_matches('/')) else {
                continue;
            };
            let mut item = entry_json(hub, key, entry);
            if body.expand
                && let Some(last) =
                    history::last_commit_of(Git::new(&git_dir), &commit, &entry.path).map_err(|e| internal_error(&e))?
            {
                item["lastCommit"] = json!({
                    "id": last.id,
                    "title": last.title(),
                    "date": clock::iso8601(last.committed_at_secs.saturating_mul(1000)),
                });
            }
            items.push(item);
        }
        Ok(Response::json(200, &Value::Array(items)))
    };
    answer().unwrap_or_else(|refused| refused)
}
