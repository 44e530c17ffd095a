//! `hub-emulator`: serves a local Hugging Face Hub until killed.
//!
//! It prints `listening on http://HOST:PORT` as its first line, so scripts can start it
//! on port 0 and read where it went.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hub_emulator::http::TlsIdentity;
use hub_emulator::tls::TestCa;
use hub_emulator::{DEFAULT_LFS_THRESHOLD, DEFAULT_PAGE_SIZE, Emulator, EmulatorConfig, Org, Role, TokenGrant};

/// A local Hugging Face Hub over bare git repositories and an LFS store.
#[derive(Debug, Parser)]
#[command(name = "hub-emulator", version)]
struct Args {
    /// Folder holding the repos and the LFS store (created if missing).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// A token the Hub accepts: TOKEN=USER, TOKEN=USER:read or TOKEN=USER:write (the default).
    #[arg(long = "token", value_name = "TOKEN=USER[:ROLE]", value_parser = parse_token)]
    tokens: Vec<TokenGrant>,
    /// An organisation and its members: ORG=USER,USER.
    #[arg(long = "org", value_name = "ORG=USER,USER", value_parser = parse_org)]
    orgs: Vec<Org>,
    /// Seeded files larger than this many bytes are stored with LFS.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_LFS_THRESHOLD)]
    lfs_threshold: u64,
    /// Items per page of tree and repo listings.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PAGE_SIZE)]
    page_size: usize,
    /// Simulated round-trip time: each response waits this long, and each new
    /// connection once more (20 looks like a CDN 10 ms away).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Caps each connection's body throughput, as a distant CDN does (180000000 for 180 MB/s).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    per_connection_bytes_per_sec: Option<u64>,
    /// Serve no Xet storage (no token routes, no CAS): an LFS-only hub, as older mirrors are.
    #[arg(long)]
    no_xet: bool,
    /// Serve HTTPS, with a certificate for 127.0.0.1 and localhost from a test CA made at
    /// start, whose certificate is written to FILE: point `REQUESTS_CA_BUNDLE` at it.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
}

fn parse_token(value: &str) -> Result<TokenGrant, String> {
    let (token, user) = value.split_once('=').ok_or("expected TOKEN=USER[:read|:write]")?;
    let (user, role) = match user.rsplit_once(':') {
        Some((user, "read")) => (user, Role::Read),
        Some((user, "write")) => (user, Role::Write),
        Some((_, other)) => return Err(format!("unknown role {other:?}: use read or write")),
        None => (user, Role::Write),
    };
    if token.is_empty() || user.is_empty() {
        return Err("expected TOKEN=USER[:read|:write]".into());
    }
    Ok(TokenGrant {
        token: token.to_string(),
        user: user.to_string(),
        role,
    })
}

fn parse_org(value: &str) -> Result<Org, String> {
    let (name, members) = value.split_once('=').ok_or("expected ORG=USER,USER")?;
    if name.is_empty() {
        return Err("expected ORG=USER,USER".into());
    }
    let members = members
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Org {
        name: name.to_string(),
        members,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = EmulatorConfig::new(args.root);
    config.addr = args.addr;
    config.tokens = args.tokens;
    config.orgs = args.orgs;
    config.lfs_threshold = args.lfs_threshold;
    config.page_size = args.page_size;
    config.latency = Duration::from_millis(args.latency_ms);
    config.per_connection_bytes_per_sec = args.per_connection_bytes_per_sec;
    config.xet = !args.no_xet;
    if let Some(ca_file) = &args.tls_ca {
        match test_ca_identity(ca_file) {
            Ok(identity) => config.tls = Some(identity),
            Err(err) => {
                eprintln!("error: failed to make the test CA in {}: {err}", ca_file.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let emulator = match Emulator::start(config) {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("error: failed to start the hub emulator: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "listening on {}", emulator.endpoint())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Nobody reads the address: serving would be pointless.
        return ExitCode::FAILURE;
    }
    drop(stdout);
    loop {
        std::thread::park();
    }
}

/// A server certificate for the loopback names from a new test CA, whose certificate is
/// written to `ca_file`.
fn test_ca_identity(ca_file: &std::path::Path) -> Result<TlsIdentity, Box<dyn std::error::Error>> {
    let ca = TestCa::generate()?;
    let identity = ca.server_identity(&["127.0.0.1", "localhost"])?;
    std::fs::write(ca_file, &ca.ca_cert_pem)?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::{parse_org, parse_token};
    use hub_emulator::Role;

    #[test]
    fn token_and_org_arguments_parse() -> Result<(), String> {
        let grant = parse_token("hf_x=alice:read")?;
        assert_eq!(
            (grant.token.as_str(), grant.user.as_str(), grant.role),
            ("hf_x", "alice", Role::Read)
        );
        assert_eq!(parse_token("hf_y=bob")?.role, Role::Write);
        assert!(parse_token("hf_z=bob:admin").is_err());
        assert!(parse_token("no-user").is_err());
        let org = parse_org("acme=alice, bob")?;
        assert_eq!((org.name.as_str(), org.members.len()), ("acme", 2));
        Ok(())
    }
}
