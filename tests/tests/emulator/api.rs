//! The JSON API: info, tree, whoami, listings.

use std::collections::BTreeSet;

use hub_emulator::{RefKind, SeedRepo};
use serde_json::Value;

use crate::{ALICE, ALICE_READ, BOB, Fixture, TestResult, get, get_as, git_text, pseudo_random, sha256_hex};

fn is_hub_date(value: &Value) -> bool {
    // 2026-01-01T00:00:00.000Z
    value
        .as_str()
        .is_some_and(|s| s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.')
}

#[test]
fn model_info_reports_the_commit_and_its_files() -> TestResult {
    let f = Fixture::start()?;
    let lfs = pseudo_random(3000, 4);
    let commit = f.hub.seed(
        &SeedRepo::model("alice/info")
            .file("config.json", "{}")
            .file("weights/model.safetensors", lfs.clone())
            .tag("pytorch")
            .tag("text-generation")
            .tag("license:mit"),
    )?;
    let info = get(&f.url("/api/models/alice/info"))?;
    assert_eq!(info.status, 200);
    let json = info.json()?;
    assert_eq!(json["id"], "alice/info");
    assert_eq!(json["modelId"], "alice/info");
    assert_eq!(json["author"], "alice");
    assert_eq!(json["sha"], commit.as_str());
    assert_eq!(json["private"], false);
    assert_eq!(json["gated"], false);
    assert_eq!(json["disabled"], false);
    assert_eq!(json["library_name"], "pytorch");
    assert_eq!(json["pipeline_tag"], "text-generation");
    assert_eq!(
        json["tags"],
        serde_json::json!(["pytorch", "text-generation", "license:mit"])
    );
    assert!(
        is_hub_date(&json["lastModified"]) && is_hub_date(&json["createdAt"]),
        "{json}"
    );
    assert_eq!(json["_id"].as_str().map(str::len), Some(24));
    let names: BTreeSet<&str> = json["siblings"]
        .as_array()
        .ok_or("siblings")?
        .iter()
        .filter_map(|s| s["rfilename"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([".gitattributes", "config.json", "weights/model.safetensors"])
    );
    assert!(json["siblings"][0].get("size").is_none(), "sizes only with blobs=true");

    let blobs = get(&f.url("/api/models/alice/info?blobs=true"))?.json()?;
    let siblings = blobs["siblings"].as_array().ok_or("siblings")?;
    let weights = siblings
        .iter()
        .find(|s| s["rfilename"] == "weights/model.safetensors")
        .ok_or("weights")?;
    assert_eq!(weights["size"], 3000);
    assert_eq!(weights["lfs"]["sha256"], sha256_hex(&lfs).as_str());
    assert_eq!(weights["lfs"]["size"], 3000);
    assert!(
        weights["lfs"]["pointerSize"]
            .as_u64()
            .is_some_and(|n| (100..200).contains(&n))
    );
    let git_dir = f.hub.git_dir("model", "alice/info")?;
    assert_eq!(
        weights["blobId"],
        git_text(&git_dir, &["rev-parse", "main:weights/model.safetensors"])?.as_str()
    );
    let config = siblings
        .iter()
        .find(|s| s["rfilename"] == "config.json")
        .ok_or("config")?;
    assert_eq!((config["size"].as_u64(), config.get("lfs")), (Some(2), None));
    assert_eq!(
        blobs["usedStorage"].as_u64(),
        Some(3002 + weights_of_gitattributes(&blobs))
    );

    // At a revision, percent-encoded as one segment.
    f.hub
        .create_ref("model", "alice/info", RefKind::PullRequest(2), "", "main")?;
    let pr = f
        .hub
        .seed(&SeedRepo::model("alice/info").branch("refs/pr/2").file("extra.txt", "x"))?;
    let at_pr = get(&f.url("/api/models/alice/info/revision/refs%2Fpr%2F2"))?.json()?;
    assert_eq!(at_pr["sha"], pr.as_str());
    let missing = get(&f.url("/api/models/alice/info/revision/nope"))?;
    assert_eq!((missing.status, missing.error_code()), (404, Some("RevisionNotFound")));
    Ok(())
}

fn weights_of_gitattributes(info: &Value) -> u64 {
    info["siblings"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["rfilename"] == ".gitattributes"))
        .and_then(|s| s["size"].as_u64())
        .unwrap_or(0)
}

#[test]
fn dataset_and_space_info_have_their_own_shape() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(&SeedRepo::dataset("alice/ds").file("a.csv", "1"))?;
    f.hub.seed(&SeedRepo::space("alice/sp").file("app.py", "1"))?;
    let ds = get(&f.url("/api/datasets/alice/ds"))?.json()?;
    assert_eq!(ds["id"], "alice/ds");
    assert!(ds.get("modelId").is_none());
    let sp = get(&f.url("/api/spaces/alice/sp"))?.json()?;
    assert_eq!(sp["sdk"], "static");
    assert_eq!(
        get(&f.url("/api/models/alice/ds"))?.status,
        401,
        "a dataset is no model"
    );
    Ok(())
}

fn tree_paths(reply: &crate::Reply) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(reply
        .json()?
        .as_array()
        .ok_or("not an array")?
        .iter()
        .filter_map(|e| e["path"].as_str().map(str::to_string))
        .collect())
}

#[test]
fn tree_lists_folders_recursively_and_in_pages() -> TestResult {
    let f = Fixture::start()?;
    let lfs = pseudo_random(2048, 5);
    let mut seed = SeedRepo::model("alice/layout").file("big.safetensors", lfs.clone());
    for path in [
        "a.txt",
        "b.txt",
        "dir/c.txt",
        "dir/d.txt",
        "dir/sub/e.txt",
        "other/f.txt",
        "other/g h.txt",
    ] {
        seed = seed.file(path, path.as_bytes().to_vec());
    }
    f.hub.seed(&seed)?;

    // Root, one level: files and folders, folders with size 0.
    let mut root = Vec::new();
    let mut url = Some(f.url("/api/models/alice/layout/tree/main"));
    while let Some(next) = url {
        let page = get(&next)?;
        assert_eq!(page.status, 200);
        assert!(page.json()?.as_array().is_some_and(|a| a.len() <= 3), "pages of 3");
        root.extend(page.json()?.as_array().ok_or("array")?.iter().cloned());
        url = page.next_link();
    }
    let names: BTreeSet<&str> = root.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([".gitattributes", "a.txt", "b.txt", "big.safetensors", "dir", "other"])
    );
    let dir = root.iter().find(|e| e["path"] == "dir").ok_or("dir")?;
    assert_eq!(
        (dir["type"].as_str(), dir["size"].as_u64()),
        (Some("directory"), Some(0))
    );
    assert_eq!(dir["oid"].as_str().map(str::len), Some(40));
    let big = root.iter().find(|e| e["path"] == "big.safetensors").ok_or("big")?;
    assert_eq!((big["type"].as_str(), big["size"].as_u64()), (Some("file"), Some(2048)));
    assert_eq!(big["lfs"]["oid"], sha256_hex(&lfs).as_str());
    assert!(big["lfs"]["pointerSize"].as_u64().is_some());

    // Recursive, following Link to the end: every entry exactly once.
    let first = get(&f.url("/api/models/alice/layout/tree/main?recursive=true&expand=false"))?;
    let link = first.next_link().ok_or("no Link on a long listing")?;
    assert!(
        link.starts_with(&f.hub.endpoint()) && link.contains("recursive=true") && link.contains("cursor="),
        "{link}"
    );
    let mut all = tree_paths(&first)?;
    let mut url = Some(link);
    while let Some(next) = url {
        let page = get(&next)?;
        all.extend(tree_paths(&page)?);
        url = page.next_link();
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no entry twice: {all:?}");
    assert_eq!(all.len(), 12, "8 files, .gitattributes and 3 folders: {all:?}");
    assert!(all.contains(&"dir/sub/e.txt".to_string()) && all.contains(&"dir/sub".to_string()));

    // A folder, given as one encoded segment or as several.
    let sub = get(&f.url("/api/models/alice/layout/tree/main/dir%2Fsub"))?;
    assert_eq!(tree_paths(&sub)?, ["dir/sub/e.txt"]);
    let other = get(&f.url("/api/models/alice/layout/tree/main/other?recursive=false"))?;
    assert_eq!(tree_paths(&other)?, ["other/f.txt", "other/g h.txt"]);

    // Not a folder.
    for path in ["nope", "a.txt"] {
        let reply = get(&f.url(&format!("/api/models/alice/layout/tree/main/{path}")))?;
        assert_eq!(
            (reply.status, reply.error_code()),
            (404, Some("EntryNotFound")),
            "{path}"
        );
    }
    let bad_rev = get(&f.url("/api/models/alice/layout/tree/nope"))?;
    assert_eq!(bad_rev.error_code(), Some("RevisionNotFound"));
    Ok(())
}

#[test]
fn whoami_describes_the_token() -> TestResult {
    let f = Fixture::start()?;
    let me = get_as(&f.url("/api/whoami-v2"), ALICE)?;
    assert_eq!(me.status, 200);
    let json = me.json()?;
    assert_eq!(
        (json["type"].as_str(), json["name"].as_str()),
        (Some("user"), Some("alice"))
    );
    assert_eq!(json["orgs"][0]["name"], "acme");
    assert_eq!(json["orgs"][0]["type"], "org");
    assert_eq!(json["auth"]["type"], "access_token");
    assert_eq!(json["auth"]["accessToken"]["role"], "write");
    assert!(json["auth"]["accessToken"]["displayName"].is_string());
    assert!(json["email"].is_string() && json["isPro"] == false && json["emailVerified"] == true);
    assert_eq!(
        get_as(&f.url("/api/whoami-v2"), ALICE_READ)?.json()?["auth"]["accessToken"]["role"],
        "read"
    );
    assert_eq!(
        get_as(&f.url("/api/whoami-v2"), BOB)?.json()?["orgs"],
        serde_json::json!([])
    );

    for reply in [
        get(&f.url("/api/whoami-v2"))?,
        get_as(&f.url("/api/whoami-v2"), "hf_unknown")?,
    ] {
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.header("x-error-message"),
            Some("Invalid credentials in Authorization header")
        );
        assert_eq!(reply.json()?["error"], "Invalid credentials in Authorization header");
    }
    Ok(())
}

fn ids(reply: &crate::Reply) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    Ok(reply
        .json()?
        .as_array()
        .ok_or("array")?
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect())
}

/// Every id of a listing, following `Link` to the end.
fn all_ids(url: &str, token: Option<&str>) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut next = Some(url.to_string());
    while let Some(url) = next {
        let reply = match token {
            Some(token) => get_as(&url, token)?,
            None => get(&url)?,
        };
        assert_eq!(reply.status, 200, "{url}");
        out.extend(ids(&reply)?);
        next = reply.next_link();
    }
    Ok(out)
}

#[test]
fn listings_search_filter_sort_limit_and_paginate() -> TestResult {
    let f = Fixture::start()?;
    f.hub.seed(
        &SeedRepo::model("alice/bert-base")
            .file("c", "1")
            .tag("pytorch")
            .tag("fill-mask")
            .downloads(50)
            .likes(1),
    )?;
    f.hub.seed(
        &SeedRepo::model("alice/gpt-small")
            .file("c", "1")
            .tag("pytorch")
            .tag("text-generation")
            .downloads(10)
            .likes(9),
    )?;
    f.hub.seed(
        &SeedRepo::model("bob/BERT-large")
            .file("c", "1")
            .tag("tensorflow")
            .tag("fill-mask")
            .downloads(30)
            .likes(5),
    )?;
    f.hub.seed(&SeedRepo::model("acme/t5").file("c", "1").downloads(70))?;
    f.hub
        .seed(&SeedRepo::model("bob/secret-bert").file("c", "1").private())?;
    f.hub.seed(&SeedRepo::model("acme/internal").file("c", "1").private())?;
    f.hub.seed(&SeedRepo::dataset("alice/bert-data").file("c", "1"))?;

    let list = |query: &str| all_ids(&f.url(&format!("/api/models{query}")), None);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    assert_eq!(
        sorted(list("")?),
        ["acme/t5", "alice/bert-base", "alice/gpt-small", "bob/BERT-large"]
    );
    assert_eq!(
        sorted(list("?search=bert")?),
        ["alice/bert-base", "bob/BERT-large"],
        "case-insensitive"
    );
    assert_eq!(sorted(list("?author=alice")?), ["alice/bert-base", "alice/gpt-small"]);
    assert_eq!(list("?filter=fill-mask&filter=pytorch")?, ["alice/bert-base"]);
    assert_eq!(list("?filter=fill-mask,tensorflow")?, ["bob/BERT-large"]);
    assert_eq!(
        list("?sort=downloads&direction=-1")?,
        ["acme/t5", "alice/bert-base", "bob/BERT-large", "alice/gpt-small"]
    );
    assert_eq!(list("?sort=likes")?[0], "alice/gpt-small", "descending by default");
    assert_eq!(list("?sort=downloads&direction=1")?[0], "alice/gpt-small");
    assert_eq!(list("?sort=downloads&limit=2")?, ["acme/t5", "alice/bert-base"]);
    assert_eq!(all_ids(&f.url("/api/datasets?search=bert"), None)?, ["alice/bert-data"]);

    // Pages of 3 with a Link to the next; the limit ends the listing early.
    let first = get(&f.url("/api/models?sort=downloads"))?;
    assert_eq!(ids(&first)?.len(), 3);
    assert!(
        first
            .next_link()
            .is_some_and(|l| l.contains("sort=downloads") && l.contains("cursor="))
    );
    let limited = get(&f.url("/api/models?sort=downloads&limit=3"))?;
    assert_eq!((ids(&limited)?.len(), limited.next_link()), (3, None));

    // Private repos: only for their owner and the owning organisation's members.
    let as_alice = sorted(all_ids(&f.url("/api/models"), Some(ALICE))?);
    assert!(as_alice.contains(&"acme/internal".to_string()) && !as_alice.contains(&"bob/secret-bert".to_string()));
    let as_bob = sorted(all_ids(&f.url("/api/models?search=bert"), Some(BOB))?);
    assert_eq!(as_bob, ["alice/bert-base", "bob/BERT-large", "bob/secret-bert"]);

    // Light items by default, with commit details when `full`.
    let light = get(&f.url("/api/models?author=acme"))?.json()?;
    assert_eq!(light[0]["id"], "acme/t5");
    assert!(light[0].get("siblings").is_none() && light[0].get("sha").is_none());
    assert_eq!(light[0]["downloads"], 70);
    let full = get(&f.url("/api/models?author=acme&full=true"))?.json()?;
    assert_eq!(full[0]["sha"].as_str().map(str::len), Some(40));
    assert!(full[0]["siblings"].as_array().is_some_and(|s| s.len() == 2));
    assert!(is_hub_date(&full[0]["lastModified"]));
    Ok(())
}

#[test]
fn unknown_routes_answer_404_json() -> TestResult {
    let f = Fixture::start()?;
    for path in ["/api/nothing", "/alice/x/blob/main/f", "/"] {
        let reply = get(&f.url(path))?;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json()?, serde_json::json!({ "error": "Not Found" }));
        assert!(reply.header("x-request-id").is_some());
    }
    Ok(())
}
