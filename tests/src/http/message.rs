//! The request and response values that pass between the server and the Hub routes.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use super::spooled_body::SpooledBody;

/// An HTTP request as the routes see it: head parsed, body fully read.
///
/// Bodies are read before routing: into [`body`](Request::body) in memory, or,
/// when larger than [`SPOOL_THRESHOLD`](super::SPOOL_THRESHOLD) and the handler's
/// [`Handler::spool_dir`] gives a folder, into a temp file there
/// ([`body_file`](Request::body_file)), so that large uploads never sit in memory.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, ... as sent.
    pub method: String,
    /// The path, still percent-encoded, without the query string.
    pub path: String,
    /// The raw query string without `?` (empty when absent).
    pub query: String,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked; empty when it was spooled to [`body_file`](Request::body_file).
    pub body: Vec<u8>,
    /// The body, when it was large enough to be spooled to disk instead.
    pub body_file: Option<SpooledBody>,
    /// `http` or `https`: how this request reached the server.
    pub scheme: &'static str,
}

impl Request {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The length of the body, in memory or spooled.
    pub fn body_len(&self) -> u64 {
        self.body_file.as_ref().map_or(self.body.len() as u64, SpooledBody::len)
    }

    /// The `Host` header, or an empty string.
    pub fn host(&self) -> &str {
        self.header("host").unwrap_or("")
    }

    /// Percent-decoded query parameters, in order (repeated keys kept).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect()
    }

    /// The first query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`); invalid escapes stay as they are.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a route answers.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers to send; the server adds `Content-Length`, `Date` and `Connection` itself.
    pub headers: Vec<(String, String)>,
    /// The body. For `HEAD` requests the server sends the headers of this body (its length) but no bytes.
    pub body: Body,
}

/// A response body.
pub enum Body {
    /// No body (`Content-Length: 0`).
    Empty,
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// `len` bytes of a file from `offset`: served with `sendfile` (Linux, plain HTTP)
    /// or copied in large chunks straight onto the socket.
    File {
        /// The open file.
        file: File,
        /// Where to start.
        offset: u64,
        /// How many bytes to send.
        len: u64,
    },
    /// A streamed body of known length (for example `git cat-file` output).
    Reader {
        /// The source.
        reader: Box<dyn Read + Send>,
        /// Its exact length.
        len: u64,
    },
}

impl Body {
    /// The number of bytes this body will send.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } | Body::Reader { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    /// A response with this status and no body.
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: Body::Bytes(value.to_string().into_bytes()),
        }
    }

    /// An error as the Hub sends it: `X-Error-Code` (when given), `X-Error-Message`
    /// and a JSON body `{"error": message}`.
    pub fn hub_error(status: u16, code: Option<&str>, message: &str) -> Self {
        let mut r = Response::json(status, &serde_json::json!({ "error": message }));
        if let Some(code) = code {
            r.headers.push(("X-Error-Code".into(), code.into()));
        }
        r.headers.push(("X-Error-Message".into(), message.into()));
        r
    }

    /// Adds a header, builder style.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// Something that answers requests: the Hub's routes implement it.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request. `base` is the origin the request was addressed to,
    /// as `http://127.0.0.1:PORT` (from the listener, not from the `Host` header).
    fn handle(&self, request: &Request, base: &str) -> Response;

    /// Where the body of this request (its head given, its body still empty) is
    /// spooled when it is larger than [`SPOOL_THRESHOLD`](super::SPOOL_THRESHOLD);
    /// `None` reads it into memory. By default `PUT` bodies, the uploads, go to the
    /// system's temp folder; a handler that moves them into its own storage should
    /// name a folder on that file system, so the move is a rename.
    fn spool_dir(&self, head: &Request) -> Option<PathBuf> {
        (head.method == "PUT").then(std::env::temp_dir)
    }
}
