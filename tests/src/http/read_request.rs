//! Reading one request from a connection: the head, then the whole body
//! (by `Content-Length` or `Transfer-Encoding: chunked`), into memory or, when
//! large and the handler gives a spool folder, into a spool file.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::message::Request;
use super::spooled_body::{SPOOL_THRESHOLD, Spool, SpoolError};

/// The most bytes a request head (request line and headers) may take.
const MAX_HEAD_BYTES: u64 = 64 * 1024;
/// The most header lines a request may have.
const MAX_HEADERS: usize = 256;
/// The largest request body accepted in memory.
const MAX_BODY_BYTES: u64 = 4 << 30;
/// The largest request body accepted into a spool file.
const MAX_SPOOLED_BODY_BYTES: u64 = 1 << 40;
/// The longest chunk-size line (sizes plus extensions) accepted.
const MAX_CHUNK_LINE: u64 = 4096;
/// Memory reserved up front for a body of declared length, at most.
const MAX_BODY_RESERVE: u64 = 64 << 20;

/// A request read off the wire, with what the server needs to know about the connection.
pub(crate) struct Incoming {
    pub(crate) request: Request,
    /// Whether the client lets the connection stay open after the answer.
    pub(crate) keep_alive: bool,
}

/// Why no request could be read.
pub(crate) enum ReadError {
    /// The connection failed, timed out or closed mid-request: nothing can be answered.
    Broken,
    /// The request is malformed or too large: answer with this status, then close.
    Reject { status: u16, reason: &'static str },
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Broken
    }
}

fn bad(reason: &'static str) -> ReadError {
    ReadError::Reject { status: 400, reason }
}

fn too_large() -> ReadError {
    ReadError::Reject {
        status: 413,
        reason: "request body too large",
    }
}

impl From<SpoolError> for ReadError {
    fn from(err: SpoolError) -> Self {
        match err {
            SpoolError::Read => ReadError::Broken,
            SpoolError::Write => spool_failed(),
        }
    }
}

fn spool_failed() -> ReadError {
    ReadError::Reject {
        status: 500,
        reason: "failed to spool the request body to disk",
    }
}

/// How the request body is framed.
enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// Reads the next request. `Ok(None)` when the client closed the connection
/// cleanly between requests. `line` is a scratch buffer kept across requests.
/// `spool_dir` is asked, with the request's head, where a body over
/// [`SPOOL_THRESHOLD`] goes; `None` keeps it in memory.
pub(crate) fn read_request<S: Read + Write>(
    reader: &mut BufReader<S>,
    scheme: &'static str,
    line: &mut Vec<u8>,
    spool_dir: &dyn Fn(&Request) -> Option<PathBuf>,
) -> Result<Option<Incoming>, ReadError> {
    let mut budget = MAX_HEAD_BYTES;

    // A client may send empty lines before the request line (RFC 9112 §2.2).
    loop {
        if !read_line(reader, line, &mut budget, 431, "request head too large")? {
            return Ok(None);
        }
        if !line.is_empty() {
            break;
        }
    }
    let (method, path, query, http_10) = parse_request_line(line)?;

    let mut headers = Vec::with_capacity(16);
    loop {
        if !read_line(reader, line, &mut budget, 431, "request head too large")? {
            return Err(ReadError::Broken);
        }
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::Reject {
                status: 431,
                reason: "too many headers",
            });
        }
        headers.push(parse_header(line)?);
    }

    let mut framing = Framing::None;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for (name, value) in &headers {
        match name.as_str() {
            "content-length" => {
                let length = parse_content_length(value)?;
                match framing {
                    Framing::Length(previous) if previous != length => {
                        return Err(bad("conflicting content-length headers"));
                    }
                    Framing::Chunked => {}
                    _ => framing = Framing::Length(length),
                }
            }
            "transfer-encoding" => {
                // The last coding must be `chunked`; the others (say gzip) are the route's business.
                let last = value.rsplit(',').next().unwrap_or("").trim();
                if !last.eq_ignore_ascii_case("chunked") {
                    return Err(bad("unsupported transfer-encoding"));
                }
                framing = Framing::Chunked;
            }
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    close |= token.eq_ignore_ascii_case("close");
                    keep_alive_token |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
            "expect" => expect_continue = value.trim().eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    let keep_alive = !close && (!http_10 || keep_alive_token);

    let has_body = match framing {
        Framing::None => false,
        Framing::Length(n) => n > 0,
        Framing::Chunked => true,
    };
    if expect_continue && !http_10 && has_body {
        let stream = reader.get_mut();
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        stream.flush()?;
    }

    let mut request = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
        body_file: None,
        scheme,
    };
    match framing {
        Framing::None => {}
        Framing::Length(length) if length > SPOOL_THRESHOLD => match spool_dir(&request) {
            Some(dir) => {
                if length > MAX_SPOOLED_BODY_BYTES {
                    return Err(too_large());
                }
                let mut spool = create_spool(&dir)?;
                spool.copy_from(reader, length)?;
                request.body_file = Some(spool.finish().map_err(|_| spool_failed())?);
            }
            None => request.body = read_sized_body(reader, length)?,
        },
        Framing::Length(length) => request.body = read_sized_body(reader, length)?,
        Framing::Chunked => read_chunked_body(reader, line, &mut request, spool_dir)?,
    }
    Ok(Some(Incoming { request, keep_alive }))
}

/// Reads one line into `line` without its `\r\n` (or bare `\n`), charging it to `budget`.
/// `Ok(false)` at end of stream before any byte.
fn read_line<R: BufRead>(
    reader: &mut R,
    line: &mut Vec<u8>,
    budget: &mut u64,
    status: u16,
    reason: &'static str,
) -> Result<bool, ReadError> {
    line.clear();
    let n = reader.by_ref().take(*budget).read_until(b'\n', line)? as u64;
    if n == 0 {
        if *budget == 0 {
            return Err(ReadError::Reject { status, reason });
        }
        return Ok(false);
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        if *budget == 0 {
            return Err(ReadError::Reject { status, reason });
        }
        return Err(ReadError::Broken);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

/// Splits `METHOD SP target SP HTTP/1.x` into method, path, query and whether it is HTTP/1.0.
fn parse_request_line(line: &[u8]) -> Result<(String, String, String, bool), ReadError> {
    let line = std::str::from_utf8(line).map_err(|_| bad("request line is not utf-8"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(bad("malformed method"));
    }
    let http_10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(bad("unsupported http version")),
    };
    if target.is_empty() || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("malformed request target"));
    }
    let origin_form = if target.starts_with('/') || target == "*" {
        target
    } else if let Some((_, rest)) = target.split_once("://") {
        // Absolute form, as sent to proxies: keep the path and query only.
        rest.find('/').map_or("/", |at| &rest[at..])
    } else {
        return Err(bad("malformed request target"));
    };
    let origin_form = origin_form.split_once('#').map_or(origin_form, |(before, _)| before);
    let (path, query) = origin_form.split_once('?').unwrap_or((origin_form, ""));
    Ok((method.to_string(), path.to_string(), query.to_string(), http_10))
}

/// Splits `Name: value` into the lowercased name and the value without surrounding blanks.
fn parse_header(line: &[u8]) -> Result<(String, String), ReadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad("malformed header"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // This also rejects obsolete line folding, whose lines start with a blank.
    if name.is_empty() || !name.iter().copied().all(is_token_byte) {
        return Err(bad("malformed header name"));
    }
    if value.iter().any(|&b| b == b'\r' || b == 0) {
        return Err(bad("malformed header value"));
    }
    let value = value.trim_ascii();
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    Ok((name, String::from_utf8_lossy(value).into_owned()))
}

fn parse_content_length(value: &str) -> Result<u64, ReadError> {
    // A list of equal values is tolerated, as RFC 9110 §8.6 allows.
    let mut length = None;
    for item in value.split(',').map(str::trim) {
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("malformed content-length"));
        }
        let n: u64 = item.parse().map_err(|_| bad("malformed content-length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(bad("conflicting content-length values"));
        }
        length = Some(n);
    }
    length.ok_or_else(|| bad("malformed content-length"))
}

/// Token characters of RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn create_spool(dir: &Path) -> Result<Spool, ReadError> {
    Spool::create(dir).map_err(|_| spool_failed())
}

fn read_sized_body<R: BufRead>(reader: &mut R, length: u64) -> Result<Vec<u8>, ReadError> {
    if length > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(length.min(MAX_BODY_RESERVE) as usize);
    read_exactly(reader, length, &mut body)?;
    Ok(body)
}

/// Appends exactly `n` bytes from `reader` to `out`.
fn read_exactly<R: BufRead>(reader: &mut R, n: u64, out: &mut Vec<u8>) -> Result<(), ReadError> {
    let got = reader.by_ref().take(n).read_to_end(out)? as u64;
    if got != n {
        return Err(ReadError::Broken);
    }
    Ok(())
}

/// Reads a chunked body into `request.body`, moving to a spool file once it
/// outgrows [`SPOOL_THRESHOLD`] when `spool_dir` gives a folder.
fn read_chunked_body<R: BufRead>(
    reader: &mut R,
    line: &mut Vec<u8>,
    request: &mut Request,
    spool_dir: &dyn Fn(&Request) -> Option<PathBuf>,
) -> Result<(), ReadError> {
    let mut body = Vec::new();
    let mut spool: Option<Spool> = None;
    // Asked once, when the body first outgrows memory.
    let mut asked = false;
    loop {
        let mut budget = MAX_CHUNK_LINE;
        if !read_line(reader, line, &mut budget, 400, "chunk size line too long")? {
            return Err(ReadError::Broken);
        }
        let size_end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
        let size = std::str::from_utf8(&line[..size_end])
            .ok()
            .map(str::trim_ascii)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|s| u64::from_str_radix(s, 16).ok())
            .ok_or_else(|| bad("malformed chunk size"))?;
        if size == 0 {
            break;
        }
        let so_far = spool.as_ref().map_or(body.len() as u64, Spool::len);
        if spool.is_none() && !asked && so_far + size > SPOOL_THRESHOLD {
            asked = true;
            if let Some(dir) = spool_dir(request) {
                let mut file = create_spool(&dir)?;
                file.write(&body).map_err(|_| spool_failed())?;
                body = Vec::new();
                spool = Some(file);
            }
        }
        let limit = if spool.is_some() {
            MAX_SPOOLED_BODY_BYTES
        } else {
            MAX_BODY_BYTES
        };
        if so_far + size > limit {
            return Err(too_large());
        }
        match spool.as_mut() {
            Some(file) => file.copy_from(reader, size)?,
            None => read_exactly(reader, size, &mut body)?,
        }
        let mut budget = 2;
        if !read_line(reader, line, &mut budget, 400, "malformed chunk end")? || !line.is_empty() {
            return Err(bad("malformed chunk end"));
        }
    }
    // Trailer fields are read and dropped.
    let mut budget = MAX_HEAD_BYTES;
    loop {
        if !read_line(reader, line, &mut budget, 431, "chunked trailer too large")? {
            return Err(ReadError::Broken);
        }
        if line.is_empty() {
            match spool {
                Some(file) => request.body_file = Some(file.finish().map_err(|_| spool_failed())?),
                None => request.body = body,
            }
            return Ok(());
        }
    }
}
