//! hub-api against the local Hub emulator.

mod errors;
mod listing_limits;
mod login;
mod origins;
mod proptests;
mod read_api;
mod redirects;
mod retries;
mod tls_and_proxy;
mod write_api;

use std::sync::Arc;

use hub_api::{HubClient, RetryPolicy};
use hub_emulator::http::{Handler, HttpServer, ServerOptions};
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
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

/// A plain HTTP server on 127.0.0.1 that answers with `handler`, and a client
/// with a write token whose endpoint it is.
fn serve(handler: impl Handler) -> Result<(HttpServer, HubClient), Box<dyn std::error::Error>> {
    let server = HttpServer::start(
        ServerOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
        Arc::new(handler),
    )?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&format!("http://{}", server.local_addr()))?)
        .token(Some(Token::new(ALICE_WRITE)))
        .retry(fast_retries())
        .build()?;
    Ok((server, client))
}

/// The default number of retries, with millisecond waits.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}
