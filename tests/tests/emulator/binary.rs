//! The `hub-emulator` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::{TestResult, get_as};

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args`; returns it and the first line it printed.
fn start(args: &mut Command) -> Result<(Running, String), Box<dyn std::error::Error>> {
    let mut child = Running(args.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?);
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    Ok((child, first))
}

#[test]
fn binary_prints_its_address_first_and_serves() -> TestResult {
    let root = tempfile::tempdir()?;
    let (_child, first) = start(
        Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
            .arg("--root")
            .arg(root.path().join("hub"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--token",
                "hf_cli=carol:read",
                "--org",
                "labs=carol,dave",
            ])
            .args(["--lfs-threshold", "2048", "--page-size", "5"]),
    )?;
    let endpoint = first
        .trim()
        .strip_prefix("listening on ")
        .ok_or(format!("first line: {first:?}"))?;
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let me = get_as(&format!("{endpoint}/api/whoami-v2"), "hf_cli")?;
    assert_eq!(me.status, 200);
    let json = me.json()?;
    assert_eq!(json["name"], "carol");
    assert_eq!(json["orgs"][0]["name"], "labs");
    assert_eq!(json["auth"]["accessToken"]["role"], "read");
    assert!(root.path().join("hub/repos").is_dir());
    Ok(())
}

#[test]
fn binary_rejects_bad_arguments() -> TestResult {
    let output = Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
        .args(["--root", "/nonexistent-unused", "--token", "no-user-here"])
        .output()?;
    assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
    assert!(String::from_utf8_lossy(&output.stderr).contains("TOKEN=USER"));
    Ok(())
}

#[test]
fn binary_serves_https_with_the_test_ca_it_writes() -> TestResult {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let root = tempfile::tempdir()?;
    let ca_file = root.path().join("ca.pem");
    let (_child, first) = start(
        Command::new(env!("CARGO_BIN_EXE_hub-emulator"))
            .arg("--root")
            .arg(root.path().join("hub"))
            .args(["--token", "hf_tls=erin:read", "--tls-ca"])
            .arg(&ca_file),
    )?;
    let address = first
        .trim()
        .strip_prefix("listening on https://")
        .ok_or(format!("first line: {first:?}"))?
        .to_string();

    // A client that trusts nothing but the CA the emulator wrote.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(&ca_file)?)?;
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connection = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1")?.to_owned())?;
    let mut tls = rustls::StreamOwned::new(connection, std::net::TcpStream::connect(&address)?);
    write!(
        tls,
        "GET /api/whoami-v2 HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer hf_tls\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    // The server may close without a TLS close_notify once the body is sent.
    if let Err(err) = tls.read_to_string(&mut response)
        && err.kind() != std::io::ErrorKind::UnexpectedEof
    {
        return Err(err.into());
    }
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"erin\""), "{response}");
    Ok(())
}
