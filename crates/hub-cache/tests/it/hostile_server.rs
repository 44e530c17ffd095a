//! A server that lies: paths that would leave the cache or the local folder
//! are refused before anything is written.

use std::sync::Arc;

use hub_api::HubClient;
use hub_cache::{Error, SnapshotOptions, snapshot_download};
use hub_emulator::http::{Handler, HttpServer, Request, Response, ServerOptions};
use hub_emulator::tree_walk::files_under;
use hub_url::{Endpoint, RepoId};

use super::TestResult;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Answers the info and tree calls of a snapshot with a path that climbs out.
struct Hostile;

impl Handler for Hostile {
    fn handle(&self, request: &Request, _base: &str) -> Response {
        if request.path.starts_with("/api/models/evil/repo/revision/") {
            return Response::json(
                200,
                &serde_json::json!({ "id": "evil/repo", "sha": COMMIT, "siblings": [] }),
            );
        }
        if request.path.starts_with("/api/models/evil/repo/tree/") {
            return Response::json(
                200,
                &serde_json::json!([
                    { "type": "file", "path": "ok.txt", "oid": "1111111111111111111111111111111111111111", "size": 2 },
                    { "type": "file", "path": "../../../../escaped.txt", "oid": "2222222222222222222222222222222222222222", "size": 2 }
                ]),
            );
        }
        Response::json(200, &serde_json::json!("ok"))
            .with_header("X-Repo-Commit", COMMIT)
            .with_header("ETag", "\"1111111111111111111111111111111111111111\"")
    }
}

#[test]
fn tree_paths_that_climb_out_are_refused() -> TestResult {
    let server = HttpServer::start(
        ServerOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
        Arc::new(Hostile),
    )?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&format!("http://{}", server.local_addr()))?)
        .build()?;
    let root = tempfile::tempdir()?;
    let cache = root.path().join("a/b/c/cache");
    let local = root.path().join("a/b/c/local");
    for local_dir in [None, Some(local.clone())] {
        let mut options = SnapshotOptions::new(&cache).max_workers(1);
        options.fetch.local_dir = local_dir;
        let err = snapshot_download(&client, &RepoId::new("evil/repo")?, &options).expect_err("hostile path");
        assert!(matches!(err, Error::UnsafePath { .. }), "{err:?}");
    }
    let written: Vec<_> = files_under(root.path());
    assert!(
        !written.iter().any(|p| p.ends_with("escaped.txt")),
        "nothing was written outside: {written:?}"
    );
    assert!(
        !written.iter().any(|p| p.ends_with("ok.txt")),
        "the snapshot is refused before any file: {written:?}"
    );
    Ok(())
}
