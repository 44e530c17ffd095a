//! The emulator on its own: storage written with git, and every read route spoken over
//! real HTTP by a minimal client, checked against what the Hub sends.

mod api;
mod auth;
mod binary;
mod commit_api;
mod git_http;
mod lfs_api;
mod refs_api;
mod repos_api;
mod resolve;
mod storage;
mod xet;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use hub_emulator::{Emulator, EmulatorConfig, Role};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ALICE: &str = "hf_alice_write";
const ALICE_READ: &str = "hf_alice_read";
const BOB: &str = "hf_bob_write";

/// An emulator with Alice (member of `acme`) and Bob, a 1 KiB LFS threshold and pages of 3.
struct Fixture {
    hub: Emulator,
    _root: tempfile::TempDir,
}

impl Fixture {
    fn start() -> Result<Fixture, Box<dyn std::error::Error>> {
        Fixture::start_with(|config| config)
    }

    /// Like [`Fixture::start`], with a chance to change the settings.
    fn start_with(
        adjust: impl FnOnce(EmulatorConfig) -> EmulatorConfig,
    ) -> Result<Fixture, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let mut config = EmulatorConfig::new(root.path().join("hub"))
            .token(ALICE, "alice", Role::Write)
            .token(ALICE_READ, "alice", Role::Read)
            .token(BOB, "bob", Role::Write)
            .org("acme", &["alice"]);
        config.lfs_threshold = 1024;
        config.page_size = 3;
        Ok(Fixture {
            hub: Emulator::start(adjust(config))?,
            _root: root,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub.endpoint())
    }
}

/// A response as received.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    fn error_code(&self) -> Option<&str> {
        self.header("x-error-code")
    }

    /// The URL of `Link: <…>; rel="next"`.
    fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        let (url, rel) = link.split_once(';')?;
        rel.contains("rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    }
}

/// One HTTP/1.1 request on a fresh connection; `headers` are sent as given.
fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Reply, Box<dyn std::error::Error>> {
    send(method, url, headers, None)
}

/// One HTTP/1.1 request with an optional body (sent with its `Content-Length`).
fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, Box<dyn std::error::Error>> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority)?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = String::from_utf8(raw[..split].to_vec())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let status: u16 = status_line.split(' ').nth(1).ok_or("no status")?.parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Reply { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size_text = std::str::from_utf8(&data[..line_end])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("short chunk")?);
        data = data.get(size + 2..).ok_or("short chunk")?;
    }
}

fn get(url: &str) -> Result<Reply, Box<dyn std::error::Error>> {
    request("GET", url, &[])
}

fn get_as(url: &str, token: &str) -> Result<Reply, Box<dyn std::error::Error>> {
    request("GET", url, &[("Authorization", &format!("Bearer {token}"))])
}

/// A request with a JSON body, as `token` (anonymous when `None`).
fn send_json(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Result<Reply, Box<dyn std::error::Error>> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    send(method, url, &headers, Some(body.to_string().as_bytes()))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs git in a bare repository and returns stdout.
fn git(git_dir: &Path, args: &[&str]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let output = Command::new("git").arg("--git-dir").arg(git_dir).args(args).output()?;
    if !output.status.success() {
        return Err(format!("git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(output.stdout)
}

fn git_text(git_dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    Ok(String::from_utf8(git(git_dir, args)?)?.trim_end().to_string())
}

/// Deterministic bytes that do not compress to nothing.
fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}
