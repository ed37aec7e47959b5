//! Push handlers (zip upload and Koji build): HTTP in, a [`PushRequest`] to the
//! [`PushService`], its outcome out. The pipeline itself is [`crate::service`].

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt as _;

use crate::access::Access;
use crate::backends::Auth;
use crate::error::ApiError;
use crate::service::{PushOutcome, PushRequest, PushService, PushSource, check_target};
use crate::state::AppState;

/// The `Authorization` value, or 403. Empty and blank values count as absent.
pub(crate) fn require_auth(headers: &HeaderMap) -> Result<Auth, ApiError> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(|v| Auth::from(v.to_owned()))
        .ok_or_else(ApiError::auth_required)
}

/// The optional `Authorization` of read endpoints.
pub(crate) fn optional_auth(headers: &HeaderMap) -> Option<Auth> {
    require_auth(headers).ok()
}

/// The extension of an uploaded file name as upstream computed it.
fn extension(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let trimmed = base.trim_start_matches('.');
    match trimmed.rfind('.') {
        Some(i) => trimmed[i..].to_lowercase(),
        None => String::new(),
    }
}

/// Streams the `file` field to a temporary file; the body limit is enforced while reading.
async fn spool_upload(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<NamedTempFile, ApiError> {
    let body_limit = state.config().max_content_length;
    let no_field = || ApiError::expected_file("No field \"file\" in uploaded data");
    let mut multipart = multipart.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(body_limit)
        } else {
            no_field()
        }
    })?;
    let field_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(body_limit)
        } else if crate::listener::is_slow_body(&e) {
            ApiError::new(
                crate::error::ErrorId::OMPSRequestTimeout,
                "The request body arrived too slowly",
            )
        } else {
            no_field()
        }
    };
    let mut spooled = None;
    while let Some(mut field) = multipart.next_field().await.map_err(field_error)? {
        if field.name() != Some("file") || spooled.is_some() {
            while field.chunk().await.map_err(field_error)?.is_some() {}
            continue;
        }
        // A part without a filename parameter is not a file upload at all (upstream: "No field");
        // an empty filename is an unselected file.
        let Some(filename) = field.file_name().map(str::to_owned) else {
            return Err(no_field());
        };
        if filename.is_empty() {
            return Err(ApiError::expected_file(
                "No selected \"file\" in uploaded data",
            ));
        }
        let ext = extension(&filename);
        if ext != ".zip" {
            return Err(ApiError::uploaded_file(format!(
                "Uploaded file extension \"{ext}\" is not supported: upload a .zip archive"
            )));
        }
        let tmp = state
            .spool()
            .tempfile()
            .map_err(|e| ApiError::local_io("creating the upload spool", &e))?;
        let mut file = tokio::fs::File::from_std(
            tmp.reopen()
                .map_err(|e| ApiError::local_io("opening the upload spool", &e))?,
        );
        // tokio buffers up to 2 MiB per open file; 64 KiB keeps many concurrent uploads small.
        file.set_max_buf_size(64 * 1024);
        while let Some(chunk) = field.chunk().await.map_err(field_error)? {
            file.write_all(&chunk)
                .await
                .map_err(|e| ApiError::local_io("spooling the upload", &e))?;
        }
        file.flush()
            .await
            .map_err(|e| ApiError::local_io("spooling the upload", &e))?;
        spooled = Some(tmp);
    }
    spooled.ok_or_else(no_field)
}

/// `POST /v1/{org}/{repo}/zipfile[/{version}]`.
pub(crate) async fn zip_v1(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<PushOutcome>, ApiError> {
    let p = Params::from(params);
    zip_push(state, p.org, Some(p.repo), p.version, &headers, multipart).await
}

/// `POST /v2/{org}/zipfile[/{version}]`.
pub(crate) async fn zip_v2(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<PushOutcome>, ApiError> {
    let p = Params::from(params);
    zip_push(state, p.org, None, p.version, &headers, multipart).await
}

/// `POST /v1/{org}/{repo}/koji/{nvr}[/{version}]`.
pub(crate) async fn koji_v1(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<PushOutcome>, ApiError> {
    let p = Params::from(params);
    koji_push(state, p.org, Some(p.repo), p.nvr, p.version, &headers).await
}

/// `POST /v2/{org}/koji/{nvr}[/{version}]`.
pub(crate) async fn koji_v2(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<PushOutcome>, ApiError> {
    let p = Params::from(params);
    koji_push(state, p.org, None, p.nvr, p.version, &headers).await
}

/// Named path parameters.
#[derive(Default)]
pub(crate) struct Params {
    pub org: String,
    pub repo: String,
    pub nvr: String,
    pub version: Option<String>,
}

impl From<Vec<(String, String)>> for Params {
    fn from(params: Vec<(String, String)>) -> Self {
        let mut p = Params::default();
        for (k, v) in params {
            match k.as_str() {
                "org" => p.org = v,
                "repo" => p.repo = v,
                "nvr" => p.nvr = v,
                "version" => p.version = Some(v),
                _ => {}
            }
        }
        p
    }
}

async fn zip_push(
    state: AppState,
    org: String,
    repository: Option<String>,
    version: Option<String>,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<PushOutcome>, ApiError> {
    let auth = require_auth(headers)?;
    // Names, version and access are checked before the body is read.
    check_target(&org, repository.as_deref(), version.as_deref())?;
    let service = PushService::new(state.clone());
    service.authorize(&org, Access::Write, Some(&auth))?;
    let upload = spool_upload(&state, multipart).await?;
    let request = PushRequest {
        organization: org,
        repository,
        version,
        auth,
        source: PushSource::Archive(upload),
    };
    service.push(request).await.map(Json)
}

async fn koji_push(
    state: AppState,
    org: String,
    repository: Option<String>,
    nvr: String,
    version: Option<String>,
    headers: &HeaderMap,
) -> Result<Json<PushOutcome>, ApiError> {
    let auth = require_auth(headers)?;
    let request = PushRequest {
        organization: org,
        repository,
        version,
        auth,
        source: PushSource::Koji { nvr },
    };
    PushService::new(state).push(request).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_extensions() {
        assert_eq!(extension("manifests.zip"), ".zip");
        assert_eq!(extension("MANIFESTS.ZIP"), ".zip");
        assert_eq!(extension(".zip"), "");
        assert_eq!(extension("archive.tar.gz"), ".gz");
        assert_eq!(extension("noext"), "");
    }
}
