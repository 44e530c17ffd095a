//! `login` against a Hub whose answer would corrupt the token store.

use std::sync::Arc;

use hub_api::{Error, HubClient, TokenStore};
use hub_emulator::http::{Handler, HttpServer, Request, Response, ServerOptions};
use hub_url::{Endpoint, Token};

use super::TestResult;

/// A Hub that accepts any token and gives it this name.
struct NamingHub(&'static str);

impl Handler for NamingHub {
    fn handle(&self, _request: &Request, _base: &str) -> Response {
        Response::json(
            200,
            &serde_json::json!({
                "type": "user",
                "name": "alice",
                "auth": { "accessToken": { "displayName": self.0, "role": "write" } },
            }),
        )
    }
}

/// What a login left: its outcome (the token's name), the store, and the
/// folder the store lives in.
type LoginRun = (Result<String, Error>, TokenStore, tempfile::TempDir);

/// Logs in with `hf_new` at a Hub naming tokens `name`, into a store already
/// holding the token `mine`.
fn login_named(name: &'static str) -> Result<LoginRun, Box<dyn std::error::Error>> {
    let server = HttpServer::start(
        ServerOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
        Arc::new(NamingHub(name)),
    )?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&format!("http://{}", server.local_addr()))?)
        .build()?;
    let dir = tempfile::tempdir()?;
    let store = TokenStore::new(dir.path().join("token"), dir.path().join("stored_tokens"));
    store.save("mine", &Token::new("hf_mine"))?;
    let outcome = client.login(&store, Token::new("hf_new")).map(|o| o.token_name);
    Ok((outcome, store, dir))
}

#[test]
fn a_token_name_that_would_write_sections_is_refused() -> TestResult {
    let (outcome, store, _dir) = login_named("x]\n[evil]\nhf_token = hf_attacker\n[y")?;
    let err = outcome.expect_err("a name with line breaks");
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be saved"), "{err}");
    assert_eq!(store.stored()?, vec![("mine".to_string(), Token::new("hf_mine"))]);
    assert_eq!(store.active()?, Some(Token::new("hf_mine")), "nothing was saved");
    Ok(())
}

#[test]
fn an_empty_token_name_is_saved_as_default() -> TestResult {
    let (outcome, store, _dir) = login_named("")?;
    assert_eq!(outcome?, "default");
    assert_eq!(store.active()?, Some(Token::new("hf_new")));
    Ok(())
}
