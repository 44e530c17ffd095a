//! HTTPS with a CA bundle, and proxies from the settings, for real.

use hub_api::{Error, HubClient};
use hub_emulator::SeedRepo;
use hub_emulator::connect_proxy::ConnectProxy;
use hub_emulator::test_hub::{ALICE_WRITE, TestHub};
use hub_url::{Endpoint, ProxySettings, RepoId, Token};

use crate::{TestResult, fast_retries};

fn https_hub() -> Result<(TestHub, tempfile::NamedTempFile), Box<dyn std::error::Error>> {
    let (hub, bundle) = TestHub::start_https()?;
    hub.seed(&SeedRepo::model("alice/m").file("config.json", b"{}".to_vec()))?;
    Ok((hub, bundle))
}

#[test]
fn https_works_with_the_named_ca_bundle() -> TestResult {
    let (hub, bundle) = https_hub()?;
    assert!(hub.endpoint().starts_with("https://"));
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .token(Some(Token::new(ALICE_WRITE)))
        .ca_bundle(Some(bundle.path().to_path_buf()))
        .build()?;
    assert_eq!(client.whoami()?.name, "alice");
    assert_eq!(client.model_info(&RepoId::new("alice/m")?)?.id, "alice/m");
    Ok(())
}

#[test]
fn https_with_an_unknown_ca_is_refused() -> TestResult {
    let (hub, _bundle) = https_hub()?;
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .retry(hub_api::RetryPolicy::none())
        .build()?;
    let err = client
        .model_info(&RepoId::new("alice/m")?)
        .expect_err("untrusted certificate");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    Ok(())
}

#[test]
fn an_unreadable_ca_bundle_is_a_clear_error() -> TestResult {
    let missing = std::path::PathBuf::from("/nonexistent/ca.pem");
    let err = HubClient::builder()
        .ca_bundle(Some(missing))
        .build()
        .expect_err("missing bundle");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let garbage = tempfile::NamedTempFile::new()?;
    std::fs::write(garbage.path(), "not a certificate")?;
    let err = HubClient::builder()
        .ca_bundle(Some(garbage.path().into()))
        .build()
        .expect_err("garbage bundle");
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    Ok(())
}

fn proxied_client(
    hub: &TestHub,
    settings: ProxySettings,
    bundle: Option<&std::path::Path>,
) -> Result<HubClient, Box<dyn std::error::Error>> {
    Ok(HubClient::builder()
        .endpoint(Endpoint::new(&hub.endpoint())?)
        .proxy(settings)
        .ca_bundle(bundle.map(Into::into))
        .retry(fast_retries())
        .build()?)
}

#[test]
fn requests_go_through_the_https_proxy() -> TestResult {
    let (hub, bundle) = https_hub()?;
    let proxy = ConnectProxy::start()?;
    let settings = ProxySettings {
        https: Some(proxy.url()),
        ..ProxySettings::default()
    };
    let client = proxied_client(&hub, settings, Some(bundle.path()))?;
    client.model_info(&RepoId::new("alice/m")?)?;
    let port = hub
        .endpoint()
        .rsplit(':')
        .next()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        proxy.tunnels().iter().any(|t| t.ends_with(&format!(":{port}"))),
        "{:?}",
        proxy.tunnels()
    );
    let (up, down) = proxy.bytes_relayed();
    assert!(
        up > 0 && down > 0,
        "bytes went through the tunnel: {up} up, {down} down"
    );
    Ok(())
}

#[test]
fn plain_http_uses_http_proxy_and_no_proxy_bypasses_it() -> TestResult {
    let hub = TestHub::start()?;
    hub.seed(&SeedRepo::model("alice/m").file("config.json", b"{}".to_vec()))?;
    let proxy = ConnectProxy::start()?;
    let settings = ProxySettings {
        http: Some(proxy.url()),
        ..ProxySettings::default()
    };
    proxied_client(&hub, settings.clone(), None)?.model_info(&RepoId::new("alice/m")?)?;
    assert_eq!(proxy.tunnels().len(), 1, "{:?}", proxy.tunnels());

    let bypass = ProxySettings {
        no_proxy: Some("example.org, 127.0.0.1,localhost".into()),
        ..settings
    };
    proxied_client(&hub, bypass, None)?.model_info(&RepoId::new("alice/m")?)?;
    assert_eq!(proxy.tunnels().len(), 1, "NO_PROXY hosts bypass the proxy");
    Ok(())
}

#[test]
fn a_tls_record_longer_than_the_protocol_allows_is_refused_not_waited_for() -> TestResult {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let mut hello = [0u8; 512];
        let _ = socket.read(&mut hello)?;
        // A handshake record announcing 65535 bytes (a record holds 16 KiB and a
        // little), then 1000 of them; the connection stays open after.
        socket.write_all(&[22, 3, 3, 0xff, 0xff])?;
        // The client may refuse on the header alone and reset the connection,
        // so what follows may fail: that is the client giving up, as wanted.
        if socket.write_all(&[0u8; 1000]).is_ok() {
            // Held open until the client gives up on it (a close or a reset).
            while matches!(socket.read(&mut hello), Ok(n) if n > 0) {}
        }
        Ok(())
    });
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&format!("https://127.0.0.1:{port}"))?)
        .retry(hub_api::RetryPolicy::none())
        // Far longer than the test: only a refusal ends the request early.
        .read_timeout(std::time::Duration::from_secs(600))
        .build()?;
    let err = client
        .model_info(&RepoId::new("a/b")?)
        .expect_err("no record that long");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!err.to_string().contains("timed out"), "{err}");
    drop(client);
    server.join().map_err(|_| "the server thread panicked")??;
    Ok(())
}
