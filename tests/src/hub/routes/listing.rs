//! `GET /api/{models|datasets|spaces}`: search, filter, sort and paginate repos.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::info::{Detail, library_name, pipeline_tag, repo_json};
use super::{Caller, Hub, Request, Response, flag, internal_error};
use crate::EmulatorError;
use crate::hub::paging;
use crate::hub::repo_id::{RepoKey, RepoType};
use crate::hub::repos::RepoMeta;
use crate::hub::snapshot::Snapshot;

/// One listed repo, with its `main` snapshot once needed.
struct Listed {
    key: RepoKey,
    meta: RepoMeta,
    head: Option<Arc<Snapshot>>,
}

/// Answers a listing request.
pub(super) fn list(hub: &Hub, request: &Request, base: &str, caller: Caller<'_>, repo_type: RepoType) -> Response {
    match try_list(hub, request, base, caller, repo_type) {
        Ok(response) => response,
        Err(err) => internal_error(&err),
    }
}

fn try_list(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    repo_type: RepoType,
) -> Result<Response, EmulatorError> {
    let query = request.query_pairs();
    let search = request.query_param("search").map(|s| s.to_lowercase());
    let author = request.query_param("author");
    let filters: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "filter")
        .flat_map(|(_, v)| v.split(','))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let gated = request.query_param("gated").map(|g| g.eq_ignore_ascii_case("true"));
    let pipeline = request.query_param("pipeline_tag");
    let limit = request.query_param("limit").and_then(|l| l.parse::<usize>().ok());
    let full = flag(request, "full");
    let sort = request.query_param("sort");
    let ascending = request.query_param("direction").is_some_and(|d| d == "1");

    let mut repos: Vec<Listed> = hub
        .repos
        .list(repo_type)?
        .into_iter()
        .filter(|(_, meta)| !meta.private || hub.users.is_owner(caller, meta.owner.as_deref()))
        .filter(|(key, _)| search.as_ref().is_none_or(|s| key.repo_id.to_lowercase().contains(s)))
        .filter(|(_, meta)| {
            author
                .as_ref()
                .is_none_or(|a| meta.owner.as_ref().is_some_and(|o| o.eq_ignore_ascii_case(a)))
        })
        .filter(|(_, meta)| {
            filters
                .iter()
                .all(|f| meta.tags.contains(f) || derived_tag_matches(&meta.tags, f))
        })
        .filter(|(_, meta)| gated.is_none_or(|g| meta.gated.is_some() == g))
        .filter(|(_, meta)| pipeline.as_deref().is_none_or(|p| pipeline_tag(&meta.tags) == Some(p)))
        .map(|(key, meta)| Listed { key, meta, head: None })
        .collect();

    if let Some(sort) = sort.as_deref() {
        if sort == "lastModified" || sort == "last_modified" {
            for repo in &mut repos {
                repo.head = head(hub, &repo.key)?;
            }
        }
        repos.sort_by(|a, b| {
            let order = compare(sort, a, b);
            let order = if ascending { order } else { order.reverse() };
            order.then_with(|| a.key.repo_id.cmp(&b.key.repo_id))
        });
    }

    let cursor = request.query_param("cursor");
    let page = paging::page(repos.len(), cursor.as_deref(), hub.page_size, limit);
    let detail = Detail {
        full,
        blobs: false,
        trending: true,
    };
    let mut items = Vec::with_capacity(page.end - page.start);
    for repo in &mut repos[page.start..page.end] {
        if full && repo.head.is_none() {
            repo.head = head(hub, &repo.key)?;
        }
        items.push(repo_json(&repo.key, &repo.meta, repo.head.as_deref(), detail));
    }
    let mut response = Response::json(200, &Value::Array(items));
    if let Some(next) = page.next {
        response = response.with_header("Link", paging::next_link(base, &request.path, &query, next));
    }
    Ok(response)
}

/// `filter=transformers` also matches a model whose library is derived from its tags.
fn derived_tag_matches(tags: &[String], filter: &str) -> bool {
    library_name(tags) == Some(filter) || pipeline_tag(tags) == Some(filter)
}

/// The snapshot of `main`, if the branch exists.
fn head(hub: &Hub, key: &RepoKey) -> Result<Option<Arc<Snapshot>>, EmulatorError> {
    match hub.resolve_revision(key, "main")? {
        Some(commit) => hub.snapshot(key, &commit).map(Some),
        None => Ok(None),
    }
}

/// Ascending order by the sort key.
fn compare(sort: &str, a: &Listed, b: &Listed) -> Ordering {
    match sort {
        "downloads" => a.meta.downloads.cmp(&b.meta.downloads),
        "likes" => a.meta.likes.cmp(&b.meta.likes),
        "createdAt" | "created_at" => a.meta.created_at.cmp(&b.meta.created_at),
        "lastModified" | "last_modified" => {
            let time = |r: &Listed| r.head.as_ref().map_or(0, |h| h.committed_at_millis);
            time(a).cmp(&time(b))
        }
        // Every repo trends equally here; likes break the tie as on a quiet Hub.
        "trendingScore" | "trending_score" => a.meta.likes.cmp(&b.meta.likes),
        _ => Ordering::Equal,
    }
}
