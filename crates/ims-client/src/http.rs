//! The workspace's shared HTTP layer (`omps-http`) with the IMS helper's defaults (spec §10)
//! and its POST rule: a call that creates a record is repeated only when the connection failed
//! before anything was sent.

use std::time::Duration;

use bytes::Bytes;
use omps_http::{HttpError, HttpSettings, TransportKind};
use reqwest::{RequestBuilder, Response};

use crate::error::{ImsError, Service};

/// The helper's `User-Agent`.
pub(crate) const USER_AGENT: &str = concat!("ims-helper/", env!("CARGO_PKG_VERSION"));

/// Spec §10 defaults: connect 10 s, each IMS/token/S3 request 720 s (the helper's `--timeout`),
/// idle read 60 s, 4 retries (5 attempts) from 1 s.
pub fn default_http_settings() -> HttpSettings {
    HttpSettings::new()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(720))
        .read_timeout(Duration::from_secs(60))
        .max_retries(4)
        .retry_base_delay(Duration::from_secs(1))
}

/// A client with `settings`, the total timeout applied, and no redirects (they would resend
/// signed or bearer-carrying requests elsewhere).
pub(crate) fn build_client(
    settings: &HttpSettings,
    what: &str,
) -> Result<reqwest::Client, ImsError> {
    settings
        .client_builder(USER_AGENT)
        .map_err(|e| ImsError::Config(format!("{what}: {e}")))?
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ImsError::Config(format!("{what}: cannot build the HTTP client: {e}")))
}

/// Whether a call may be repeated after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// GET, PUT, PATCH, DELETE, HEAD, part uploads: retried on transport errors, 429 and 5xx.
    Idempotent,
    /// POST that creates a record: retried only when the connection could not be made.
    CreatesRecord,
}

/// Sends `make()` with the retry policy of spec §10 and returns the final response, whatever its
/// status.
pub(crate) async fn send_with_retry(
    settings: &HttpSettings,
    context: &str,
    idempotency: Idempotency,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, ImsError> {
    if idempotency == Idempotency::Idempotent {
        return settings
            .send(context, true, make)
            .await
            .map_err(ImsError::from);
    }
    let mut attempt = 0;
    loop {
        match settings.send(context, false, &make).await {
            // Nothing reached the server, so no record was created: safe to try again.
            Err(e) if e.kind() == TransportKind::Connect && attempt < settings.max_retries => {
                let delay = settings.retry_delay(attempt);
                tracing::info!(
                    context,
                    attempt = attempt + 1,
                    ?delay,
                    "retrying after a connect error"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other.map_err(ImsError::from),
        }
    }
}

/// Turns a non-2xx response into an error of `service`; passes 2xx through.
pub(crate) async fn check(service: Service, resp: Response) -> Result<Response, ImsError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    // A body we cannot read still leaves a useful status.
    let body = omps_http::read_capped(resp, omps_http::MAX_ERROR_BODY_BYTES).await;
    Err(ImsError::from_status(service, status, &body))
}

/// Reads a whole body; more than `limit` bytes is an error.
pub(crate) async fn read_limited(
    context: &str,
    resp: Response,
    limit: u64,
) -> Result<Bytes, ImsError> {
    omps_http::read_limited(context, resp, limit)
        .await
        .map_err(ImsError::from)
}

/// Checks a base URL: http(s), a host, no credentials in it.
pub(crate) fn parse_url(what: &str, url: &str) -> Result<url::Url, ImsError> {
    omps_http::parse_base_url(url).map_err(|e| match e {
        HttpError::Config(m) => ImsError::Config(format!("{what}: {m}")),
        other => ImsError::Config(format!("{what}: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let s = default_http_settings();
        assert_eq!(s.timeout, Duration::from_secs(720));
        assert_eq!(s.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.max_retries, 4);
        assert_eq!(s.retry_base_delay, Duration::from_secs(1));
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
