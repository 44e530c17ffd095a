//! The upload side of the API: preupload and the NDJSON commit.

use std::collections::BTreeSet;

use hub_emulator::SeedRepo;
use serde_json::{Value, json};

use crate::{
    ALICE, ALICE_READ, BOB, Fixture, Reply, TestResult, base64, git, git_text, pseudo_random, send, send_json,
    sha256_hex,
};

/// POSTs an NDJSON commit: a header then `lines`.
pub(crate) fn commit(
    f: &Fixture,
    path: &str,
    token: Option<&str>,
    header: Value,
    lines: &[Value],
) -> Result<Reply, Box<dyn std::error::Error>> {
    let mut body = json!({ "key": "header", "value": header }).to_string();
    body.push('\n');
    for line in lines {
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/x-ndjson")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    send("POST", &f.url(path), &headers, Some(body.as_bytes()))
}

/// A `file` line.
pub(crate) fn file(path: &str, content: &[u8]) -> Value {
    json!({ "key": "file", "value": { "path": path, "content": base64(content), "encoding": "base64" } })
}

/// An `lfsFile` line.
pub(crate) fn lfs_file(path: &str, content: &[u8]) -> Value {
    json!({ "key": "lfsFile", "value": { "path": path, "algo": "sha256", "oid": sha256_hex(content), "size": content.len() } })
}

/// A header with this summary.
pub(crate) fn summary(text: &str) -> Value {
    json!({ "summary": text, "description": "" })
}

fn files_at(f: &Fixture, repo: &str, rev: &str) -> Result<BTreeSet<String>, Box<dyn std::error::Error>> {
    let out = git(
        &f.hub.git_dir("model", repo)?,
        &["ls-tree", "-r", "-z", "--name-only", rev],
    )?;
    Ok(out
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect())
}

#[test]
fn preupload_says_which_files_go_to_lfs() -> TestResult {
    let f = Fixture::start()?;
    let head = f.hub.seed(
        &SeedRepo::model("alice/pre")
            .file("config.json", "{}")
            .file("big.dat", pseudo_random(2000, 1)),
    )?;
    let big_oid = sha256_hex(&pseudo_random(2000, 1));
    let git_dir = f.hub.git_dir("model", "alice/pre")?;
    let config_blob = git_text(&git_dir, &["rev-parse", "main:config.json"])?;
    let sample = |bytes: &[u8]| base64(&bytes[..bytes.len().min(512)]);
    let body = json!({ "files": [
        { "path": "config.json", "sample": sample(b"{\"a\": 1}"), "size": 8 },
        { "path": "notes.txt", "sample": sample(b"hello"), "size": 5 },
        { "path": "large.txt", "sample": sample(b"text"), "size": 5000 },
        { "path": "tiny.safetensors", "sample": sample(b"text"), "size": 4 },
        { "path": "blob.dat", "sample": sample(&[0u8, 1, 2, 3]), "size": 4 },
        { "path": "big.dat", "sample": sample(b"x"), "size": 2000 },
        { "path": "empty.bin", "sample": "", "size": 0 },
    ] });
    let reply = send_json(
        "POST",
        &f.url("/api/models/alice/pre/preupload/main"),
        Some(ALICE),
        &body,
    )?;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json()?;
    assert_eq!(json["commitOid"], head.as_str());
    let modes: Vec<(String, String)> = json["files"]
        .as_array()
        .ok_or("files")?
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_string(),
                f["uploadMode"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected = [
        ("config.json", "regular"),
        ("notes.txt", "regular"),
        ("large.txt", "lfs"),        // over the threshold
        ("tiny.safetensors", "lfs"), // matched by .gitattributes
        ("blob.dat", "lfs"),         // binary sample
        ("big.dat", "lfs"),
        ("empty.bin", "regular"), // empty files never go to LFS
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(p, m)| (p.to_string(), m.to_string())).collect();
    assert_eq!(modes, expected);
    for item in json["files"].as_array().ok_or("files")? {
        assert_eq!(item["shouldIgnore"], false);
    }
    // Paths that exist carry what they hold: a git blob sha, or the sha256 of LFS content.
    assert_eq!(json["files"][0]["oid"], config_blob.as_str());
    assert_eq!(json["files"][5]["oid"], big_oid.as_str());
    assert!(json["files"][1].get("oid").is_none());

    let missing_rev = send_json(
        "POST",
        &f.url("/api/models/alice/pre/preupload/nope"),
        Some(ALICE),
        &body,
    )?;
    assert_eq!(
        (missing_rev.status, missing_rev.error_code()),
        (404, Some("RevisionNotFound"))
    );
    let read = send_json(
        "POST",
        &f.url("/api/models/alice/pre/preupload/main"),
        Some(ALICE_READ),
        &body,
    )?;
    assert_eq!(read.status, 403);
    let bad_path = json!({ "files": [{ "path": "../x", "sample": "", "size": 1 }] });
    let reply = send_json(
        "POST",
        &f.url("/api/models/alice/pre/preupload/main"),
        Some(ALICE),
        &bad_path,
    )?;
    assert_eq!(reply.status, 422);
    Ok(())
}

#[test]
fn commit_writes_a_git_commit_by_the_tokens_user() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(
        &SeedRepo::model("alice/c")
            .file("old.txt", "old")
            .file("dir/a.txt", "a")
            .file("dir/b.txt", "b"),
    )?;
    // An object already in the LFS store (the store is shared by all repos).
    let weights = pseudo_random(3000, 7);
    f.hub
        .seed(&SeedRepo::model("alice/other").file("w.bin", weights.clone()))?;
    let before = f.hub.resolve_revision("model", "alice/c", "main")?;

    let reply = commit(
        &f,
        "/api/models/alice/c/commit/main",
        Some(ALICE),
        json!({ "summary": "Add weights", "description": "Trained for 3 epochs.", "parentCommit": before }),
        &[
            file("config.json", br#"{"a": 1}"#),
            file("sub dir/ünï.txt", b"unicode"),
            lfs_file("model.safetensors", &weights),
            json!({ "key": "deletedFile", "value": { "path": "old.txt" } }),
            json!({ "key": "deletedFolder", "value": { "path": "dir/" } }),
        ],
    )?;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json()?;
    let oid = json["commitOid"].as_str().ok_or("commitOid")?.to_string();
    assert_eq!(json["commitUrl"], f.url(&format!("/alice/c/commit/{oid}")).as_str());
    assert!(json.get("pullRequestUrl").is_none());
    assert_eq!(f.hub.resolve_revision("model", "alice/c", "main")?, oid);

    let git_dir = f.hub.git_dir("model", "alice/c")?;
    assert_eq!(
        git_text(&git_dir, &["log", "-1", "--format=%an <%ae>", "main"])?,
        "alice <alice@users.hub.localhost>"
    );
    assert_eq!(
        git_text(&git_dir, &["log", "-1", "--format=%B", "main"])?,
        "Add weights\n\nTrained for 3 epochs."
    );
    assert_eq!(git_text(&git_dir, &["rev-parse", "main^"])?, before);
    let author_time: i64 = git_text(&git_dir, &["log", "-1", "--format=%at", "main"])?.parse()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    assert!(
        (now - author_time).abs() < 120,
        "the commit records the time it was made"
    );
    assert_eq!(
        files_at(&f, "alice/c", "main")?,
        BTreeSet::from([".gitattributes", "config.json", "model.safetensors", "sub dir/ünï.txt"].map(String::from))
    );
    let pointer = git_text(&git_dir, &["cat-file", "blob", "main:model.safetensors"])?;
    assert_eq!(
        pointer,
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 3000",
            sha256_hex(&weights)
        )
    );
    assert_eq!(
        f.hub.file_content("model", "alice/c", "main", "model.safetensors")?,
        weights
    );
    assert_eq!(
        f.hub.file_content("model", "alice/c", "main", "sub dir/ünï.txt")?,
        b"unicode"
    );
    Ok(())
}

#[test]
fn commit_refuses_a_missing_lfs_object_bad_paths_and_missing_files() -> TestResult {
    let f = Fixture::start()?;
    let head = f.hub.seed(&SeedRepo::model("alice/r").file("a.txt", "a"))?;
    let url = "/api/models/alice/r/commit/main";

    let absent = pseudo_random(100, 9);
    let reply = commit(
        &f,
        url,
        Some(ALICE),
        summary("x"),
        &[file("ok.txt", b"ok"), lfs_file("w.bin", &absent)],
    )?;
    assert_eq!(reply.status, 422);
    let message = reply.json()?["error"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(&sha256_hex(&absent)), "{message}");

    let wrong_size = pseudo_random(3000, 7);
    f.hub
        .seed(&SeedRepo::model("alice/other").file("w.bin", wrong_size.clone()))?;
    let lie = json!({ "key": "lfsFile", "value": { "path": "w.bin", "algo": "sha256", "oid": sha256_hex(&wrong_size), "size": 5 } });
    assert_eq!(commit(&f, url, Some(ALICE), summary("x"), &[lie])?.status, 422);

    for path in ["../escape.txt", "/abs.txt", ".git/config", "a/.git/x", "a//b"] {
        let reply = commit(&f, url, Some(ALICE), summary("x"), &[file(path, b"x")])?;
        assert_eq!(reply.status, 422, "{path}");
    }
    let gone = commit(
        &f,
        url,
        Some(ALICE),
        summary("x"),
        &[json!({ "key": "deletedFile", "value": { "path": "nope.txt" } })],
    )?;
    assert_eq!((gone.status, gone.error_code()), (404, Some("EntryNotFound")));
    assert!(
        gone.json()?["error"]
            .as_str()
            .is_some_and(|m| m.contains("A file with this name doesn't exist"))
    );
    let no_header = send(
        "POST",
        &f.url(url),
        &[("Authorization", &format!("Bearer {ALICE}"))],
        Some(file("a", b"").to_string().as_bytes()),
    )?;
    assert_eq!(no_header.status, 400);

    assert_eq!(
        f.hub.resolve_revision("model", "alice/r", "main")?,
        head,
        "nothing was committed"
    );
    Ok(())
}

#[test]
fn commit_checks_the_parent_commit_and_the_revision() -> TestResult {
    let f = Fixture::start()?;
    let first = f.hub.seed(&SeedRepo::model("alice/p").file("a.txt", "1"))?;
    let second = f.hub.seed(&SeedRepo::model("alice/p").file("a.txt", "2"))?;
    let url = "/api/models/alice/p/commit/main";

    let stale = commit(
        &f,
        url,
        Some(ALICE),
        json!({ "summary": "x", "parentCommit": first }),
        &[file("b.txt", b"b")],
    )?;
    assert_eq!(stale.status, 412);
    assert!(
        stale.json()?["error"]
            .as_str()
            .is_some_and(|m| m.contains(&first) && m.contains(&second))
    );
    assert_eq!(f.hub.resolve_revision("model", "alice/p", "main")?, second);

    let fresh = commit(
        &f,
        url,
        Some(ALICE),
        json!({ "summary": "x", "parentCommit": second }),
        &[file("b.txt", b"b")],
    )?;
    assert_eq!(fresh.status, 200);

    // Other branches; not a tag, a sha or a missing branch.
    f.hub
        .create_ref("model", "alice/p", hub_emulator::RefKind::Branch, "dev", "main")?;
    f.hub
        .create_ref("model", "alice/p", hub_emulator::RefKind::Tag, "v1", "main")?;
    let dev = commit(
        &f,
        "/api/models/alice/p/commit/dev",
        Some(ALICE),
        summary("on dev"),
        &[file("d.txt", b"d")],
    )?;
    assert_eq!(dev.status, 200);
    assert_eq!(f.hub.file_content("model", "alice/p", "dev", "d.txt")?, b"d");
    assert!(f.hub.file_content("model", "alice/p", "main", "d.txt").is_err());
    let tag = commit(
        &f,
        "/api/models/alice/p/commit/v1",
        Some(ALICE),
        summary("x"),
        &[file("t.txt", b"t")],
    )?;
    assert_eq!(tag.status, 400);
    let sha = commit(
        &f,
        &format!("/api/models/alice/p/commit/{first}"),
        Some(ALICE),
        summary("x"),
        &[file("t.txt", b"t")],
    )?;
    assert_eq!(sha.status, 400);
    let missing = commit(
        &f,
        "/api/models/alice/p/commit/nope",
        Some(ALICE),
        summary("x"),
        &[file("t.txt", b"t")],
    )?;
    assert_eq!((missing.status, missing.error_code()), (404, Some("RevisionNotFound")));
    Ok(())
}

#[test]
fn create_pr_commits_onto_a_new_pull_request_ref() -> TestResult {
    let f = Fixture::start()?;
    let first = f.hub.seed(&SeedRepo::model("alice/pr").file("a.txt", "1"))?;
    let main = f.hub.seed(&SeedRepo::model("alice/pr").file("a.txt", "2"))?;
    let url = "/api/models/alice/pr/commit/main?create_pr=1";

    let reply = commit(&f, url, Some(ALICE), summary("Propose b"), &[file("b.txt", b"b")])?;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json()?;
    assert_eq!(json["pullRequestUrl"], f.url("/alice/pr/discussions/1").as_str());
    let pr = f.hub.resolve_revision("model", "alice/pr", "refs/pr/1")?;
    assert_eq!(json["commitOid"], pr.as_str());
    assert_eq!(
        f.hub.resolve_revision("model", "alice/pr", "main")?,
        main,
        "main does not move"
    );
    let git_dir = f.hub.git_dir("model", "alice/pr")?;
    assert_eq!(git_text(&git_dir, &["rev-parse", "refs/pr/1^"])?, main);
    assert_eq!(f.hub.file_content("model", "alice/pr", "refs/pr/1", "b.txt")?, b"b");

    // The next one is number 2; a parentCommit is where the pull request starts.
    let second = commit(
        &f,
        url,
        Some(ALICE),
        json!({ "summary": "Old base", "parentCommit": first }),
        &[file("c.txt", b"c")],
    )?;
    assert_eq!(
        second.json()?["pullRequestUrl"],
        f.url("/alice/pr/discussions/2").as_str()
    );
    assert_eq!(git_text(&git_dir, &["rev-parse", "refs/pr/2^"])?, first);
    assert_eq!(f.hub.file_content("model", "alice/pr", "refs/pr/2", "a.txt")?, b"1");

    // Committing to a pull request's ref advances it.
    let onto = commit(
        &f,
        "/api/models/alice/pr/commit/refs%2Fpr%2F1",
        Some(ALICE),
        summary("More"),
        &[file("d.txt", b"d")],
    )?;
    assert_eq!(onto.status, 200);
    assert_eq!(git_text(&git_dir, &["rev-parse", "refs/pr/1^"])?, pr);
    Ok(())
}

#[test]
fn commits_need_a_write_token_of_the_owner() -> TestResult {
    let f = Fixture::start()?;
    let head = f.hub.seed(&SeedRepo::model("alice/w").file("a.txt", "a"))?;
    f.hub
        .seed(&SeedRepo::model("alice/secret").file("a.txt", "a").private())?;
    let url = "/api/models/alice/w/commit/main";
    let ops = [file("b.txt", b"b")];
    assert_eq!(commit(&f, url, None, summary("x"), &ops)?.status, 401);
    let read = commit(&f, url, Some(ALICE_READ), summary("x"), &ops)?;
    assert_eq!(read.status, 403);
    assert!(
        read.json()?["error"]
            .as_str()
            .is_some_and(|m| m.starts_with("You don't have the rights"))
    );
    assert_eq!(commit(&f, url, Some(BOB), summary("x"), &ops)?.status, 403);
    let hidden = commit(
        &f,
        "/api/models/alice/secret/commit/main",
        Some(BOB),
        summary("x"),
        &ops,
    )?;
    assert_eq!((hidden.status, hidden.error_code()), (404, Some("RepoNotFound")));
    let missing = commit(
        &f,
        "/api/models/alice/none/commit/main",
        Some(ALICE),
        summary("x"),
        &ops,
    )?;
    assert_eq!((missing.status, missing.error_code()), (404, Some("RepoNotFound")));
    assert_eq!(f.hub.resolve_revision("model", "alice/w", "main")?, head);
    // Organisation members write to the organisation's repos.
    f.hub.seed(&SeedRepo::model("acme/shared").file("a.txt", "a"))?;
    assert_eq!(
        commit(
            &f,
            "/api/models/acme/shared/commit/main",
            Some(ALICE),
            summary("x"),
            &ops
        )?
        .status,
        200
    );
    Ok(())
}

#[test]
fn concurrent_commits_to_one_branch_all_land_in_order() -> TestResult {
    let f = Fixture::start()?;
    let start = f.hub.seed(&SeedRepo::model("alice/busy").file("a.txt", "a"))?;
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let f = &f;
                scope.spawn(move || {
                    commit(
                        f,
                        "/api/models/alice/busy/commit/main",
                        Some(ALICE),
                        summary(&format!("commit {i}")),
                        &[file(&format!("f{i}.txt"), format!("{i}").as_bytes())],
                    )
                    .map(|r| r.status)
                    .unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert_eq!(results, vec![200; 8]);
    let git_dir = f.hub.git_dir("model", "alice/busy")?;
    // A straight line of 8 commits on top of the start, none lost.
    assert_eq!(
        git_text(&git_dir, &["rev-list", "--count", &format!("{start}..main")])?,
        "8"
    );
    assert_eq!(git_text(&git_dir, &["rev-list", "--merges", "--count", "main"])?, "0");
    let files = files_at(&f, "alice/busy", "main")?;
    for i in 0..8 {
        assert!(files.contains(&format!("f{i}.txt")), "{files:?}");
    }
    Ok(())
}
