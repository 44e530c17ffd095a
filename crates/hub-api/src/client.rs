//! [`HubClient`]: the one HTTP client every request goes through.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hub_url::{Endpoint, HubConfig, Origin, ProxySettings, Token, Url, parse_http_url, redact_tokens, url_for_log};

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector};

use crate::call_settings::CallSettings;
use crate::error::{Error, Result};
use crate::error_response::{ErrorResponse, parse_retry_after};
use crate::redirect::{MAX_REDIRECTS, RedirectPolicy, is_redirect, join_http, same_origin};
use crate::request::{HubRequest, HubResponse, Method};
use crate::request_body::RequestBody;
use crate::retry::{RetryPolicy, is_retryable_status, is_retryable_transport};
use crate::tcp_transport::TcpConnector;
use crate::tls_transport::TlsConnector;
use crate::token_file::resolve_token;
use crate::user_agent::user_agent;

/// Idle connections kept for reuse: more than a download ever has open at once.
const IDLE_CONNECTIONS: usize = 64;

/// What a connection writes a request through, its head and then its body a
/// piece at a time (over HTTPS, the plaintext and the records each have one).
/// Every connection zeroes its own, and a snapshot holds up to 20 at once:
/// ureq's default of 128 KiB put 5 MB of a TLS model-repo download's peak RSS
/// here, while uploads of 1 GiB cost the same CPU through 32 KiB pieces.
const OUTPUT_BUFFER: usize = 32 * 1024;

/// The Hub client: one connection pool, the token, the user agent, retries,
/// the redirect policy and error mapping, for every request.
///
/// Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct HubClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    agent: ureq::Agent,
    endpoint: Endpoint,
    /// The only origin the token (and a call's own `Authorization`) goes to.
    endpoint_origin: Origin,
    token: Option<Token>,
    /// What the user agent is made of, for calls that change a part of it.
    user_agent_parts: UserAgentParts,
    user_agent: String,
    /// Headers added to every request (from [`CallSettings`]).
    headers: Vec<(String, String)>,
    etag_timeout: Option<Duration>,
    retry: RetryPolicy,
}

#[derive(Debug, Clone)]
struct UserAgentParts {
    library_name: Option<String>,
    library_version: Option<String>,
    extra: Vec<(String, String)>,
    telemetry_disabled: bool,
}

impl UserAgentParts {
    fn render(&self) -> String {
        user_agent(
            self.library_name.as_deref(),
            self.library_version.as_deref(),
            &self.extra,
            self.telemetry_disabled,
        )
    }
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("endpoint", &self.inner.endpoint)
            .field("token", &self.inner.token)
            .field("user_agent", &self.inner.user_agent)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HubClient`]; every setting has the Python client's default.
#[derive(Debug, Clone)]
pub struct HubClientBuilder {
    endpoint: Endpoint,
    token: Option<Token>,
    library_name: Option<String>,
    library_version: Option<String>,
    user_agent_extra: Vec<(String, String)>,
    telemetry_disabled: bool,
    connect_timeout: Duration,
    read_timeout: Duration,
    retry: RetryPolicy,
    ca_bundle: Option<PathBuf>,
    proxy: ProxySettings,
}

impl Default for HubClientBuilder {
    fn default() -> Self {
        HubClientBuilder {
            endpoint: Endpoint::default(),
            token: None,
            library_name: None,
            library_version: None,
            user_agent_extra: Vec::new(),
            telemetry_disabled: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            ca_bundle: None,
            proxy: ProxySettings::default(),
        }
    }
}

impl HubClientBuilder {
    /// Everything the configuration says: endpoint, token (`HF_TOKEN`, else the
    /// token file), timeouts, CA bundle and proxies.
    pub fn from_config(config: &HubConfig) -> Result<Self> {
        Ok(HubClientBuilder {
            endpoint: config.endpoint.clone(),
            token: resolve_token(config)?,
            telemetry_disabled: config.disable_telemetry,
            connect_timeout: config.etag_timeout.max(Duration::from_secs(1)),
            read_timeout: config.download_timeout,
            ca_bundle: config.ca_bundle.clone(),
            proxy: config.proxy.clone(),
            ..Default::default()
        })
    }

    /// The Hub to talk to.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The token sent to the endpoint (and only to it).
    pub fn token(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    /// The library named first in the user agent (`candle/0.9`).
    pub fn library(mut self, name: &str, version: &str) -> Self {
        self.library_name = Some(name.to_string());
        self.library_version = Some(version.to_string());
        self
    }

    /// Appends `; key/value` to the user agent.
    pub fn user_agent_part(mut self, key: &str, value: &str) -> Self {
        self.user_agent_extra.push((key.to_string(), value.to_string()));
        self
    }

    /// How long to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one read may wait for data.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Trust exactly the certificates of this PEM bundle instead of the platform's.
    pub fn ca_bundle(mut self, path: Option<PathBuf>) -> Self {
        self.ca_bundle = path;
        self
    }

    /// The proxies to use.
    pub fn proxy(mut self, proxy: ProxySettings) -> Self {
        self.proxy = proxy;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<HubClient> {
        let user_agent_parts = UserAgentParts {
            library_name: self.library_name,
            library_version: self.library_version,
            extra: self.user_agent_extra,
            telemetry_disabled: self.telemetry_disabled,
        };
        let user_agent = user_agent_parts.render();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(user_agent.as_str())
            .timeout_connect(Some(self.connect_timeout))
            .timeout_per_read(Some(self.read_timeout))
            .proxy(crate::proxy::proxy_for(&self.proxy, &self.endpoint)?)
            // Parallel transfers hold many connections to one host (the API and its CDN):
            // all of them go back to the pool, instead of being closed and opened again.
            .max_idle_connections(IDLE_CONNECTIONS)
            .max_idle_connections_per_host(IDLE_CONNECTIONS)
            .output_buffer_size(OUTPUT_BUFFER)
            .build();
        // A CONNECT proxy's tunnel (ureq's), else a TCP connection
        // (`tcp_transport`), then TLS over either (`tls_transport`).
        let connector = ()
            .chain(ConnectProxyConnector::default())
            .chain(TcpConnector)
            .chain(TlsConnector::new(crate::tls::tls_config(self.ca_bundle.as_deref())?));
        let endpoint_origin = self.endpoint.origin().clone();
        Ok(HubClient {
            inner: Arc::new(ClientInner {
                agent: ureq::Agent::with_parts(config, connector, DefaultResolver::default()),
                endpoint: self.endpoint,
                endpoint_origin,
                token: self.token,
                user_agent_parts,
                user_agent,
                headers: Vec::new(),
                etag_timeout: None,
                retry: self.retry,
            }),
        })
    }
}

impl HubClient {
    /// A builder with the defaults.
    pub fn builder() -> HubClientBuilder {
        HubClientBuilder::default()
    }

    /// A client configured from `config` (see [`HubClientBuilder::from_config`]).
    pub fn from_config(config: &HubConfig) -> Result<HubClient> {
        HubClientBuilder::from_config(config)?.build()
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The token, if any.
    pub fn token(&self) -> Option<&Token> {
        self.inner.token.as_ref()
    }

    /// The user agent sent with every request.
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    /// The same client (same pool) with another token.
    pub fn with_token(&self, token: Option<Token>) -> HubClient {
        self.derive(|inner| inner.token = token)
    }

    /// The same client (same pool) with no credential at all: no token and no call's own
    /// `Authorization`, for requests that carry another service's credential (the Xet
    /// CAS's bearer token), even to the endpoint's origin.
    pub fn without_credentials(&self) -> HubClient {
        self.derive(|inner| {
            inner.token = None;
            inner
                .headers
                .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        })
    }

    /// The same client (same pool) with one call's settings: its token,
    /// headers, user agent parts and metadata timeout.
    pub fn for_call(&self, call: &CallSettings) -> HubClient {
        if call.is_empty() {
            return self.clone();
        }
        self.derive(|inner| {
            if let Some(token) = &call.token {
                inner.token = Some(token.clone());
            }
            inner.headers.extend(call.headers.iter().cloned());
            let parts = &mut inner.user_agent_parts;
            if call.library_name.is_some() {
                parts.library_name.clone_from(&call.library_name);
                parts.library_version.clone_from(&call.library_version);
            }
            parts.extra.extend(call.user_agent.iter().cloned());
            inner.user_agent = parts.render();
            if call.etag_timeout.is_some() {
                inner.etag_timeout = call.etag_timeout;
            }
        })
    }

    /// How long a file's metadata request may take in all, if limited.
    pub fn etag_timeout(&self) -> Option<Duration> {
        self.inner.etag_timeout
    }

    fn derive(&self, change: impl FnOnce(&mut ClientInner)) -> HubClient {
        let current = &self.inner;
        let mut inner = ClientInner {
            agent: current.agent.clone(),
            endpoint: current.endpoint.clone(),
            endpoint_origin: current.endpoint_origin.clone(),
            token: current.token.clone(),
            user_agent_parts: current.user_agent_parts.clone(),
            user_agent: current.user_agent.clone(),
            headers: current.headers.clone(),
            etag_timeout: current.etag_timeout,
            retry: current.retry,
        };
        change(&mut inner);
        HubClient { inner: Arc::new(inner) }
    }

    /// Sends a request: follows redirects by the request's policy (the token
    /// goes only to the endpoint's origin), retries transient failures of
    /// idempotent requests, and turns error statuses into typed errors.
    pub fn send(&self, request: &HubRequest<'_>) -> Result<HubResponse> {
        // Parsed once: the URL the token decision is made about is the URL sent.
        let mut url = parse_http_url(&request.url)?;
        let mut method = request.method;
        let mut body = request.body.as_ref();
        let mut redirects = 0;
        let mut attempt = 0;
        loop {
            let sent_token = self.authorizes(&url);
            let response = match self.send_once(method, &url, request, body, sent_token) {
                Ok(response) => response,
                Err(error) => {
                    let retry = request.is_retryable() && is_retryable_transport(&error);
                    if let Some(wait) = retry.then(|| self.inner.retry.delay(attempt, None)).flatten() {
                        log::debug!(
                            "{} {} failed ({}); retrying in {wait:?} (retry {})",
                            method.as_str(),
                            url_for_log(url.as_str()),
                            redact_tokens(&error.to_string(), self.inner.token.as_slice()),
                            attempt + 1
                        );
                        std::thread::sleep(wait);
                        attempt += 1;
                        continue;
                    }
                    return Err(Error::Transport {
                        url: url.into(),
                        source: Box::new(error),
                    });
                }
            };
            let status = response.status().as_u16();
            if is_redirect(status) {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| join_http(&url, l));
                let Some(next) = location else {
                    return Err(Error::Redirect {
                        url: request.url.clone(),
                    });
                };
                if request.redirects == RedirectPolicy::SameOriginOnly && !same_origin(&next, &url) {
                    return Ok(HubResponse::new(url.into(), response));
                }
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Error::Redirect {
                        url: request.url.clone(),
                    });
                }
                // Reading the (small) redirect body lets the connection be reused.
                HubResponse::new(url.to_string(), response).discard();
                if status == 303 || (matches!(status, 301 | 302) && method == Method::Post) {
                    method = Method::Get;
                    body = None;
                }
                log::debug!(
                    "{status} redirect from {} to {}",
                    url_for_log(url.as_str()),
                    url_for_log(next.as_str())
                );
                url = next;
                continue;
            }
            if status >= 400 {
                if request.is_retryable() && is_retryable_status(status) {
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    if let Some(wait) = self.inner.retry.delay(attempt, retry_after) {
                        log::debug!(
                            "{} {} answered {status}; retrying in {wait:?} (retry {})",
                            method.as_str(),
                            url_for_log(url.as_str()),
                            attempt + 1
                        );
                        HubResponse::new(url.to_string(), response).discard();
                        std::thread::sleep(wait);
                        attempt += 1;
                        continue;
                    }
                }
                let held: &[Token] = self.inner.token.as_slice();
                let error = ErrorResponse::read(url.as_str(), response, held);
                return Err(error.into_error(&request.target, self.inner.endpoint.as_str(), sent_token));
            }
            return Ok(HubResponse::new(url.into(), response));
        }
    }

    /// Whether the token goes with a request to this URL: only to the endpoint's own origin.
    fn authorizes(&self, url: &Url) -> bool {
        self.credentials_go_to(url) && (self.inner.token.is_some() || self.has_own_authorization())
    }

    /// Whether credentials (the token, a call's own `Authorization`) may go to this URL.
    fn credentials_go_to(&self, url: &Url) -> bool {
        self.inner.endpoint_origin.credentials_go_to(url)
    }

    /// Whether the call's headers carry their own `Authorization`.
    fn has_own_authorization(&self) -> bool {
        self.inner
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
    }

    fn send_once(
        &self,
        method: Method,
        url: &Url,
        request: &HubRequest<'_>,
        body: Option<&RequestBody<'_>>,
        with_token: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(url.as_str())
            .header("user-agent", self.inner.user_agent.as_str());
        let to_endpoint = self.credentials_go_to(url);
        for (name, value) in &self.inner.headers {
            // Credentials of the call's own go where the token would, and nowhere else.
            if to_endpoint || !name.eq_ignore_ascii_case("authorization") {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if method == Method::Head {
            builder = builder.header("accept-encoding", "identity");
        }
        let token = self
            .inner
            .token
            .as_ref()
            .filter(|_| with_token && !self.has_own_authorization());
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {}", token.expose()));
        }
        match body {
            None => self.run(builder.body(())?, request),
            Some(RequestBody::Bytes(bytes)) => self.run(builder.body(bytes.as_slice())?, request),
            Some(file_body @ RequestBody::File { .. }) => {
                let reader = file_body.open_file().map_err(ureq::Error::Io)?;
                let builder = builder.header("content-length", file_body.len());
                match reader {
                    Some(mut reader) => self.run(builder.body(ureq::SendBody::from_reader(&mut reader))?, request),
                    None => self.run(builder.body(())?, request),
                }
            }
        }
    }

    /// Runs one request on the pool, with the time limits `settings` gives: a
    /// limit in all, and a longer wait for the answer than the client's read timeout.
    fn run<S: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<S>,
        settings: &HubRequest<'_>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        if settings.timeout.is_none() && settings.answer_timeout.is_none() {
            return self.inner.agent.run(request);
        }
        let mut config = self.inner.agent.configure_request(request);
        if let Some(timeout) = settings.timeout {
            config = config.timeout_global(Some(timeout));
        }
        if let Some(wait) = settings.answer_timeout {
            config = config.timeout_recv_response(Some(wait)).timeout_per_read(Some(wait));
        }
        self.inner.agent.run(config.build())
    }
}
