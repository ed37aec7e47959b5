//! The crate's one error type.

use quay_client::{ErrorKind, QuayError};

/// Everything that can go wrong in a mirror, an apply or a preflight. Variants say what the
/// caller can do; [`ToolsError::kind`] gives the category for exit statuses and reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolsError {
    /// The configuration (a file, or values given by the caller) cannot be used; every problem
    /// found is listed. Fix the configuration; nothing was sent. Secrets never appear.
    #[error("{0}")]
    Config(String),

    /// A configuration file cannot be read or has a key, a type or a syntax error; the message
    /// names the file, the position, the full key path and the closest known key.
    #[error(transparent)]
    ConfigFile(Box<strict_config::ConfigError>),

    /// A preflight check of one side of a sync failed: the host name does not resolve, the port
    /// refuses connections, TLS fails, or `GET /v2/` does not answer 200 or 401.
    #[error("preflight failed for the {role} registry {host}: {error}")]
    Preflight {
        /// `source` or `destination`.
        role: String,
        /// `host[:port]` of the registry.
        host: String,
        /// What failed.
        error: Box<QuayError>,
    },

    /// A call to Quay or a registry failed.
    #[error(transparent)]
    Quay(#[from] QuayError),
}

impl From<strict_config::ConfigError> for ToolsError {
    fn from(e: strict_config::ConfigError) -> Self {
        ToolsError::ConfigFile(Box::new(e))
    }
}

impl ToolsError {
    /// The category: [`ErrorKind::Config`] for configuration problems, else the underlying
    /// client error's kind (a preflight that could not connect is a transport failure).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ToolsError::Config(_) | ToolsError::ConfigFile(_) => ErrorKind::Config,
            ToolsError::Preflight { error, .. } => error.kind(),
            ToolsError::Quay(error) => error.kind(),
        }
    }

    /// The client error behind this one, when there is one.
    pub fn client_error(&self) -> Option<&QuayError> {
        match self {
            ToolsError::Config(_) | ToolsError::ConfigFile(_) => None,
            ToolsError::Preflight { error, .. } => Some(error),
            ToolsError::Quay(error) => Some(error),
        }
    }

    /// Whether retrying later may succeed (see [`QuayError::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.client_error().is_some_and(QuayError::is_retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_cause() {
        assert_eq!(ToolsError::Config("x".into()).kind(), ErrorKind::Config);
        let e = ToolsError::Preflight {
            role: "source".into(),
            host: "a:1".into(),
            error: Box::new(QuayError::InvalidResponse("odd".into())),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(
            e.to_string(),
            "preflight failed for the source registry a:1: unexpected response: odd"
        );
        assert!(!e.is_retryable());
    }
}
