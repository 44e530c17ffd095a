//! `GET /api/{type}/{repo}/commits/{rev}`: the history from a revision, newest first,
//! paginated with `Link` like the tree.

use serde_json::{Value, json};

use super::{Caller, Hub, RepoKey, Request, Response, internal_error, open_repo, resolve_revision};
use crate::hub::clock;
use crate::hub::git::{COMMITTER_NAME, Git};
use crate::hub::history::{self, CommitRecord};
use crate::hub::paging;

/// Answers a commits listing.
pub(super) fn list(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: &str,
) -> Response {
    let answer = || -> Result<Response, Response> {
        open_repo(hub, caller, key)?;
        let commit = resolve_revision(hub, key, revision)?;
        let skip = request
            .query_param("cursor")
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(0);
        let git_dir = hub.git_dir(key);
        // One more than a page tells whether another page follows.
        let mut records =
            history::log(Git::new(&git_dir), &commit, skip, hub.page_size + 1).map_err(|e| internal_error(&e))?;
        let more = records.len() > hub.page_size;
        records.truncate(hub.page_size);
        let formatted = request
            .query_pairs()
            .iter()
            .any(|(k, v)| k.starts_with("expand") && v == "formatted");
        let items: Vec<Value> = records.iter().map(|r| commit_json(r, formatted)).collect();
        let mut response = Response::json(200, &Value::Array(items));
        if more {
            let link = paging::next_link(base, &request.path, &request.query_pairs(), skip + hub.page_size);
            response = response.with_header("Link", link);
        }
        Ok(response)
    };
    answer().unwrap_or_else(|refused| refused)
}

fn commit_json(record: &CommitRecord, formatted: bool) -> Value {
    // Commits the Hub makes itself (a repo's first commit) are shown as the system's.
    let user = if record.author == COMMITTER_NAME {
        "system"
    } else {
        record.author.as_str()
    };
    let mut item = json!({
        "id": record.id,
        "title": record.title(),
        "message": record.body(),
        "authors": [{ "user": user }],
        "date": clock::iso8601(record.committed_at_secs.saturating_mul(1000)),
    });
    if formatted {
        item["formatted"] = json!({ "title": html_escape(record.title()), "message": html_escape(record.body()) });
    }
    item
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
