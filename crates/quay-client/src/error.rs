//! The crate's single error type.

use std::fmt;

use omps_http::{TransportError, TransportKind};

/// Which remote API produced an error body; decides how the body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Api {
    /// The App Registry (`/cnr`).
    AppRegistry,
    /// Quay's REST API v1 (`/api/v1`).
    QuayRest,
    /// An OCI / Docker registry (`/v2`), or its token server.
    Registry,
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::AppRegistry => "App Registry",
            Api::QuayRest => "Quay API",
            Api::Registry => "registry",
        })
    }
}

/// A non-2xx answer from a remote server, with its body kept.
///
/// `body` is the parsed JSON body, or `{}` when the body was not JSON (the raw text is in
/// [`RemoteError::raw_body`], truncated to a bounded size). Services echo `body` to their own
/// callers (for example as `quay_response`).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    api: Api,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    body: serde_json::Value,
    raw_body: String,
}

impl RemoteError {
    /// Builds a remote error from a status and a (bounded) body, reading the error shape of `api`.
    pub fn from_body(api: Api, status: u16, raw: &[u8]) -> Self {
        let raw_body = String::from_utf8_lossy(raw).into_owned();
        let parsed: Option<serde_json::Value> = serde_json::from_slice(raw).ok();
        let (code, message) = parsed
            .as_ref()
            .map_or((None, None), |v| extract_code_message(api, v));
        let body = match parsed {
            Some(v) => v,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        Self {
            api,
            status,
            code,
            message,
            body,
            raw_body,
        }
    }

    /// Which API answered.
    pub fn api(&self) -> Api {
        self.api
    }

    /// HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Machine-readable error code when the body had one (`package-exists`, `MANIFEST_UNKNOWN`,
    /// `insufficient_scope`, ...).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Human message from the body, when it had one.
    ///
    /// * App Registry: `error.message`, the string value of `error`, or appr's bare `message`.
    /// * Quay REST: the first present of `error_message`, `detail`, `message`.
    /// * Registry: the first entry of `errors[]`, `message` (or its `code`).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Like [`RemoteError::message`], falling back to `Failed to get error details.` (the text
    /// OMPS reports when Quay gave no usable message).
    pub fn message_or_default(&self) -> &str {
        self.message().unwrap_or("Failed to get error details.")
    }

    /// Parsed JSON body; `{}` when the body was not JSON.
    pub fn body(&self) -> &serde_json::Value {
        &self.body
    }

    /// Body as text (lossy UTF-8), truncated to the error-body limit.
    pub fn raw_body(&self) -> &str {
        &self.raw_body
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.api, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {msg}")?;
        }
        Ok(())
    }
}

fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn extract_code_message(api: Api, v: &serde_json::Value) -> (Option<String>, Option<String>) {
    match api {
        Api::AppRegistry => match v.get("error") {
            // Quay: {"error": {"code", "message", "details"}}
            Some(inner @ serde_json::Value::Object(_)) => {
                (str_field(inner, "code"), str_field(inner, "message"))
            }
            // Quay: {"error": "Anonymous access is not allowed"}
            Some(serde_json::Value::String(s)) => (None, Some(s.clone())),
            // appr: bare {"code", "message", "details"}
            _ => (str_field(v, "code"), str_field(v, "message")),
        },
        Api::QuayRest => {
            let code = str_field(v, "error_type");
            let message = ["error_message", "detail", "message"]
                .iter()
                .find_map(|k| str_field(v, k));
            (code, message)
        }
        Api::Registry => {
            let first = v
                .get("errors")
                .and_then(|e| e.as_array())
                .and_then(|a| a.first());
            match first {
                Some(e) => {
                    let code = str_field(e, "code");
                    let message = str_field(e, "message").or_else(|| code.clone());
                    (code, message)
                }
                // Token servers answer {"details": "..."} or {"error": "..."}.
                None => (
                    None,
                    ["details", "error", "message"]
                        .iter()
                        .find_map(|k| str_field(v, k)),
                ),
            }
        }
    }
}

/// What kind of failure a [`QuayError`] is, for callers that act by category (a CLI's exit
/// status, a report's `error_kind`). [`ErrorKind::as_str`] gives stable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401/403: fix the credentials or permissions.
    Unauthorized,
    /// 404 (and Quay's "Could not find ..."): the thing does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// 400/422: the server refused the request as invalid; fix the input.
    InvalidRequest,
    /// Any other non-2xx answer (5xx, 405, 429, `resource-in-use`, ...).
    Remote,
    /// No answer in time.
    Timeout,
    /// The connection failed or broke.
    Transport,
    /// Content did not match its digest.
    DigestMismatch,
    /// A 2xx answer that could not be read or trusted (including too large).
    InvalidResponse,
    /// The caller's configuration or arguments are unusable.
    Config,
    /// A local failure (writing downloaded data).
    Other,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Unauthorized,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::InvalidRequest,
        ErrorKind::Remote,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::DigestMismatch,
        ErrorKind::InvalidResponse,
        ErrorKind::Config,
        ErrorKind::Other,
    ];

    /// The stable name used in JSON output: `unauthorized`, `not_found`, `already_exists`,
    /// `invalid_request`, `remote`, `timeout`, `transport`, `digest_mismatch`,
    /// `invalid_response`, `config`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Remote => "remote",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::DigestMismatch => "digest_mismatch",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Config => "config",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in this crate. Variants say what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuayError {
    /// The server refused the credentials or the permission (HTTP 401 or 403). Fix the
    /// credentials or the permissions; retrying does not help.
    #[error("not authorized: {0}")]
    Unauthorized(RemoteError),

    /// The package, release, repository, robot, manifest or blob does not exist (HTTP 404, and
    /// Quay's 400 "Could not find robot").
    #[error("not found: {0}")]
    NotFound(RemoteError),

    /// The thing to create already exists: App Registry 409 `package-exists` (the release is
    /// already there), or a Quay REST "already exists" answer.
    #[error("already exists: {0}")]
    AlreadyExists(RemoteError),

    /// The server rejected the request as invalid (HTTP 400 or 422, e.g. App Registry
    /// `invalid-release` for a release that is not semver). Fix the input.
    #[error("rejected as invalid: {0}")]
    InvalidRequest(RemoteError),

    /// Any other non-2xx answer (5xx, 405, 409 `resource-in-use`, 429, ...). See
    /// [`QuayError::is_retryable`].
    #[error("{0}")]
    Remote(RemoteError),

    /// The request timed out (connect, total or read timeout). The description names what was
    /// being done, the URL with its port and the cause.
    #[error(transparent)]
    Timeout {
        /// What happened on the wire.
        source: TransportError,
    },

    /// The connection failed or broke (DNS, TCP, TLS, reset). The description names what was
    /// being done, the URL with its port, the cause and, when the fix is obvious, a hint.
    #[error(transparent)]
    Transport {
        /// What happened on the wire.
        source: TransportError,
    },

    /// A 2xx answer whose body or headers could not be understood.
    #[error("unexpected response: {0}")]
    InvalidResponse(String),

    /// A response body exceeded the configured limit; reading stopped there.
    #[error("response body exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// Content did not match its digest (a download, or a registry's `Docker-Content-Digest`).
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest that was expected.
        expected: String,
        /// The digest of the bytes actually received or sent.
        actual: String,
    },

    /// The caller passed an argument the client cannot use (bad digest, unsupported manifest).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The client could not be built (bad base URL, CA bundle, user agent).
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// Writing downloaded data to the caller's sink failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl QuayError {
    /// Classifies a non-2xx answer.
    pub(crate) fn from_status(api: Api, status: u16, raw: &[u8]) -> Self {
        let remote = RemoteError::from_body(api, status, raw);
        classify(remote)
    }

    /// The category of this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            QuayError::Unauthorized(_) => ErrorKind::Unauthorized,
            QuayError::NotFound(_) => ErrorKind::NotFound,
            QuayError::AlreadyExists(_) => ErrorKind::AlreadyExists,
            QuayError::InvalidRequest(_) => ErrorKind::InvalidRequest,
            QuayError::Remote(_) => ErrorKind::Remote,
            QuayError::Timeout { .. } => ErrorKind::Timeout,
            QuayError::Transport { .. } => ErrorKind::Transport,
            QuayError::DigestMismatch { .. } => ErrorKind::DigestMismatch,
            QuayError::InvalidResponse(_) | QuayError::ResponseTooLarge { .. } => {
                ErrorKind::InvalidResponse
            }
            QuayError::Config(_) | QuayError::InvalidArgument(_) => ErrorKind::Config,
            QuayError::Io(_) => ErrorKind::Other,
        }
    }

    /// Whether retrying the same call later may succeed: timeouts, transport failures, 5xx
    /// (but not 501), 429, App Registry 409 `resource-in-use`, 503 read-only excepted.
    pub fn is_retryable(&self) -> bool {
        match self {
            QuayError::Timeout { .. } => true,
            QuayError::Transport { source } => source.is_retryable(),
            QuayError::Remote(r) => {
                let read_only = r
                    .body
                    .get("is_readonly")
                    .and_then(serde_json::Value::as_bool)
                    == Some(true)
                    || r.code() == Some("read-only");
                !read_only
                    && ((r.status >= 500 && r.status != 501)
                        || r.status == 429
                        || r.code() == Some("resource-in-use"))
            }
            _ => false,
        }
    }

    /// The remote answer behind this error, when there was one.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            QuayError::Unauthorized(r)
            | QuayError::NotFound(r)
            | QuayError::AlreadyExists(r)
            | QuayError::InvalidRequest(r)
            | QuayError::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the server said it expects TLS: a plain-HTTP request reached an HTTPS port (Go
    /// servers, `docker-registry` among them, answer 400 `Client sent an HTTP request to an
    /// HTTPS server.`).
    pub fn is_http_to_https(&self) -> bool {
        self.remote().is_some_and(|r| {
            r.status() == 400
                && r.raw_body()
                    .contains("Client sent an HTTP request to an HTTPS server")
        })
    }

    /// HTTP status of the remote answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.remote().map(RemoteError::status)
    }

    /// The remote JSON body to echo to callers (`quay_response`): the parsed body, or `{}` when
    /// there was no remote answer or it was not JSON.
    pub fn remote_body(&self) -> serde_json::Value {
        self.remote().map_or_else(
            || serde_json::Value::Object(serde_json::Map::new()),
            |r| r.body().clone(),
        )
    }

    /// A transport failure: [`QuayError::Timeout`] or [`QuayError::Transport`] by its kind.
    pub fn from_transport(source: TransportError) -> Self {
        if source.kind() == TransportKind::Timeout {
            QuayError::Timeout { source }
        } else {
            QuayError::Transport { source }
        }
    }
}

fn classify(remote: RemoteError) -> QuayError {
    let status = remote.status;
    let code = remote.code.as_deref();
    let msg = remote.message.as_deref().unwrap_or("");
    match (remote.api, status) {
        (_, 401 | 403) => QuayError::Unauthorized(remote),
        (_, 404) => QuayError::NotFound(remote),
        (Api::AppRegistry, 409) if code == Some("package-exists") => {
            QuayError::AlreadyExists(remote)
        }
        (Api::QuayRest, 409) => QuayError::AlreadyExists(remote),
        (Api::QuayRest, 400) if msg.starts_with("Could not find") => QuayError::NotFound(remote),
        (Api::QuayRest, 400)
            if msg.contains("already exists") || msg.starts_with("Existing robot") =>
        {
            QuayError::AlreadyExists(remote)
        }
        (_, 400 | 422) => QuayError::InvalidRequest(remote),
        _ => QuayError::Remote(remote),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_distinct_stable_names() {
        let names: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        let e = QuayError::from_status(Api::QuayRest, 503, b"{}");
        assert_eq!(e.kind(), ErrorKind::Remote);
        assert_eq!(
            QuayError::ResponseTooLarge { limit: 1 }.kind().as_str(),
            "invalid_response"
        );
        assert_eq!(
            QuayError::InvalidArgument("x".into()).kind(),
            ErrorKind::Config
        );
        assert_eq!(
            QuayError::from_status(Api::Registry, 403, b"{}").kind(),
            ErrorKind::Unauthorized
        );
    }

    #[test]
    fn appr_wrapped_error() {
        let e = QuayError::from_status(
            Api::AppRegistry,
            409,
            br#"{"error":{"code":"package-exists","message":"package exists already","details":{}}}"#,
        );
        assert!(matches!(e, QuayError::AlreadyExists(_)));
        let r = e.remote().unwrap();
        assert_eq!(r.code(), Some("package-exists"));
        assert_eq!(r.message_or_default(), "package exists already");
    }

    #[test]
    fn appr_bare_and_string_errors() {
        let e = QuayError::from_status(
            Api::AppRegistry,
            422,
            br#"{"code":"invalid-release","message":"bad","details":{}}"#,
        );
        assert!(matches!(e, QuayError::InvalidRequest(_)));
        assert_eq!(e.remote().unwrap().code(), Some("invalid-release"));
        let e = QuayError::from_status(
            Api::AppRegistry,
            405,
            br#"{"error": "Cannot push an application to an image repository with the same name"}"#,
        );
        assert!(matches!(e, QuayError::Remote(_)));
        assert_eq!(
            e.remote().unwrap().message(),
            Some("Cannot push an application to an image repository with the same name")
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn non_json_body_gives_empty_object() {
        let e = QuayError::from_status(Api::AppRegistry, 500, b"<html>boom</html>");
        assert_eq!(e.remote_body(), serde_json::json!({}));
        assert_eq!(e.remote().unwrap().raw_body(), "<html>boom</html>");
        assert_eq!(
            e.remote().unwrap().message_or_default(),
            "Failed to get error details."
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn rest_message_precedence_and_robot_not_found() {
        let e = QuayError::from_status(
            Api::QuayRest,
            403,
            br#"{"detail":"d","error_message":"em","message":"m","error_type":"insufficient_scope"}"#,
        );
        assert_eq!(e.remote().unwrap().message(), Some("em"));
        let e = QuayError::from_status(
            Api::QuayRest,
            400,
            br#"{"message":"Could not find robot with specified username"}"#,
        );
        assert!(matches!(e, QuayError::NotFound(_)));
        let e = QuayError::from_status(
            Api::QuayRest,
            503,
            br#"{"message":"read only","is_readonly":true}"#,
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn registry_errors_array() {
        let e = QuayError::from_status(
            Api::Registry,
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        );
        assert!(matches!(e, QuayError::NotFound(_)));
        assert_eq!(e.remote().unwrap().code(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(
            e.to_string(),
            "not found: registry answered HTTP 404 (MANIFEST_UNKNOWN): manifest unknown"
        );
    }
}
