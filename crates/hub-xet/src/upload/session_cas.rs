//! [`SessionCas`]: the CAS calls of an upload session, with each xorb streamed from the file
//! it was built in, so that a 64 MiB xorb never sits in memory while it is sent.

use std::path::Path;
use std::sync::Arc;

use hub_api::{HubClient, HubRequest, HubResponse, Method, RedirectPolicy, RequestBody};

use super::CasUpload;
use crate::Error;
use crate::client::cas::CasClient;
use crate::client::token::{XetToken, XetTokenSource};
use crate::hash::XetHash;

/// A [`CasClient`] for dedupe queries and shards, and a xorb upload whose body is read from
/// disk as it is sent (and read again on a retry). The Xet token is the only credential,
/// sent to the CAS's origin only, and a 401 asks for a new one once, as [`CasClient`] does.
#[derive(Clone, Debug)]
pub(crate) struct SessionCas {
    cas: CasClient,
    /// The Hub client without its credentials.
    http: HubClient,
    tokens: Arc<XetTokenSource>,
}

impl SessionCas {
    /// The calls on `client`'s pool, with tokens from `tokens`.
    pub(crate) fn new(client: &HubClient, tokens: Arc<XetTokenSource>) -> Self {
        Self {
            cas: CasClient::new(client, Arc::clone(&tokens)),
            http: client.without_credentials(),
            tokens,
        }
    }

    // The rules of `CasClient`'s own sending, whose xorb upload takes the bytes in memory.
    fn send(&self, request: &HubRequest<'_>) -> Result<HubResponse, Error> {
        let token = self.tokens.token()?;
        match self.send_with(request, &token) {
            Err(error) if matches!(error, hub_api::Error::Unauthorized { .. }) || error.status() == Some(401) => {
                log::debug!("the CAS refused the Xet token, asking for a new one");
                let token = self.tokens.refresh(&token)?;
                self.send_with(request, &token).map_err(Error::hub("upload a xorb"))
            }
            result => result.map_err(Error::hub("upload a xorb")),
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

impl CasUpload for SessionCas {
    fn query_dedupe(&self, chunk_hash: &XetHash) -> Result<Option<Vec<u8>>, Error> {
        self.cas.query_dedupe(chunk_hash)
    }

    fn upload_xorb(&self, hash: &XetHash, xorb: &Path, len: u64) -> Result<(), Error> {
        let request = HubRequest::new(Method::Post, format!("{{cas}}/v1/xorbs/default/{hash}"))
            .header("content-type", "application/octet-stream")
            .body(RequestBody::File {
                path: xorb.to_path_buf(),
                offset: 0,
                len,
                on_sent: None,
            })
            // The same xorb sent twice is stored once.
            .retry_post();
        self.send(&request)?.discard();
        Ok(())
    }

    fn upload_shard(&self, shard: Vec<u8>) -> Result<(), Error> {
        self.cas.upload_shard(shard)
    }
}
