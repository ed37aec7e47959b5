//! Stage 1, intake: the archive (an upload on disk, or a Koji build's manifests behind the
//! Greenwave gate), extracted within the limits, with the package name found and suffixed.

use std::time::Instant;

use manifest_bundle::{Limits, ManifestTree, Rewrites, layout, rewrite};
use serde_json::json;
use tempfile::NamedTempFile;

use crate::backends::{BuildError, ReleaseShape};
use crate::config::Config;
use crate::error::{ApiError, ErrorId};
use crate::service::PushSource;
use crate::state::AppState;

/// The longest repository (package) name: a path segment and a file name.
pub const MAX_NAME_BYTES: usize = crate::names::MAX_LEN;

/// The extracted archive.
#[derive(Debug)]
pub struct Intake {
    /// The files, rewritten by the suffix when it applies.
    pub tree: ManifestTree,
    /// The file names as uploaded, sorted.
    pub extracted_files: Vec<String>,
    /// The package name with the organization's suffix.
    pub package_name: String,
}

/// The extraction limits of a configuration.
#[must_use]
pub fn limits(config: &Config) -> Limits {
    Limits {
        max_total_bytes: config.zipfile_max_uncompressed_size,
        max_entry_bytes: config.zipfile_max_uncompressed_size,
        max_entries: config.zipfile_max_entries,
        ..Limits::default()
    }
}

/// The archive of a source, with the NVR for Koji builds. Koji builds are downloaded (at most
/// `koji_archive_max_size`) and then gated: Greenwave runs after the download on purpose
/// (upstream order), so a bad NVR always gives the same error.
pub async fn fetch(
    state: &AppState,
    source: PushSource,
) -> Result<(NamedTempFile, Option<String>), ApiError> {
    let nvr = match source {
        PushSource::Archive(file) => return Ok((file, None)),
        PushSource::Koji { nvr } => nvr,
    };
    let Some(build_system) = state.inner.backends.build_system.clone() else {
        return Err(ApiError::new(ErrorId::KojiError, "Koji is not configured"));
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
    fetched.map_err(|e| {
        let id = match &e {
            BuildError::NotFound { .. } => ErrorId::KojiNVRBuildNotFound,
            BuildError::NotComplete { .. } => ErrorId::KojiBuildNotComplete,
            BuildError::NotOperatorImage { .. } => ErrorId::KojiNotAnOperatorImage,
            BuildError::ArchiveMissing { .. } => ErrorId::KojiManifestsArchiveNotFound,
            BuildError::Other(_) => ErrorId::KojiError,
        };
        ApiError::new(id, e.to_string())
    })?;
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
                    ErrorId::GreenwaveUnsatisfiedError,
                    format!("Policies for nvr {nvr} were not satisfied"),
                )
                .with("greenwave_response", d.raw));
            }
            Err(e) => {
                return Err(ApiError::new(ErrorId::GreenwaveError, e.message)
                    .with("greenwave_response", e.body));
            }
        }
    }
    Ok((archive, Some(nvr)))
}

/// Extracts the archive on the blocking pool, finds the package name and applies the suffix.
/// Stores that take bundle images also take bundle-format uploads
/// (`metadata/annotations.yaml`). The archive file is removed when this returns.
pub async fn extract(
    archive: NamedTempFile,
    limits: &Limits,
    rewrites: &Rewrites,
    takes: ReleaseShape,
) -> Result<Intake, ApiError> {
    let limits = limits.clone();
    let rewrites = rewrites.clone();
    blocking(move || extract_now(archive.path(), &limits, &rewrites, takes)).await
}

/// [`extract`] on the current thread.
pub fn extract_now(
    archive: &std::path::Path,
    limits: &Limits,
    rewrites: &Rewrites,
    takes: ReleaseShape,
) -> Result<Intake, ApiError> {
    let mut tree = ManifestTree::from_zip_file(archive, limits)?;
    let extracted_files = tree.paths();
    let package_name = match layout::discover_package_name(&tree, &limits.yaml) {
        Ok((package_file, name)) => {
            let package_name = rewrites.suffixed_name(&name);
            if package_name != name {
                rewrite::set_package_name(&mut tree, &package_file, &package_name, &limits.yaml)?;
            }
            package_name
        }
        Err(manifest_bundle::Error::PackageNameNotFound) if takes == ReleaseShape::BundleImages => {
            manifest_bundle::bundle_package_name(&mut tree, rewrites, &limits.yaml)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Intake {
        tree,
        extracted_files,
        package_name,
    })
}

/// The package name becomes a repository name: it follows the same grammar as the URL's.
pub fn check_package_name(name: &str) -> Result<(), ApiError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::package_validation(
            format!("Failed to push manifest: packageName is longer than {MAX_NAME_BYTES} bytes"),
            json!({}),
        ));
    }
    crate::names::check_repository(name).map_err(|reason| {
        ApiError::package_validation(
            format!("Failed to push manifest: packageName: {reason}"),
            json!({}),
        )
    })
}

/// CPU-bound work on the blocking pool (the caller holds a `cpu` permit).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "blocking task failed");
        Err(ApiError::internal())
    })
}
