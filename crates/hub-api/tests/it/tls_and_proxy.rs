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

/// A socket that sends at most `piece` bytes a write, each at once: TLS
/// records reach the client cut at any point, across reads and buffers.
struct InPieces {
    socket: std::net::TcpStream,
    piece: usize,
}

impl std::io::Read for InPieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.socket.read(buf)
    }
}

impl std::io::Write for InPieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let piece = buf.len().min(self.piece);
        self.socket.write(&buf[..piece])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.socket.flush()
    }
}

/// Answers each of `connections` connections with `body` over TLS, written in
/// pieces of odd sizes; returns the cipher of each. Like rustls's and nginx's
/// defaults, the server takes the first cipher the client offers that it has.
fn serve_in_pieces(
    listener: std::net::TcpListener,
    identity: hub_emulator::http::TlsIdentity,
    body: Vec<u8>,
    connections: usize,
) -> std::thread::JoinHandle<Result<Vec<Option<rustls::CipherSuite>>, String>> {
    use std::io::{BufRead, Write};
    std::thread::spawn(move || {
        let fail = |e: &dyn std::fmt::Display| e.to_string();
        let (certs, key) = identity.rustls_parts().map_err(|e| fail(&e))?;
        let config =
            rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| fail(&e))?
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .map_err(|e| fail(&e))?;
        let config = std::sync::Arc::new(config);
        let mut ciphers = Vec::new();
        for (index, piece) in [1021usize, 7919].into_iter().cycle().take(connections).enumerate() {
            let (socket, _) = listener.accept().map_err(|e| fail(&e))?;
            socket.set_nodelay(true).map_err(|e| fail(&e))?;
            let session = rustls::ServerConnection::new(config.clone()).map_err(|e| fail(&e))?;
            let mut tls = std::io::BufReader::new(rustls::StreamOwned::new(session, InPieces { socket, piece }));
            let mut line = String::new();
            while tls.read_line(&mut line).map_err(|e| fail(&e))? > 2 {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let tls = tls.get_mut();
            tls.write_all(head.as_bytes()).map_err(|e| fail(&e))?;
            tls.write_all(&body).map_err(|e| fail(&e))?;
            tls.flush().map_err(|e| fail(&e))?;
            tls.conn.send_close_notify();
            tls.flush().map_err(|e| format!("connection {index}: {e}"))?;
            ciphers.push(tls.conn.negotiated_cipher_suite().map(|s| s.suite()));
        }
        Ok(ciphers)
    })
}

#[test]
fn records_cut_anywhere_on_the_way_arrive_whole_and_in_order() -> TestResult {
    use std::io::Read;
    let ca = hub_emulator::tls::TestCa::generate()?;
    let bundle = tempfile::NamedTempFile::new()?;
    std::fs::write(bundle.path(), &ca.ca_cert_pem)?;
    // Bytes that differ everywhere, so that a record moved or dropped shows.
    let body: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let origin = format!("https://localhost:{}", listener.local_addr()?.port());
    let server = serve_in_pieces(listener, ca.server_identity(&["localhost"])?, body.clone(), 2);
    let proxy = ConnectProxy::start()?;
    // Read from the socket itself, then through a proxy's tunnel.
    for settings in [
        ProxySettings::default(),
        ProxySettings {
            https: Some(proxy.url()),
            ..ProxySettings::default()
        },
    ] {
        let client = HubClient::builder()
            .endpoint(Endpoint::new(&origin)?)
            .proxy(settings)
            .ca_bundle(Some(bundle.path().into()))
            .retry(hub_api::RetryPolicy::none())
            .build()?;
        let response = client.send(&hub_api::HubRequest::get(format!("{origin}/blob")))?;
        let mut received = Vec::new();
        response.into_reader().read_to_end(&mut received)?;
        assert_eq!(received.len(), body.len());
        assert!(received == body, "the body arrived changed");
    }
    assert_eq!(proxy.tunnels().len(), 1, "the second request went through the tunnel");
    server.join().map_err(|_| "the server thread panicked")??;
    Ok(())
}

#[test]
fn a_server_that_takes_the_clients_order_gets_aes_128_gcm() -> TestResult {
    use std::io::Read;
    let ca = hub_emulator::tls::TestCa::generate()?;
    let bundle = tempfile::NamedTempFile::new()?;
    std::fs::write(bundle.path(), &ca.ca_cert_pem)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let origin = format!("https://localhost:{}", listener.local_addr()?.port());
    let server = serve_in_pieces(listener, ca.server_identity(&["localhost"])?, b"ok".to_vec(), 1);
    let client = HubClient::builder()
        .endpoint(Endpoint::new(&origin)?)
        .ca_bundle(Some(bundle.path().into()))
        .retry(hub_api::RetryPolicy::none())
        .build()?;
    let mut body = String::new();
    client
        .send(&hub_api::HubRequest::get(format!("{origin}/x")))?
        .into_reader()
        .read_to_string(&mut body)?;
    assert_eq!(body, "ok");
    // rustls on its own offers AES-256-GCM first.
    let ciphers = server.join().map_err(|_| "the server thread panicked")??;
    assert_eq!(ciphers, vec![Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)]);
    Ok(())
}
