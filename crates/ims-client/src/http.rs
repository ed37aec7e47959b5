//! Connection settings, the retry policy of spec §10, and bounded body reads.
//!
//! `HttpSettings` keeps the setter names of the workspace's shared HTTP settings so that callers
//! do not change when this crate moves onto the shared crate.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::error::{ImsError, Service};

/// Error bodies are read up to this size; the rest is dropped.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Longest `Retry-After` honoured (spec §10).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Connection settings: timeouts, trust, user agent, retries, response limit.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) ca_bundle_pem: Option<Vec<u8>>,
    pub(crate) accept_invalid_certs: bool,
    pub(crate) user_agent: String,
    pub(crate) max_retries: u32,
    pub(crate) retry_base_delay: Duration,
    pub(crate) max_response_bytes: u64,
}

impl Default for HttpSettings {
    /// Spec §10: connect 10 s, request 720 s (the helper's `--timeout`), idle read 60 s, 4 retries
    /// (5 attempts) from 1 s, 16 MiB JSON answers.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(720),
            read_timeout: Duration::from_secs(60),
            ca_bundle_pem: None,
            accept_invalid_certs: false,
            user_agent: concat!("ims-helper/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_retries: 4,
            retry_base_delay: Duration::from_secs(1),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

impl HttpSettings {
    /// Connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout of one IMS or token call (default 720 s, the helper's `--timeout`).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Idle timeout between two reads (default 60 s); S3 transfers use it instead of a total.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Extra trusted CA certificates (PEM, one or more), added to the system roots.
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(pem.into());
        self
    }

    /// Turns TLS verification off. Logged at WARN when a client is built; never implied.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// `User-Agent` (default `ims-helper/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Retries after the first attempt (default 4, i.e. at most 5 attempts).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// First back-off delay, doubled each retry, ± 20 % jitter (default 1 s).
    #[must_use]
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// Cap for buffered JSON answers (default 16 MiB).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Builds a `reqwest::Client` from these settings. `total_timeout` is false for S3, whose
    /// part uploads are bounded by the idle read timeout and a per-request timeout instead.
    pub(crate) fn client(
        &self,
        what: &str,
        total_timeout: bool,
    ) -> Result<reqwest::Client, ImsError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .user_agent(self.user_agent.clone())
            // Redirects would resend signed or bearer-carrying requests elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        if total_timeout {
            b = b.timeout(self.timeout);
        }
        if let Some(pem) = &self.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| ImsError::Config(format!("{what}: invalid CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(ImsError::Config(format!(
                    "{what}: CA bundle contains no certificate"
                )));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if self.accept_invalid_certs {
            tracing::warn!("TLS certificate verification is DISABLED for {what}");
            b = b.danger_accept_invalid_certs(true);
        }
        b.build()
            .map_err(|e| ImsError::Config(format!("{what}: cannot build HTTP client: {e}")))
    }
}

/// Whether a call may be repeated after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// GET, PUT, PATCH, DELETE, HEAD, part uploads: retried on transport errors and 429/5xx.
    Idempotent,
    /// POST that creates a record: retried only when the connection failed before sending.
    CreatesRecord,
}

/// Sends `make()` with the retry policy of spec §10 and returns the final response, whatever its
/// status. Statuses 429/500/502/503/504 are retried for idempotent calls.
pub(crate) async fn send_with_retry(
    settings: &HttpSettings,
    context: &str,
    idempotency: Idempotency,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, ImsError> {
    let mut attempt = 0u32;
    loop {
        let result = make().send().await;
        let idempotent = idempotency == Idempotency::Idempotent;
        let retry_after = match &result {
            // An answer to a POST means it was processed or refused: never repeat it.
            Ok(resp) => (idempotent && retryable_status(resp.status())).then(|| retry_after(resp)),
            // A connect error means nothing reached the server, so no record was created.
            Err(e) => (idempotent || e.is_connect()).then_some(None),
        };
        let retry_after = match retry_after {
            Some(ra) if attempt < settings.max_retries => ra,
            _ => return result.map_err(|e| ImsError::from_reqwest(context, &e)),
        };
        let delay = retry_after.unwrap_or_else(|| backoff(settings.retry_base_delay, attempt));
        tracing::info!(context, attempt = attempt + 1, ?delay, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Whether a status is worth retrying (the body may refine it for S3, see `ImsError`).
fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds, capped at 60 s. Dates are ignored (the back-off applies).
fn retry_after(resp: &Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// `base * 2^attempt`, ± 20 % jitter so that parallel clients spread out.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let nominal = base.saturating_mul(2u32.saturating_pow(attempt));
    let jitter = jitter_fraction(); // in [-0.2, 0.2)
    nominal.mul_f64(1.0 + jitter)
}

/// A pseudo-random value in [-0.2, 0.2): std's hasher is randomly keyed per process, which is
/// enough to de-synchronise retries without a random-number crate.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    #[allow(clippy::cast_precision_loss)]
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    unit * 0.4 - 0.2
}

/// Turns a non-2xx response into an error of `service`; passes 2xx through.
pub(crate) async fn check(service: Service, resp: Response) -> Result<Response, ImsError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    // A body we cannot read still leaves a useful status.
    let body = read_capped(resp, MAX_ERROR_BODY_BYTES).await;
    Err(ImsError::from_status(service, status, &body))
}

/// Reads at most `limit` bytes of a body, dropping the rest.
async fn read_capped(mut resp: Response, limit: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    buf
}

/// Reads a whole body; more than `limit` bytes is an error.
pub(crate) async fn read_limited(
    context: &str,
    mut resp: Response,
    limit: u64,
) -> Result<Bytes, ImsError> {
    let too_large = || ImsError::ResponseTooLarge {
        context: context.to_owned(),
        limit,
    };
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(too_large());
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ImsError::from_reqwest(context, &e))?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Checks a base URL: http(s), a host, no credentials in it.
pub(crate) fn parse_url(what: &str, url: &str) -> Result<url::Url, ImsError> {
    let parsed =
        url::Url::parse(url).map_err(|e| ImsError::Config(format!("{what}: invalid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ImsError::Config(format!(
            "{what}: URL must be http or https, got {}",
            parsed.scheme()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials in URLs end up in logs; they belong in the builders' secret setters.
        return Err(ImsError::Config(format!(
            "{what}: URL must not contain credentials"
        )));
    }
    if parsed.host_str().is_none() {
        return Err(ImsError::Config(format!("{what}: URL has no host")));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter() {
        let base = Duration::from_secs(1);
        for attempt in 0..4 {
            let nominal = 2f64.powi(i32::try_from(attempt).unwrap());
            for _ in 0..50 {
                let d = backoff(base, attempt).as_secs_f64();
                assert!(d >= nominal * 0.8 && d < nominal * 1.2, "{attempt}: {d}");
            }
        }
    }

    #[test]
    fn urls_with_credentials_or_odd_schemes_are_refused() {
        assert!(parse_url("IMS", "https://api/apis/ims").is_ok());
        assert!(parse_url("IMS", "ftp://api/x").is_err());
        let e = parse_url("IMS", "https://u:p@api/x").unwrap_err();
        assert!(e.to_string().contains("credentials"));
        assert!(!e.to_string().contains("u:p"));
    }
}
