//! A hub that lies. It serves one repo, [`REPO`], as the Hub serves it (info,
//! tree listing, resolve with the LFS file redirected to a CDN on another
//! origin, the CDN with `Range`), except for the one [`Lie`] it is started
//! with. The hardening tests and `cargo xtask hardening` point clients at it
//! and check that they refuse, report and move on.
//!
//! ```
//! use hub_emulator::hostile_hub::{HostileHub, Lie};
//!
//! let hub = HostileHub::start(Lie::SelfLink)?;
//! assert!(hub.url().starts_with("http://127.0.0.1:"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::http::{Body, Handler, HttpServer, Request, Response, ServerOptions};

/// The repo the hostile hub serves.
pub const REPO: &str = "evil/repo";
/// The commit every honest answer names.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// The regular (non-LFS) file.
pub const SMALL_FILE: &str = "config.json";
/// The LFS file, served from the CDN.
pub const LFS_FILE: &str = "model.bin";
/// A file that does not exist (answered with `EntryNotFound`).
pub const MISSING_FILE: &str = "missing.txt";
/// The token the lying hub echoes back in its error messages.
pub const ECHOED_TOKEN: &str = "hf_EchoedSecretTokenValue0123456789";

/// What the hub lies about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lie {
    /// Nothing: every answer is the Hub's.
    None,
    /// `X-Repo-Commit` (on `HEAD`) and the info's `sha` are this value.
    RepoCommit(String),
    /// The regular file's `ETag` is this value.
    Etag(String),
    /// The LFS file's `X-Linked-Etag` is this value.
    LinkedEtag(String),
    /// The tree listing's `oid` of the regular file is this value.
    TreeOid(String),
    /// The tree listing's `lfs.oid` of the LFS file is this value.
    TreeLfsOid(String),
    /// The tree listing names the regular file with this path.
    TreePath(String),
    /// The `EntryNotFound` answer for [`MISSING_FILE`] carries this `X-Repo-Commit`.
    MissingCommit(String),
    /// The LFS body ends cleanly this many bytes short of `X-Linked-Size`.
    ShortBody(u64),
    /// The `HEAD` of the LFS file is a redirect to the CDN without
    /// `X-Linked-Size`, whose own `Content-Length` is 0.
    RedirectWithoutSize,
    /// The LFS file is announced as 17 bytes (`X-Linked-Size`) and its body
    /// never ends (see [`HostileHub::body_bytes_sent`]).
    EndlessBody,
    /// The tree listing's `Link: rel="next"` points to the page itself.
    SelfLink,
    /// The tree listing's next pages are new URLs without a single entry, for ever.
    EmptyPages,
    /// The tree listing has this many extra files (a listing of this size in one page).
    HugeListing(usize),
    /// The regular file is given this name (a long, legal name).
    FileName(String),
    /// Range requests to the CDN are answered `200` with the whole body.
    IgnoresRange,
    /// The CDN sends the LFS body one byte at a time, this often.
    Trickle(Duration),
    /// Range requests are answered `206` with other bytes than asked for: from
    /// one byte past the asked start, with a `Content-Range` that says so.
    WrongContentRange,
    /// The LFS body is not the bytes its `X-Linked-Etag` names (the etag
    /// changed between `HEAD` and `GET`).
    ChangedContent,
    /// Bodies are sent gzip-encoded (`Content-Encoding: gzip`) though no
    /// client asked for it.
    GzipBody,
    /// Every answer carries a header of this many bytes.
    HugeHeader(usize),
    /// The resolve URL redirects to itself.
    RedirectLoop,
    /// The LFS file's `Location` carries userinfo naming the hub's own host:
    /// `http://user:pass@localhost:PORT/…`.
    LocationWithUserinfo,
    /// Every API answer is a `400` whose message echoes [`ECHOED_TOKEN`] and
    /// the request's `Authorization` header.
    EchoToken,
}

/// A running hostile hub.
pub struct HostileHub {
    server: HttpServer,
    state: Arc<State>,
}

impl HostileHub {
    /// Starts a hub telling `lie` on 127.0.0.1 (its CDN answers on `localhost`).
    pub fn start(lie: Lie) -> std::io::Result<HostileHub> {
        HostileHub::start_with_lfs_size(lie, 3 * 1024 * 1024 + 17)
    }

    /// Starts a hub whose LFS file has `lfs_size` bytes.
    pub fn start_with_lfs_size(lie: Lie, lfs_size: usize) -> std::io::Result<HostileHub> {
        let small = br#"{"model_type": "hostile"}"#.to_vec();
        let lfs: Vec<u8> = (0..lfs_size).map(|i| (i * 31 % 251) as u8).collect();
        let state = Arc::new(State {
            small_etag: git_blob_id(&small),
            lfs_sha256: hex(&Sha256::digest(&lfs)),
            small,
            lfs,
            lie,
            body_bytes_sent: Arc::new(AtomicU64::new(0)),
        });
        let server = HttpServer::start(
            ServerOptions {
                addr: "127.0.0.1:0"
                    .parse()
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
                tls: None,
            },
            Arc::new(Routes(state.clone())),
        )?;
        Ok(HostileHub { server, state })
    }

    /// The endpoint: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The server, for its request log.
    pub fn server(&self) -> &HttpServer {
        &self.server
    }

    /// The bytes of the LFS file, as its sha256 names them.
    pub fn lfs_bytes(&self) -> &[u8] {
        &self.state.lfs
    }

    /// The bytes of the regular file.
    pub fn small_bytes(&self) -> &[u8] {
        &self.state.small
    }

    /// The regular file's git blob id.
    pub fn small_etag(&self) -> &str {
        &self.state.small_etag
    }

    /// The LFS file's sha256.
    pub fn lfs_sha256(&self) -> &str {
        &self.state.lfs_sha256
    }

    /// How many body bytes the endless body has sent so far.
    pub fn body_bytes_sent(&self) -> u64 {
        self.state.body_bytes_sent.load(Ordering::SeqCst)
    }
}

impl Drop for HostileHub {
    fn drop(&mut self) {
        self.server.shutdown();
    }
}

struct State {
    small: Vec<u8>,
    small_etag: String,
    lfs: Vec<u8>,
    lfs_sha256: String,
    lie: Lie,
    body_bytes_sent: Arc<AtomicU64>,
}

impl State {
    fn commit(&self) -> &str {
        match &self.lie {
            Lie::RepoCommit(commit) => commit,
            _ => COMMIT,
        }
    }

    fn small_name(&self) -> &str {
        match &self.lie {
            Lie::FileName(name) | Lie::TreePath(name) => name,
            _ => SMALL_FILE,
        }
    }
}

struct Routes(Arc<State>);

impl Handler for Routes {
    fn handle(&self, request: &Request, base: &str) -> Response {
        let state = &*self.0;
        let mut response = route(state, request, base);
        if let Lie::HugeHeader(bytes) = state.lie {
            response = response.with_header("X-Padding", "a".repeat(bytes));
        }
        if state.lie == Lie::GzipBody && !response.body.is_empty() {
            response = gzip(response);
        }
        response
    }
}

fn route(state: &State, request: &Request, base: &str) -> Response {
    let path = request.path.as_str();
    if state.lie == Lie::EchoToken && path.starts_with("/api/") {
        let authorization = request.header("authorization").unwrap_or("none");
        return Response::hub_error(
            400,
            None,
            &format!("bad request: token {ECHOED_TOKEN} is not valid here (you sent {authorization})"),
        );
    }
    let repo_api = format!("/api/models/{REPO}");
    if path == repo_api || path.starts_with(&format!("{repo_api}/revision/")) {
        return Response::json(
            200,
            &serde_json::json!({ "id": REPO, "sha": state.commit(), "siblings": [] }),
        );
    }
    if let Some(rest) = path.strip_prefix(&format!("{repo_api}/tree/")) {
        return tree(state, request, base, rest);
    }
    if let Some(rest) = path.strip_prefix(&format!("/{REPO}/resolve/")) {
        let file = rest.split_once('/').map(|(_, file)| file).unwrap_or("");
        return resolve(state, request, base, &crate::http::percent_decode(file, false));
    }
    if path.starts_with("/cdn/") {
        return cdn(state, request);
    }
    Response::hub_error(404, None, "no such route on the hostile hub")
}

fn tree(state: &State, request: &Request, base: &str, rest: &str) -> Response {
    let page: usize = request.query_param("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut entries = Vec::new();
    if page == 0 {
        let small_oid = match &state.lie {
            Lie::TreeOid(oid) => oid.clone(),
            _ => state.small_etag.clone(),
        };
        let lfs_oid = match &state.lie {
            Lie::TreeLfsOid(oid) => oid.clone(),
            _ => state.lfs_sha256.clone(),
        };
        entries.push(serde_json::json!({
            "type": "file", "path": state.small_name(), "oid": small_oid, "size": state.small.len()
        }));
        entries.push(serde_json::json!({
            "type": "file", "path": LFS_FILE, "oid": "1111111111111111111111111111111111111111",
            "size": state.lfs.len(),
            "lfs": { "oid": lfs_oid, "size": state.lfs.len(), "pointerSize": 134 }
        }));
        if let Lie::HugeListing(extra) = state.lie {
            return huge_listing(entries, extra);
        }
    }
    let mut response = Response::json(200, &serde_json::Value::Array(entries));
    let here = format!("{base}/api/models/{REPO}/tree/{rest}");
    match state.lie {
        Lie::SelfLink => {
            let query = match request.query.as_str() {
                "" => String::new(),
                q => format!("?{q}"),
            };
            response = response.with_header("Link", format!("<{here}{query}>; rel=\"next\""));
        }
        Lie::EmptyPages => {
            let next = format!("{here}?recursive=true&page={}", page + 1);
            response = response.with_header("Link", format!("<{next}>; rel=\"next\""));
        }
        _ => {}
    }
    response
}

/// One page of `extra` made-up files after the real ones, streamed rather
/// than held: the listing may be hundreds of MB.
fn huge_listing(entries: Vec<serde_json::Value>, extra: usize) -> Response {
    let head: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
    let head = format!("[{}", head.join(","));
    let item = |i: usize| {
        format!(
            r#",{{"type":"file","path":"filler/{i:012}.txt","oid":"{:040x}","size":1}}"#,
            i + 1
        )
    };
    let len = head.len() as u64 + (0..extra).map(|i| item(i).len() as u64).sum::<u64>() + 1;
    let tail = ListingTail {
        next: 0,
        end: extra,
        item: Box::new(item),
        pending: Vec::new(),
    };
    let reader = std::io::Cursor::new(head.into_bytes()).chain(tail).chain(&b"]"[..]);
    Response {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: Body::Reader {
            reader: Box::new(reader),
            len,
        },
    }
}

/// The made-up entries of a huge listing, made as they are read.
struct ListingTail {
    next: usize,
    end: usize,
    item: Box<dyn Fn(usize) -> String + Send>,
    pending: Vec<u8>,
}

impl Read for ListingTail {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() && self.next < self.end {
            self.pending = (self.item)(self.next).into_bytes();
            self.next += 1;
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn resolve(state: &State, request: &Request, base: &str, file: &str) -> Response {
    let commit = state.commit().to_string();
    if state.lie == Lie::RedirectLoop {
        return Response::empty(302)
            .with_header("Location", request.path.clone())
            .with_header("X-Repo-Commit", commit);
    }
    if file == state.small_name() {
        let etag = match &state.lie {
            Lie::Etag(etag) => etag.clone(),
            _ => state.small_etag.clone(),
        };
        return Response {
            status: 200,
            headers: Vec::new(),
            body: Body::Bytes(state.small.clone()),
        }
        .with_header("ETag", format!("\"{etag}\""))
        .with_header("X-Repo-Commit", commit);
    }
    if file == LFS_FILE {
        let host = base.replace("127.0.0.1", "localhost");
        let location = match state.lie {
            Lie::LocationWithUserinfo => format!(
                "{}/cdn/{}",
                host.replacen("http://", "http://user:pass@", 1),
                state.lfs_sha256
            ),
            _ => format!("{host}/cdn/{}", state.lfs_sha256),
        };
        let linked_etag = match &state.lie {
            Lie::LinkedEtag(etag) => etag.clone(),
            _ => state.lfs_sha256.clone(),
        };
        let mut response = Response::empty(302)
            .with_header("Location", location)
            .with_header("X-Repo-Commit", commit)
            .with_header("X-Linked-Etag", format!("\"{linked_etag}\""));
        let announced = match state.lie {
            Lie::EndlessBody => Some(17),
            Lie::RedirectWithoutSize => None,
            _ => Some(state.lfs.len() as u64),
        };
        if let Some(size) = announced {
            response = response.with_header("X-Linked-Size", size.to_string());
        }
        return response;
    }
    Response::hub_error(
        404,
        Some("EntryNotFound"),
        &format!("{file} does not exist at {commit}"),
    )
    .with_header(
        "X-Repo-Commit",
        match &state.lie {
            Lie::MissingCommit(commit) => commit.clone(),
            _ => commit.clone(),
        },
    )
}

fn cdn(state: &State, request: &Request) -> Response {
    let lfs = &state.lfs;
    match &state.lie {
        Lie::EndlessBody => {
            let counter = state.body_bytes_sent.clone();
            return Response {
                status: 200,
                headers: Vec::new(),
                body: Body::Reader {
                    reader: Box::new(Endless { counter }),
                    len: u64::MAX / 2,
                },
            };
        }
        Lie::ShortBody(missing) => {
            let len = (lfs.len() as u64).saturating_sub(*missing) as usize;
            return whole(lfs[..len].to_vec());
        }
        Lie::ChangedContent => {
            let mut changed = lfs.clone();
            if let Some(byte) = changed.get_mut(lfs.len() / 2) {
                *byte ^= 0xff;
            }
            return serve_range(request, changed);
        }
        Lie::Trickle(interval) => {
            return Response {
                status: 200,
                headers: Vec::new(),
                body: Body::Reader {
                    reader: Box::new(Trickle {
                        bytes: lfs.clone(),
                        at: 0,
                        interval: *interval,
                    }),
                    len: lfs.len() as u64,
                },
            };
        }
        Lie::IgnoresRange => return whole(lfs.clone()),
        Lie::WrongContentRange if request.header("range").is_some() => {
            let len = lfs.len();
            let asked = asked_range(request, len).map_or(0, |(start, _)| start);
            let from = (asked + 1).min(len - 1);
            return Response {
                status: 206,
                headers: vec![("Content-Range".into(), format!("bytes {from}-{}/{len}", len - 1))],
                body: Body::Bytes(lfs[from..].to_vec()),
            };
        }
        _ => {}
    }
    serve_range(request, lfs.clone())
}

fn whole(bytes: Vec<u8>) -> Response {
    Response {
        status: 200,
        headers: Vec::new(),
        body: Body::Bytes(bytes),
    }
}

/// The first and last byte of a body of `len` that a `Range: bytes=a-b` (or
/// `bytes=a-`) request asks for, the last cut to the body's end.
fn asked_range(request: &Request, len: usize) -> Option<(usize, usize)> {
    let (a, b) = request
        .header("range")?
        .trim()
        .strip_prefix("bytes=")?
        .split_once('-')?;
    let start: usize = a.trim().parse().ok()?;
    let end: usize = match b.trim() {
        "" => len.checked_sub(1)?,
        b => b.parse::<usize>().ok()?.min(len.checked_sub(1)?),
    };
    (start <= end).then_some((start, end))
}

/// `bytes=a-b` and `bytes=a-` as the CDN answers them.
fn serve_range(request: &Request, bytes: Vec<u8>) -> Response {
    let len = bytes.len();
    match asked_range(request, len) {
        Some((start, end)) => Response {
            status: 206,
            headers: vec![("Content-Range".into(), format!("bytes {start}-{end}/{len}"))],
            body: Body::Bytes(bytes[start..=end].to_vec()),
        },
        None => whole(bytes),
    }
}

/// A body that never ends, counting what it sent.
struct Endless {
    counter: Arc<AtomicU64>,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(64 * 1024);
        buf[..n].fill(b'x');
        self.counter.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

/// A body that arrives one byte at a time.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    interval: Duration,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.bytes.len() || buf.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(self.interval);
        buf[0] = self.bytes[self.at];
        self.at += 1;
        Ok(1)
    }
}

/// The response with its body wrapped as a gzip stream (stored, not
/// compressed: what matters is that the bytes on the wire are not the file's).
fn gzip(mut response: Response) -> Response {
    let body = match std::mem::replace(&mut response.body, Body::Empty) {
        Body::Bytes(bytes) => bytes,
        other => {
            response.body = other;
            return response;
        }
    };
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for (i, block) in body.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= body.len();
        out.push(u8::from(last));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    response.body = Body::Bytes(out);
    response.with_header("Content-Encoding", "gzip")
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The git blob id of `bytes`.
fn git_blob_id(bytes: &[u8]) -> String {
    use sha1::Sha1;
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn git_blob_ids_match_git() {
        assert_eq!(git_blob_id(b"hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
    }
}
