//! `POST /api/{type}/{repo}/preupload/{rev}` `{files:[{path, sample, size}]}`: which
//! files go to LFS, and the oid of what each path holds now.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Hub, RepoKey, Request, Response, internal_error, json_body, resolve_revision, writable_repo};
use crate::hub::base64;
use crate::hub::git::Git;
use crate::hub::gitattributes::LfsPatterns;
use crate::hub::repo_id::is_valid_repo_path;

#[derive(Debug, Deserialize)]
struct PreuploadRequest {
    files: Vec<PreuploadFile>,
}

#[derive(Debug, Deserialize)]
struct PreuploadFile {
    path: String,
    #[serde(default)]
    sample: String,
    size: u64,
}

/// Answers a preupload request of a caller who may write to the repo.
pub(super) fn preupload(hub: &Hub, request: &Request, caller: Caller<'_>, key: &RepoKey, revision: &str) -> Response {
    let answer = || -> Result<Response, Response> {
        writable_repo(hub, caller, key)?;
        let body: PreuploadRequest = json_body(request)?;
        let commit = resolve_revision(hub, key, revision)?;
        let snapshot = hub.snapshot(key, &commit).map_err(|e| internal_error(&e))?;
        let patterns = match snapshot
            .get(".gitattributes")
            .filter(|e| e.is_file() && e.lfs().is_none())
        {
            Some(entry) => {
                let git_dir = hub.git_dir(key);
                let text = Git::new(&git_dir)
                    .read_blob(&entry.oid)
                    .map_err(|e| internal_error(&e))?;
                LfsPatterns::parse(&String::from_utf8_lossy(&text))
            }
            None => LfsPatterns::default(),
        };
        let mut files = Vec::with_capacity(body.files.len());
        for file in &body.files {
            if !is_valid_repo_path(&file.path) {
                return Err(Response::hub_error(
                    422,
                    None,
                    &format!("Invalid path in repo: {:?}", file.path),
                ));
            }
            let sample = base64::decode(&file.sample)
                .ok_or_else(|| Response::hub_error(400, None, &format!("Invalid base64 sample for {}", file.path)))?;
            let lfs =
                file.size > 0 && (file.size > hub.lfs_threshold || patterns.matches(&file.path) || is_binary(&sample));
            let mut item = json!({
                "path": file.path,
                "uploadMode": if lfs { "lfs" } else { "regular" },
                "shouldIgnore": false,
            });
            // What the path holds now, in the terms the client compares: the sha256 of
            // LFS content, the git blob sha of a regular file.
            if let Some(entry) = snapshot.get(&file.path).filter(|e| e.is_file()) {
                let oid = entry.lfs().map_or(entry.oid.as_str(), |lfs| lfs.oid.as_str());
                item["oid"] = json!(oid);
            }
            files.push(item);
        }
        Ok(Response::json(
            200,
            &json!({ "files": Value::Array(files), "commitOid": commit }),
        ))
    };
    answer().unwrap_or_else(|refused| refused)
}

/// Whether a file's first bytes look binary: a NUL byte, or bytes that are not UTF-8
/// (a character cut by the end of the sample does not count).
fn is_binary(sample: &[u8]) -> bool {
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_binary;

    #[test]
    fn binary_samples_are_told_from_text() {
        assert!(!is_binary(b"{\"a\": 1}\n"));
        assert!(!is_binary("héllo".as_bytes()));
        // "é" cut in half by the end of the sample is still text.
        assert!(!is_binary(&"hé".as_bytes()[..2]));
        assert!(is_binary(b"ab\0cd"));
        assert!(is_binary(&[0xff, 0xfe, b'a']));
    }
}
