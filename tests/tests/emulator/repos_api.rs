//! `POST /api/repos/create`, `DELETE /api/repos/delete` and `POST /api/validate-yaml`.

use serde_json::json;

use crate::{ALICE, ALICE_READ, BOB, Fixture, TestResult, get, get_as, git_text, send_json};

#[test]
fn create_makes_a_repo_with_the_hubs_first_commit() -> TestResult {
    let f = Fixture::start()?;
    let create = f.url("/api/repos/create");
    let reply = send_json(
        "POST",
        &create,
        Some(ALICE),
        &json!({ "name": "fresh", "organization": "alice" }),
    )?;
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    let body = reply.json()?;
    assert_eq!(body["url"], f.url("/alice/fresh").as_str());
    assert_eq!(body["name"], "alice/fresh");
    assert_eq!(body["id"].as_str().map(str::len), Some(24));

    // A real bare repo with the default .gitattributes on main, visible through the API.
    let git_dir = f.hub.git_dir("model", "alice/fresh")?;
    assert_eq!(git_text(&git_dir, &["log", "--format=%s", "main"])?, "initial commit");
    assert!(git_text(&git_dir, &["cat-file", "blob", "main:.gitattributes"])?.contains("*.safetensors filter=lfs"));
    let info = get(&f.url("/api/models/alice/fresh"))?;
    assert_eq!((info.status, info.json()?["private"].as_bool()), (200, Some(false)));

    // Again: 409, still with the URL (what `exist_ok` relies on).
    let again = send_json(
        "POST",
        &create,
        Some(ALICE),
        &json!({ "name": "fresh", "organization": "alice" }),
    )?;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()?["error"], "You already created this model repo");
    assert_eq!(again.json()?["url"], f.url("/alice/fresh").as_str());

    // Without an organization the repo goes to the token's user; types and visibility.
    let dataset = send_json(
        "POST",
        &create,
        Some(ALICE),
        &json!({ "name": "data", "organization": null, "type": "dataset", "visibility": "private" }),
    )?;
    assert_eq!(dataset.json()?["url"], f.url("/datasets/alice/data").as_str());
    assert_eq!(get(&f.url("/api/datasets/alice/data"))?.status, 401, "private");
    assert_eq!(
        get_as(&f.url("/api/datasets/alice/data"), ALICE)?.json()?["private"],
        true
    );
    let space = send_json(
        "POST",
        &create,
        Some(ALICE),
        &json!({ "name": "app", "type": "space", "sdk": "gradio", "private": false }),
    )?;
    assert_eq!(space.status, 200);
    assert_eq!(get(&f.url("/api/spaces/alice/app"))?.json()?["sdk"], "gradio");
    // Organisations the user belongs to.
    let org = send_json(
        "POST",
        &create,
        Some(ALICE),
        &json!({ "name": "team", "organization": "acme" }),
    )?;
    assert_eq!(org.status, 200);
    assert_eq!(get(&f.url("/api/models/acme/team"))?.json()?["author"], "acme");
    Ok(())
}

#[test]
fn create_needs_a_write_token_for_the_namespace() -> TestResult {
    let f = Fixture::start()?;
    let create = f.url("/api/repos/create");
    let body = json!({ "name": "x", "organization": "alice" });
    assert_eq!(send_json("POST", &create, None, &body)?.status, 401);
    assert_eq!(send_json("POST", &create, Some("hf_unknown"), &body)?.status, 401);
    let read = send_json("POST", &create, Some(ALICE_READ), &body)?;
    assert_eq!(read.status, 403);
    assert!(
        read.json()?["error"]
            .as_str()
            .is_some_and(|m| m.starts_with("You don't have the rights") && m.contains("read")),
        "{:?}",
        read.json()
    );
    let stranger = send_json("POST", &create, Some(BOB), &body)?;
    assert_eq!(stranger.status, 403);
    assert!(
        stranger.json()?["error"]
            .as_str()
            .is_some_and(|m| m.contains("namespace \"alice\""))
    );
    assert_eq!(
        send_json(
            "POST",
            &create,
            Some(BOB),
            &json!({ "name": "x", "organization": "acme" })
        )?
        .status,
        403,
        "bob is no member of acme"
    );
    for bad in [
        json!({ "name": "a--b", "organization": "alice" }),
        json!({ "name": "x", "type": "kernel" }),
    ] {
        assert_eq!(send_json("POST", &create, Some(ALICE), &bad)?.status, 400, "{bad}");
    }
    assert!(!f.hub.git_dir("model", "alice/x")?.exists(), "nothing was created");
    Ok(())
}

#[test]
fn delete_removes_the_repo_for_its_owner_only() -> TestResult {
    let f = Fixture::start()?;
    let create = f.url("/api/repos/create");
    let delete = f.url("/api/repos/delete");
    let body = json!({ "name": "gone", "organization": "alice" });
    send_json("POST", &create, Some(ALICE), &body)?;
    let git_dir = f.hub.git_dir("model", "alice/gone")?;
    assert!(git_dir.exists());

    assert_eq!(send_json("DELETE", &delete, Some(BOB), &body)?.status, 403);
    assert_eq!(send_json("DELETE", &delete, Some(ALICE_READ), &body)?.status, 403);
    assert_eq!(send_json("DELETE", &delete, None, &body)?.status, 401);
    assert!(git_dir.exists(), "refused deletes change nothing");

    assert_eq!(send_json("DELETE", &delete, Some(ALICE), &body)?.status, 200);
    assert!(!git_dir.exists());
    let info = get_as(&f.url("/api/models/alice/gone"), ALICE)?;
    assert_eq!((info.status, info.error_code()), (404, Some("RepoNotFound")));
    let again = send_json("DELETE", &delete, Some(ALICE), &body)?;
    assert_eq!((again.status, again.error_code()), (404, Some("RepoNotFound")));

    // The name can be used again, starting from scratch.
    assert_eq!(send_json("POST", &create, Some(ALICE), &body)?.status, 200);
    assert_eq!(git_text(&git_dir, &["rev-list", "--count", "main"])?, "1");
    Ok(())
}

#[test]
fn validate_yaml_accepts_cards_and_reports_an_unclosed_front_matter() -> TestResult {
    let f = Fixture::start()?;
    let url = f.url("/api/validate-yaml");
    let ok = send_json(
        "POST",
        &url,
        Some(ALICE),
        &json!({ "content": "---\nlicense: mit\n---\n# Model\n", "repoType": "model" }),
    )?;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()?, json!({ "errors": [], "warnings": [] }));
    let plain = send_json(
        "POST",
        &url,
        None,
        &json!({ "content": "# Just a title\n", "repoType": "dataset" }),
    )?;
    assert_eq!(plain.status, 200);
    let broken = send_json(
        "POST",
        &url,
        Some(ALICE),
        &json!({ "content": "---\nlicense: mit\n# Model\n" }),
    )?;
    assert_eq!(broken.status, 400);
    assert!(broken.json()?["errors"][0]["message"].is_string());
    Ok(())
}
