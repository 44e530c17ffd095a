//! Tokens, private repos and gated repos.

use hub_emulator::SeedRepo;

use crate::{ALICE, ALICE_READ, BOB, Fixture, TestResult, get, get_as};

#[test]
fn private_repos_look_missing_to_others() -> TestResult {
    let f = Fixture::start()?;
    f.hub
        .seed(&SeedRepo::model("alice/private").file("config.json", "{}").private())?;
    f.hub
        .seed(&SeedRepo::model("acme/team").file("config.json", "{}").private())?;
    let routes = [
        "/alice/private/resolve/main/config.json",
        "/api/models/alice/private",
        "/api/models/alice/private/tree/main",
    ];
    for route in routes {
        let url = f.url(route);
        let anonymous = get(&url)?;
        assert_eq!(
            (anonymous.status, anonymous.error_code()),
            (401, Some("RepoNotFound")),
            "{route}"
        );
        assert_eq!(anonymous.header("x-error-message"), Some("Repository not found"));
        let stranger = get_as(&url, BOB)?;
        assert_eq!(
            (stranger.status, stranger.error_code()),
            (404, Some("RepoNotFound")),
            "{route}"
        );
        assert_eq!(get_as(&url, ALICE)?.status, 200, "{route}");
        assert_eq!(get_as(&url, ALICE_READ)?.status, 200, "a read token reads: {route}");
    }
    // Organisation members see the organisation's private repos.
    assert_eq!(get_as(&f.url("/api/models/acme/team"), ALICE)?.status, 200);
    assert_eq!(get_as(&f.url("/api/models/acme/team"), BOB)?.status, 404);
    assert_eq!(
        get_as(&f.url("/api/models/alice/private"), ALICE)?.json()?["private"],
        true
    );
    Ok(())
}

#[test]
fn missing_repos_answer_like_private_ones() -> TestResult {
    let f = Fixture::start()?;
    let anonymous = get(&f.url("/alice/none/resolve/main/x"))?;
    assert_eq!((anonymous.status, anonymous.error_code()), (401, Some("RepoNotFound")));
    let with_token = get_as(&f.url("/api/models/alice/none"), ALICE)?;
    assert_eq!(
        (with_token.status, with_token.error_code()),
        (404, Some("RepoNotFound"))
    );
    Ok(())
}

#[test]
fn gated_repos_restrict_content_not_info() -> TestResult {
    let f = Fixture::start()?;
    f.hub
        .seed(&SeedRepo::model("alice/gated").file("config.json", "{}").gated())?;
    let file = f.url("/alice/gated/resolve/main/config.json");
    let anonymous = get(&file)?;
    assert_eq!((anonymous.status, anonymous.error_code()), (401, Some("GatedRepo")));
    let stranger = get_as(&file, BOB)?;
    assert_eq!((stranger.status, stranger.error_code()), (403, Some("GatedRepo")));
    assert!(
        stranger
            .header("x-error-message")
            .is_some_and(|m| m.contains("alice/gated") && m.contains("restricted"))
    );
    let owner = get_as(&file, ALICE)?;
    assert_eq!((owner.status, owner.body.as_slice()), (200, &b"{}"[..]));

    let info = get(&f.url("/api/models/alice/gated"))?;
    assert_eq!(info.status, 200);
    assert_eq!(info.json()?["gated"], "auto");
    assert_eq!(get(&f.url("/api/models/alice/gated/tree/main"))?.status, 200);
    Ok(())
}

#[test]
fn unknown_tokens_are_refused_everywhere_but_the_cdn() -> TestResult {
    let f = Fixture::start()?;
    let lfs = crate::pseudo_random(2000, 9);
    f.hub.seed(
        &SeedRepo::model("alice/public")
            .file("config.json", "{}")
            .file("w.bin", lfs),
    )?;
    for route in [
        "/alice/public/resolve/main/config.json",
        "/api/models/alice/public",
        "/api/models",
    ] {
        let reply = get_as(&f.url(route), "hf_not_a_token")?;
        assert_eq!(reply.status, 401, "{route}");
        assert_eq!(reply.error_code(), None, "{route}");
        assert_eq!(
            reply.header("x-error-message"),
            Some("Invalid credentials in Authorization header")
        );
    }
    let redirect = get(&f.url("/alice/public/resolve/main/w.bin"))?;
    let location = redirect.header("location").ok_or("no Location")?;
    assert_eq!(
        get_as(location, "hf_not_a_token")?.status,
        200,
        "presigned URLs ignore Authorization"
    );
    Ok(())
}
