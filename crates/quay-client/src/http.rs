//! Shared HTTP plumbing: client construction, URL building, retries and bounded body reads.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, Response};
use url::Url;

use crate::error::{Api, QuayError};

/// Default connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout for API calls (not for blob transfers, which use the read timeout).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default idle read timeout for streamed transfers.
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap for buffered response bodies (JSON, manifests, App Registry blobs).
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Error bodies are read up to this size; the rest is dropped.
pub(crate) const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;
/// Default number of retries for idempotent calls.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;

/// Connection options shared by every client of this crate.
#[derive(Debug, Clone)]
pub(crate) struct HttpOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub read_timeout: Duration,
    pub ca_bundle_pem: Option<Vec<u8>>,
    pub accept_invalid_certs: bool,
    pub user_agent: String,
    pub max_retries: u32,
    pub retry_base_delay: Duration,
    pub max_response_bytes: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            ca_bundle_pem: None,
            accept_invalid_certs: false,
            user_agent: concat!("quay-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_retries: DEFAULT_MAX_RETRIES,
            retry_base_delay: Duration::from_millis(200),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Generates the connection setters shared by every builder of the crate.
macro_rules! common_builder_methods {
    () => {
        /// Connect timeout (default 10 s).
        #[must_use]
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.connect_timeout = timeout;
            self
        }

        /// Total timeout of one API call (default 60 s). Streamed blob transfers use
        /// [`Self::read_timeout`] instead, so large layers are not cut off.
        #[must_use]
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.timeout = timeout;
            self
        }

        /// Idle timeout between two reads of a response body (default 60 s).
        #[must_use]
        pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.read_timeout = timeout;
            self
        }

        /// Extra trusted CA certificates, as a PEM bundle (one or more certificates).
        #[must_use]
        pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
            self.options.ca_bundle_pem = Some(pem.into());
            self
        }

        /// Turns TLS certificate verification off for this client. Dangerous: only for test
        /// registries. Logged at WARN when the client is built.
        #[must_use]
        pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
            self.options.accept_invalid_certs = accept;
            self
        }

        /// `User-Agent` header value (default `quay-client/<version>`).
        #[must_use]
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.options.user_agent = user_agent.into();
            self
        }

        /// How many times an idempotent call (GET, HEAD) is retried after a transport error,
        /// timeout, 5xx or 429 (default 2). Calls that change state are never retried.
        #[must_use]
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.options.max_retries = retries;
            self
        }

        /// First back-off delay between retries; doubles each time (default 200 ms).
        #[must_use]
        pub fn retry_base_delay(mut self, delay: std::time::Duration) -> Self {
            self.options.retry_base_delay = delay;
            self
        }

        /// Cap for buffered response bodies (default 16 MiB). Larger answers fail with
        /// [`QuayError::ResponseTooLarge`](crate::QuayError::ResponseTooLarge).
        #[must_use]
        pub fn max_response_bytes(mut self, limit: u64) -> Self {
            self.options.max_response_bytes = limit;
            self
        }
    };
}
pub(crate) use common_builder_methods;

/// A configured HTTP client bound to one base URL and one API family.
#[derive(Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub base: Url,
    pub opts: Arc<HttpOptions>,
    pub api: Api,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base.as_str())
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// Parses and checks a base URL.
pub(crate) fn parse_base_url(base: &str) -> Result<Url, QuayError> {
    let url = Url::parse(base).map_err(|e| QuayError::Config(format!("invalid base URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(QuayError::Config(format!(
            "base URL must be http or https, got {}",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials in URLs end up in logs; they belong in the builder's secret setters.
        return Err(QuayError::Config(
            "base URL must not contain credentials".to_owned(),
        ));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(QuayError::Config("base URL has no host".to_owned()));
    }
    Ok(url)
}

impl Http {
    pub(crate) fn new(api: Api, base: Url, opts: HttpOptions) -> Result<Self, QuayError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .user_agent(opts.user_agent.clone());
        if let Some(pem) = &opts.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| QuayError::Config(format!("invalid CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(QuayError::Config(
                    "CA bundle contains no certificate".to_owned(),
                ));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if opts.accept_invalid_certs {
            tracing::warn!(
                base_url = %base,
                api = %api,
                "TLS certificate verification is DISABLED for this client"
            );
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b
            .build()
            .map_err(|e| QuayError::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            opts: Arc::new(opts),
            api,
        })
    }

    /// Appends percent-encoded path segments to the base URL. An empty last segment gives a
    /// trailing slash.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("base URL was checked to be a base");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    /// Sends a request built by `make`, retrying idempotent calls on transient failures.
    /// Returns the response whatever its status.
    pub(crate) async fn send(
        &self,
        context: &str,
        idempotent: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QuayError> {
        let retries = if idempotent { self.opts.max_retries } else { 0 };
        let mut attempt = 0;
        loop {
            let result = make().send().await;
            let transient = match &result {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    (s >= 500 && s != 501) || s == 429
                }
                Err(_) => true,
            };
            if !transient || attempt >= retries {
                return result.map_err(|e| QuayError::from_reqwest(context, &e));
            }
            let delay = self.opts.retry_base_delay * 2u32.saturating_pow(attempt);
            tracing::debug!(context, attempt, ?delay, "retrying idempotent call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Sends with the total API timeout applied.
    pub(crate) async fn send_api(
        &self,
        context: &str,
        idempotent: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QuayError> {
        let timeout = self.opts.timeout;
        self.send(context, idempotent, || make().timeout(timeout))
            .await
    }

    /// Turns a non-2xx response into an error; passes 2xx through.
    pub(crate) async fn check(&self, resp: Response) -> Result<Response, QuayError> {
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_from(resp).await)
        }
    }

    /// Reads a bounded error body and classifies it.
    pub(crate) async fn error_from(&self, resp: Response) -> QuayError {
        let status = resp.status().as_u16();
        // A body we cannot read still leaves a useful status.
        let body = read_capped(resp, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        QuayError::from_status(self.api, status, &body)
    }

    /// Reads a whole body, failing past `max_response_bytes`.
    pub(crate) async fn body(&self, context: &str, resp: Response) -> Result<Bytes, QuayError> {
        read_limited(context, resp, self.opts.max_response_bytes).await
    }

    /// Reads and decodes a JSON body.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
        resp: Response,
    ) -> Result<T, QuayError> {
        let bytes = self.body(context, resp).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| QuayError::InvalidResponse(format!("{context}: invalid JSON: {e}")))
    }
}

/// Reads a body up to `limit` bytes; more is an error.
pub(crate) async fn read_limited(
    context: &str,
    mut resp: Response,
    limit: u64,
) -> Result<Bytes, QuayError> {
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(QuayError::ResponseTooLarge { limit });
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| QuayError::from_reqwest(context, &e))?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(QuayError::ResponseTooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads a body up to `limit` bytes and silently drops the rest (for error bodies).
async fn read_capped(mut resp: Response, limit: u64) -> Result<Vec<u8>, reqwest::Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = usize::try_from(limit).unwrap_or(usize::MAX) - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Deserializes an optional string into an optional secret.
pub(crate) fn de_opt_secret<'de, D>(d: D) -> Result<Option<secrecy::SecretString>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()).map(secrecy::SecretString::from))
}
