//! The crate's one error type.

use crate::transport::TransportError;

/// What can go wrong in the shared HTTP layer. Client crates wrap it in their own error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The settings or a URL given by the caller are unusable; fix the configuration.
    #[error("invalid HTTP configuration: {0}")]
    Config(String),
    /// The request did not complete on the wire (timeout, refused, TLS, protocol).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The peer answered with a status that is not a success. `body` is the peer's answer, kept
    /// (up to [`crate::MAX_ERROR_BODY_BYTES`]) so callers can show or parse it.
    #[error("{context}: {url} answered HTTP {status}{}", body_suffix(body))]
    Status {
        /// What was being done.
        context: String,
        /// The URL, without query or credentials.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The response body (lossy UTF-8, bounded).
        body: String,
    },
    /// The answer is larger than the configured cap (`max_response_bytes`).
    #[error("{context}: the answer is larger than the {limit}-byte limit")]
    ResponseTooLarge {
        /// What was being done.
        context: String,
        /// The cap that was exceeded.
        limit: u64,
    },
    /// The peer answered, but not in the expected shape.
    #[error("{context}: invalid answer: {reason}")]
    InvalidResponse {
        /// What was being done.
        context: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn body_suffix(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        let short: String = body.chars().take(300).collect();
        let more = if short.len() < body.len() { "…" } else { "" };
        format!(": {short}{more}")
    }
}

impl HttpError {
    /// Whether trying the same call again later may succeed: transport failures other than TLS
    /// and configuration problems, `429`, and `5xx` but `501`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(t) => t.is_retryable(),
            Self::Status { status, .. } => crate::settings::is_transient_status(*status),
            Self::Config(_) | Self::ResponseTooLarge { .. } | Self::InvalidResponse { .. } => false,
        }
    }

    /// The HTTP status the peer answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
