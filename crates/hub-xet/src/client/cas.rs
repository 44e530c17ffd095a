//! [`CasClient`]: the calls of the Xet CAS, on the one `HubClient`'s connection pool, with
//! the short-lived Xet token as the only credential.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hub_api::{HubClient, HubRequest, HubResponse, Method, RedirectPolicy, RequestBody};
use serde::Deserialize;

use super::multipart::RangeParts;
use super::token::{XetToken, XetTokenSource};
use crate::Error;
use crate::hash::XetHash;
use crate::reconstruction::{
    HttpRange, QueryReconstructionResponse, QueryReconstructionResponseV1, XorbMultiRangeFetch, XorbRangeDescriptor,
};

/// The prefix xorbs are stored under.
const XORB_PREFIX: &str = "default";

/// A client of the Xet CAS for one repo and scope.
///
/// Every call carries `Authorization: Bearer {xet token}` and nothing else: the Hub token
/// is never sent, whatever origin the CAS is on, and the presigned xorb URLs get no
/// credential at all. A `401` asks for a new token once and sends again. Retries of
/// transient failures, timeouts and the error mapping are `HubClient::send`'s.
///
/// Cheap to clone; clones share the token and the connection pool.
#[derive(Clone, Debug)]
pub struct CasClient {
    /// The Hub client without its credentials.
    http: HubClient,
    tokens: Arc<XetTokenSource>,
    /// Set once the CAS answered 404 to a v2 reconstruction: v1 from then on.
    v1_only: Arc<AtomicBool>,
}

/// What the CAS answered to a xorb upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct UploadXorbOutcome {
    /// `false` when the CAS held the xorb already (not an error).
    pub was_inserted: bool,
}

impl CasClient {
    /// A client on `client`'s pool, with tokens from `tokens`.
    pub fn new(client: &HubClient, tokens: Arc<XetTokenSource>) -> Self {
        CasClient {
            http: client.without_credentials(),
            tokens,
            v1_only: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Where the tokens come from.
    pub fn tokens(&self) -> &XetTokenSource {
        &self.tokens
    }

    /// A file's reconstruction: its terms and where their xorb bytes are, for the whole file
    /// or the bytes of `range` (inclusive end). Asks `GET /v2/reconstructions/{hash}` and,
    /// when the CAS does not serve it (404 or 501), the older `/v1/…`, whose answer comes
    /// back in the v2 shape (one fetch a range). `None` when the file does not exist.
    pub fn reconstruction(
        &self,
        file_hash: &XetHash,
        range: Option<HttpRange>,
    ) -> Result<Option<QueryReconstructionResponse>, Error> {
        let request = |version: &str| {
            let mut request = HubRequest::get(format!("{{cas}}/{version}/reconstructions/{file_hash}"));
            if let Some(range) = range {
                request = request.header("range", range.header_value());
            }
            request
        };
        if !self.v1_only.load(Ordering::Relaxed) {
            match self.send(request("v2")) {
                Ok(response) => {
                    let json = response.bytes().map_err(Error::hub("read a reconstruction"))?;
                    return QueryReconstructionResponse::from_json(&json).map(Some);
                }
                Err(Error::Hub {
                    status: Some(404 | 501),
                    ..
                }) => {
                    log::debug!("the CAS has no v2 reconstructions, asking v1");
                    self.v1_only.store(true, Ordering::Relaxed);
                }
                Err(error) => return Err(error),
            }
        }
        match self.send(request("v1")) {
            Ok(response) => {
                let json = response.bytes().map_err(Error::hub("read a reconstruction"))?;
                QueryReconstructionResponseV1::from_json(&json).map(|v1| Some(v1.into()))
            }
            Err(Error::Hub { status: Some(404), .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Uploads a serialized xorb (`POST /v1/xorbs/default/{hash}`); needs a write token.
    pub fn upload_xorb(&self, hash: &XetHash, bytes: Vec<u8>) -> Result<UploadXorbOutcome, Error> {
        self.post_xorb(hash, RequestBody::Bytes(bytes))
    }

    /// Uploads a serialized xorb from the first `len` bytes of the file at `path`, read as
    /// it is sent (and again on a retry): a 64 MiB xorb never sits in memory.
    pub fn upload_xorb_file(&self, hash: &XetHash, path: &Path, len: u64) -> Result<UploadXorbOutcome, Error> {
        let body = RequestBody::File {
            path: path.to_path_buf(),
            offset: 0,
            len,
            on_sent: None,
        };
        self.post_xorb(hash, body)
    }

    fn post_xorb(&self, hash: &XetHash, body: RequestBody) -> Result<UploadXorbOutcome, Error> {
        let request = HubRequest::new(Method::Post, format!("{{cas}}/v1/xorbs/{XORB_PREFIX}/{hash}"))
            .header("content-type", "application/octet-stream")
            .body(body)
            // The same xorb sent twice is stored once.
            .retry_post();
        let response = self.send(request)?;
        response.json().map_err(Error::hub("read the xorb upload's answer"))
    }

    /// Uploads a shard (`POST /v1/shards`): registers its files and xorbs; needs a write token.
    pub fn upload_shard(&self, bytes: Vec<u8>) -> Result<(), Error> {
        let request = HubRequest::new(Method::Post, "{cas}/v1/shards")
            .header("content-type", "application/octet-stream")
            .body(RequestBody::Bytes(bytes))
            .retry_post();
        self.send(request)?.discard();
        Ok(())
    }

    /// The global dedupe query (`GET /v1/chunks/default/{hash}`, the prefix `hf_xet` 1.8
    /// sends and xet-core's own server takes; the specification 1.1.0 names `default-merkledb`): the
    /// shard bytes that describe a xorb holding the chunk, or `None` when the CAS tracks none.
    pub fn query_dedupe(&self, chunk_hash: &XetHash) -> Result<Option<Vec<u8>>, Error> {
        match self.send(HubRequest::get(format!("{{cas}}/v1/chunks/{XORB_PREFIX}/{chunk_hash}"))) {
            Ok(response) => response.bytes().map(Some).map_err(Error::hub("read a dedupe answer")),
            Err(Error::Hub { status: Some(404), .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Fetches some ranges of one presigned xorb URL in one request (`multipart/byteranges`
    /// when there are several) and hands each range's bytes to `each`, in order, as a
    /// reader that ends with the range. No credential goes with it: the URL is signed.
    pub fn fetch_ranges(
        &self,
        fetch: &XorbMultiRangeFetch,
        ranges: &[&XorbRangeDescriptor],
        each: &mut dyn FnMut(&XorbRangeDescriptor, &mut dyn Read) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if ranges.is_empty() {
            return Ok(());
        }
        let header = ranges
            .iter()
            .map(|r| format!("{}-{}", r.bytes.start, r.bytes.end))
            .collect::<Vec<_>>()
            .join(",");
        let request = HubRequest::get(&fetch.url)
            .header("range", format!("bytes={header}"))
            .redirects(RedirectPolicy::Follow);
        let response = self.http.send(&request).map_err(Error::hub("fetch xorb bytes"))?;
        let url = hub_url::url_for_log(response.url());
        if response.status() != 206 {
            return Err(Error::CasResponse {
                url,
                reason: format!("expected 206 Partial Content, got {}", response.status()),
            });
        }
        let content_type = response.header("content-type").unwrap_or_default().to_string();
        let content_range = response.header("content-range").map(str::to_string);
        if ranges.len() == 1 && !content_type.to_ascii_lowercase().starts_with("multipart/byteranges") {
            let range = ranges[0];
            let starts_right = content_range
                .as_deref()
                .and_then(super::multipart::parse_content_range)
                .is_some_and(|r| r == range.bytes);
            if !starts_right {
                return Err(Error::CasResponse {
                    url,
                    reason: format!("the answer's Content-Range is not {}", range.bytes.header_value()),
                });
            }
            let mut body = response.into_reader();
            each(range, &mut (&mut body).take(range.bytes.len()))?;
            drain(body);
            return Ok(());
        }
        let mut parts =
            RangeParts::new(&content_type, response.into_reader()).map_err(|reason| Error::CasResponse {
                url: url.clone(),
                reason,
            })?;
        for &range in ranges {
            let mut part = parts.next_part(range.bytes).map_err(|reason| Error::CasResponse {
                url: url.clone(),
                reason,
            })?;
            each(range, &mut part)?;
            // What the caller left of the part is skipped, within its announced length.
            std::io::copy(&mut part, &mut std::io::sink()).map_err(|source| Error::Read { source })?;
        }
        if let Some(rest) = parts.into_rest() {
            drain(rest);
        }
        Ok(())
    }

    /// Sends a CAS call: `{cas}` in the URL becomes the token's CAS URL, the token goes as
    /// `Authorization: Bearer`, and a 401 gets one new token and one more try.
    fn send(&self, request: HubRequest<'_>) -> Result<HubResponse, Error> {
        let token = self.tokens.token()?;
        match self.send_with(&request, &token) {
            Err(error) if is_unauthorized(&error) => {
                log::debug!("the CAS refused the Xet token, asking for a new one");
                let token = self.tokens.refresh(&token)?;
                self.send_with(&request, &token).map_err(Error::hub("call the Xet CAS"))
            }
            result => result.map_err(Error::hub("call the Xet CAS")),
        }
    }

    fn send_with(&self, request: &HubRequest<'_>, token: &XetToken) -> hub_api::Result<HubResponse> {
        let mut request = request.clone();
        request.url = request.url.replacen("{cas}", token.cas_url(), 1);
        // The bearer goes to the CAS's origin only: a redirect elsewhere is not followed.
        request.redirects = RedirectPolicy::SameOriginOnly;
        let request = request.header("authorization", format!("Bearer {}", token.access_token().expose()));
        let response = self.http.send(&request)?;
        if (300..400).contains(&response.status()) {
            let url = response.url().to_string();
            response.discard();
            return Err(hub_api::Error::InvalidResponse {
                url: hub_url::url_for_log(&url),
                reason: "the Xet CAS redirected to another origin".into(),
            });
        }
        Ok(response)
    }
}

/// Whether the CAS refused the token.
fn is_unauthorized(error: &hub_api::Error) -> bool {
    matches!(error, hub_api::Error::Unauthorized { .. }) || error.status() == Some(401)
}

impl From<QueryReconstructionResponseV1> for QueryReconstructionResponse {
    fn from(v1: QueryReconstructionResponseV1) -> Self {
        let xorbs = v1
            .fetch_info
            .into_iter()
            .map(|(xorb, fetches)| {
                let fetches = fetches
                    .into_iter()
                    .map(|info| XorbMultiRangeFetch {
                        url: info.url,
                        ranges: vec![XorbRangeDescriptor {
                            chunks: info.range,
                            bytes: info.url_range,
                        }],
                    })
                    .collect();
                (xorb, fetches)
            })
            .collect();
        QueryReconstructionResponse {
            offset_into_first_range: v1.offset_into_first_range,
            terms: v1.terms,
            xorbs,
        }
    }
}

/// Reads what is left of a body whose bytes are used (the end of the last part, the end of
/// the body), so that its connection goes back to the pool instead of being closed; at
/// most [`DRAIN_LIMIT`] bytes, past which the connection is not worth keeping.
fn drain(body: impl Read) {
    let _ = std::io::copy(&mut body.take(DRAIN_LIMIT), &mut std::io::sink());
}

/// The most bytes read after the last range of an answer to keep its connection.
const DRAIN_LIMIT: u64 = 64 * 1024;
