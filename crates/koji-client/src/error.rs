//! The crate's single error type.

use crate::types::BuildState;
use crate::xmlrpc::{DecodeError, Fault};

/// Koji fault code for `GenericError` (also unknown methods, malformed NVRs).
pub const FAULT_GENERIC_ERROR: i64 = 1000;
/// Koji fault code for `ServerOffline` (hub maintenance, database outage): retryable.
pub const FAULT_SERVER_OFFLINE: i64 = 1014;
/// Koji fault code for `ParameterError` (wrong arguments).
pub const FAULT_PARAMETER_ERROR: i64 = 1019;

/// The name of a Koji fault code (`koji/__init__.py`), e.g. `ServerOffline` for 1014.
pub fn fault_name(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "ServerError",
        1000 => "GenericError",
        1001 => "LockError",
        1002 => "AuthError",
        1003 => "TagError",
        1004 => "ActionNotAllowed",
        1005 => "BuildError",
        1006 => "AuthLockError",
        1007 => "AuthExpired",
        1008 => "SequenceError",
        1009 => "RetryError",
        1010 => "PreBuildError",
        1011 => "PostBuildError",
        1012 => "BuildrootError",
        1013 => "FunctionDeprecated",
        1014 => "ServerOffline",
        1015 => "LiveCDError",
        1016 => "PluginError",
        1017 => "CallbackError",
        1018 => "ApplianceError",
        1019 => "ParameterError",
        1020 => "ImportError",
        1021 => "ConfigurationError",
        1022 => "LiveMediaError",
        1023 => "GSSAPIAuthError",
        1024 => "NameValidationError",
        _ => return None,
    })
}

/// Everything that can go wrong talking to Koji or downloading from its file root.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KojiError {
    /// The builder was given something unusable, or a needed setting (the file root URL) is
    /// missing. Fix the configuration.
    #[error("invalid Koji client configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The request did not complete (connection refused, TLS, timeout, broken body). The
    /// message names the cause, not only the URL.
    #[error("{}", omps_http::TransportError::from_reqwest(&format!("Koji request {method}"), .source))]
    Transport {
        /// The XML-RPC method, or `download`.
        method: String,
        /// The underlying HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// The hub (or a proxy in front of it) answered with an HTTP error instead of XML-RPC:
    /// 405 for a non-POST, 400 for an unreadable request, 408 for a slow one, 502 from a proxy.
    #[error("Koji hub answered HTTP {status} to {method}: {body}")]
    Http {
        /// The XML-RPC method.
        method: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the (text) body, kept for diagnosis.
        body: String,
    },
    /// A 200 answer that is not XML-RPC (wrong content type, malformed or hostile XML,
    /// a limit hit). Not retried: the same request would get the same answer.
    #[error("Koji hub sent an unusable answer to {method}: {reason}")]
    InvalidResponse {
        /// The XML-RPC method.
        method: String,
        /// What was wrong.
        reason: String,
        /// The decoder's error, when the XML itself was at fault.
        #[source]
        source: Option<DecodeError>,
    },
    /// The hub answered with an XML-RPC fault.
    #[error("Koji fault {} ({}) in {method}: {}", fault.code, fault_name(fault.code).unwrap_or("unknown"), fault.string)]
    Fault {
        /// The XML-RPC method.
        method: String,
        /// Code and text, as sent.
        fault: Fault,
    },
    /// The result did not have the shape this crate expects (e.g. a build without `id`).
    #[error("unexpected result of {method}: {reason}")]
    UnexpectedResult {
        /// The XML-RPC method.
        method: String,
        /// What did not match.
        reason: String,
    },
    /// No build with that NVR (or the NVR is malformed).
    #[error("NVR not found: {nvr}")]
    BuildNotFound {
        /// The NVR asked for.
        nvr: String,
    },
    /// The build exists but is not in the COMPLETE state.
    #[error("Build {nvr} is not complete (state {state})")]
    BuildNotComplete {
        /// The NVR asked for.
        nvr: String,
        /// The build's state.
        state: BuildState,
    },
    /// The build has no operator-manifests archive metadata (also when `extra` is null).
    #[error("Not an operator image: {nvr}")]
    NotAnOperatorImage {
        /// The NVR asked for.
        nvr: String,
    },
    /// The legacy metadata names an archive that is not among the build logs.
    #[error("Expected archive '{file}' with manifests not found in build: {nvr}")]
    ArchiveNotFound {
        /// The NVR asked for.
        nvr: String,
        /// The archive file name from the build metadata.
        file: String,
    },
    /// The archive download got a non-2xx status.
    #[error("download of {url} failed with HTTP {status}")]
    DownloadStatus {
        /// The URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A response body (XML-RPC answer or download) exceeded its size cap.
    #[error("response from {url} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The downloaded archive does not match Koji's checksum.
    #[error("Checksum mismatch for {file}")]
    ChecksumMismatch {
        /// The archive file name.
        file: String,
        /// Koji's checksum (hex).
        expected: String,
        /// The checksum of the downloaded bytes (hex).
        actual: String,
    },
    /// Writing the download to its destination failed.
    #[error("cannot write downloaded archive: {source}")]
    Io {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl KojiError {
    /// Whether sending the same (read-only) request again later may succeed: transport
    /// failures, HTTP 5xx and 408 from the hub, fault 1014 `ServerOffline`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { source, .. } => !source.is_builder(),
            Self::Http { status, .. } => *status >= 500 || *status == 408,
            Self::Fault { fault, .. } => fault.code == FAULT_SERVER_OFFLINE,
            _ => false,
        }
    }

    /// Whether the failure was a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport { source, .. } if source.is_timeout())
    }

    /// The fault, when the hub answered with one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Self::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// Whether this is the hub's answer to a malformed NVR
    /// (fault 1000 `invalid format: …`); callers usually treat it as "not found".
    pub fn is_invalid_nvr(&self) -> bool {
        self.fault().is_some_and(|f| {
            f.code == FAULT_GENERIC_ERROR && f.string.starts_with("invalid format")
        })
    }
}
