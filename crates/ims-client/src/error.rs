//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// Which remote service answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// The Image Management Service (RFC 7807 problem+json bodies).
    Ims,
    /// The OAuth2 token endpoint (RFC 6749 `error` / `error_description` bodies).
    Token,
    /// The S3 store (XML `<Error><Code>` bodies).
    S3,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Ims => "IMS",
            Service::Token => "token endpoint",
            Service::S3 => "S3",
        })
    }
}

/// A non-2xx answer, with the body kept so callers can show or inspect it.
#[derive(Debug, Clone)]
pub struct RemoteError {
    service: Service,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    body: serde_json::Value,
    raw_body: String,
}

/// How much of a non-JSON error body is kept (spec: "first 1 KiB").
pub(crate) const RAW_BODY_KEPT: usize = 1024;

impl RemoteError {
    /// Builds the error from a status and a bounded body, reading the error shape of `service`.
    pub fn from_body(service: Service, status: u16, raw: &[u8]) -> Self {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(raw).ok();
        let (code, message) = match (service, &parsed) {
            (Service::Ims, Some(v)) => (str_field(v, "title"), str_field(v, "detail")),
            (Service::Token, Some(v)) => (str_field(v, "error"), str_field(v, "error_description")),
            (Service::S3, _) => (xml_field(raw, "Code"), xml_field(raw, "Message")),
            _ => (None, None),
        };
        let mut raw_body = String::from_utf8_lossy(raw).into_owned();
        if raw_body.len() > RAW_BODY_KEPT {
            let mut cut = RAW_BODY_KEPT;
            while !raw_body.is_char_boundary(cut) {
                cut -= 1;
            }
            raw_body.truncate(cut);
        }
        Self {
            service,
            status,
            code,
            message,
            body: parsed.unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
            raw_body,
        }
    }

    /// Which service answered.
    pub fn service(&self) -> Service {
        self.service
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Short code: the problem `title` (IMS), the OAuth2 `error`, or the S3 `<Code>`.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Human message: the problem `detail`, `error_description`, or the S3 `<Message>`.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The parsed JSON body (IMS problem+json keeps `errors` here); `{}` when it was not JSON.
    pub fn body(&self) -> &serde_json::Value {
        &self.body
    }

    /// The body as text (lossy UTF-8), first 1 KiB.
    pub fn raw_body(&self) -> &str {
        &self.raw_body
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.service, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        match &self.message {
            Some(m) => write!(f, ": {m}")?,
            None if self.body.as_object().is_some_and(serde_json::Map::is_empty)
                && !self.raw_body.trim().is_empty() =>
            {
                write!(f, ": {}", self.raw_body.trim())?;
            }
            None => {}
        }
        if let Some(errors) = self.body.get("errors") {
            write!(f, " {errors}")?;
        }
        Ok(())
    }
}

fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The text of the first `<tag>…</tag>` in an S3 error document. The documents are flat and
/// small, so no XML parser is needed to find two fields; entities in messages are decoded.
pub(crate) fn xml_field(raw: &[u8], tag: &str) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{tag}>"))?;
    let value = text[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    (!value.is_empty()).then_some(value)
}

/// A step of `upload_artifacts` (spec §7), named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadStep {
    /// Step 2: choosing or creating the image record.
    ChooseRecord,
    /// Step 3: uploading the artifacts.
    Artifacts,
    /// Step 4: writing the manifest.
    Manifest,
    /// Step 5: linking the manifest to the image record.
    Link,
    /// Step 6: recording the image as the job's result.
    Job,
}

impl fmt::Display for UploadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UploadStep::ChooseRecord => "choosing the image record",
            UploadStep::Artifacts => "uploading the artifacts",
            UploadStep::Manifest => "writing the manifest",
            UploadStep::Link => "linking the manifest to the image record",
            UploadStep::Job => "recording the image as the job's result",
        })
    }
}

/// Everything that can go wrong in this crate. Variants say what the caller can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImsError {
    /// Credentials or permissions were refused: IMS 401 after a fresh token, 403, a token
    /// endpoint 400/401 (`invalid_client`), or S3 403. Fix the credentials; retrying does not help.
    #[error("not authorized: {0}")]
    Unauthorized(RemoteError),

    /// The image, job, recipe, bucket or object does not exist (HTTP 404).
    #[error("not found: {0}")]
    NotFound(RemoteError),

    /// IMS 409: a different link is already set on the record.
    #[error("conflict: {0}")]
    Conflict(RemoteError),

    /// The server rejected the request as invalid (HTTP 400 or 422). Fix the input.
    #[error("rejected: {0}")]
    Rejected(RemoteError),

    /// Any other non-2xx answer (5xx, 429, ...). See [`ImsError::is_retryable`].
    #[error("{0}")]
    Remote(RemoteError),

    /// The request did not complete on the wire: timeout, refused connection, TLS failure,
    /// broken transfer. The URL is shown without its query (S3 signatures live there).
    #[error(transparent)]
    Transport(#[from] omps_http::TransportError),

    /// A 2xx answer that could not be understood.
    #[error("unexpected response: {0}")]
    InvalidResponse(String),

    /// A response body exceeded its limit; reading stopped there.
    #[error("response body exceeds the limit of {limit} bytes: {context}")]
    ResponseTooLarge {
        /// What was being read.
        context: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// What S3 stored does not match what was sent (ETag or `md5sum` metadata). The upload is
    /// corrupt or the store is not MD5-based; clean-up has run.
    #[error("{what} mismatch for s3://{bucket}/{key}: expected {expected}, got {actual}")]
    Mismatch {
        /// `ETag` or `md5sum`.
        what: &'static str,
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// Computed locally.
        expected: String,
        /// Reported by the store.
        actual: String,
    },

    /// A local input the caller can fix: a missing file, no rootfs, a job id that is not a UUID,
    /// an unknown job status, a file given twice. Nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The client could not be built (bad URL, CA bundle, credentials missing).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// Reading a local file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The run was interrupted (SIGINT/SIGTERM); clean-up has run.
    #[error("interrupted")]
    Interrupted,

    /// `upload_artifacts` failed at `step`. What this run created was cleaned up, except where
    /// `cleanup_errors` says otherwise.
    #[error("{step} failed: {source}")]
    Upload {
        /// The failed step.
        step: UploadStep,
        /// The original error.
        #[source]
        source: Box<ImsError>,
        /// Clean-up failures, one line each; empty when clean-up fully succeeded.
        cleanup_errors: Vec<String>,
        /// The image record as last known (always present after step 2).
        image_record: Option<Box<serde_json::Value>>,
    },
}

impl ImsError {
    /// Classifies a non-2xx answer.
    pub(crate) fn from_status(service: Service, status: u16, raw: &[u8]) -> Self {
        let remote = RemoteError::from_body(service, status, raw);
        match (service, status) {
            (Service::Token, 400 | 401) | (_, 401 | 403) => ImsError::Unauthorized(remote),
            (_, 404) => ImsError::NotFound(remote),
            (Service::Ims, 409) => ImsError::Conflict(remote),
            (Service::S3, 400) if is_retryable_s3_code(remote.code()) => ImsError::Remote(remote),
            (_, 400 | 422) => ImsError::Rejected(remote),
            _ => ImsError::Remote(remote),
        }
    }

    /// Whether the same call may succeed later: timeouts, transport failures, 429, 500, 502,
    /// 503, 504 and S3's `SlowDown` / `RequestTimeout` / `InternalError`.
    pub fn is_retryable(&self) -> bool {
        match self {
            ImsError::Transport(t) => t.is_retryable(),
            ImsError::Remote(r) => {
                matches!(r.status, 429 | 500 | 502 | 503 | 504) || is_retryable_s3_code(r.code())
            }
            ImsError::Upload { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// Whether the caller gave something unusable (exit code 2 in the command line).
    pub fn is_usage(&self) -> bool {
        matches!(self, ImsError::InvalidInput(_))
    }

    /// The remote answer behind this error, when there was one.
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            ImsError::Unauthorized(r)
            | ImsError::NotFound(r)
            | ImsError::Conflict(r)
            | ImsError::Rejected(r)
            | ImsError::Remote(r) => Some(r),
            ImsError::Upload { source, .. } => source.remote(),
            _ => None,
        }
    }

    /// HTTP status of the remote answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.remote().map(RemoteError::status)
    }

    /// Converts an error of the shared HTTP layer; a status answer is read as `service`'s.
    pub(crate) fn from_http(service: Service, e: omps_http::HttpError) -> Self {
        use omps_http::HttpError as H;
        match e {
            H::Config(m) => ImsError::Config(m),
            H::Transport(t) => ImsError::Transport(t),
            H::Status { status, body, .. } => {
                ImsError::from_status(service, status, body.as_bytes())
            }
            H::ResponseTooLarge { context, limit } => ImsError::ResponseTooLarge { context, limit },
            H::InvalidResponse { context, reason } => {
                ImsError::InvalidResponse(format!("{context}: {reason}"))
            }
            other => ImsError::InvalidResponse(other.to_string()),
        }
    }
}

impl From<omps_http::HttpError> for ImsError {
    fn from(e: omps_http::HttpError) -> Self {
        ImsError::from_http(Service::Ims, e)
    }
}

fn is_retryable_s3_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_is_kept_and_shown() {
        let e = ImsError::from_status(
            Service::Ims,
            422,
            br#"{"status":422,"title":"Unprocessable Entity","detail":"bad arch","errors":{"arch":["x"]}}"#,
        );
        assert!(matches!(e, ImsError::Rejected(_)));
        let r = e.remote().unwrap();
        assert_eq!(r.code(), Some("Unprocessable Entity"));
        assert_eq!(r.message(), Some("bad arch"));
        assert_eq!(
            e.to_string(),
            r#"rejected: IMS answered HTTP 422 (Unprocessable Entity): bad arch {"arch":["x"]}"#
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn non_json_body_is_reported_raw_and_cut_at_1_kib() {
        let body = "x".repeat(5000);
        let e = ImsError::from_status(Service::Ims, 502, body.as_bytes());
        assert!(e.is_retryable());
        assert_eq!(e.remote().unwrap().raw_body().len(), 1024);
        assert!(e.to_string().starts_with("IMS answered HTTP 502: xxx"));
    }

    #[test]
    fn s3_xml_codes() {
        let e = ImsError::from_status(
            Service::S3,
            503,
            b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please &amp; slow</Message></Error>",
        );
        assert!(e.is_retryable());
        assert_eq!(e.remote().unwrap().message(), Some("Please & slow"));
        let e = ImsError::from_status(
            Service::S3,
            400,
            b"<Error><Code>RequestTimeout</Code></Error>",
        );
        assert!(e.is_retryable(), "{e:?}");
        let e = ImsError::from_status(
            Service::S3,
            403,
            b"<Error><Code>AccessDenied</Code></Error>",
        );
        assert!(matches!(e, ImsError::Unauthorized(_)));
        assert!(!e.is_retryable());
    }

    #[test]
    fn token_refusal_is_unauthorized_with_description() {
        let e = ImsError::from_status(
            Service::Token,
            400,
            br#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#,
        );
        assert!(matches!(e, ImsError::Unauthorized(_)));
        assert_eq!(
            e.to_string(),
            "not authorized: token endpoint answered HTTP 400 (invalid_client): Invalid client credentials"
        );
    }
}
