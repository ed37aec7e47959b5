//! Preflight checks before a sync: the host name resolves, the port accepts a TCP connection
//! within a timeout, and the registry answers `GET /v2/` with 200 or 401.
//!
//! Every failure names the host, the port and the cause, so a typo in a server name or a closed
//! firewall is obvious before any work starts.

use std::net::SocketAddr;
use std::time::Duration;

use quay_client::oci::{Ping, RegistryClient};
use quay_client::{QuayError, TransportError, TransportKind};
use serde::Serialize;
use url::Url;

use crate::ToolsError;

/// Default timeout of each preflight step.
pub const DEFAULT_PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(5);

/// Host and port of a URL (port defaulted from the scheme).
pub fn host_port(url: &Url) -> Result<(String, u16), QuayError> {
    let host = url
        .host_str()
        .ok_or_else(|| QuayError::Config(format!("URL {url} has no host")))?;
    // IPv6 literals come back bracketed; the resolver wants them bare.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| QuayError::Config(format!("URL {url} has no port")))?;
    Ok((host, port))
}

/// What a successful preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PreflightReport {
    /// Host name checked.
    pub host: String,
    /// Port checked.
    pub port: u16,
    /// The address the TCP connection reached.
    pub connected_to: String,
    /// Whether the registry wants credentials (`GET /v2/` answered 401).
    pub authentication_required: bool,
}

fn failure(context: String, kind: TransportKind, cause: impl Into<String>) -> QuayError {
    QuayError::from_transport(TransportError::new(context, None, kind, cause))
}

/// Resolves `host:port` and opens (then closes) a TCP connection, each step within `timeout`.
pub async fn check_tcp(host: &str, port: u16, timeout: Duration) -> Result<SocketAddr, QuayError> {
    let secs = timeout.as_secs_f64();
    let dns = format!("DNS resolution of {host} (port {port})");
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Err(_) => {
                return Err(failure(
                    dns,
                    TransportKind::Timeout,
                    format!("did not finish within {secs} s"),
                ));
            }
            Ok(Err(e)) => {
                return Err(failure(
                    dns,
                    TransportKind::Connect,
                    format!("failed to lookup the address: {e}"),
                ));
            }
            Ok(Ok(a)) => a.collect(),
        };
    if addrs.is_empty() {
        return Err(failure(
            dns,
            TransportKind::Connect,
            "failed to lookup the address: no address found",
        ));
    }
    let mut last: Option<QuayError> = None;
    for addr in addrs {
        let context = format!("TCP connection to {}{port}", via(host, addr));
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_stream)) => return Ok(addr),
            Ok(Err(e)) => {
                last = Some(failure(context, TransportKind::Connect, e.to_string()));
            }
            Err(_) => {
                last = Some(failure(
                    context,
                    TransportKind::Timeout,
                    format!("did not succeed within {secs} s"),
                ));
            }
        }
    }
    Err(last.expect("at least one address was tried"))
}

/// `host:` or `host (address):` for messages, without repeating a literal address.
fn via(host: &str, addr: SocketAddr) -> String {
    if addr.ip().to_string() == host {
        format!("{host}:")
    } else {
        format!("{host} ({}) port ", addr.ip())
    }
}

/// Full preflight of a registry: DNS, TCP (both within `timeout`), then an unauthenticated
/// `GET /v2/` through `client` (so the client's TLS settings are exercised too) that must answer
/// 200 or 401.
pub async fn check_registry(
    client: &RegistryClient,
    timeout: Duration,
) -> Result<PreflightReport, QuayError> {
    let (host, port) = host_port(client.base_url())?;
    let addr = check_tcp(&host, port, timeout).await?;
    let ping = tokio::time::timeout(timeout, client.ping())
        .await
        .map_err(|_| {
            failure(
                format!("GET /v2/ on {host}:{port}"),
                TransportKind::Timeout,
                format!("no answer within {} s", timeout.as_secs_f64()),
            )
        })??;
    Ok(PreflightReport {
        host,
        port,
        connected_to: addr.to_string(),
        authentication_required: ping == Ping::AuthenticationRequired,
    })
}

/// [`check_registry`] for one side of a sync: a failure names the side and the registry.
pub async fn check_side(
    role: &str,
    client: &RegistryClient,
    timeout: Duration,
) -> Result<PreflightReport, ToolsError> {
    check_registry(client, timeout)
        .await
        .map_err(|error| ToolsError::Preflight {
            role: role.to_owned(),
            host: crate::mirror::registry_host(client.base_url()),
            error: Box::new(error),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_defaults() {
        let u = Url::parse("https://quay.example.com").unwrap();
        assert_eq!(host_port(&u).unwrap(), ("quay.example.com".into(), 443));
        let u = Url::parse("http://127.0.0.1:5000/x").unwrap();
        assert_eq!(host_port(&u).unwrap(), ("127.0.0.1".into(), 5000));
        let u = Url::parse("http://[::1]:81").unwrap();
        assert_eq!(host_port(&u).unwrap(), ("::1".into(), 81));
    }

    #[tokio::test]
    async fn closed_port_names_host_and_port() {
        // Bind and drop to get a port that is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = check_tcp("127.0.0.1", port, Duration::from_secs(2))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(matches!(err, QuayError::Transport { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn open_port_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let addr = check_tcp("127.0.0.1", port, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(addr.port(), port);
    }

    #[tokio::test]
    async fn unresolvable_host_is_a_dns_error() {
        // `.invalid` never resolves (RFC 2606).
        let err = check_tcp("no-such-host.invalid", 443, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("DNS resolution of no-such-host.invalid"),
            "{err}"
        );
    }
}
