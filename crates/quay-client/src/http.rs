//! The clients' common builder and HTTP plumbing, on the workspace's shared `omps-http`
//! settings: one [`HttpSettings`] value configures every client, with the same setter names as
//! every other client builder of the workspace.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use omps_http::{HttpError, HttpSettings, MAX_ERROR_BODY_BYTES, TransportError};
use reqwest::{RequestBuilder, Response};
use url::Url;

use crate::error::{Api, QuayError};

/// `User-Agent` when the settings name none.
const DEFAULT_USER_AGENT: &str = concat!("quay-client/", env!("CARGO_PKG_VERSION"));

/// Builder of every client of this crate: `Client::builder(base_url)`, the connection settings,
/// the API's own options `O`, then `build()`.
///
/// The setters are those of [`HttpSettings`]; [`ClientBuilder::http_settings`] replaces them all
/// at once, so a service configures one value and hands it to each client.
#[derive(Debug)]
pub struct ClientBuilder<O> {
    base: String,
    settings: HttpSettings,
    pub(crate) options: O,
}

impl<O> ClientBuilder<O> {
    pub(crate) fn new(base: String, options: O) -> Self {
        Self {
            base,
            settings: HttpSettings::default(),
            options,
        }
    }

    /// Uses these connection settings (replacing any set before).
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.connect_timeout(timeout);
        self
    }

    /// Total timeout of one API call (default 60 s). Streamed blob transfers use
    /// [`Self::read_timeout`] instead, so large layers are not cut off.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.timeout(timeout);
        self
    }

    /// Idle timeout between two reads of a response body (default 60 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.settings = self.settings.read_timeout(timeout);
        self
    }

    /// Extra trusted CA certificates, as a PEM bundle (one or more certificates).
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings = self.settings.ca_bundle_pem(pem);
        self
    }

    /// Turns TLS certificate verification off. Dangerous: only for test registries. Logged at
    /// WARN when the client is built.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.settings = self.settings.danger_accept_invalid_certs(accept);
        self
    }

    /// `User-Agent` header value (default `quay-client/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings = self.settings.user_agent(user_agent);
        self
    }

    /// How many times an idempotent call (GET, HEAD, manifest PUT, starting an upload) is
    /// retried after a transport error, timeout, 5xx or 429 (default 2). Calls that change state
    /// are never retried.
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings = self.settings.max_retries(retries);
        self
    }

    /// First back-off delay between retries; doubles each time, with jitter (default 200 ms).
    #[must_use]
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.settings = self.settings.retry_base_delay(delay);
        self
    }

    /// Cap for buffered response bodies (default 16 MiB). Larger answers fail with
    /// [`QuayError::ResponseTooLarge`](crate::QuayError::ResponseTooLarge).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.settings = self.settings.max_response_bytes(limit);
        self
    }

    /// Checks the base URL and builds the HTTP layer for `api`; the options go to the caller.
    pub(crate) fn into_http(self, api: Api) -> Result<(Http, O), QuayError> {
        let base = omps_http::parse_base_url(&self.base).map_err(QuayError::from_http)?;
        let client = self
            .settings
            .build_client(DEFAULT_USER_AGENT)
            .map_err(QuayError::from_http)?;
        if self.settings.danger_accept_invalid_certs {
            // omps-http warns without saying for which server; name it here.
            tracing::warn!(base_url = %base, api = %api, "TLS certificate verification is DISABLED for this client");
        }
        let http = Http {
            client,
            base,
            settings: Arc::new(self.settings),
            api,
        };
        Ok((http, self.options))
    }
}

/// A configured HTTP client bound to one base URL and one API family.
#[derive(Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub base: Url,
    pub settings: Arc<HttpSettings>,
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

impl Http {
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

    /// Sends a request built by `make`, retrying idempotent calls on transient failures (the
    /// shared policy of [`HttpSettings::send`]). Returns the response whatever its status.
    pub(crate) async fn send(
        &self,
        context: &str,
        idempotent: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QuayError> {
        self.settings
            .send(context, idempotent, make)
            .await
            .map_err(QuayError::from_transport)
    }

    /// Sends with the total API timeout applied.
    pub(crate) async fn send_api(
        &self,
        context: &str,
        idempotent: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QuayError> {
        let timeout = self.settings.timeout;
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
        let body = omps_http::read_capped(resp, MAX_ERROR_BODY_BYTES).await;
        QuayError::from_status(self.api, status, &body)
    }

    /// Reads a whole body, failing past `max_response_bytes`.
    pub(crate) async fn body(&self, context: &str, resp: Response) -> Result<Bytes, QuayError> {
        read_limited(context, resp, self.settings.max_response_bytes).await
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

/// Reads a body up to `limit` bytes; more is [`QuayError::ResponseTooLarge`].
pub(crate) async fn read_limited(
    context: &str,
    resp: Response,
    limit: u64,
) -> Result<Bytes, QuayError> {
    omps_http::read_limited(context, resp, limit)
        .await
        .map_err(QuayError::from_http)
}

/// A reqwest failure in the middle of a streamed transfer, described like any transport error.
pub(crate) fn transport(context: &str, err: &reqwest::Error) -> QuayError {
    QuayError::from_transport(TransportError::from_reqwest(context, err))
}

/// Maps the shared layer's errors; status answers never reach here (bodies are read after
/// [`Http::check`]).
impl QuayError {
    pub(crate) fn from_http(e: HttpError) -> Self {
        match e {
            HttpError::Config(m) => QuayError::Config(m),
            HttpError::Transport(t) => QuayError::from_transport(t),
            HttpError::ResponseTooLarge { limit, .. } => QuayError::ResponseTooLarge { limit },
            HttpError::Status {
                status, body, url, ..
            } => QuayError::InvalidResponse(format!("{url} answered HTTP {status}: {body}")),
            HttpError::InvalidResponse { context, reason } => {
                QuayError::InvalidResponse(format!("{context}: {reason}"))
            }
            other => QuayError::InvalidResponse(other.to_string()),
        }
    }
}

/// Deserializes an optional string into an optional secret.
pub(crate) fn de_opt_secret<'de, D>(d: D) -> Result<Option<secrecy::SecretString>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()).map(secrecy::SecretString::from))
}
