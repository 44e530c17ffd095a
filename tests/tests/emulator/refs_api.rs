//! Refs, branches and tags; the commits listing; paths-info.

use hub_emulator::{RefKind, SeedRepo};
use serde_json::{Value, json};

use crate::{ALICE, ALICE_READ, BOB, Fixture, TestResult, get, git_text, pseudo_random, send, send_json, sha256_hex};

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn branches_and_tags_are_created_listed_and_deleted() -> TestResult {
    let f = Fixture::start()?;
    let first = f.hub.seed(&SeedRepo::model("alice/refs").file("a.txt", "1"))?;
    let main = f.hub.seed(&SeedRepo::model("alice/refs").file("a.txt", "2"))?;
    let api = |path: &str| f.url(&format!("/api/models/alice/refs{path}"));

    // Branches: from main by default, or from a starting point.
    assert_eq!(
        send_json("POST", &api("/branch/dev"), Some(ALICE), &json!({}))?.status,
        200
    );
    let old = send_json(
        "POST",
        &api("/branch/feature%2Fold"),
        Some(ALICE),
        &json!({ "startingPoint": first }),
    )?;
    assert_eq!(old.status, 200);
    let again = send_json("POST", &api("/branch/dev"), Some(ALICE), &json!({}))?;
    assert_eq!(again.status, 409);
    assert_eq!(
        send_json("POST", &api("/branch/bad..name"), Some(ALICE), &json!({}))?.status,
        400
    );
    let nowhere = send_json(
        "POST",
        &api("/branch/x"),
        Some(ALICE),
        &json!({ "startingPoint": "nope" }),
    )?;
    assert_eq!((nowhere.status, nowhere.error_code()), (404, Some("RevisionNotFound")));
    assert_eq!(
        send_json("POST", &api("/branch/r"), Some(ALICE_READ), &json!({}))?.status,
        403
    );
    assert_eq!(send_json("POST", &api("/branch/r"), Some(BOB), &json!({}))?.status, 403);

    // Tags: lightweight, or annotated by the caller when a message is given.
    assert_eq!(
        send_json("POST", &api("/tag/main"), Some(ALICE), &json!({ "tag": "v1" }))?.status,
        200
    );
    let annotated = send_json(
        "POST",
        &api(&format!("/tag/{first}")),
        Some(ALICE),
        &json!({ "tag": "v0", "message": "First release" }),
    )?;
    assert_eq!(annotated.status, 200);
    assert_eq!(
        send_json("POST", &api("/tag/main"), Some(ALICE), &json!({ "tag": "v1" }))?.status,
        409
    );
    let git_dir = f.hub.git_dir("model", "alice/refs")?;
    assert_eq!(git_text(&git_dir, &["cat-file", "-t", "refs/tags/v0"])?, "tag");
    assert_eq!(
        git_text(
            &git_dir,
            &[
                "for-each-ref",
                "--format=%(taggername) %(contents:subject)",
                "refs/tags/v0"
            ]
        )?,
        "alice First release"
    );

    f.hub
        .create_ref("model", "alice/refs", RefKind::PullRequest(1), "", "main")?;
    let refs = get(&api("/refs"))?.json()?;
    assert_eq!(names(&refs["branches"]), ["dev", "feature/old", "main"]);
    assert_eq!(names(&refs["tags"]), ["v0", "v1"]);
    assert_eq!(refs["converts"], json!([]));
    assert!(refs.get("pullRequests").is_none());
    let main_ref = &refs["branches"][2];
    assert_eq!(
        (main_ref["ref"].as_str(), main_ref["targetCommit"].as_str()),
        (Some("refs/heads/main"), Some(main.as_str()))
    );
    assert_eq!(refs["branches"][1]["targetCommit"], first.as_str());
    assert_eq!(
        refs["tags"][0]["targetCommit"],
        first.as_str(),
        "annotated tags are peeled"
    );
    let with_prs = get(&api("/refs?include_prs=1"))?.json()?;
    assert_eq!(
        with_prs["pullRequests"],
        json!([{ "name": "1", "ref": "refs/pr/1", "targetCommit": main }])
    );

    // Deletions.
    let auth = format!("Bearer {ALICE}");
    let delete = |path: &str| send("DELETE", &api(path), &[("Authorization", &auth)], None);
    assert_eq!(delete("/branch/dev")?.status, 200);
    assert_eq!(delete("/branch/dev")?.error_code(), Some("RevisionNotFound"));
    assert_eq!(delete("/branch/main")?.status, 403);
    assert_eq!(delete("/tag/v1")?.status, 200);
    assert_eq!(delete("/tag/v1")?.status, 404);
    assert_eq!(
        send(
            "DELETE",
            &api("/tag/v0"),
            &[("Authorization", &format!("Bearer {BOB}"))],
            None
        )?
        .status,
        403
    );
    let refs = get(&api("/refs"))?.json()?;
    assert_eq!(
        (names(&refs["branches"]), names(&refs["tags"])),
        (
            vec!["feature/old".to_string(), "main".to_string()],
            vec!["v0".to_string()]
        )
    );
    Ok(())
}

#[test]
fn commits_list_newest_first_in_pages() -> TestResult {
    let f = Fixture::start()?;
    for i in 0..4 {
        f.hub.seed(
            &SeedRepo::model("alice/log")
                .file("a.txt", format!("{i}"))
                .message(&format!("Step {i}\n\nDetails {i}")),
        )?;
    }
    let mut items = Vec::new();
    let mut url = Some(f.url("/api/models/alice/log/commits/main"));
    while let Some(next) = url {
        let page = get(&next)?;
        assert_eq!(page.status, 200);
        let array = page.json()?.as_array().cloned().ok_or("array")?;
        assert!(array.len() <= 3, "pages of 3");
        items.extend(array);
        url = page.next_link();
    }
    let titles: Vec<&str> = items.iter().filter_map(|c| c["title"].as_str()).collect();
    assert_eq!(titles, ["Step 3", "Step 2", "Step 1", "Step 0", "initial commit"]);
    assert_eq!(items[0]["message"], "Details 3");
    assert_eq!(items[4]["message"], "");
    assert_eq!(
        items[0]["id"],
        f.hub.resolve_revision("model", "alice/log", "main")?.as_str()
    );
    assert_eq!(items[4]["authors"], json!([{ "user": "system" }]));
    assert!(
        items[0]["date"]
            .as_str()
            .is_some_and(|d| d.len() == 24 && d.ends_with('Z'))
    );
    let missing = get(&f.url("/api/models/alice/log/commits/nope"))?;
    assert_eq!(missing.error_code(), Some("RevisionNotFound"));
    Ok(())
}

#[test]
fn paths_info_answers_for_form_and_json_bodies() -> TestResult {
    let f = Fixture::start()?;
    let weights = pseudo_random(2000, 3);
    let commit = f.hub.seed(
        &SeedRepo::model("alice/paths")
            .file("config.json", "{}")
            .file("dir/w.safetensors", weights.clone())
            .message("Add files"),
    )?;
    let url = f.url("/api/models/alice/paths/paths-info/main");
    let form = send(
        "POST",
        &url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(b"paths=config.json&paths=dir&paths=dir%2Fw.safetensors&paths=missing&expand=false"),
    )?;
    assert_eq!(form.status, 200);
    let items = form.json()?;
    let paths: Vec<&str> = items
        .as_array()
        .ok_or("array")?
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        ["config.json", "dir", "dir/w.safetensors"],
        "missing paths are left out"
    );
    assert_eq!(items[0]["type"], "file");
    assert_eq!(items[1]["type"], "directory");
    assert_eq!(items[2]["lfs"]["oid"], sha256_hex(&weights).as_str());
    assert_eq!(items[2]["size"], 2000);
    assert!(items[0].get("lastCommit").is_none());

    let expanded = send_json("POST", &url, None, &json!({ "paths": ["config.json"], "expand": true }))?.json()?;
    assert_eq!(expanded[0]["lastCommit"]["id"], commit.as_str());
    assert_eq!(expanded[0]["lastCommit"]["title"], "Add files");
    let bad_rev = send_json(
        "POST",
        &f.url("/api/models/alice/paths/paths-info/nope"),
        None,
        &json!({ "paths": ["a"] }),
    )?;
    assert_eq!(bad_rev.error_code(), Some("RevisionNotFound"));
    Ok(())
}
