//! Push handlers (zip upload and Koji build) and the common pipeline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use manifest_bundle::{Limits, ManifestTree, layout, rewrite, validate};
use serde_json::{Value, json};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt as _;
use tracing::Instrument as _;

use crate::backends::{Auth, BuildError, ManifestStore, Release, ReleaseBundle, StoreError};
use crate::config::{StoreKind, is_strict_version};
use crate::error::ApiError;
use crate::state::AppState;

/// Which API version a request came through (v1 keeps the URL repository in the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    V2,
}

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

fn check_version(version: Option<&String>) -> Result<(), ApiError> {
    match version {
        Some(v) if !is_strict_version(v) => Err(ApiError::invalid_version(v)),
        _ => Ok(()),
    }
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
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<NamedTempFile, ApiError> {
    let no_field = || ApiError::expected_file("No field \"file\" in uploaded data");
    let mut multipart = multipart.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            no_field()
        }
    })?;
    let field_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
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
                "Uploaded file extension \"{ext}\" is not any of {{'.zip'}}"
            )));
        }
        let tmp = NamedTempFile::new().map_err(|e| {
            tracing::error!(error = %e, "cannot create a temporary file");
            ApiError::internal()
        })?;
        let mut file = tokio::fs::File::from_std(tmp.reopen().map_err(|_| ApiError::internal())?);
        // tokio buffers up to 2 MiB per open file; 64 KiB keeps many concurrent uploads small.
        file.set_max_buf_size(64 * 1024);
        while let Some(chunk) = field.chunk().await.map_err(field_error)? {
            file.write_all(&chunk).await.map_err(|e| {
                tracing::error!(error = %e, "cannot spool the upload");
                ApiError::internal()
            })?;
        }
        file.flush().await.map_err(|_| ApiError::internal())?;
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
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(params);
    zip_push(
        state,
        ApiVersion::V1,
        p.org,
        Some(p.repo),
        p.version,
        &headers,
        multipart,
    )
    .await
}

/// `POST /v2/{org}/zipfile[/{version}]`.
pub(crate) async fn zip_v2(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(params);
    zip_push(
        state,
        ApiVersion::V2,
        p.org,
        None,
        p.version,
        &headers,
        multipart,
    )
    .await
}

/// `POST /v1/{org}/{repo}/koji/{nvr}[/{version}]`.
pub(crate) async fn koji_v1(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(params);
    koji_push(
        state,
        ApiVersion::V1,
        p.org,
        Some(p.repo),
        p.nvr,
        p.version,
        &headers,
    )
    .await
}

/// `POST /v2/{org}/koji/{nvr}[/{version}]`.
pub(crate) async fn koji_v2(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(params);
    koji_push(
        state,
        ApiVersion::V2,
        p.org,
        None,
        p.nvr,
        p.version,
        &headers,
    )
    .await
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
    api: ApiVersion,
    org: String,
    url_repo: Option<String>,
    version: Option<String>,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let auth = require_auth(headers)?;
    check_version(version.as_ref())?;
    let upload = spool_upload(multipart).await?;
    let job = PushJob {
        api,
        org,
        url_repo,
        version,
        auth,
        archive: upload,
        nvr: None,
    };
    detached(&state, job).await
}

async fn koji_push(
    state: AppState,
    api: ApiVersion,
    org: String,
    url_repo: Option<String>,
    nvr: String,
    version: Option<String>,
    headers: &HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let auth = require_auth(headers)?;
    check_version(version.as_ref())?;
    let Some(build_system) = state.inner.backends.build_system.clone() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "KojiError",
            "Koji is not configured",
        ));
    };
    let archive = NamedTempFile::new().map_err(|_| ApiError::internal())?;
    let started = Instant::now();
    let fetched = build_system
        .fetch_manifests(&nvr, archive.path(), state.config().koji_archive_max_size)
        .await;
    state
        .inner
        .metrics
        .upstream("koji", "fetch_manifests", started.elapsed());
    fetched.map_err(|e| match e {
        BuildError::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "KojiNVRBuildNotFound", e.to_string())
        }
        BuildError::NotComplete { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "KojiBuildNotComplete",
            e.to_string(),
        ),
        BuildError::NotOperatorImage { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "KojiNotAnOperatorImage",
            e.to_string(),
        ),
        BuildError::ArchiveMissing { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "KojiManifestsArchiveNotFound",
            e.to_string(),
        ),
        BuildError::Other(message) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "KojiError", message)
        }
    })?;
    // Greenwave runs after the download on purpose (upstream order): a bad NVR always gives the
    // same error.
    if let Some(gate) = state.inner.backends.gate.clone() {
        let started = Instant::now();
        let decision = gate.decide(&nvr).await;
        state
            .inner
            .metrics
            .upstream("greenwave", "decision", started.elapsed());
        match decision {
            Ok(d) if d.satisfied => {}
            Ok(d) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "GreenwaveUnsatisfiedError",
                    format!("Policies for nvr {nvr} were not satisfied"),
                )
                .with("greenwave_response", d.raw));
            }
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "GreenwaveError",
                    e.message,
                )
                .with("greenwave_response", e.body));
            }
        }
    }
    let job = PushJob {
        api,
        org,
        url_repo,
        version,
        auth,
        archive,
        nvr: Some(nvr),
    };
    detached(&state, job).await
}

struct PushJob {
    api: ApiVersion,
    org: String,
    url_repo: Option<String>,
    version: Option<String>,
    auth: Auth,
    /// The zip; removed when the job ends, on every path.
    archive: NamedTempFile,
    nvr: Option<String>,
}

/// Runs the pipeline as a tracked task, so it completes (and logs its outcome) even if the client
/// disconnects, and graceful shutdown waits for it.
async fn detached(state: &AppState, job: PushJob) -> Result<Json<Value>, ApiError> {
    let org = job.org.clone();
    let task_state = state.clone();
    let handle = state.inner.tasks.spawn(
        async move { run_pipeline(&task_state, job).await }.instrument(tracing::Span::current()),
    );
    let result = handle.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "push task failed");
        Err(ApiError::internal())
    });
    // Label by configured organization only: URL organizations are client-chosen, and one
    // series per invented name would grow /metrics without bound.
    let org_label = if state.org(&org).is_some() {
        org.as_str()
    } else {
        "(unconfigured)"
    };
    state
        .inner
        .metrics
        .push(org_label, result.as_ref().map_or_else(|e| e.id, |_| "ok"));
    result.map(Json)
}

fn limits(state: &AppState) -> Limits {
    let c = state.config();
    Limits {
        max_total_bytes: c.zipfile_max_uncompressed_size,
        max_entry_bytes: c.zipfile_max_uncompressed_size,
        max_entries: c.zipfile_max_entries,
        ..Limits::default()
    }
}

/// CPU-bound work on the blocking pool (the caller holds a `cpu` permit).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "blocking task failed");
        Err(ApiError::internal())
    })
}

struct Intake {
    tree: ManifestTree,
    extracted_files: Vec<String>,
    package_name: String,
}

// One linear pipeline in the documented order; splitting it would hide that order.
#[allow(clippy::too_many_lines)]
async fn run_pipeline(state: &AppState, job: PushJob) -> Result<Value, ApiError> {
    let limits = limits(state);
    let rewrites = state.rewrites(&job.org).clone();
    let archive_path = job.archive.path().to_owned();
    let intake_limits = limits.clone();
    let suffix_rules = rewrites.clone();
    // Stores that take bundle images also take bundle-format uploads.
    let wants_bundles = state
        .store(&job.org)
        .is_some_and(|s| s.wants_bundles(&job.org));
    // One permit from intake until the blob is built: it bounds both the CPU work and the
    // number of extracted archives held in memory (`max_concurrent_pushes`). The push itself,
    // which only waits on the network, runs without it.
    let permit = state
        .inner
        .cpu
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    // Stage 1: intake, package name discovery and suffix (they decide the repository).
    let intake = blocking(move || {
        let mut tree = ManifestTree::from_zip_file(&archive_path, &intake_limits)?;
        let extracted_files = tree.paths();
        let package_name = match layout::discover_package_name(&tree, &intake_limits.yaml) {
            Ok((package_file, name)) => {
                let package_name = suffix_rules.suffixed_name(&name);
                if package_name != name {
                    rewrite::set_package_name(
                        &mut tree,
                        &package_file,
                        &package_name,
                        &intake_limits.yaml,
                    )?;
                }
                package_name
            }
            Err(manifest_bundle::Error::PackageNameNotFound) if wants_bundles => {
                crate::oci_store::bundle_package_name(
                    &mut tree,
                    &suffix_rules,
                    &intake_limits.yaml,
                )?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Intake {
            tree,
            extracted_files,
            package_name,
        })
    })
    .await?;
    drop(job.archive);

    let repo = job
        .url_repo
        .clone()
        .unwrap_or_else(|| intake.package_name.clone());
    if repo.len() > crate::routes::MAX_SEGMENT_BYTES {
        return Err(ApiError::package_validation(
            format!(
                "Failed to push manifest: packageName is longer than {} bytes",
                crate::routes::MAX_SEGMENT_BYTES
            ),
            json!({}),
        ));
    }
    let store = state.store(&job.org).ok_or_else(ApiError::internal)?;
    let org_config = state.org(&job.org).cloned().unwrap_or_default();
    let store_kind = state.config().store_for(&job.org);

    // One push at a time per package in this process; the store arbitrates across replicas.
    let lock = state.inner.locks.get(&job.org, &repo);
    let _guard = lock.lock().await;

    let mut version = match &job.version {
        Some(v) => v.clone(),
        None => next_version(state, store.as_ref(), &job.org, &repo, &job.auth, None).await?,
    };

    // Stage 2: the remaining rewrites, validation and packaging.
    let Intake {
        mut tree,
        extracted_files,
        package_name,
    } = intake;
    let repository = repo.clone();
    let yaml_limits = limits.yaml.clone();
    let (blob, bundles) = blocking(move || {
        rewrites.replace_registries(&mut tree)?;
        rewrites.annotate_csvs(&mut tree, &package_name, &yaml_limits)?;
        let manifests = if wants_bundles {
            layout::load(&tree, &yaml_limits)?
        } else {
            layout::load_package_manifests(&tree, &yaml_limits)?
        };
        let report = validate::validate(&manifests, Some(&repository));
        if !report.is_valid() {
            return Err(manifest_bundle::Error::Invalid(Box::new(report)).into());
        }
        let blob = if manifests.layout == layout::Layout::Bundle {
            crate::oci_store::bundle_upload_blob(&tree, &repository)?
        } else {
            manifest_bundle::app_registry_blob(&manifests, &tree, &repository)?
        };
        // Bundle images are built from the rewritten tree, so every org rewrite is in them.
        let mut bundles = Vec::new();
        if wants_bundles {
            for bundle in manifest_bundle::to_bundles(&manifests, &tree)? {
                bundles.push(ReleaseBundle {
                    image: manifest_bundle::image::build_image(&bundle)?,
                    csv_version: bundle.version,
                    csv_name: bundle.csv_name,
                });
            }
        }
        Ok((blob, bundles))
    })
    .await?;
    drop(permit);

    let public = org_config.public && matches!(store_kind, StoreKind::AppRegistry | StoreKind::Oci);
    let attempts = if job.version.is_some() || !store.retry_on_exists(&job.org) {
        1
    } else {
        state.config().max_version_attempts.max(1)
    };
    let mut attempt = 1;
    let report = loop {
        let release = Release {
            version: version.clone(),
            blob: blob.tar_gz.clone().into(),
            digest: blob.tar_sha256.clone(),
            public,
        };
        let started = Instant::now();
        let pushed = store
            .push_release(&job.org, &repo, &release, &bundles, &job.auth)
            .await;
        state
            .inner
            .metrics
            .upstream("store", "push", started.elapsed());
        match pushed {
            Ok(r) => break r,
            Err(StoreError::ReleaseExists { message, body }) => {
                if attempt >= attempts {
                    return Err(ApiError::quay(
                        StatusCode::CONFLICT,
                        "QuayReleaseExists",
                        format!("Failed to push manifest: {message}"),
                        body,
                    ));
                }
                tracing::info!(version = %version, attempt, "release exists; choosing the next version");
                attempt += 1;
                version = next_version(
                    state,
                    store.as_ref(),
                    &job.org,
                    &repo,
                    &job.auth,
                    Some(&version),
                )
                .await?;
            }
            Err(StoreError::Unauthorized { message, body }) => {
                return Err(ApiError::quay(
                    StatusCode::FORBIDDEN,
                    "QuayAuthorizationError",
                    format!("Failed to push manifest: {message}"),
                    body,
                ));
            }
            Err(e) => {
                return Err(ApiError::quay(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "QuayCourierError",
                    format!("Failed to push manifest: {e}"),
                    e.body(),
                ));
            }
        }
    };
    tracing::info!(organization = %job.org, repo = %repo, version = %version, "release pushed");

    let mut answer = json!({
        "extracted_files": extracted_files,
        "organization": job.org,
        "repo": if job.api == ApiVersion::V1 { job.url_repo.clone().unwrap_or_default() } else { repo.clone() },
        "version": version,
    });
    if let Some(nvr) = &job.nvr {
        answer["nvr"] = json!(nvr);
    }
    // Additive fields of the OCI store; the OMPS fields above are unchanged.
    if !report.images.is_empty() {
        answer["images"] = json!(report.images);
    }
    if !report.warnings.is_empty() {
        answer["published"] = json!(false);
        answer["warnings"] = json!(report.warnings);
    }
    if public && store_kind == StoreKind::AppRegistry {
        if let Some(token) = org_config.oauth_token() {
            if let Err(detail) = publish(state, &job.org, &repo, token).await {
                tracing::error!(organization = %job.org, repo = %repo, detail = %detail, "release pushed but the repository could not be made public");
                answer["published"] = json!(false);
                answer["warnings"] = json!([format!(
                    "Release pushed but repository could not be made public: {detail}"
                )]);
            }
        }
    } else {
        tracing::info!(organization = %job.org, "private, skipping publishing");
    }
    Ok(answer)
}

/// Makes the repository public, retrying a few times; the release exists either way.
async fn publish(
    state: &AppState,
    org: &str,
    repo: &str,
    token: &secrecy::SecretString,
) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        let started = Instant::now();
        let result = state
            .inner
            .backends
            .publisher
            .make_public(org, repo, token)
            .await;
        state
            .inner
            .metrics
            .upstream("publish", "changevisibility", started.elapsed());
        match result {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The automatic version: the highest strict `x.y.z` release with its major bumped, or the
/// default. `failed` (a version the store just refused) counts as taken.
async fn next_version(
    state: &AppState,
    store: &dyn ManifestStore,
    org: &str,
    repo: &str,
    auth: &Auth,
    failed: Option<&str>,
) -> Result<String, ApiError> {
    let started = Instant::now();
    let listed = store.list_releases(org, repo, Some(auth)).await;
    state
        .inner
        .metrics
        .upstream("store", "list_releases", started.elapsed());
    let releases = list_error(listed, org, repo)?.unwrap_or_default();
    Ok(bump_major(
        releases.iter().map(String::as_str).chain(failed),
        &state.config().default_release_version,
    ))
}

/// Maps a release-listing failure (403, or 500 `QuayPackageError`).
pub(crate) fn list_error<T>(
    result: Result<T, StoreError>,
    org: &str,
    repo: &str,
) -> Result<T, ApiError> {
    result.map_err(|e| listing_error(e, org, repo))
}

/// A failed release listing: 403 `QuayAuthorizationError` or 500 `QuayPackageError`.
pub(crate) fn listing_error(e: StoreError, org: &str, repo: &str) -> ApiError {
    match e {
        StoreError::Unauthorized { message, body } => ApiError::quay(
            StatusCode::FORBIDDEN,
            "QuayAuthorizationError",
            format!("Cannot retrieve information about package {org}/{repo}: {message}"),
            body,
        ),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "QuayPackageError",
            format!("Cannot retrieve information about package {org}/{repo}: {other}"),
        ),
    }
}

/// `max(valid releases)` with the major bumped, or `default`.
pub fn bump_major<'a>(releases: impl IntoIterator<Item = &'a str>, default: &str) -> String {
    let max = releases
        .into_iter()
        .filter(|r| is_strict_version(r))
        .filter_map(|r| {
            let mut parts = r.split('.').map(str::parse::<u64>);
            Some((
                parts.next()?.ok()?,
                parts.next()?.ok()?,
                parts.next()?.ok()?,
            ))
        })
        .max();
    match max {
        Some((major, _, _)) => format!("{}.0.0", major.saturating_add(1)),
        None => default.to_owned(),
    }
}

/// Shared with delete and read handlers: the organization's store or 500.
pub(crate) fn store_for(state: &AppState, org: &str) -> Result<Arc<dyn ManifestStore>, ApiError> {
    state.store(org).ok_or_else(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_versions() {
        let d = "1.0.0";
        assert_eq!(bump_major([], d), "1.0.0");
        assert_eq!(bump_major(["2.5.1"], d), "3.0.0");
        assert_eq!(bump_major(["1.2.0", "1.1.0", "1.0.0"], d), "2.0.0");
        assert_eq!(bump_major(["1.0.0", "4.3.2"], d), "5.0.0");
        assert_eq!(bump_major(["7.6.1"], d), "8.0.0");
        assert_eq!(bump_major(["3.0.0", "4.0.1"], d), "5.0.0");
        assert_eq!(bump_major(["3.0.0", "6.0.2"], d), "7.0.0");
        assert_eq!(bump_major(["1.0.0-invalid"], d), "1.0.0");
        assert_eq!(bump_major(["1.2.0", "1.0.1-random", "1.0.0"], d), "2.0.0");
        assert_eq!(bump_major(["10.0.0", "9.9.9"], "5.0.0"), "11.0.0");
    }

    #[test]
    fn upload_extensions() {
        assert_eq!(extension("manifests.zip"), ".zip");
        assert_eq!(extension("MANIFESTS.ZIP"), ".zip");
        assert_eq!(extension(".zip"), "");
        assert_eq!(extension("archive.tar.gz"), ".gz");
        assert_eq!(extension("noext"), "");
    }
}
