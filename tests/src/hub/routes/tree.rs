//! `GET /api/{type}/{repo}/tree/{rev}[/{path}]?recursive=…`: files and folders, paginated.

use serde_json::{Value, json};

use super::resolve::xet_hash_of;
use super::{
    Caller, Hub, RepoKey, Request, Response, entry_not_found, flag, internal_error, open_repo, resolve_revision,
};
use crate::hub::paging;
use crate::hub::snapshot::{Entry, EntryKind};

/// Answers a tree request. Like info, it answers for gated repos.
pub(super) fn tree(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: &str,
    path: &str,
) -> Response {
    let answer = || -> Result<Response, Response> {
        open_repo(hub, caller, key)?;
        let commit = resolve_revision(hub, key, revision)?;
        let snapshot = hub.snapshot(key, &commit).map_err(|e| internal_error(&e))?;
        if !path.is_empty() && snapshot.get(path).is_none_or(|e| e.is_file()) {
            return Err(entry_not_found(&commit, path, revision));
        }
        let entries = snapshot.list(path, flag(request, "recursive"));
        let cursor = request.query_param("cursor");
        let page = paging::page(entries.len(), cursor.as_deref(), hub.page_size, None);
        let items: Vec<Value> = entries[page.start..page.end]
            .iter()
            .map(|e| entry_json(hub, key, e))
            .collect();
        let mut response = Response::json(200, &Value::Array(items));
        if let Some(next) = page.next {
            let link = paging::next_link(base, &request.path, &request.query_pairs(), next);
            response = response.with_header("Link", link);
        }
        Ok(response)
    };
    answer().unwrap_or_else(|refused| refused)
}

/// One item of a tree listing; files in Xet storage carry their `xetHash`.
pub(super) fn entry_json(hub: &Hub, key: &RepoKey, entry: &Entry) -> Value {
    match &entry.kind {
        EntryKind::Directory => json!({ "type": "directory", "oid": entry.oid, "size": 0, "path": entry.path }),
        EntryKind::File { size, lfs: None } => {
            json!({ "type": "file", "oid": entry.oid, "size": size, "path": entry.path })
        }
        EntryKind::File { size, lfs: Some(lfs) } => {
            let mut item = json!({
                "type": "file",
                "oid": entry.oid,
                "size": size,
                "path": entry.path,
                "lfs": { "oid": lfs.oid, "size": lfs.size, "pointerSize": lfs.pointer_size },
            });
            if let Some(hash) = xet_hash_of(hub, key, &lfs.oid) {
                item["xetHash"] = json!(hash.to_string());
            }
            item
        }
    }
}
