//! `resolve` and the CDN: regular files, LFS redirects, ranges, signatures, revisions.

use hub_emulator::{RefKind, SeedRepo};

use crate::{ALICE, Fixture, TestResult, get, get_as, git_text, pseudo_random, request, sha256_hex};

fn seeded() -> Result<(Fixture, String, Vec<u8>), Box<dyn std::error::Error>> {
    let f = Fixture::start()?;
    let lfs = pseudo_random(5000, 3);
    let commit = f.hub.seed(
        &SeedRepo::model("alice/files")
            .file("config.json", br#"{"hidden_size": 8}"#.to_vec())
            .file("model.safetensors", lfs.clone())
            .file("sub dir/é and space.txt", b"unicode path".to_vec()),
    )?;
    Ok((f, commit, lfs))
}

#[test]
fn regular_file_answers_with_git_etag_and_commit() -> TestResult {
    let (f, commit, _) = seeded()?;
    let git_dir = f.hub.git_dir("model", "alice/files")?;
    let blob = git_text(&git_dir, &["rev-parse", "main:config.json"])?;
    let url = f.url("/alice/files/resolve/main/config.json");

    let head = request("HEAD", &url, &[("Accept-Encoding", "identity")])?;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), Some(format!("\"{blob}\"").as_str()));
    assert_eq!(head.header("x-repo-commit"), Some(commit.as_str()));
    assert_eq!(head.header("content-length"), Some("18"));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert!(
        head.header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    assert!(head.header("x-request-id").is_some());
    assert!(head.body.is_empty());

    let got = get(&url)?;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, br#"{"hidden_size": 8}"#);

    let part = request("GET", &url, &[("Range", "bytes=1-6")])?;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 1-6/18"));
    assert_eq!(part.body, br#""hidde"#);

    let past = request("GET", &url, &[("Range", "bytes=18-")])?;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */18"));

    // Paths are percent-encoded per segment.
    let unicode = get(&f.url("/alice/files/resolve/main/sub%20dir/%C3%A9%20and%20space.txt"))?;
    assert_eq!((unicode.status, unicode.body.as_slice()), (200, &b"unicode path"[..]));
    Ok(())
}

#[test]
fn lfs_file_redirects_to_a_presigned_cdn_url() -> TestResult {
    let (f, commit, lfs) = seeded()?;
    let oid = sha256_hex(&lfs);
    let url = f.url("/alice/files/resolve/main/model.safetensors");
    let head = request("HEAD", &url, &[("Authorization", &format!("Bearer {ALICE}"))])?;
    assert_eq!(head.status, 302);
    assert_eq!(head.header("x-repo-commit"), Some(commit.as_str()));
    assert_eq!(head.header("x-linked-etag"), Some(format!("\"{oid}\"").as_str()));
    assert_eq!(head.header("x-linked-size"), Some("5000"));
    assert!(head.header("etag").is_some());
    let location = head.header("location").ok_or("no Location")?.to_string();
    let cdn_prefix = format!("{}/cdn/lfs/{oid}?", f.hub.cdn_origin());
    assert!(location.starts_with(&cdn_prefix), "{location}");
    assert!(f.hub.cdn_origin().starts_with("http://localhost:"));

    // GET redirects the same way; the CDN needs no token.
    let redirect = get(&url)?;
    assert_eq!(redirect.status, 302);
    let whole = get(&location)?;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("etag"), Some(format!("\"{oid}\"").as_str()));
    assert_eq!(sha256_hex(&whole.body), oid);

    let part = request("GET", &location, &[("Range", "bytes=4990-")])?;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 4990-4999/5000"));
    assert_eq!(part.body, &lfs[4990..]);

    // The request really reached the server under the CDN's host name.
    assert!(f.hub.log().records().iter().any(|r| r.host.starts_with("localhost")));
    Ok(())
}

#[test]
fn cdn_refuses_bad_or_expired_signatures() -> TestResult {
    let (f, _, lfs) = seeded()?;
    let oid = sha256_hex(&lfs);
    let head = request("HEAD", &f.url("/alice/files/resolve/main/model.safetensors"), &[])?;
    let location = head.header("location").ok_or("no Location")?.to_string();
    let (base, query) = location.split_once('?').ok_or("no query")?;
    let signature = query
        .split('&')
        .find_map(|p| p.strip_prefix("signature="))
        .ok_or("no signature")?;

    let mut flipped = signature.to_string();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);
    let bad = get(&format!("{base}?{}", query.replace(signature, &flipped)))?;
    assert_eq!(bad.status, 403);
    let expired = get(&format!("{base}?expires=1&signature={signature}"))?;
    assert_eq!(expired.status, 403);
    let unsigned = get(&format!("{}/cdn/lfs/{oid}", f.hub.cdn_origin()))?;
    assert_eq!(unsigned.status, 403);
    let other_object = get(&format!("{}/cdn/lfs/{}?{query}", f.hub.cdn_origin(), "0".repeat(64)))?;
    assert_eq!(other_object.status, 403);
    Ok(())
}

#[test]
fn missing_files_and_revisions_have_their_error_codes() -> TestResult {
    let (f, commit, _) = seeded()?;
    let missing = get(&f.url("/alice/files/resolve/main/nope.txt"))?;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), Some("EntryNotFound"));
    assert_eq!(missing.header("x-repo-commit"), Some(commit.as_str()));
    // A folder is not a file.
    let folder = get(&f.url("/alice/files/resolve/main/sub%20dir"))?;
    assert_eq!(folder.error_code(), Some("EntryNotFound"));

    let bad_rev = get(&f.url("/alice/files/resolve/nope/config.json"))?;
    assert_eq!(bad_rev.status, 404);
    assert_eq!(bad_rev.error_code(), Some("RevisionNotFound"));
    assert_eq!(bad_rev.header("x-error-message"), Some("Invalid rev id: nope"));
    assert_eq!(bad_rev.json()?["error"], "Invalid rev id: nope");
    // Git revision expressions are not Hub revisions.
    let expression = get(&f.url("/alice/files/resolve/main~1/config.json"))?;
    assert_eq!(expression.error_code(), Some("RevisionNotFound"));
    Ok(())
}

#[test]
fn branches_tags_pull_requests_and_shas_resolve() -> TestResult {
    let (f, main, _) = seeded()?;
    f.hub.create_ref("model", "alice/files", RefKind::Tag, "v1.0", "main")?;
    f.hub
        .create_ref("model", "alice/files", RefKind::PullRequest(1), "", "main")?;
    let pr = f.hub.seed(
        &SeedRepo::model("alice/files")
            .branch("refs/pr/1")
            .file("pr.txt", "from the pr"),
    )?;
    let feature = f.hub.seed(
        &SeedRepo::model("alice/files")
            .branch("feature/x")
            .file("f.txt", "feature"),
    )?;
    assert!(
        f.hub
            .create_ref("model", "alice/files", RefKind::Tag, "v1.0", "main")
            .is_err(),
        "tags exist once"
    );

    let commit_of = |rev: &str, path: &str| -> Result<(u16, Option<String>), Box<dyn std::error::Error>> {
        let reply = request("HEAD", &f.url(&format!("/alice/files/resolve/{rev}/{path}")), &[])?;
        Ok((reply.status, reply.header("x-repo-commit").map(str::to_string)))
    };
    assert_eq!(commit_of("v1.0", "config.json")?, (200, Some(main.clone())));
    assert_eq!(commit_of(&main, "config.json")?, (200, Some(main.clone())));
    assert_eq!(commit_of("refs%2Fpr%2F1", "pr.txt")?, (200, Some(pr.clone())));
    assert_eq!(commit_of("feature%2Fx", "f.txt")?, (200, Some(feature)));
    // The PR's file is only on the PR.
    assert_eq!(commit_of("main", "pr.txt")?.0, 404);
    let body = get(&f.url("/alice/files/resolve/refs%2Fpr%2F1/pr.txt"))?;
    assert_eq!(body.body, b"from the pr");
    assert_eq!(f.hub.resolve_revision("model", "alice/files", "refs/pr/1")?, pr);
    Ok(())
}

#[test]
fn datasets_and_spaces_resolve_under_their_prefix() -> TestResult {
    let f = Fixture::start()?;
    f.hub
        .seed(&SeedRepo::dataset("alice/data").file("train.csv", "a,b\n"))?;
    f.hub.seed(&SeedRepo::space("alice/app").file("app.py", "print(1)\n"))?;
    f.hub.seed(&SeedRepo::model("gpt2").file("config.json", "{}"))?;
    assert_eq!(
        get(&f.url("/datasets/alice/data/resolve/main/train.csv"))?.body,
        b"a,b\n"
    );
    assert_eq!(
        get(&f.url("/spaces/alice/app/resolve/main/app.py"))?.body,
        b"print(1)\n"
    );
    assert_eq!(get(&f.url("/gpt2/resolve/main/config.json"))?.body, b"{}");
    // The type is part of the repo's identity.
    let wrong_type = get_as(&f.url("/alice/data/resolve/main/train.csv"), ALICE)?;
    assert_eq!(
        (wrong_type.status, wrong_type.error_code()),
        (404, Some("RepoNotFound"))
    );
    Ok(())
}
