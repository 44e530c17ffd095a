//! hub-api against the local Hub emulator.

mod errors;
mod read_api;
mod redirects;
mod retries;
mod tls_and_proxy;
mod write_api;

use hub_api::{HubClient, RetryPolicy};
use hub_emulator::test_hub::TestHub;
use hub_url::{Endpoint, Token};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A client for the emulator with this token and fast retries.
fn client(hub: &TestHub, token: Option<&str>) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(token.map(Token::new))
        .retry(fast_retries())
        .build()?)
}

/// The default number of retries, with millisecond waits.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}
