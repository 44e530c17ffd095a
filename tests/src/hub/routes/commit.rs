//! `POST /api/{type}/{repo}/commit/{rev}[?create_pr=1]`: the commit API. The body is
//! NDJSON: a `header` line (`summary`, `description`, `parentCommit`), then one line per
//! change: `file` (base64 content), `lfsFile` (an object already in the store),
//! `deletedFile` and `deletedFolder`. The changes become one real git commit, authored
//! by the token's user, on the branch or on a new `refs/pr/N`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Caller, Hub, RepoKey, Request, Response, flag, internal_error, storage_error, writable_repo};
use crate::hub::base64;
use crate::hub::commit::{self, CommitOp, CommitSpec, Content};
use crate::hub::git::Git;
use crate::hub::lfs_store::is_sha256;
use crate::hub::refs;
use crate::hub::repo_id::{is_valid_ref_name, is_valid_repo_path};
use crate::hub::xet::token::repo_scope;

/// One NDJSON line.
#[derive(Debug, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "camelCase")]
enum Line {
    Header(Header),
    File(FileLine),
    LfsFile(LfsLine),
    DeletedFile(PathLine),
    DeletedFolder(PathLine),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parent_commit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FileLine {
    path: String,
    content: String,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LfsLine {
    path: String,
    #[serde(default)]
    algo: Option<String>,
    oid: String,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PathLine {
    path: String,
}

/// What the body asks for.
#[derive(Debug)]
struct Payload {
    header: Header,
    ops: Vec<CommitOp>,
}

fn unprocessable(message: String) -> Response {
    Response::hub_error(422, None, &message)
}

/// A path as the commit will use it; 422 when the Hub would refuse it.
fn checked_path(path: &str) -> Result<String, Response> {
    if is_valid_repo_path(path) {
        Ok(path.to_string())
    } else {
        Err(unprocessable(format!("Invalid path in repo: {path:?}")))
    }
}

/// Reads the NDJSON body: the header first, then the changes.
fn parse_payload(body: &[u8]) -> Result<Payload, Response> {
    let text = std::str::from_utf8(body).map_err(|_| Response::hub_error(400, None, "The body is not UTF-8"))?;
    let mut header = None;
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line: Line = serde_json::from_str(line).map_err(|e| {
            Response::hub_error(400, None, &format!("Invalid line {} of the commit payload: {e}", n + 1))
        })?;
        match line {
            Line::Header(h) if header.is_none() && ops.is_empty() => header = Some(h),
            Line::Header(_) => {
                return Err(Response::hub_error(
                    400,
                    None,
                    "The commit payload must have exactly one header, first",
                ));
            }
            Line::File(file) => {
                let content = match file.encoding.as_deref() {
                    Some("base64") => base64::decode(&file.content)
                        .ok_or_else(|| unprocessable(format!("Invalid base64 content for {}", file.path)))?,
                    _ => file.content.into_bytes(),
                };
                ops.push(CommitOp::Regular {
                    path: checked_path(&file.path)?,
                    content: Content::Bytes(content),
                });
            }
            Line::LfsFile(lfs) => {
                if lfs.algo.as_deref().is_some_and(|a| a != "sha256") || !is_sha256(&lfs.oid) {
                    return Err(unprocessable(format!(
                        "Invalid LFS oid for {}: a sha256 is expected",
                        lfs.path
                    )));
                }
                ops.push(CommitOp::Lfs {
                    path: checked_path(&lfs.path)?,
                    oid: lfs.oid,
                    size: lfs.size,
                });
            }
            Line::DeletedFile(file) => ops.push(CommitOp::DeleteFile {
                path: checked_path(&file.path)?,
            }),
            Line::DeletedFolder(folder) => ops.push(CommitOp::Delete {
                path: checked_path(folder.path.trim_end_matches('/'))?,
            }),
        }
    }
    let header = header.ok_or_else(|| Response::hub_error(400, None, "The commit payload has no header"))?;
    Ok(Payload { header, ops })
}

/// Where a commit goes.
struct Destination {
    reference: String,
    expected_parent: Option<String>,
    start_from: Option<String>,
    pull_request: Option<u64>,
}

/// The branch (or pull-request ref) a direct commit advances: it must exist.
fn branch_ref(hub: &Hub, key: &RepoKey, git: Git<'_>, revision: &str) -> Result<String, Response> {
    let reference = if revision.starts_with("refs/heads/") || revision.starts_with("refs/pr/") {
        revision.to_string()
    } else if revision.starts_with("refs/") || (revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Response::hub_error(
            400,
            None,
            &format!("Invalid rev id: {revision} is not a branch: commits go on a branch"),
        ));
    } else {
        format!("refs/heads/{revision}")
    };
    if !is_valid_ref_name(&reference) {
        return Err(Response::hub_error(400, None, &format!("Invalid rev id: {revision}")));
    }
    match git.rev_parse_commit(&reference) {
        Ok(Some(_)) => Ok(reference),
        Ok(None) => match hub.resolve_revision(key, revision) {
            Ok(Some(_)) => Err(Response::hub_error(
                400,
                None,
                &format!("Invalid rev id: {revision} is not a branch: commits go on a branch"),
            )),
            Ok(None) => Err(Response::hub_error(
                404,
                Some("RevisionNotFound"),
                &format!("Invalid rev id: {revision}"),
            )),
            Err(err) => Err(internal_error(&err)),
        },
        Err(err) => Err(internal_error(&err)),
    }
}

/// A new `refs/pr/N` starting at `parentCommit`, else at the revision.
fn new_pull_request(
    hub: &Hub,
    key: &RepoKey,
    git: Git<'_>,
    revision: &str,
    parent: Option<&str>,
) -> Result<Destination, Response> {
    let start = parent.unwrap_or(revision);
    let base = match hub.resolve_revision(key, start) {
        Ok(Some(commit)) => commit,
        Ok(None) => {
            return Err(Response::hub_error(
                404,
                Some("RevisionNotFound"),
                &format!("Invalid rev id: {start}"),
            ));
        }
        Err(err) => return Err(internal_error(&err)),
    };
    let number = refs::next_pull_request(&refs::list(git).map_err(|e| internal_error(&e))?);
    Ok(Destination {
        reference: format!("refs/pr/{number}"),
        expected_parent: None,
        start_from: Some(base),
        pull_request: Some(number),
    })
}

/// Answers a commit request.
pub(super) fn commit(
    hub: &Hub,
    request: &Request,
    base: &str,
    caller: Caller<'_>,
    key: &RepoKey,
    revision: &str,
) -> Response {
    let answer = || -> Result<Response, Response> {
        let (_, grant) = writable_repo(hub, caller, key)?;
        let Payload { header, ops } = parse_payload(&request.body)?;
        let parent = header.parent_commit.as_deref().map(str::to_ascii_lowercase);
        if parent
            .as_deref()
            .is_some_and(|p| !(p.len() == 40 && p.bytes().all(|b| b.is_ascii_hexdigit())))
        {
            return Err(Response::hub_error(
                400,
                None,
                "parentCommit must be a 40-hex commit id",
            ));
        }
        let mut message = header.summary.trim_end().to_string();
        if message.is_empty() {
            return Err(Response::hub_error(400, None, "The commit summary must not be empty"));
        }
        if !header.description.trim().is_empty() {
            message.push_str("\n\n");
            message.push_str(header.description.trim_end());
        }

        // One writer per repo: the branch cannot move between the checks and the write.
        let lock = hub.repos.lock(key);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let git_dir = hub.git_dir(key);
        let git = Git::new(&git_dir);
        let destination = if flag(request, "create_pr") {
            new_pull_request(hub, key, git, revision, parent.as_deref())?
        } else {
            let reference = branch_ref(hub, key, git, revision)?;
            if let Some(parent) = &parent {
                let current = git.rev_parse_commit(&reference).map_err(|e| internal_error(&e))?;
                if current.as_deref() != Some(parent.as_str()) {
                    return Err(Response::hub_error(
                        412,
                        None,
                        &format!(
                            "A commit has happened since. Please refresh and try again: {revision} is at {}, not at the parent commit {parent}",
                            current.unwrap_or_default()
                        ),
                    ));
                }
            }
            Destination {
                reference,
                expected_parent: parent,
                start_from: None,
                pull_request: None,
            }
        };
        let spec = CommitSpec {
            reference: destination.reference,
            expected_parent: destination.expected_parent,
            start_from: destination.start_from,
            message: message.clone(),
            author: Some((grant.user.clone(), format!("{}@users.hub.localhost", grant.user))),
            ops,
        };
        let oid = commit::write_commit(hub.commit_target(key, &git_dir), &spec).map_err(|e| storage_error(&e))?;
        grant_xet_files(hub, key, &spec.ops).map_err(|e| internal_error(&e))?;

        let mut out = Map::new();
        out.insert("commitUrl".into(), json!(format!("{base}/{key}/commit/{oid}")));
        out.insert("commitOid".into(), json!(oid));
        out.insert("commitMessage".into(), json!(message));
        if let Some(number) = destination.pull_request {
            out.insert(
                "pullRequestUrl".into(),
                json!(format!("{base}/{key}/discussions/{number}")),
            );
        }
        Ok(Response::json(200, &Value::Object(out)))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Lets the repo's Xet read tokens reconstruct the Xet files the commit put in it.
fn grant_xet_files(hub: &Hub, key: &RepoKey, ops: &[CommitOp]) -> Result<(), crate::EmulatorError> {
    let Some(xet) = &hub.xet else { return Ok(()) };
    let repo = repo_scope(key);
    for op in ops {
        if let CommitOp::Lfs { oid, .. } = op
            && let Some((hash, _)) = xet.file_by_sha256(oid)
        {
            xet.store.grant(&hash, &repo)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_payload;
    use crate::hub::commit::CommitOp;

    #[test]
    fn payload_lines_become_operations() {
        let body = concat!(
            r#"{"key":"header","value":{"summary":"Add","description":"","parentCommit":null}}"#,
            "\n",
            r#"{"key":"file","value":{"path":"a.txt","content":"aGk=","encoding":"base64"}}"#,
            "\n",
            r#"{"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","size":5}}"#,
            "\n",
            r#"{"key":"deletedFile","value":{"path":"old.txt"}}"#,
            "\n",
            r#"{"key":"deletedFolder","value":{"path":"dir/"}}"#,
            "\n"
        );
        let payload = parse_payload(body.as_bytes()).map_err(|r| r.status).expect("parses");
        assert_eq!(payload.header.summary, "Add");
        assert_eq!(payload.ops.len(), 4);
        assert!(matches!(&payload.ops[0], CommitOp::Regular { path, .. } if path == "a.txt"));
        assert!(matches!(&payload.ops[1], CommitOp::Lfs { size: Some(5), .. }));
        assert!(matches!(&payload.ops[3], CommitOp::Delete { path } if path == "dir"));
    }

    #[test]
    fn bad_payloads_are_refused() {
        let status = |body: &str| parse_payload(body.as_bytes()).err().map(|r| r.status);
        assert_eq!(
            status(r#"{"key":"file","value":{"path":"a","content":""}}"#),
            Some(400),
            "no header"
        );
        let header = r#"{"key":"header","value":{"summary":"x"}}"#;
        for path in ["../x", "/abs", ".git/config", "a//b"] {
            let line = format!(r#"{{"key":"file","value":{{"path":"{path}","content":""}}}}"#);
            assert_eq!(status(&format!("{header}\n{line}")), Some(422), "{path}");
        }
        let weird = format!("{header}\n{}", r#"{"key":"symlink","value":{}}"#);
        assert_eq!(status(&weird), Some(400));
    }
}
