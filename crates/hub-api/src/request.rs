//! A request to send through [`HubClient::send`](crate::HubClient::send), and its response.

use std::io::{BufReader, Read};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::json_array::{JSON_BUFFER, JsonArray};
use crate::redirect::RedirectPolicy;
use crate::request_body::RequestBody;
use crate::target::RequestTarget;

/// The HTTP methods the Hub API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Whether sending it twice does no harm: everything but `POST`.
    pub fn is_idempotent(self) -> bool {
        self != Method::Post
    }
}

/// One request: method, URL, headers, an optional body, and what it is about.
#[derive(Debug, Clone)]
pub struct HubRequest<'a> {
    /// The method.
    pub method: Method,
    /// The full URL (already percent-encoded).
    pub url: String,
    /// Extra headers; the client adds `User-Agent` and, for the endpoint's own origin, `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The body, sent again as it is on a retry.
    pub body: Option<RequestBody<'a>>,
    /// What the request is about, named in errors.
    pub target: RequestTarget,
    /// Which redirects to follow.
    pub redirects: RedirectPolicy,
    /// Retry even though the method is `POST` (for read-only POSTs such as a preupload check).
    pub retry_post: bool,
    /// How long the whole exchange may take (each try), beyond the client's
    /// connect and read timeouts.
    pub timeout: Option<Duration>,
    /// How long the server may work before it answers, instead of the client's
    /// read timeout: for requests it finishes a long job for (a multipart
    /// completion assembles the whole object).
    pub answer_timeout: Option<Duration>,
}

impl<'a> HubRequest<'a> {
    /// A request with no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HubRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            target: RequestTarget::default(),
            redirects: RedirectPolicy::Follow,
            retry_post: false,
            timeout: None,
            answer_timeout: None,
        }
    }

    /// Limits how long the whole exchange may take (each try).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets the server take up to `wait` before it answers (each try), however
    /// short the client's read timeout.
    pub fn answer_timeout(mut self, wait: Duration) -> Self {
        self.answer_timeout = Some(wait);
        self
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `HEAD`.
    pub fn head(url: impl Into<String>) -> Self {
        Self::new(Method::Head, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json_body(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(RequestBody::Bytes(value.to_string().into_bytes()));
        self.header("content-type", "application/json")
    }

    /// Sets the body.
    pub fn body(mut self, body: RequestBody<'a>) -> Self {
        self.body = Some(body);
        self
    }

    /// Allows retries although the method is `POST` (for POSTs that are safe to repeat).
    pub fn retry_post(mut self) -> Self {
        self.retry_post = true;
        self
    }

    /// Sets what the request is about.
    pub fn target(mut self, target: RequestTarget) -> Self {
        self.target = target;
        self
    }

    /// Sets the redirect policy.
    pub fn redirects(mut self, policy: RedirectPolicy) -> Self {
        self.redirects = policy;
        self
    }

    /// Whether this request may be sent again after a transient failure.
    pub(crate) fn is_retryable(&self) -> bool {
        self.method.is_idempotent() || self.retry_post
    }
}

/// A successful (or, with [`RedirectPolicy::SameOriginOnly`], redirecting) response.
#[derive(Debug)]
pub struct HubResponse {
    url: String,
    inner: ureq::http::Response<ureq::Body>,
}

/// The most of an unwanted body read to keep its connection.
const DISCARD_LIMIT: u64 = 1024 * 1024;

/// The largest body read from one response into memory or through the JSON
/// parser: far more than any answer of the Hub, so that only a broken or
/// hostile server reaches it.
pub(crate) const BODY_LIMIT: u64 = 256 * 1024 * 1024;

impl HubResponse {
    pub(crate) fn new(url: String, inner: ureq::http::Response<ureq::Body>) -> Self {
        HubResponse { url, inner }
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// A header's value, when present and readable as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a stream: memory does not grow with its size.
    pub fn into_reader(self) -> impl Read + Send + 'static {
        self.inner.into_body().into_reader()
    }

    /// Reads the whole body; one larger than 256 MiB is refused, not cut.
    pub fn bytes(self) -> Result<Vec<u8>> {
        let url = self.url.clone();
        let mut out = Vec::new();
        self.limited_reader(BODY_LIMIT)
            .read_to_end(&mut out)
            .map_err(|source| body_error(url, source, BODY_LIMIT, "response"))?;
        Ok(out)
    }

    /// Reads and drops what is left of the body, so that the connection goes
    /// back to the pool instead of being closed (bounded: a huge body is cut).
    pub fn discard(self) {
        let _ = std::io::copy(&mut self.into_reader().take(DISCARD_LIMIT), &mut std::io::sink());
    }

    /// Reads the body as JSON, parsed as it arrives (its text is never held
    /// whole); one larger than 256 MiB is refused.
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        let url = self.url.clone();
        let reader = BufReader::with_capacity(JSON_BUFFER, self.limited_reader(BODY_LIMIT));
        let mut parser = serde_json::Deserializer::from_reader(reader);
        // `end` reads to the end of the body: trailing garbage is an error, and
        // the connection goes back to the pool.
        let parsed = T::deserialize(&mut parser).and_then(|value| parser.end().map(|()| value));
        parsed.map_err(|error| json_error(url, error, BODY_LIMIT, "response"))
    }

    /// The elements of the JSON array in the body, each parsed as it arrives:
    /// memory holds one element, not the body. Past `limit` bytes the body is
    /// refused, and errors name it as `what` ("listing page").
    pub(crate) fn json_array<T: DeserializeOwned>(self, limit: u64, what: &'static str) -> JsonArray<T> {
        let url = self.url.clone();
        JsonArray::new(url, Box::new(self.limited_reader(limit)), limit, what)
    }

    /// The body, failing past `limit` bytes rather than ending there: a cut
    /// body must not pass for a whole one ("EOF while parsing").
    fn limited_reader(self, limit: u64) -> impl Read + Send + 'static {
        self.inner.into_body().into_with_config().limit(limit).reader()
    }
}

/// The error of a body that is no JSON of the expected shape, or could not be read.
pub(crate) fn json_error(url: String, error: serde_json::Error, limit: u64, what: &str) -> Error {
    if error.is_io() {
        return body_error(url, error.into(), limit, what);
    }
    Error::InvalidResponse {
        url,
        reason: format!("invalid JSON in the {what}: {error}"),
    }
}

/// The error of a body that could not be read: too large, or a broken transfer.
pub(crate) fn body_error(url: String, source: std::io::Error, limit: u64, what: &str) -> Error {
    let too_large = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
        .is_some_and(|inner| matches!(inner, ureq::Error::BodyExceedsLimit(_)));
    if too_large {
        return Error::InvalidResponse {
            url,
            reason: format!("the {what} is larger than {limit} bytes, the most this client reads"),
        };
    }
    Error::Body { url, source }
}
