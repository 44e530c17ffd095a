//! One call's token, headers, user agent and metadata timeout.

use std::time::Duration;

use hub_api::{CallSettings, Error as ApiError};
use hub_cache::hf_hub_download;
use hub_emulator::http::{Fault, FaultAction, RequestRecord};
use hub_emulator::test_hub::{ALICE_READ, ALICE_WRITE, BOB_WRITE};
use hub_url::{RepoId, Token};

use super::{REPO, TestResult, fixture, weights};

fn header<'r>(record: &'r RequestRecord, name: &str) -> Option<&'r str> {
    record
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn headers_and_user_agent_go_with_every_request_and_the_token_only_to_the_hub() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    options.fetch.call = CallSettings {
        token: Some(Token::new(ALICE_READ)),
        headers: vec![("X-Trace".into(), "run-7".into())],
        library_name: Some("candle".into()),
        library_version: Some("0.9".into()),
        user_agent: vec![("file_type".into(), "model".into())],
        etag_timeout: None,
    };
    f.hub.log().clear();
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options)?;
    assert_eq!(std::fs::read(path)?, weights());

    let records = f.hub.log().records();
    let hub: Vec<_> = records.iter().filter(|r| r.path.contains("/resolve/")).collect();
    let cdn: Vec<_> = records.iter().filter(|r| r.path.starts_with("/cdn/")).collect();
    assert!(!hub.is_empty() && !cdn.is_empty(), "{records:?}");
    for record in records.iter() {
        assert_eq!(header(record, "x-trace"), Some("run-7"), "{record:?}");
        let agent = record.user_agent.as_deref().unwrap_or_default();
        assert!(agent.starts_with("candle/0.9; hf_hub/"), "{agent}");
        assert!(agent.ends_with("; file_type/model"), "{agent}");
    }
    for record in &hub {
        let expected = format!("Bearer {ALICE_READ}");
        assert_eq!(
            record.authorization.as_deref(),
            Some(expected.as_str()),
            "the call's token"
        );
    }
    assert!(cdn.iter().all(|r| r.authorization.is_none()), "no token to the CDN");

    // The client itself is unchanged.
    f.hub.log().clear();
    f.download("config.json")?;
    let records = f.hub.log().records();
    let expected = format!("Bearer {ALICE_WRITE}");
    assert!(records.iter().all(|r| header(r, "x-trace").is_none()));
    assert!(
        records
            .iter()
            .all(|r| r.authorization.as_deref() == Some(expected.as_str()))
    );
    Ok(())
}

#[test]
fn an_authorization_header_of_the_call_replaces_the_token_and_stays_on_the_hub() -> TestResult {
    let f = fixture()?;
    let mut options = f.options();
    let own = format!("Bearer {BOB_WRITE}");
    options.fetch.call.headers = vec![("Authorization".into(), own.clone())];
    f.hub.log().clear();
    hf_hub_download(&f.client, &RepoId::new(REPO)?, "model.safetensors", &options)?;
    let records = f.hub.log().records();
    for record in &records {
        let values: Vec<_> = record
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .collect();
        if record.path.starts_with("/cdn/") {
            assert!(values.is_empty(), "{record:?}");
        } else {
            assert_eq!(values.len(), 1, "one authorization, not two: {record:?}");
            assert_eq!(record.authorization.as_deref(), Some(own.as_str()));
        }
    }
    Ok(())
}

#[test]
fn a_metadata_request_past_the_etag_timeout_falls_back_to_the_cache() -> TestResult {
    let f = fixture()?;
    let cached = f.download("config.json")?;
    let mut options = f.options();
    options.fetch.call.etag_timeout = Some(Duration::from_millis(100));
    f.hub.faults().push(
        Fault::new("/resolve/", FaultAction::Delay { millis: 1500 })
            .method("HEAD")
            .times(20),
    );
    let path = hf_hub_download(&f.client, &RepoId::new(REPO)?, "config.json", &options)?;
    assert_eq!(path, cached);

    // Nothing cached to fall back to: the timeout is the error.
    let empty = tempfile::tempdir()?;
    options.fetch.cache_dir = empty.path().to_path_buf();
    let err = hf_hub_download(&f.client, &RepoId::new(REPO)?, "config.json", &options).expect_err("timed out");
    match super::api_error(&err) {
        Some(ApiError::Transport { url, .. }) => assert!(url.contains("/resolve/"), "{url}"),
        other => panic!("expected a transport error after the timeout, got {other:?}"),
    }
    Ok(())
}
