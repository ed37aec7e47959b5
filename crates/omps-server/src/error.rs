//! The OMPS error envelope: `{"error": <id>, "message": <text>, "status": <code>, ...extra}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answered to the client, with the documented id and extra fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status (also the `status` field).
    pub status: StatusCode,
    /// Stable error id.
    pub id: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Additional fields (`validation_info`, `quay_response`, ...).
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error without extra fields.
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            id,
            message: message.into(),
            extra: Map::new(),
        }
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
        body.insert("error".into(), json!(self.id));
        body.insert("message".into(), json!(self.message));
        body.insert("status".into(), json!(self.status.as_u16()));
        Value::Object(body)
    }

    /// 404 `NotFound` with werkzeug's text.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
        )
    }

    /// 405 `MethodNotAllowed`.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The method is not allowed for the requested URL.",
        )
    }

    /// 413 `RequestEntityTooLarge`.
    #[must_use]
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The data value transmitted exceeds the capacity limit.",
        )
    }

    /// 500 `InternalServerError`; never carries internal details.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The server encountered an internal error and was unable to complete your request.",
        )
    }

    /// 403 `OMPSAuthorizationHeaderRequired`.
    #[must_use]
    pub fn auth_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "OMPSAuthorizationHeaderRequired",
            "Request contains no 'Authorization' header",
        )
    }

    /// 400 `OMPSInvalidVersionFormat`.
    #[must_use]
    pub fn invalid_version(version: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "OMPSInvalidVersionFormat",
            format!(
                "Version '{version}' must be in format '<int>.<int>.<int>': must match regexp '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)$'"
            ),
        )
    }

    /// 400 `OMPSUploadedFileError`.
    pub fn uploaded_file(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "OMPSUploadedFileError", message)
    }

    /// 400 `OMPSExpectedFileError`.
    pub fn expected_file(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "OMPSExpectedFileError", message)
    }

    /// 400 `PackageValidationError` with `validation_info`.
    pub fn package_validation(message: impl Into<String>, validation_info: Value) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PackageValidationError", message)
            .with("validation_info", validation_info)
    }

    /// An error carrying the store's response body as `quay_response`.
    pub fn quay(
        status: StatusCode,
        id: &'static str,
        message: impl Into<String>,
        body: Value,
    ) -> Self {
        Self::new(status, id, message).with("quay_response", body)
    }

    /// Whether this is a client error (logged at WARN rather than ERROR).
    #[must_use]
    pub fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }
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
            tracing::warn!(error = self.id, message = %self.message, status = self.status.as_u16(), "request failed");
        } else {
            tracing::error!(error = self.id, message = %self.message, status = self.status.as_u16(), "request failed");
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}
