//! Every Hub error arrives as its own variant, with a message that names what
//! was asked and what to do.

use hub_api::{Error, RepoInfoOptions, RequestTarget, UnauthorizedReason};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, BOB_WRITE, TestHub};
use hub_url::{RepoId, RepoType, Revision, hf_hub_url};

use crate::{TestResult, client};

fn seeded() -> Result<TestHub, Box<dyn std::error::Error>> {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/public").file("config.json", b"{}".to_vec()))?;
    hub.seed(
        &SeedRepo::model("alice/secret")
            .file("config.json", b"{}".to_vec())
            .private(),
    )?;
    hub.seed(
        &SeedRepo::model("alice/gated")
            .file("config.json", b"{}".to_vec())
            .gated(),
    )?;
    Ok(hub)
}

#[test]
fn missing_repo_is_repo_not_found_with_and_without_token() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/nope")?;
    for token in [None, Some(BOB_WRITE)] {
        let err = client(&hub, token)?.model_info(&repo).expect_err("missing repo");
        assert!(matches!(err, Error::RepoNotFound { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("alice/nope"), "{message}");
        assert!(message.contains("private"), "{message}");
        assert!(
            !message.contains("huggingface-cli"),
            "no CLI advice from a library: {message}"
        );
        assert!(message.contains("request id"), "the request id is kept: {message}");
    }
    Ok(())
}

#[test]
fn private_repo_is_not_found_for_others_and_visible_to_its_owner() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/secret")?;
    let err = client(&hub, None)?.model_info(&repo).expect_err("anonymous");
    assert!(matches!(err, Error::RepoNotFound { .. }), "{err:?}");
    let err = client(&hub, Some(BOB_WRITE))?.model_info(&repo).expect_err("bob");
    assert!(matches!(err, Error::RepoNotFound { .. }), "{err:?}");
    let info = client(&hub, Some(ALICE_WRITE))?.model_info(&repo)?;
    assert_eq!(info.id, "alice/secret");
    assert!(info.private);
    Ok(())
}

#[test]
fn missing_revision_is_revision_not_found() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/public")?;
    let rev = Revision::new("no-such-branch")?;
    let err = client(&hub, None)?
        .repo_info(&repo, &RepoInfoOptions::default().revision(rev))
        .expect_err("bad revision");
    match &err {
        Error::RevisionNotFound { revision, repo, .. } => {
            assert_eq!(revision, "no-such-branch");
            assert_eq!(repo, "alice/public");
        }
        other => panic!("expected RevisionNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("no-such-branch"));
    Ok(())
}

#[test]
fn missing_file_is_entry_not_found_with_the_commit() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/public")?;
    let client = client(&hub, None)?;
    let url = hf_hub_url(&repo, "nope.txt", &Revision::main(), RepoType::Model, client.endpoint());
    let target = RequestTarget::repo(RepoType::Model, &repo).at("main").file("nope.txt");
    let err = client.file_metadata(&url, target).expect_err("missing file");
    match &err {
        Error::EntryNotFound { path, commit, .. } => {
            assert_eq!(path, "nope.txt");
            assert_eq!(commit.as_deref().map(str::len), Some(40), "X-Repo-Commit is kept");
        }
        other => panic!("expected EntryNotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("nope.txt"));
    Ok(())
}

#[test]
fn gated_repo_needs_access() -> TestResult {
    let hub = seeded()?;
    let repo = RepoId::new("alice/gated")?;
    for token in [None, Some(BOB_WRITE)] {
        let client = client(&hub, token)?;
        let url = hf_hub_url(
            &repo,
            "config.json",
            &Revision::main(),
            RepoType::Model,
            client.endpoint(),
        );
        let err = client
            .file_metadata(&url, RequestTarget::repo(RepoType::Model, &repo).file("config.json"))
            .expect_err("gated");
        assert!(matches!(err, Error::GatedRepo { .. }), "{err:?}");
        assert!(err.to_string().contains("alice/gated"));
    }
    let owner = client(&hub, Some(ALICE_WRITE))?;
    let url = hf_hub_url(
        &repo,
        "config.json",
        &Revision::main(),
        RepoType::Model,
        owner.endpoint(),
    );
    owner.file_metadata(&url, RequestTarget::repo(RepoType::Model, &repo))?;
    Ok(())
}

#[test]
fn unknown_token_is_invalid_and_no_token_sends_nothing() -> TestResult {
    let hub = seeded()?;
    let err = client(&hub, Some("hf_not_a_real_token"))?
        .whoami()
        .expect_err("bad token");
    assert!(
        matches!(
            err,
            Error::Unauthorized {
                reason: UnauthorizedReason::InvalidToken,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("hf_not_a_real_token"),
        "the token is never shown"
    );

    hub.log().clear();
    let err = client(&hub, None)?.whoami().expect_err("no token");
    assert!(
        matches!(
            err,
            Error::Unauthorized {
                reason: UnauthorizedReason::MissingToken,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(hub.log().records().is_empty(), "no request without a token");
    Ok(())
}

#[test]
fn rate_limit_with_a_long_retry_after_fails_at_once() -> TestResult {
    let hub = seeded()?;
    hub.faults().push(Fault::new(
        "/api/models/alice/public",
        FaultAction::Status {
            status: 429,
            retry_after: Some(3600),
        },
    ));
    let err = client(&hub, None)?
        .model_info(&RepoId::new("alice/public")?)
        .expect_err("rate limited");
    match err {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after.map(|d| d.as_secs()), Some(3600))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    Ok(())
}

#[test]
fn server_errors_exhaust_retries_into_http_error() -> TestResult {
    let hub = seeded()?;
    hub.faults().push(
        Fault::new(
            "/api/models/alice/public",
            FaultAction::Status {
                status: 500,
                retry_after: None,
            },
        )
        .times(100),
    );
    hub.log().clear();
    let err = client(&hub, None)?
        .model_info(&RepoId::new("alice/public")?)
        .expect_err("server error");
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    let tries = hub
        .log()
        .records()
        .iter()
        .filter(|r| r.path.starts_with("/api/models/alice/public"))
        .count();
    assert_eq!(tries, 6, "one try and five retries");
    Ok(())
}
