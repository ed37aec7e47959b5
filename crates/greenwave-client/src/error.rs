//! The crate's single error type.

use serde_json::Value;

/// Everything that can go wrong talking to Greenwave.
///
/// Remote bodies are kept (`body`) so a service can echo them back to its own callers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GreenwaveError {
    /// The builder was given something unusable (bad URL, bad CA bundle). Fix the configuration.
    #[error("invalid Greenwave client configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The request did not complete: connection refused, TLS failure, timeout, broken body.
    /// Retrying later may help. The message names the cause, not only the URL.
    #[error("Request failed: {}", omps_http::TransportError::from_reqwest("Greenwave", .source))]
    Transport {
        /// The underlying HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// Greenwave answered with an unexpected HTTP status.
    #[error("Greenwave unexpected response code: {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// Greenwave's `message`, when the body had one.
        message: Option<String>,
        /// The parsed JSON body, or `{}` when the body was not JSON.
        body: Value,
    },
    /// The answer had status 200 but no `policies_satisfied` key.
    #[error("Missing key 'policies_satisfied' in Greenwave answer")]
    MissingPoliciesSatisfied {
        /// The parsed JSON body, or `{}` when the body was not JSON.
        body: Value,
    },
    /// The answer had status 200 but could not be understood (wrong field types).
    #[error("unexpected Greenwave answer: {reason}")]
    InvalidResponse {
        /// What did not match.
        reason: String,
        /// The parsed JSON body, or `{}` when the body was not JSON.
        body: Value,
    },
    /// The response body exceeded the configured size cap.
    #[error("Greenwave response larger than {limit} bytes")]
    ResponseTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
}

impl GreenwaveError {
    pub(crate) fn transport(source: reqwest::Error) -> Self {
        Self::Transport { source }
    }

    pub(crate) fn status(status: u16, body: Value) -> Self {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self::Status {
            status,
            message,
            body,
        }
    }

    /// Whether the same request may succeed if sent again later
    /// (transport failures, 502/503/504 from Greenwave or its upstreams).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// Whether the failure was a timeout (connect or total).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport { source } if source.is_timeout())
    }

    /// The remote JSON body that came with the error, for echoing (`greenwave_response`).
    pub fn response_body(&self) -> Option<&Value> {
        match self {
            Self::Status { body, .. }
            | Self::MissingPoliciesSatisfied { body }
            | Self::InvalidResponse { body, .. } => Some(body),
            _ => None,
        }
    }
}
