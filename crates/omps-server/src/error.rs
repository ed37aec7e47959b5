//! The OMPS error envelope: `{"error": <id>, "message": <text>, "status": <code>, ...extra}`,
//! and [`ErrorId`], the one list of error ids that the answers, the OpenAPI document and
//! docs/api.md use.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

macro_rules! error_ids {
    ($(#[doc = $doc:literal] $id:ident = $status:literal,)*) => {
        /// Every error id the service answers, with its HTTP status (one status per id).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorId {
            $(#[doc = $doc] $id,)*
        }

        impl ErrorId {
            /// Every id, in documentation order.
            pub const ALL: &'static [ErrorId] = &[$(ErrorId::$id,)*];

            /// The id as answered (`"error"` field).
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorId::$id => stringify!($id),)*
                }
            }

            /// The HTTP status answered with this id.
            #[must_use]
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorId::$id => $status,)*
                }
            }

            /// When the id is answered (its documentation, for docs/api.md).
            #[must_use]
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorId::$id => $doc.trim(),)*
                }
            }
        }
    };
}

error_ids! {
    /// No such route or resource (werkzeug's text).
    NotFound = 404,
    /// The route exists with other methods (`Allow` lists them).
    MethodNotAllowed = 405,
    /// The body is larger than `max_content_length`.
    RequestEntityTooLarge = 413,
    /// An unexpected failure; never carries internal details.
    InternalServerError = 500,
    /// Push and delete need an `Authorization` header.
    OMPSAuthorizationHeaderRequired = 403,
    /// An explicit version is not a strict `x.y.z` with parts of at most 999999999, or the package has no automatic version left.
    OMPSInvalidVersionFormat = 400,
    /// An organization or repository name in the URL does not follow the name grammar.
    OMPSInvalidName = 400,
    /// An explicit version the organization's store cannot honour (releases named after CSV versions; the upload has no CSV of that version).
    OMPSVersionNotApplicable = 400,
    /// The upload is not a usable zip (extension, archive errors, limits).
    OMPSUploadedFileError = 400,
    /// No `file` field in the multipart body.
    OMPSExpectedFileError = 400,
    /// The manifests are invalid (`validation_info` lists the findings).
    PackageValidationError = 400,
    /// The store refused the caller's credentials (`quay_response`).
    QuayAuthorizationError = 403,
    /// The release exists already (`quay_response`).
    QuayReleaseExists = 409,
    /// The store failed the push (`quay_response`).
    QuayCourierError = 500,
    /// The store failed a listing or delete.
    QuayPackageError = 500,
    /// No such package or release.
    QuayPackageNotFound = 404,
    /// Koji failed or is not configured.
    KojiError = 500,
    /// No such Koji build.
    KojiNVRBuildNotFound = 404,
    /// The Koji build is not complete.
    KojiBuildNotComplete = 400,
    /// The Koji build is not an operator image.
    KojiNotAnOperatorImage = 400,
    /// The Koji build has no manifests archive.
    KojiManifestsArchiveNotFound = 500,
    /// Greenwave's policies are not satisfied (`greenwave_response`).
    GreenwaveUnsatisfiedError = 400,
    /// Greenwave failed (`greenwave_response`).
    GreenwaveError = 500,
    /// The server is at its memory budget and the push waited `admission_timeout` in vain, or the wait queue is full, or every connection is busy; `Retry-After` says when to try again.
    OMPSServerBusy = 503,
    /// The local store's token in `Authorization` is unknown (the store has `tokens_file`).
    OMPSInvalidToken = 401,
    /// The local store's token does not allow this access (read or write) to this organization.
    OMPSAccessDenied = 403,
    /// The server's disk is full (store or spool); nothing was stored. Try again when space is freed.
    OMPSInsufficientStorage = 507,
    /// The request body arrived slower than `min_body_rate`.
    OMPSRequestTimeout = 408,
    /// The organization has no catalog configured (`catalog` in its OCI table), or the catalog image does not exist yet.
    OMPSCatalogNotFound = 404,
    /// The catalog image could not be read (registry failure, or the image is not a file-based catalog).
    OMPSCatalogError = 500,
}

impl std::fmt::Display for ErrorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An error answered to the caller: a documented id (which fixes the status), a message and
/// extra fields. The push service returns it ([`crate::PushError`]); the HTTP layer renders it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status (also the `status` field); always `id.status()`.
    pub status: StatusCode,
    /// Stable error id.
    pub id: ErrorId,
    /// Human-readable message.
    pub message: String,
    /// Additional fields (`validation_info`, `quay_response`, ...).
    pub extra: Map<String, Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.id, self.message)
    }
}

impl std::error::Error for ApiError {}

impl serde::Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(serializer)
    }
}

impl ApiError {
    /// An error without extra fields.
    pub fn new(id: ErrorId, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(id.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            id,
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// 400 `OMPSInvalidName`.
    pub fn invalid_name(message: impl Into<String>) -> Self {
        Self::new(ErrorId::OMPSInvalidName, message)
    }

    /// Adds an extra field.
    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("error".into(), json!(self.id.as_str()));
        body.insert("message".into(), json!(self.message));
        body.insert("status".into(), json!(self.status.as_u16()));
        Value::Object(body)
    }

    /// 404 `NotFound` with werkzeug's text.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            ErrorId::NotFound,
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        )
    }

    /// 405 `MethodNotAllowed`.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorId::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        )
    }

    /// 413 `RequestEntityTooLarge`, naming the limit and the setting that raises it.
    #[must_use]
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            ErrorId::RequestEntityTooLarge,
            format!(
                "The data value transmitted exceeds the capacity limit ({limit} bytes; the \
                 server's max_content_length setting)."
            ),
        )
    }

    /// 500 `InternalServerError`; never carries internal details.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(
            ErrorId::InternalServerError,
            "The server encountered an internal error and was unable to complete your request.",
        )
    }

    /// 403 `OMPSAuthorizationHeaderRequired`.
    #[must_use]
    pub fn auth_required() -> Self {
        Self::new(
            ErrorId::OMPSAuthorizationHeaderRequired,
            "Request contains no 'Authorization' header",
        )
    }

    /// 400 `OMPSInvalidVersionFormat`.
    #[must_use]
    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            ErrorId::OMPSInvalidVersionFormat,
            format!(
                "Version '{}' must be in format '<int>.<int>.<int>': must match regexp '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$', each number at most {}",
                crate::names::shown(version),
                crate::config::MAX_VERSION_COMPONENT
            ),
        )
    }

    /// 507 `OMPSInsufficientStorage`: the disk is full. The message names no path.
    #[must_use]
    pub fn insufficient_storage() -> Self {
        Self::new(
            ErrorId::OMPSInsufficientStorage,
            "The server has no space left to store this; try again later",
        )
        .with("retry_after", json!(30))
    }

    /// A local I/O failure: 507 when the disk is full, else 500 (logged, no details answered).
    #[must_use]
    pub fn local_io(context: &str, e: &std::io::Error) -> Self {
        if is_disk_full(e) {
            tracing::error!(context, error = %e, "disk full");
            Self::insufficient_storage()
        } else {
            tracing::error!(context, error = %e, "local I/O failed");
            Self::internal()
        }
    }

    /// 400 `OMPSUploadedFileError`.
    pub fn uploaded_file(message: impl Into<String>) -> Self {
        Self::new(ErrorId::OMPSUploadedFileError, message)
    }

    /// 400 `OMPSExpectedFileError`.
    pub fn expected_file(message: impl Into<String>) -> Self {
        Self::new(ErrorId::OMPSExpectedFileError, message)
    }

    /// 400 `PackageValidationError` with `validation_info`.
    pub fn package_validation(message: impl Into<String>, validation_info: Value) -> Self {
        Self::new(ErrorId::PackageValidationError, message).with("validation_info", validation_info)
    }

    /// An error carrying the store's response body as `quay_response`.
    pub fn quay(id: ErrorId, message: impl Into<String>, body: Value) -> Self {
        Self::new(id, message).with("quay_response", body)
    }

    /// Whether this is a client error (logged at WARN rather than ERROR).
    #[must_use]
    pub fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }
}

/// ENOSPC or EDQUOT: no space (or quota) left.
#[must_use]
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28 | 122))
}

impl From<manifest_bundle::Error> for ApiError {
    fn from(e: manifest_bundle::Error) -> Self {
        use manifest_bundle::{Error, ErrorClass};
        match e {
            Error::Invalid(report) => {
                let info = serde_json::to_value(&*report).unwrap_or_else(|_| json!({}));
                ApiError::package_validation(
                    format!(
                        "Failed to push manifest: {}",
                        Error::Invalid(report.clone())
                    ),
                    info,
                )
            }
            Error::Structural(s) => {
                ApiError::package_validation(format!("Failed to push manifest: {s}"), json!({}))
            }
            other => match other.class() {
                ErrorClass::UploadedFile => ApiError::uploaded_file(other.to_string()),
                ErrorClass::PackageValidation => {
                    ApiError::package_validation(other.to_string(), json!({}))
                }
                ErrorClass::Io => match &other {
                    Error::Io { source, .. } => ApiError::local_io("manifest processing", source),
                    _ => ApiError::internal(),
                },
                _ => {
                    tracing::error!(error = %other, "manifest processing failed");
                    ApiError::internal()
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.is_client_error() {
            tracing::warn!(error = self.id.as_str(), message = %self.message, status = self.status.as_u16(), "request failed");
        } else {
            tracing::error!(error = self.id.as_str(), message = %self.message, status = self.status.as_u16(), "request failed");
        }
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.extra.get("retry_after").and_then(Value::as_u64) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"omps\""),
            );
        }
        response
    }
}
