//! [`HttpSettings`]: the connection settings every client builder takes.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, Response};

use crate::{HttpError, TransportError};

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one API call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default idle timeout between two reads of a body.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap for buffered answers.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;
/// Default number of retries of an idempotent call.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default first back-off delay.
pub const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(200);
/// A `Retry-After` longer than this is cut to it, so a peer cannot park a client for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Connection settings shared by every client of the workspace: build one, hand it to each
/// client builder with `.http_settings(settings)`.
///
/// Fields are public for reading; set them with the consuming setters of the same names, which
/// every client builder repeats. `#[non_exhaustive]`: start from [`HttpSettings::new`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Timeout for establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Total timeout of one API call. Streamed transfers use [`Self::read_timeout`] instead so
    /// that large bodies are not cut off.
    pub timeout: Duration,
    /// Idle timeout between two reads of a response body.
    pub read_timeout: Duration,
    /// Extra trusted CA certificates (a PEM bundle), added to the system roots.
    pub ca_bundle_pem: Option<Arc<[u8]>>,
    /// Whether TLS certificates are accepted without verification (logged at WARN).
    pub danger_accept_invalid_certs: bool,
    /// `User-Agent` header; `None` lets each client use its own name and version.
    pub user_agent: Option<String>,
    /// How many times an idempotent call is retried after a transient failure.
    pub max_retries: u32,
    /// First back-off delay; it doubles on each retry, give or take 20 %.
    pub retry_base_delay: Duration,
    /// Cap for buffered answers (JSON, manifests, small blobs).
    pub max_response_bytes: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            ca_bundle_pem: None,
            danger_accept_invalid_certs: false,
            user_agent: None,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_base_delay: DEFAULT_RETRY_BASE_DELAY,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("read_timeout", &self.read_timeout)
            .field(
                "ca_bundle_pem",
                &self
                    .ca_bundle_pem
                    .as_ref()
                    .map(|p| format!("{} bytes", p.len())),
            )
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .field("user_agent", &self.user_agent)
            .field("max_retries", &self.max_retries)
            .field("retry_base_delay", &self.retry_base_delay)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Whether a status is worth retrying: `429` and `5xx` but `501 Not Implemented`.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 429 || ((500..600).contains(&status) && status != 501)
}

impl HttpSettings {
    /// The defaults: 10 s connect, 60 s total and read timeouts, 2 retries from 200 ms, 16 MiB
    /// answers, system CA roots, verification on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout of one API call (default 60 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Idle timeout between two reads of a body (default 60 s).
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Extra trusted CA certificates, as a PEM bundle of one or more certificates.
    #[must_use]
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_bundle_pem = Some(pem.into().into());
        self
    }

    /// Turns TLS certificate verification off. Dangerous: for test peers only; logged at WARN
    /// each time a client is built with it.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.danger_accept_invalid_certs = accept;
        self
    }

    /// `User-Agent` header value (default: the client crate's name and version).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Retries of an idempotent call after a transient failure (default 2). Calls that change
    /// state are never retried by [`Self::send`] unless the caller says they are idempotent.
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// First back-off delay between retries (default 200 ms); it doubles on each retry.
    #[must_use]
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.retry_base_delay = delay;
        self
    }

    /// Cap for buffered answers (default 16 MiB).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: u64) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// A `reqwest` client builder with these settings applied, for callers that need to add
    /// their own options (a redirect policy, say). `default_user_agent` is used when no user
    /// agent was set.
    pub fn client_builder(
        &self,
        default_user_agent: &str,
    ) -> Result<reqwest::ClientBuilder, HttpError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .user_agent(self.user_agent.as_deref().unwrap_or(default_user_agent));
        if let Some(pem) = &self.ca_bundle_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| HttpError::Config(format!("invalid CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(HttpError::Config(
                    "the CA bundle holds no PEM certificate".to_owned(),
                ));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if self.danger_accept_invalid_certs {
            tracing::warn!("TLS certificate verification is DISABLED for this client");
            builder = builder.danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }

    /// A `reqwest` client with these settings; see [`Self::client_builder`].
    pub fn build_client(&self, default_user_agent: &str) -> Result<reqwest::Client, HttpError> {
        self.client_builder(default_user_agent)?
            .build()
            .map_err(|e| HttpError::Config(format!("cannot build the HTTP client: {e}")))
    }

    /// The back-off before retry number `attempt` (0-based): `retry_base_delay * 2^attempt`,
    /// give or take 20 % at random, so replicas that failed together do not retry together.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let nominal = self
            .retry_base_delay
            .saturating_mul(2u32.saturating_pow(attempt.min(16)));
        let fifth = nominal / 5;
        let spread = u64::try_from(fifth.as_nanos() * 2).unwrap_or(u64::MAX);
        nominal.saturating_sub(fifth) + Duration::from_nanos(random_below(spread.saturating_add(1)))
    }

    /// Sends the request `make` builds, retrying transient failures when `idempotent`:
    /// transport failures other than TLS, `429` and `5xx` but `501`, after [`Self::retry_delay`]
    /// or a `Retry-After` (at most [`MAX_RETRY_AFTER`]). Returns the last response whatever its
    /// status. `make` is called once per attempt. `context` names the call in errors.
    pub async fn send(
        &self,
        context: &str,
        idempotent: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, TransportError> {
        let retries = if idempotent { self.max_retries } else { 0 };
        let mut attempt = 0;
        loop {
            let result = make().send().await;
            let wait = match &result {
                Ok(resp) if is_transient_status(resp.status().as_u16()) => {
                    Some(retry_after(resp).unwrap_or_else(|| self.retry_delay(attempt)))
                }
                Ok(_) => None,
                Err(e) => TransportError::from_reqwest(context, e)
                    .is_retryable()
                    .then(|| self.retry_delay(attempt)),
            };
            match wait {
                Some(delay) if attempt < retries => {
                    tracing::debug!(context, attempt, ?delay, "retrying a transient failure");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => return result.map_err(|e| TransportError::from_reqwest(context, &e)),
            }
        }
    }
}

/// A `Retry-After` given in seconds, capped. HTTP dates are ignored (the back-off applies).
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

/// A random number below `bound` (0 when `bound` is 0), from the standard library's randomly
/// seeded hasher: jitter needs no cryptographic quality and no extra dependency.
fn random_below(bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(bound);
    hasher.finish() % bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_set_and_debug_hides_the_ca_bytes() {
        let s = HttpSettings::new()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(3))
            .ca_bundle_pem(b"-----BEGIN CERTIFICATE-----".to_vec())
            .danger_accept_invalid_certs(true)
            .user_agent("ua/1")
            .max_retries(7)
            .retry_base_delay(Duration::from_millis(5))
            .max_response_bytes(99);
        assert_eq!(s.connect_timeout, Duration::from_secs(1));
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.read_timeout, Duration::from_secs(3));
        assert!(s.danger_accept_invalid_certs);
        assert_eq!(s.user_agent.as_deref(), Some("ua/1"));
        assert_eq!((s.max_retries, s.max_response_bytes), (7, 99));
        assert_eq!(s.retry_base_delay, Duration::from_millis(5));
        let debug = format!("{s:?}");
        assert!(
            debug.contains("27 bytes") && !debug.contains("BEGIN"),
            "{debug}"
        );
    }

    #[test]
    fn retry_delay_doubles_with_jitter_and_saturates() {
        let s = HttpSettings::new().retry_base_delay(Duration::from_millis(100));
        for attempt in 0..5 {
            let nominal = Duration::from_millis(100) * 2u32.pow(attempt);
            for _ in 0..50 {
                let d = s.retry_delay(attempt);
                assert!(
                    d >= nominal * 4 / 5 && d <= nominal * 6 / 5,
                    "attempt {attempt}: {d:?}"
                );
            }
        }
        // Distinct values show the jitter is there (50 draws of a 40 ms range).
        let draws: std::collections::HashSet<_> = (0..50).map(|_| s.retry_delay(0)).collect();
        assert!(draws.len() > 10, "{draws:?}");
        assert!(s.retry_delay(u32::MAX) > Duration::ZERO);
    }

    #[test]
    fn transient_statuses() {
        for s in [429, 500, 502, 503, 504, 599] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 404, 409, 501] {
            assert!(!is_transient_status(s), "{s}");
        }
    }

    #[test]
    fn bad_ca_bundles_are_configuration_errors() {
        let e = HttpSettings::new()
            .ca_bundle_pem(b"not a certificate".to_vec())
            .build_client("t")
            .unwrap_err();
        assert!(matches!(e, HttpError::Config(_)), "{e:?}");
    }
}
