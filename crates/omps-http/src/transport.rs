//! [`TransportError`]: a failure on the wire, described so that a person can act on it.

use std::error::Error as _;
use std::fmt;

use url::Url;

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No answer in time (connect, total or read timeout).
    Timeout,
    /// The connection could not be opened (refused, unreachable, name not resolved).
    Connect,
    /// The TLS handshake failed (untrusted certificate, or the peer does not speak TLS).
    Tls,
    /// The peer's answer was not valid HTTP, or the connection closed mid-answer.
    Protocol,
    /// Reading or writing a body failed after the exchange had started.
    Body,
    /// Anything else reqwest reports (e.g. a request that could not be built).
    Other,
}

/// A request that did not complete on the wire, with the full URL (port included, query and
/// credentials never), the underlying cause and, when the fix is obvious, a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    context: String,
    url: Option<String>,
    kind: TransportKind,
    cause: String,
    hint: Option<String>,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportKind::Timeout => "timed out",
            TransportKind::Connect => "cannot connect",
            TransportKind::Tls => "TLS handshake failed",
            TransportKind::Protocol => "the connection broke",
            TransportKind::Body => "transfer interrupted",
            TransportKind::Other => "request failed",
        };
        write!(f, "{}: {what}", self.context)?;
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        if !self.cause.is_empty() {
            write!(f, ": {}", self.cause)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {}

impl TransportError {
    /// Describes a `reqwest` error. `context` says what was being done ("blob HEAD", "token
    /// request"); it starts the message.
    pub fn from_reqwest(context: &str, err: &reqwest::Error) -> Self {
        let url = err.url().map(display_url);
        let cause = cause_chain(err);
        let kind = classify(err, &cause);
        let hint = hint(kind, err.url(), &cause);
        Self {
            context: context.to_owned(),
            url,
            kind,
            cause,
            hint,
        }
    }

    /// A transport error from parts, for transports other than reqwest (and for tests).
    pub fn new(
        context: impl Into<String>,
        url: Option<&Url>,
        kind: TransportKind,
        cause: impl Into<String>,
    ) -> Self {
        let cause = cause.into();
        Self {
            context: context.into(),
            url: url.map(display_url),
            kind,
            hint: hint(kind, url, &cause),
            cause,
        }
    }

    /// What was being done.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The URL, with its port and without query or credentials.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The kind of failure.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// The underlying cause, innermost last (e.g. `tcp connect error: Connection refused`).
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// Replaces the hint, for a caller that knows better what the user can do (a command line
    /// that names its own flags); `None` removes it.
    #[must_use]
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// What the user can probably do about it.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Whether trying again may help: not after a TLS failure or an unbuildable request.
    pub fn is_retryable(&self) -> bool {
        !matches!(self.kind, TransportKind::Tls | TransportKind::Other)
    }
}

/// A URL as it may appear in messages and logs: scheme, host, port (always, even the default
/// one, so `127.0.0.1:5000` and `127.0.0.1:443` are told apart) and path; never the query or
/// credentials, which may carry signatures or tokens.
pub fn display_url(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string(),
        None => return format!("{}:{}", url.scheme(), url.path()),
    };
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// The messages of the error's sources, outermost first, without reqwest's own line (which
/// repeats the URL with its query) and without hyper's generic wrappers.
fn cause_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(e) = source {
        let msg = e.to_string();
        let generic = msg.starts_with("client error (") || msg.is_empty();
        if !generic && parts.last() != Some(&msg) {
            parts.push(msg);
        }
        source = e.source();
    }
    if parts.is_empty() && err.is_timeout() {
        parts.push("operation timed out".to_owned());
    }
    if parts.is_empty() && err.is_builder() {
        parts.push("the request could not be built".to_owned());
    }
    parts.join(": ")
}

fn classify(err: &reqwest::Error, cause: &str) -> TransportKind {
    let lower = cause.to_ascii_lowercase();
    if err.is_timeout() || lower.contains("timed out") {
        TransportKind::Timeout
    } else if looks_like_tls(&lower) {
        TransportKind::Tls
    } else if err.is_connect() {
        TransportKind::Connect
    } else if err.is_body() || err.is_decode() {
        TransportKind::Body
    } else if err.is_request() {
        TransportKind::Protocol
    } else {
        TransportKind::Other
    }
}

fn looks_like_tls(lower: &str) -> bool {
    [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

fn hint(kind: TransportKind, url: Option<&Url>, cause: &str) -> Option<String> {
    let url = url?;
    let host = url.host_str()?;
    let authority = match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let lower = cause.to_ascii_lowercase();
    let https = url.scheme() == "https";
    let text = match kind {
        TransportKind::Tls
            if lower.contains("corrupt message") || lower.contains("invalidcontenttype") =>
        {
            format!("{authority} answered in plain HTTP, not TLS: use an http:// URL for it")
        }
        TransportKind::Tls if lower.contains("certificate") => format!(
            "the certificate of {authority} is not trusted: give the CA bundle that signed it"
        ),
        TransportKind::Connect if lower.contains("refused") => {
            format!(
                "nothing accepts connections on {authority}: is the service running, and is the port right?"
            )
        }
        TransportKind::Connect
            if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") =>
        {
            format!("the host name {host} does not resolve")
        }
        TransportKind::Protocol if !https => {
            format!("{authority} did not answer in HTTP; if it expects TLS, use an https:// URL")
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_url_keeps_the_port_and_drops_query_and_credentials() {
        let u = Url::parse("https://user:pw@127.0.0.1/v2/?sig=secret").unwrap();
        assert_eq!(display_url(&u), "https://127.0.0.1:443/v2/");
        let u = Url::parse("http://[::1]:5000/x").unwrap();
        assert_eq!(display_url(&u), "http://[::1]:5000/x");
    }

    #[test]
    fn new_builds_hints_from_the_cause() {
        let u = Url::parse("https://127.0.0.1:5000/v2/").unwrap();
        let e = TransportError::new(
            "blob HEAD",
            Some(&u),
            TransportKind::Tls,
            "received corrupt message of type InvalidContentType",
        );
        assert_eq!(
            e.to_string(),
            "blob HEAD: TLS handshake failed (https://127.0.0.1:5000/v2/): received corrupt \
             message of type InvalidContentType; hint: 127.0.0.1:5000 answered in plain HTTP, \
             not TLS: use an http:// URL for it"
        );
        assert!(!e.is_retryable());
        let e = TransportError::new(
            "x",
            Some(&u),
            TransportKind::Connect,
            "tcp connect error: Connection refused (os error 111)",
        );
        assert!(e.hint().unwrap().contains("127.0.0.1:5000"), "{e}");
        assert!(e.is_retryable());
    }
}
