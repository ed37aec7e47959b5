#![doc = include_str!("../README.md")]

mod error;
mod types;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use url::Url;

pub use error::GreenwaveError;
pub use omps_http::HttpSettings;
pub use types::{About, Decision, DecisionContext, DecisionRequest, Requirement};

/// Default total timeout of one request (connect, send, read the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body; Greenwave answers are small JSON documents.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;

/// Builder for [`Client`]; obtain one with [`Client::builder`].
///
/// The setters are those of every client builder of the workspace ([`HttpSettings`]);
/// [`ClientBuilder::http_settings`] replaces them all at once. Greenwave calls are not retried
/// unless `max_retries` says so.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    settings: HttpSettings,
}

impl ClientBuilder {
    /// Uses these connection settings (replacing any set before).
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Adds the certificates of a PEM bundle to the system roots.
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings = self.settings.ca_bundle_pem(pem);
        self
    }

    /// Turns TLS certificate verification off (test instances only; logged at WARN).
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.settings = self.settings.danger_accept_invalid_certs(accept);
        self
    }

    /// Sets the connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.connect_timeout(timeout);
        self
    }

    /// Sets the total timeout applied to every request (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.timeout(timeout);
        self
    }

    /// Sets the idle timeout between two reads of a body (default 60 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.read_timeout(timeout);
        self
    }

    /// Sets the `User-Agent` header (default `greenwave-client/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings = self.settings.user_agent(user_agent);
        self
    }

    /// Retries after a transport error, 5xx (but 501) or 429 (default 0: a decision is asked
    /// once and the caller decides).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings = self.settings.max_retries(retries);
        self
    }

    /// First back-off delay; it doubles on each retry, with jitter (default 200 ms).
    #[must_use]
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.settings = self.settings.retry_base_delay(delay);
        self
    }

    /// Sets the largest response body accepted, in bytes (default 8 MiB).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.settings = self.settings.max_response_bytes(limit);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, GreenwaveError> {
        let mut base = Url::parse(&self.base_url).map_err(|e| GreenwaveError::InvalidConfig {
            reason: format!("invalid base URL: {e}"),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(GreenwaveError::InvalidConfig {
                reason: "base URL must be an http(s) URL".to_owned(),
            });
        }
        // A trailing slash makes `join` append instead of replacing the last segment,
        // so `https://h/greenwave` and `https://h/greenwave/` behave the same.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = self
            .settings
            .build_client(concat!("greenwave-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| GreenwaveError::InvalidConfig {
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            settings: self.settings,
        })
    }
}

/// Async client for Greenwave's `/api/v1.0` API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    settings: HttpSettings,
}

impl Client {
    /// Starts building a client for the Greenwave instance at `base_url`
    /// (for example `https://greenwave.example.com`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            settings: HttpSettings::new()
                .timeout(DEFAULT_TIMEOUT)
                .max_retries(0)
                .max_response_bytes(DEFAULT_MAX_RESPONSE_BYTES),
        }
    }

    /// The normalised base URL (always ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn endpoint(&self, path: &str) -> Url {
        // `path` is a fixed relative path, so the join cannot fail on a valid base.
        self.base
            .join(path)
            .expect("fixed relative path joins onto an http(s) base URL")
    }

    /// Asks for a gating decision (`POST /api/v1.0/decision`).
    ///
    /// Returns the decision whatever `policies_satisfied` says; the caller decides what an
    /// unsatisfied gate means. Errors: transport failures, a non-200 status (body kept), a
    /// body without a boolean `policies_satisfied`.
    pub async fn decision(&self, request: &DecisionRequest) -> Result<Decision, GreenwaveError> {
        let url = self.endpoint("api/v1.0/decision");
        tracing::debug!(%url, subject = %request.subject_identifier, "greenwave decision");
        // A decision is a query: safe to send again when retries are configured.
        let response = self
            .send(|| self.http.post(url.clone()).json(request))
            .await?;
        let (status, body) = self.read_json(response).await?;
        if status != StatusCode::OK {
            return Err(GreenwaveError::status(status.as_u16(), body));
        }
        Decision::from_json(body)
    }

    /// Reads the service version (`GET /api/v1.0/about`); used as a health check.
    pub async fn about(&self) -> Result<About, GreenwaveError> {
        let url = self.endpoint("api/v1.0/about");
        let response = self.send(|| self.http.get(url.clone())).await?;
        let (status, body) = self.read_json(response).await?;
        if !status.is_success() {
            return Err(GreenwaveError::status(status.as_u16(), body));
        }
        About::from_json(body)
    }

    /// Sends with the total timeout, retrying transient failures `max_retries` times.
    async fn send(
        &self,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GreenwaveError> {
        let mut attempt = 0;
        loop {
            let result = make().timeout(self.settings.timeout).send().await;
            let transient = match &result {
                Ok(r) => {
                    r.status() == StatusCode::TOO_MANY_REQUESTS
                        || (r.status().is_server_error()
                            && r.status() != StatusCode::NOT_IMPLEMENTED)
                }
                Err(e) => !e.is_builder(),
            };
            if !transient || attempt >= self.settings.max_retries {
                return result.map_err(GreenwaveError::transport);
            }
            let delay = self.settings.retry_delay(attempt);
            tracing::debug!(attempt, ?delay, "retrying a Greenwave call");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Reads the body with a size cap and parses it as JSON; a body that is not JSON
    /// becomes `{}` as the service echoes it verbatim.
    async fn read_json(
        &self,
        response: reqwest::Response,
    ) -> Result<(StatusCode, serde_json::Value), GreenwaveError> {
        let status = response.status();
        let limit = usize::try_from(self.settings.max_response_bytes).unwrap_or(usize::MAX);
        if let Some(len) = response.content_length() {
            if len > self.settings.max_response_bytes {
                return Err(GreenwaveError::ResponseTooLarge { limit });
            }
        }
        let mut buf = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(GreenwaveError::transport)?;
            if buf.len() + chunk.len() > limit {
                return Err(GreenwaveError::ResponseTooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&buf)
            .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()));
        Ok((status, body))
    }
}
