#![doc = include_str!("../README.md")]

mod error;
mod types;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use url::Url;

pub use error::GreenwaveError;
pub use types::{About, Decision, DecisionContext, DecisionRequest, Requirement};

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one request (connect, send, read the whole body).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a response body; Greenwave answers are small JSON documents.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 8 * 1024 * 1024;

/// Builder for [`Client`]; obtain one with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    ca_bundle_pem: Option<Vec<u8>>,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: String,
    max_response_size: usize,
}

impl ClientBuilder {
    /// Adds the certificates of a PEM bundle to the system roots.
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(pem.into());
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the total timeout applied to every request.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` header.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sets the largest response body accepted, in bytes.
    #[must_use]
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
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
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(self.user_agent);
        if let Some(pem) = &self.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                GreenwaveError::InvalidConfig {
                    reason: format!("invalid CA bundle: {e}"),
                }
            })?;
            if certs.is_empty() {
                return Err(GreenwaveError::InvalidConfig {
                    reason: "CA bundle holds no certificate".to_owned(),
                });
            }
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http.build().map_err(|e| GreenwaveError::InvalidConfig {
            reason: format!("cannot build HTTP client: {e}"),
        })?;
        Ok(Client {
            http,
            base,
            max_response_size: self.max_response_size,
        })
    }
}

/// Async client for Greenwave's `/api/v1.0` API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    max_response_size: usize,
}

impl Client {
    /// Starts building a client for the Greenwave instance at `base_url`
    /// (for example `https://greenwave.example.com`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            ca_bundle_pem: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            user_agent: concat!("greenwave-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
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
        let response = self
            .http
            .post(url)
            .json(request)
            .send()
            .await
            .map_err(GreenwaveError::transport)?;
        let (status, body) = self.read_json(response).await?;
        if status != StatusCode::OK {
            return Err(GreenwaveError::status(status.as_u16(), body));
        }
        Decision::from_json(body)
    }

    /// Reads the service version (`GET /api/v1.0/about`); used as a health check.
    pub async fn about(&self) -> Result<About, GreenwaveError> {
        let url = self.endpoint("api/v1.0/about");
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(GreenwaveError::transport)?;
        let (status, body) = self.read_json(response).await?;
        if !status.is_success() {
            return Err(GreenwaveError::status(status.as_u16(), body));
        }
        About::from_json(body)
    }

    /// Reads the body with a size cap and parses it as JSON; a body that is not JSON
    /// becomes `{}` as the service echoes it verbatim.
    async fn read_json(
        &self,
        response: reqwest::Response,
    ) -> Result<(StatusCode, serde_json::Value), GreenwaveError> {
        let status = response.status();
        if let Some(len) = response.content_length() {
            if len > self.max_response_size as u64 {
                return Err(GreenwaveError::ResponseTooLarge {
                    limit: self.max_response_size,
                });
            }
        }
        let mut buf = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(GreenwaveError::transport)?;
            if buf.len() + chunk.len() > self.max_response_size {
                return Err(GreenwaveError::ResponseTooLarge {
                    limit: self.max_response_size,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&buf)
            .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()));
        Ok((status, body))
    }
}
