//! Plain git and git-lfs against the emulator's smart HTTP and LFS batch endpoints.

use std::io::Write;
use std::process::{Command, Stdio};

use hub_emulator::SeedRepo;
use hub_emulator::git_sandbox::GitSandbox;
use serde_json::json;

use crate::commit_api::{commit, file, lfs_file, summary};
use crate::lfs_api::upload_lfs;
use crate::{ALICE, ALICE_READ, BOB, Fixture, TestResult, get, git_text, pseudo_random, request, send, sha256_hex};

/// `http://user:token@host:port/{repo}`.
fn url_with_credentials(f: &Fixture, token: &str, repo: &str) -> String {
    let endpoint = f.hub.endpoint();
    let host = endpoint.trim_start_matches("http://");
    format!("http://alice:{token}@{host}/{repo}")
}

#[test]
fn clone_shows_what_the_commit_api_wrote_and_lfs_pull_fetches_it() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::model("alice/cloned"))?;
    let weights = pseudo_random(4000, 21);
    upload_lfs(&f, "alice/cloned", &weights)?;
    let reply = commit(
        &f,
        "/api/models/alice/cloned/commit/main",
        Some(ALICE),
        summary("Add model"),
        &[
            file("config.json", br#"{"a": 1}"#),
            file("docs/read me.md", "héllo".as_bytes()),
            lfs_file("model.safetensors", &weights),
        ],
    )?;
    assert_eq!(reply.status, 200);
    let head = reply.json()?["commitOid"].as_str().ok_or("commitOid")?.to_string();

    let git = GitSandbox::new()?;
    let clone = git.dir("clone");
    f.hub.log().clear();
    git.run(git.home(), &["clone", "-q", &f.url("/alice/cloned"), "clone"])?;
    assert_eq!(git.run(&clone, &["rev-parse", "HEAD"])?, head);
    assert_eq!(git.run(&clone, &["log", "-1", "--format=%an %s"])?, "alice Add model");
    assert_eq!(std::fs::read(clone.join("config.json"))?, br#"{"a": 1}"#);
    assert_eq!(std::fs::read_to_string(clone.join("docs/read me.md"))?, "héllo");
    let pointer = std::fs::read_to_string(clone.join("model.safetensors"))?;
    assert_eq!(
        pointer,
        format!(
            "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 4000\n",
            sha256_hex(&weights)
        )
    );
    assert!(
        f.hub
            .log()
            .records()
            .iter()
            .any(|r| r.path == "/alice/cloned/info/refs" && r.query == "service=git-upload-pack"),
        "cloned over smart HTTP"
    );

    git.run(&clone, &["lfs", "install", "--local"])?;
    git.run(&clone, &["lfs", "pull"])?;
    assert_eq!(std::fs::read(clone.join("model.safetensors"))?, weights);
    let records = f.hub.log().records();
    assert!(
        records
            .iter()
            .any(|r| r.path == "/alice/cloned.git/info/lfs/objects/batch" && r.status == 200)
    );
    assert!(
        records
            .iter()
            .any(|r| r.host.starts_with("localhost") && r.path.starts_with("/cdn/lfs/"))
    );
    Ok(())
}

#[test]
fn push_with_lfs_is_visible_through_resolve_and_tree() -> TestResult {
    let f = Fixture::start()?;
    f.hub
        .seed(&SeedRepo::model("alice/pushed").file("README.md", "# Pushed\n"))?;
    let git = GitSandbox::new()?;
    let work = git.dir("work");
    git.run(git.home(), &["clone", "-q", &f.url("/alice/pushed"), "work"])?;
    git.run(&work, &["lfs", "install", "--local"])?;

    let weights = pseudo_random(6000, 22);
    std::fs::write(work.join("weights.bin"), &weights)?;
    std::fs::write(work.join("notes.txt"), "pushed with git\n")?;
    git.run(&work, &["add", "."])?;
    git.run(&work, &["commit", "-q", "-m", "Push weights"])?;
    let pushed = git.run(&work, &["rev-parse", "HEAD"])?;

    // Anonymous pushes and read tokens are refused.
    git.fail(&work, &["push", "-q", "origin", "main"])?;
    let read_only = url_with_credentials(&f, ALICE_READ, "alice/pushed");
    git.fail(&work, &["push", "-q", &read_only, "main"])?;
    let stranger = url_with_credentials(&f, BOB, "alice/pushed");
    git.fail(&work, &["push", "-q", &stranger, "main"])?;
    assert_ne!(f.hub.resolve_revision("model", "alice/pushed", "main")?, pushed);

    let remote = url_with_credentials(&f, ALICE, "alice/pushed");
    git.run(&work, &["remote", "set-url", "origin", &remote])?;
    git.run(&work, &["push", "-q", "origin", "main"])?;

    // The API sees the push at once: resolve, tree, and the LFS object in the store.
    assert_eq!(f.hub.resolve_revision("model", "alice/pushed", "main")?, pushed);
    let oid = sha256_hex(&weights);
    assert_eq!(std::fs::read(f.hub.lfs_object_path(&oid))?, weights);
    let head = request("HEAD", &f.url("/alice/pushed/resolve/main/weights.bin"), &[])?;
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-repo-commit"), Some(pushed.as_str()));
    assert_eq!(head.header("x-linked-etag"), Some(format!("\"{oid}\"").as_str()));
    let notes = get(&f.url("/alice/pushed/resolve/main/notes.txt"))?;
    assert_eq!(notes.body, b"pushed with git\n");
    let mut tree = Vec::new();
    let mut next = Some(f.url("/api/models/alice/pushed/tree/main"));
    while let Some(url) = next {
        let page = get(&url)?;
        tree.extend(page.json()?.as_array().cloned().unwrap_or_default());
        next = page.next_link();
    }
    let entry = tree
        .iter()
        .find(|e| e["path"] == "weights.bin")
        .ok_or("weights.bin in the tree")?;
    assert_eq!(
        (entry["size"].as_u64(), entry["lfs"]["oid"].as_str()),
        (Some(6000), Some(oid.as_str()))
    );
    let info = get(&f.url("/api/models/alice/pushed"))?.json()?;
    assert_eq!(info["sha"], pushed.as_str());
    let git_dir = f.hub.git_dir("model", "alice/pushed")?;
    assert_eq!(
        git_text(&git_dir, &["log", "-1", "--format=%an", "main"])?,
        "Alice Local"
    );

    // A commit through the API after the push builds on it.
    let after = commit(
        &f,
        "/api/models/alice/pushed/commit/main",
        Some(ALICE),
        summary("After"),
        &[file("x.txt", b"x")],
    )?;
    assert_eq!(after.status, 200);
    assert_eq!(git_text(&git_dir, &["rev-parse", "main^"])?, pushed);
    Ok(())
}

#[test]
fn private_repos_clone_only_with_credentials() -> TestResult {
    let f = Fixture::start()?;
    f.hub
        .seed(&SeedRepo::model("alice/private").file("a.txt", "secret").private())?;
    let git = GitSandbox::new()?;
    let refused = git.fail(git.home(), &["clone", "-q", &f.url("/alice/private"), "anon"])?;
    assert!(!refused.is_empty());
    let info_refs = get(&f.url("/alice/private.git/info/refs?service=git-upload-pack"))?;
    assert_eq!(info_refs.status, 401);
    assert!(
        info_refs
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    git.fail(
        git.home(),
        &["clone", "-q", &url_with_credentials(&f, BOB, "alice/private"), "bob"],
    )?;
    git.run(
        git.home(),
        &[
            "clone",
            "-q",
            &url_with_credentials(&f, ALICE_READ, "alice/private"),
            "mine",
        ],
    )?;
    assert_eq!(std::fs::read(git.dir("mine").join("a.txt"))?, b"secret");
    // Bearer works too.
    let bearer = send(
        "GET",
        &f.url("/alice/private/info/refs?service=git-upload-pack"),
        &[("Authorization", &format!("Bearer {ALICE}"))],
        None,
    )?;
    assert_eq!(bearer.status, 200);
    assert_eq!(
        bearer.header("content-type"),
        Some("application/x-git-upload-pack-advertisement")
    );
    Ok(())
}

/// A git pkt-line.
fn pkt(line: &str) -> String {
    format!("{:04x}{line}", line.len() + 4)
}

#[test]
fn gzip_encoded_upload_pack_requests_are_inflated() -> TestResult {
    let f = Fixture::start()?;
    let head = f.hub.seed(&SeedRepo::model("alice/gz").file("a.txt", "zipped"))?;
    let plain = format!("{}0000{}", pkt(&format!("want {head}\n")), pkt("done\n"));
    let mut gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    gzip.stdin.take().ok_or("stdin")?.write_all(plain.as_bytes())?;
    let compressed = gzip.wait_with_output()?.stdout;
    let reply = send(
        "POST",
        &f.url("/alice/gz.git/git-upload-pack"),
        &[
            ("Content-Type", "application/x-git-upload-pack-request"),
            ("Content-Encoding", "gzip"),
        ],
        Some(&compressed),
    )?;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/x-git-upload-pack-result")
    );
    assert!(
        reply.body.starts_with(b"0008NAK\n"),
        "{:?}",
        String::from_utf8_lossy(&reply.body[..reply.body.len().min(40)])
    );
    assert!(reply.body.windows(4).any(|w| w == b"PACK"));
    let dumb = get(&f.url("/alice/gz.git/info/refs"))?;
    assert_eq!(dumb.status, 403, "only the smart protocol");
    let body = json!({}).to_string();
    assert_eq!(
        send(
            "GET",
            &f.url("/alice/gz.git/git-upload-pack"),
            &[],
            Some(body.as_bytes())
        )?
        .status,
        404
    );
    Ok(())
}

#[test]
fn pushes_of_large_or_binary_files_outside_lfs_are_refused_as_the_hub_refuses_them() -> TestResult {
    // Room for the default `.gitattributes` and a line more (the Hub's limit is 10 MiB).
    let f = Fixture::start_with(|mut config| {
        config.lfs_threshold = 4096;
        config
    })?;
    f.hub
        .seed(&SeedRepo::model("alice/guarded").file("README.md", "# Guarded\n"))?;
    let git = GitSandbox::new()?;
    git.run(
        git.home(),
        &["clone", "-q", &url_with_credentials(&f, ALICE, "alice/guarded"), "work"],
    )?;
    let work = git.dir("work");
    let before = f.hub.resolve_revision("model", "alice/guarded", "main")?;

    // Over the LFS threshold, as plain text.
    std::fs::write(work.join("big.json"), "[1,2,3]\n".repeat(600))?;
    git.run(&work, &["add", "big.json"])?;
    git.run(&work, &["commit", "-q", "-m", "Big JSON"])?;
    let refused = git.fail(&work, &["push", "-q", "origin", "main"])?;
    assert!(refused.contains("files larger than 4 KiB"), "{refused}");
    assert!(refused.contains("- big.json (ref: refs/heads/main)"), "{refused}");
    assert_eq!(f.hub.resolve_revision("model", "alice/guarded", "main")?, before);

    // Small, but binary.
    git.run(&work, &["reset", "-q", "--hard", "HEAD~1"])?;
    std::fs::write(work.join("payload.dat"), [0u8, 1, 2, 3, 0, 255])?;
    git.run(&work, &["add", "payload.dat"])?;
    git.run(&work, &["commit", "-q", "-m", "Binary"])?;
    let refused = git.fail(&work, &["push", "-q", "origin", "main"])?;
    assert!(refused.contains("contains binary files"), "{refused}");
    assert!(refused.contains("- payload.dat"), "{refused}");
    assert_eq!(f.hub.resolve_revision("model", "alice/guarded", "main")?, before);

    // The same file through LFS goes in.
    git.run(&work, &["reset", "-q", "--hard", "HEAD~1"])?;
    git.run(&work, &["lfs", "install", "--local"])?;
    git.run(&work, &["lfs", "track", "*.dat"])?;
    std::fs::write(work.join("payload.dat"), [0u8, 1, 2, 3, 0, 255])?;
    git.run(&work, &["add", ".gitattributes", "payload.dat"])?;
    git.run(&work, &["commit", "-q", "-m", "Binary in LFS"])?;
    git.run(&work, &["push", "-q", "origin", "main"])?;
    let head = git.run(&work, &["rev-parse", "HEAD"])?;
    assert_eq!(f.hub.resolve_revision("model", "alice/guarded", "main")?, head);
    Ok(())
}
