//! Stage 1, intake: the archive (an upload on disk, or a Koji build's manifests behind the
//! Greenwave gate), extracted within the limits, with the package name found and suffixed.

use std::time::Instant;

use manifest_bundle::{Limits, ManifestTree, Rewrites, Spool, SpooledFile, layout, rewrite};
use serde_json::json;
use tempfile::{NamedTempFile, TempDir};

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
    /// The files held in memory (the manifests), rewritten by the suffix when it applies.
    pub tree: ManifestTree,
    /// The other files, on disk.
    pub spooled: Spooled,
    /// The file names as uploaded, sorted.
    pub extracted_files: Vec<String>,
    /// The package name with the organization's suffix.
    pub package_name: String,
}

/// Files of the archive kept on disk, in a directory removed with this value.
#[derive(Debug, Default)]
pub struct Spooled {
    /// The files, sorted by path.
    pub files: Vec<SpooledFile>,
    _dir: Option<TempDir>,
}

/// Files at most this large stay in memory whatever they are: a package's small extras
/// (README, JSON, `image-references`) cost less held than spooled.
pub const SMALL_FILE_BYTES: u64 = 64 * 1024;

/// Memory held per byte of manifest text, for parsing, rewriting, validating and packaging it
/// (measured: docs/benchmarks.md).
pub const MANIFEST_MEMORY_FACTOR: u64 = 4;

/// Memory held per byte of the archive: the compressed blob and its copies on the way to the
/// store (an App Registry push body is base64).
pub const ARCHIVE_MEMORY_FACTOR: u64 = 3;

/// Memory every push holds whatever its size (buffers, the parsed central directory).
pub const PUSH_BASE_BYTES: u64 = 512 * 1024;

/// Whether the intake keeps a file in memory. Stores that take bundle images build them in
/// memory from every file, so they keep everything; the others only need the manifests (YAML).
#[must_use]
pub fn keeps_in_memory(takes: ReleaseShape, path: &str, declared: u64) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let yaml = std::path::Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    takes == ReleaseShape::BundleImages || yaml || declared <= SMALL_FILE_BYTES
}

/// What a push will hold in memory, estimated before anything is inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Bytes of the files kept in memory (declared sizes: an upper bound).
    pub in_memory: u64,
    /// Bytes of the archive as received.
    pub archive: u64,
}

impl MemoryPlan {
    /// The bytes to reserve.
    #[must_use]
    pub fn estimate(&self) -> u64 {
        PUSH_BASE_BYTES
            .saturating_add(self.archive.saturating_mul(ARCHIVE_MEMORY_FACTOR))
            .saturating_add(self.in_memory.saturating_mul(MANIFEST_MEMORY_FACTOR))
    }
}

/// Reads the archive's central directory (on the blocking pool) for its [`MemoryPlan`]. An
/// archive declaring more than the size limit holds nothing: the intake refuses it before
/// inflating anything, with the limit's own message.
pub async fn plan(
    archive: &std::path::Path,
    takes: ReleaseShape,
    limits: &Limits,
) -> Result<MemoryPlan, ApiError> {
    let path = archive.to_owned();
    let max_total = limits.max_total_bytes;
    blocking(move || {
        let archive = std::fs::metadata(&path)
            .map_err(|e| ApiError::local_io("reading the upload", &e))?
            .len();
        // An unreadable archive holds nothing either: the intake names what is wrong with it.
        let Ok(declared) = ManifestTree::zip_declared_sizes(&path) else {
            return Ok(MemoryPlan {
                in_memory: 0,
                archive,
            });
        };
        let total = declared
            .iter()
            .fold(0u64, |sum, (_, size)| sum.saturating_add(*size));
        let in_memory = if total > max_total {
            0
        } else {
            declared
                .iter()
                .filter(|(name, size)| keeps_in_memory(takes, name, *size))
                .fold(0u64, |sum, (_, size)| sum.saturating_add(*size))
        };
        Ok(MemoryPlan { in_memory, archive })
    })
    .await
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
    let archive = state
        .spool()
        .tempfile()
        .map_err(|e| ApiError::local_io("creating the download spool", &e))?;
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
/// Files [`keeps_in_memory`] declines are written to `spool` instead. Stores that take bundle
/// images also take bundle-format uploads (`metadata/annotations.yaml`). The archive file is
/// removed when this returns.
pub async fn extract(
    archive: NamedTempFile,
    limits: &Limits,
    rewrites: &Rewrites,
    takes: ReleaseShape,
    spool: TempDir,
) -> Result<Intake, ApiError> {
    let limits = limits.clone();
    let rewrites = rewrites.clone();
    blocking(move || extract_now(archive.path(), &limits, &rewrites, takes, Some(spool))).await
}

/// [`extract`] on the current thread; without `spool` everything is held in memory.
pub fn extract_now(
    archive: &std::path::Path,
    limits: &Limits,
    rewrites: &Rewrites,
    takes: ReleaseShape,
    spool: Option<TempDir>,
) -> Result<Intake, ApiError> {
    let (mut tree, spooled) = match spool {
        Some(dir) => {
            let keep = move |path: &str, declared: u64| keeps_in_memory(takes, path, declared);
            let (tree, files) = ManifestTree::from_zip_file_spooling(
                archive,
                limits,
                &Spool {
                    dir: dir.path(),
                    keep_in_memory: &keep,
                },
            )?;
            (
                tree,
                Spooled {
                    files,
                    _dir: Some(dir),
                },
            )
        }
        None => (
            ManifestTree::from_zip_file(archive, limits)?,
            Spooled::default(),
        ),
    };
    let mut extracted_files = tree.paths();
    extracted_files.extend(spooled.files.iter().map(|f| f.path.clone()));
    extracted_files.sort();
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
        spooled,
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
