//! The hub client: transport, retries, typed methods.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use omps_http::HttpSettings;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::KojiError;
use crate::types::{Archive, Build, BuildLog, BuildRef, ListArchives};
use crate::xmlrpc::{self, Fault, Limits, Response};
use crate::{Value, from_value};

/// Default total timeout of one XML-RPC call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default total timeout of one archive download.
pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// Default retries of an idempotent call.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default first back-off delay.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(500);

/// How much of an HTTP error body is kept in [`KojiError::Http`].
const ERROR_BODY_KEEP: usize = 4096;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// A read: retried on transport errors, HTTP 5xx/408 and fault 1014.
    Idempotent,
    /// May change hub state: sent exactly once.
    NonIdempotent,
}

/// One call inside a multicall.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// Method name.
    pub method: String,
    /// Positional parameters (a trailing [`kwargs`](crate::kwargs) struct for keywords).
    pub params: Vec<Value>,
}

impl MethodCall {
    /// A call with positional parameters.
    pub fn new(method: impl Into<String>, params: Vec<Value>) -> Self {
        Self {
            method: method.into(),
            params,
        }
    }

    fn to_value(&self) -> Value {
        Value::structure([
            ("methodName", Value::String(self.method.clone())),
            ("params", Value::Array(self.params.clone())),
        ])
    }
}

/// Builder for [`Client`]; obtain one with [`Client::builder`].
///
/// The connection setters are those of every client builder of the workspace
/// ([`HttpSettings`]); [`ClientBuilder::http_settings`] replaces them all at once. Koji's own
/// settings are the file root URL, the download timeout and the XML-RPC decoding limits.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    hub_url: String,
    topurl: Option<String>,
    settings: HttpSettings,
    transfer_timeout: Duration,
    limits: Limits,
}

impl ClientBuilder {
    /// Sets the file root URL (`topurl`, e.g. `https://kojipkgs.example.com`) used for
    /// archive downloads.
    #[must_use]
    pub fn topurl(mut self, topurl: impl Into<String>) -> Self {
        self.topurl = Some(topurl.into());
        self
    }

    /// Uses these connection settings (replacing any set before).
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Adds the certificates of a PEM bundle to the system roots (hub and file root).
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings = self.settings.ca_bundle_pem(pem);
        self
    }

    /// Turns TLS certificate verification off (test hubs only; logged at WARN).
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

    /// Sets the total timeout of each XML-RPC call, per attempt (default 30 s).
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

    /// Sets the total timeout of each archive download (default 120 s).
    #[must_use]
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` header (default `koji-client-rs/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings = self.settings.user_agent(user_agent);
        self
    }

    /// Retries of an idempotent call after a transport error, HTTP 5xx/408 or fault 1014
    /// (default 3).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings = self.settings.max_retries(retries);
        self
    }

    /// First back-off delay; it doubles on each retry, with jitter (default 500 ms).
    #[must_use]
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.settings = self.settings.retry_base_delay(delay);
        self
    }

    /// Largest hub answer read, in bytes (default 32 MiB); also the decoder's document limit.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.settings = self.settings.max_response_bytes(limit);
        self
    }

    /// Sets the decoding limits for hub answers (depth, value count; the size limit is the
    /// smaller of [`Limits::max_size`] and `max_response_bytes`).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, KojiError> {
        let hub = parse_http_url(&self.hub_url, "hub URL")?;
        let topurl = match &self.topurl {
            Some(t) => {
                parse_http_url(t, "file root URL")?;
                Some(t.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let http = self
            .settings
            .build_client(concat!("koji-client-rs/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| KojiError::InvalidConfig {
                reason: e.to_string(),
            })?;
        let mut limits = self.limits;
        limits.max_size = limits
            .max_size
            .min(usize::try_from(self.settings.max_response_bytes).unwrap_or(usize::MAX));
        Ok(Client {
            http,
            hub,
            topurl,
            settings: self.settings,
            transfer_timeout: self.transfer_timeout,
            limits,
        })
    }
}

fn parse_http_url(text: &str, what: &str) -> Result<Url, KojiError> {
    let url = Url::parse(text).map_err(|e| KojiError::InvalidConfig {
        reason: format!("invalid {what}: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(KojiError::InvalidConfig {
            reason: format!("{what} must be an http(s) URL"),
        });
    }
    Ok(url)
}

/// Anonymous, read-only Koji hub client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    hub: Url,
    pub(crate) topurl: Option<String>,
    settings: HttpSettings,
    pub(crate) transfer_timeout: Duration,
    limits: Limits,
}

impl Client {
    /// Starts building a client for the hub at `hub_url` (e.g. `https://koji.example.com/kojihub`).
    pub fn builder(hub_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            hub_url: hub_url.into(),
            topurl: None,
            settings: HttpSettings::new()
                .timeout(DEFAULT_TIMEOUT)
                .max_retries(DEFAULT_MAX_RETRIES)
                .retry_base_delay(DEFAULT_RETRY_BASE_DELAY)
                .max_response_bytes(Limits::default().max_size as u64),
            transfer_timeout: DEFAULT_TRANSFER_TIMEOUT,
            limits: Limits::default(),
        }
    }

    /// The hub URL.
    pub fn hub_url(&self) -> &Url {
        &self.hub
    }

    /// The file root URL without a trailing `/`, when configured.
    pub fn topurl(&self) -> Option<&str> {
        self.topurl.as_deref()
    }

    /// Calls `method`; a fault becomes [`KojiError::Fault`]. Retries follow `idempotency`.
    pub async fn call(
        &self,
        method: &str,
        params: &[Value],
        idempotency: Idempotency,
    ) -> Result<Value, KojiError> {
        let body = xmlrpc::encode_call(method, params);
        let mut retry = 0;
        loop {
            match self.call_once(method, &body).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if idempotency == Idempotency::Idempotent
                        && e.is_retryable()
                        && retry < self.settings.max_retries =>
                {
                    let delay = self.settings.retry_delay(retry);
                    retry += 1;
                    tracing::warn!(method, error = %e, attempt = retry, ?delay, "retrying Koji call");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Calls `method` and decodes the result into `T`.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &[Value],
        idempotency: Idempotency,
    ) -> Result<T, KojiError> {
        let value = self.call(method, params, idempotency).await?;
        from_value(&value).map_err(|e| KojiError::UnexpectedResult {
            method: method.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Koji's `multiCall`: several calls in one request and one hub transaction. The outer
    /// result fails only when the whole request fails; each call gets its value or fault.
    pub async fn multicall(
        &self,
        calls: &[MethodCall],
        idempotency: Idempotency,
    ) -> Result<Vec<Result<Value, Fault>>, KojiError> {
        self.multicall_named("multiCall", calls, idempotency).await
    }

    /// The standard `system.multicall`, same shape as [`Client::multicall`].
    pub async fn system_multicall(
        &self,
        calls: &[MethodCall],
        idempotency: Idempotency,
    ) -> Result<Vec<Result<Value, Fault>>, KojiError> {
        self.multicall_named("system.multicall", calls, idempotency)
            .await
    }

    async fn multicall_named(
        &self,
        method: &str,
        calls: &[MethodCall],
        idempotency: Idempotency,
    ) -> Result<Vec<Result<Value, Fault>>, KojiError> {
        let param = Value::Array(calls.iter().map(MethodCall::to_value).collect());
        let value = self.call(method, &[param], idempotency).await?;
        let results =
            xmlrpc::decode_multicall_results(value).map_err(|e| KojiError::UnexpectedResult {
                method: method.to_owned(),
                reason: e.to_string(),
            })?;
        if results.len() != calls.len() {
            return Err(KojiError::UnexpectedResult {
                method: method.to_owned(),
                reason: format!("{} results for {} calls", results.len(), calls.len()),
            });
        }
        Ok(results)
    }

    async fn call_once(&self, method: &str, body: &str) -> Result<Value, KojiError> {
        let transport = |source| KojiError::Transport {
            method: method.to_owned(),
            source,
        };
        let response = self
            .http
            .post(self.hub.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("text/xml"))
            .timeout(self.settings.timeout)
            .body(body.to_owned())
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if let Some(version) = response.headers().get("koji-version") {
            tracing::debug!(method, koji_version = ?version, "Koji answer");
        }
        if status != reqwest::StatusCode::OK {
            // Hub transport errors are short text/plain bodies; a proxy may send HTML.
            let bytes = read_capped(response, ERROR_BODY_KEEP as u64, true)
                .await
                .map_err(transport)?
                .0;
            return Err(KojiError::Http {
                method: method.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).trim().to_owned(),
            });
        }
        if !content_type.contains("xml") {
            return Err(KojiError::InvalidResponse {
                method: method.to_owned(),
                reason: format!("content type {content_type:?} is not XML"),
                source: None,
            });
        }
        let limit = self.limits.max_size as u64;
        let (bytes, truncated) = read_capped(response, limit, false)
            .await
            .map_err(transport)?;
        if truncated {
            return Err(KojiError::TooLarge {
                url: self.hub.to_string(),
                limit,
            });
        }
        match xmlrpc::decode_response(&bytes, &self.limits) {
            Ok(Response::Value(v)) => Ok(v),
            Ok(Response::Fault(fault)) => Err(KojiError::Fault {
                method: method.to_owned(),
                fault,
            }),
            Err(e) => Err(KojiError::InvalidResponse {
                method: method.to_owned(),
                reason: e.to_string(),
                source: Some(e),
            }),
        }
    }

    /// `hello`: a cheap probe; the hub answers `Hello World`.
    pub async fn hello(&self) -> Result<String, KojiError> {
        self.call_as("hello", &[], Idempotency::Idempotent).await
    }

    /// `getAPIVersion` (currently 1); the usual health check.
    pub async fn get_api_version(&self) -> Result<i64, KojiError> {
        self.call_as("getAPIVersion", &[], Idempotency::Idempotent)
            .await
    }

    /// `getKojiVersion`, e.g. `1.35.0`.
    pub async fn get_koji_version(&self) -> Result<String, KojiError> {
        self.call_as("getKojiVersion", &[], Idempotency::Idempotent)
            .await
    }

    /// `getBuild`: `None` for an unknown build. A malformed NVR is a fault
    /// (see [`KojiError::is_invalid_nvr`]).
    pub async fn get_build(&self, build: impl Into<BuildRef>) -> Result<Option<Build>, KojiError> {
        let build = build.into();
        self.call_as("getBuild", &[build.to_value()], Idempotency::Idempotent)
            .await
    }

    /// `getBuildType`: the build's types and their type info; `None` for an unknown build.
    pub async fn get_build_type(
        &self,
        build: impl Into<BuildRef>,
    ) -> Result<Option<BTreeMap<String, Option<serde_json::Value>>>, KojiError> {
        let build = build.into();
        self.call_as("getBuildType", &[build.to_value()], Idempotency::Idempotent)
            .await
    }

    /// `listArchives` with keyword filters.
    pub async fn list_archives(&self, filter: &ListArchives) -> Result<Vec<Archive>, KojiError> {
        self.call_as(
            "listArchives",
            &[filter.to_kwargs()],
            Idempotency::Idempotent,
        )
        .await
    }

    /// `getBuildLogs`: the build's log files, paths relative to the file root.
    pub async fn get_build_logs(
        &self,
        build: impl Into<BuildRef>,
    ) -> Result<Vec<BuildLog>, KojiError> {
        let build = build.into();
        self.call_as("getBuildLogs", &[build.to_value()], Idempotency::Idempotent)
            .await
    }
}

/// Reads at most `limit` bytes of the body. With `keep_prefix`, a longer body is cut at the
/// limit; otherwise reading stops and `truncated` is reported.
pub(crate) async fn read_capped(
    response: reqwest::Response,
    limit: u64,
    keep_prefix: bool,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    if !keep_prefix && response.content_length().is_some_and(|len| len > limit) {
        return Ok((Vec::new(), true));
    }
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut buf = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > cap {
            let room = cap - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, false))
}
