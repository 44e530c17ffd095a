//! Secrets end to end: what `login` does to `HF_HOME`, and tokens kept out of
//! every message, whatever the server says.

use std::sync::Arc;

use hub_emulator::http::{Handler, HttpServer, Request, Response, ServerOptions};
use hub_emulator::test_hub::ALICE_WRITE;

use crate::support::{BoxError, Env, TestResult, stderr};

/// A file's permission bits in octal, so that a failed comparison reads as a mode.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    Ok(format!("{:o}", std::fs::metadata(path)?.permissions().mode() & 0o7777))
}

#[cfg(unix)]
#[test]
fn login_keeps_the_mode_of_a_shared_hf_home() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::empty()?;
    let home = env.home.path();
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o2775))?;
    let out = env.cli_with_input(&["login"], &format!("{ALICE_WRITE}\n"))?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(home)?, "2775", "a group's HF_HOME stays shared");
    assert_eq!(mode(&home.join("token"))?, "600");
    assert_eq!(mode(&home.join("stored_tokens"))?, "600");
    Ok(())
}

#[cfg(unix)]
#[test]
fn login_makes_a_missing_hf_home_owner_only() -> TestResult {
    let env = Env::empty()?;
    let home = env.home.path().join("new/home");
    let mut command = env.command(&["login", "--token", ALICE_WRITE], &[]);
    let out = command.env("HF_HOME", &home).output()?;
    assert!(out.status.success(), "{}", stderr(&out));
    for folder in [env.home.path().join("new"), home.clone()] {
        assert_eq!(mode(&folder)?, "700", "{}", folder.display());
    }
    Ok(())
}

/// How a hostile Hub repeats the token it was sent.
#[derive(Clone, Copy)]
enum Echo {
    /// A fixed `hf_` token in `X-Error-Message`.
    HeaderToken,
    /// The `Authorization` header as sent, in a JSON `error`.
    AuthorizationHeader,
    /// The token alone, in a JSON `error`: only the tokens the CLI holds give it away.
    BareToken,
}

/// A token that is no one's, in the Hub's form.
const FOREIGN_TOKEN: &str = "hf_abcdefghijklmnopqrstuvwxyz123456";

/// A Hub that refuses every request with 400, repeating a token in its message.
struct Echoing(Echo);

impl Handler for Echoing {
    fn handle(&self, request: &Request, _base: &str) -> Response {
        let authorization = request.header("authorization").unwrap_or_default();
        let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
        match self.0 {
            Echo::HeaderToken => Response::json(400, &serde_json::json!({}))
                .with_header("X-Error-Message", format!("bad token {FOREIGN_TOKEN}")),
            Echo::AuthorizationHeader => Response::json(
                400,
                &serde_json::json!({ "error": format!("unexpected header Authorization: {authorization}") }),
            ),
            Echo::BareToken => Response::json(
                400,
                &serde_json::json!({ "error": format!("token {token} is not allowed here") }),
            ),
        }
    }
}

/// Runs the CLI against a Hub that echoes tokens, and returns its stderr.
fn against_echoing_hub(echo: Echo, args: &[&str], extra: &[(&str, &str)]) -> Result<String, BoxError> {
    let server = HttpServer::start(
        ServerOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
        Arc::new(Echoing(echo)),
    )?;
    let env = Env::empty()?;
    let endpoint = format!("http://{}", server.local_addr());
    let mut vars = vec![("HF_ENDPOINT", endpoint.as_str())];
    vars.extend_from_slice(extra);
    let out = env.cli(args, &vars)?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    Ok(stderr(&out))
}

#[test]
fn a_token_in_the_servers_message_is_redacted() -> TestResult {
    let err = against_echoing_hub(Echo::HeaderToken, &["whoami"], &[("HF_TOKEN", ALICE_WRITE)])?;
    assert!(err.contains("bad token hf_***"), "{err}");
    assert!(!err.contains(&FOREIGN_TOKEN[3..]), "{err}");
    Ok(())
}

#[test]
fn an_echoed_authorization_header_is_redacted() -> TestResult {
    let err = against_echoing_hub(Echo::AuthorizationHeader, &["whoami"], &[("HF_TOKEN", ALICE_WRITE)])?;
    assert!(err.contains("Authorization: Bearer hf_***"), "{err}");
    assert!(!err.contains(&ALICE_WRITE[3..]), "{err}");
    Ok(())
}

#[test]
fn the_cli_redacts_every_token_it_holds() -> TestResult {
    // `hf_alice_write_…` does not look like a Hub token: only the CLI, which
    // knows its tokens, can tell.
    let from_env = against_echoing_hub(Echo::BareToken, &["whoami"], &[("HF_TOKEN", ALICE_WRITE)])?;
    let from_argument = against_echoing_hub(Echo::BareToken, &["login", "--token", ALICE_WRITE], &[])?;
    for err in [from_env, from_argument] {
        assert!(err.contains("token hf_*** is not allowed"), "{err}");
        assert!(!err.contains(&ALICE_WRITE[3..]), "{err}");
    }
    Ok(())
}
