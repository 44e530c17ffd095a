//! Transient failures are retried with backoff; POSTs are not.

use std::time::{Duration, Instant};

use hub_api::{Error, HubClient, HubRequest, Method, RetryPolicy};
use hub_emulator::SeedRepo;
use hub_emulator::http::{Fault, FaultAction};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{Endpoint, RepoId};

use crate::{TestResult, client};

fn requests_to(hub: &TestHub, path: &str) -> usize {
    hub.log().records().iter().filter(|r| r.path == path).count()
}

#[test]
fn transient_server_errors_are_retried_until_success() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/m").file("a.txt", b"a".to_vec()))?;
    for status in [500, 502, 503, 504, 408] {
        hub.log().clear();
        hub.faults().push(
            Fault::new(
                "/api/models/alice/m",
                FaultAction::Status {
                    status,
                    retry_after: None,
                },
            )
            .times(2),
        );
        let info = client(&hub, None)?.model_info(&RepoId::new("alice/m")?)?;
        assert_eq!(info.id, "alice/m");
        assert_eq!(
            requests_to(&hub, "/api/models/alice/m"),
            3,
            "status {status}: two failures, then success"
        );
    }
    Ok(())
}

#[test]
fn rate_limit_waits_for_retry_after() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/m").file("a.txt", b"a".to_vec()))?;
    hub.faults().push(Fault::new(
        "/api/models/alice/m",
        FaultAction::Status {
            status: 429,
            retry_after: Some(1),
        },
    ));
    let started = Instant::now();
    client(&hub, None)?.model_info(&RepoId::new("alice/m")?)?;
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After is honoured");
    assert_eq!(requests_to(&hub, "/api/models/alice/m"), 2);
    Ok(())
}

#[test]
fn a_post_is_never_retried() -> TestResult {
    let hub = TestHub::start()?;
    hub.faults().push(
        Fault::new(
            "/api/whoami-v2",
            FaultAction::Status {
                status: 503,
                retry_after: None,
            },
        )
        .times(5),
    );
    let client = client(&hub, Some(ALICE_WRITE))?;
    let url = format!("{}/api/whoami-v2", hub.endpoint());
    let err = client.send(&HubRequest::new(Method::Post, url)).expect_err("503");
    assert!(matches!(err, Error::Http { status: 503, .. }), "{err:?}");
    assert_eq!(requests_to(&hub, "/api/whoami-v2"), 1);
    Ok(())
}

#[test]
fn refused_connections_are_retried_then_reported() -> TestResult {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let policy = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&format!("http://127.0.0.1:{port}"))?)
        .retry(policy)
        .build()?;
    let err = client.model_info(&RepoId::new("a/b")?).expect_err("nothing listens");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    Ok(())
}
