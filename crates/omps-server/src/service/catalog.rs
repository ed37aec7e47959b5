//! Stage 6, catalog: organizations whose OCI table names a `catalog` get every pushed bundle
//! added to that file-based catalog image, and `GET /v2/<org>/catalog` reads it back.
//!
//! - The pushed bundles are rendered from the layers the push built (no download), with the
//!   pushed image **by digest** as the `olm.bundle` image; channels come from the bundle
//!   annotations, `replaces`/`skips`/`olm.skipRange` from the CSV.
//! - Writers of one catalog in this process take its async mutex (the app state's
//!   `catalog_locks`); other replicas are covered by [`catalog_image::update_catalog`], which
//!   compares the tag's digest before writing and starts over when it moved.
//! - Repair, stateless: before editing, the tags of the package's bundle repository are
//!   compared with the catalog, and bundle images missing from it (an earlier update that
//!   failed: registry down, contention, a catalog that would not validate yet) are read back
//!   and added, at most `catalog_repair_limit` image reads per push.
//! - A failed update never fails the push: the answer's `catalog` field says what happened.

use std::collections::BTreeSet;
use std::time::Instant;

use catalog_image::{BaseRef, CatalogImageError, CatalogUpdate, ImageOptions, update_catalog};
use olm_catalog::{
    AddOptions, Catalog, CatalogLimits, FileSet, Format, Placement, RenderOptions, Rendered,
};
use quay_client::{ImageReference, QuayError};
use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::backends::{
    Auth, CatalogSite, ManifestStore, PushedImage, Release, ReleaseBundle, ReleaseContent,
};
use crate::error::{ApiError, ErrorId};
use crate::oci_store::tag_of_version;
use crate::service::{PushError, PushService, check_names};
use crate::state::AppState;

/// Attempts of one update when other writers (replicas) keep moving the catalog's tag.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a catalog update failed (the `catalog.error.id` of a push answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogErrorId {
    /// The registry failed while reading or writing the catalog (or its base image).
    OMPSCatalogRegistryError,
    /// Other writers moved the catalog's tag under every attempt; nothing was written.
    OMPSCatalogContended,
    /// The catalog with this push's bundles would not validate (for example two channel heads
    /// because a version in between is not pushed yet), or a bundle could not be rendered, or
    /// the image read back is not a file-based catalog; nothing was written.
    OMPSCatalogInvalid,
}

impl CatalogErrorId {
    /// Every id, in documentation order.
    pub const ALL: &'static [CatalogErrorId] = &[
        CatalogErrorId::OMPSCatalogRegistryError,
        CatalogErrorId::OMPSCatalogContended,
        CatalogErrorId::OMPSCatalogInvalid,
    ];

    /// The id as answered.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogErrorId::OMPSCatalogRegistryError => "OMPSCatalogRegistryError",
            CatalogErrorId::OMPSCatalogContended => "OMPSCatalogContended",
            CatalogErrorId::OMPSCatalogInvalid => "OMPSCatalogInvalid",
        }
    }

    fn of(e: &CatalogImageError) -> Self {
        match e {
            CatalogImageError::Registry(_) | CatalogImageError::Io(_) => {
                CatalogErrorId::OMPSCatalogRegistryError
            }
            CatalogImageError::Contended { .. } => CatalogErrorId::OMPSCatalogContended,
            _ => CatalogErrorId::OMPSCatalogInvalid,
        }
    }
}

/// What the catalog update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogStatus {
    /// A new catalog image was pushed (`digest`).
    Updated,
    /// The catalog already held these bundles; nothing was written.
    Unchanged,
    /// Nothing was written (`error`); a later push repairs it.
    Failed,
}

/// A failed update's id and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogFailure {
    /// The error id.
    pub id: CatalogErrorId,
    /// What failed.
    pub message: String,
}

/// The `catalog` field of a push answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogOutcome {
    /// The catalog image, by tag.
    pub reference: String,
    /// What happened.
    pub status: CatalogStatus,
    /// The digest written (`updated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The bundles of this push (their `olm.bundle` names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<String>,
    /// Bundles of earlier pushes that were missing from the catalog and were added back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<String>,
    /// Read-modify-write attempts (more than 1: another writer moved the tag meanwhile).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Why nothing was written (`failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CatalogFailure>,
    /// Problems of the repair that did not stop the update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl CatalogOutcome {
    fn failed(
        site: &CatalogSite,
        bundles: Vec<String>,
        id: CatalogErrorId,
        message: String,
    ) -> Self {
        Self {
            reference: site.reference.to_string(),
            status: CatalogStatus::Failed,
            digest: None,
            bundles,
            repaired: Vec::new(),
            attempts: 0,
            error: Some(CatalogFailure { id, message }),
            warnings: Vec::new(),
        }
    }
}

/// `host/repository@digest`: how the catalog names a bundle image.
fn by_digest(site: &CatalogSite, repository: &str, digest: &str) -> String {
    format!("{}/{repository}@{digest}", site.host)
}

/// Renders one bundle image's layer (a `tar.gz` of `manifests/` and `metadata/`).
fn render_layer(layer: &[u8], image: String, limits: &CatalogLimits) -> Result<Rendered, String> {
    let mut files = FileSet::new();
    olm_catalog::layer::apply_layer(&mut files, layer, "", limits).map_err(|e| e.to_string())?;
    render_files(&files, image, limits)
}

fn render_files(
    files: &FileSet,
    image: String,
    limits: &CatalogLimits,
) -> Result<Rendered, String> {
    let options = RenderOptions {
        image: Some(image),
        ..RenderOptions::default()
    };
    olm_catalog::render_bundle(files, &options, limits).map_err(|e| e.to_string())
}

/// Adds `bundles` to `catalog`; whether anything changed.
fn add_all(catalog: &mut Catalog, bundles: &[Rendered]) -> Result<bool, olm_catalog::CatalogError> {
    let before = catalog.clone();
    let options = AddOptions {
        channels: Vec::new(),
        placement: Placement::FromCsv,
    };
    for rendered in bundles {
        olm_catalog::add_bundle(catalog, rendered, &options)?;
    }
    Ok(*catalog != before)
}

/// The catalog at `site` now: its digest and content (`None`, empty: it does not exist yet).
async fn read_current(
    site: &CatalogSite,
    limits: &CatalogLimits,
) -> Result<(Option<String>, Catalog), CatalogImageError> {
    let tag = catalog_image::push_tag(&site.reference)?;
    let head = match site
        .client
        .head_manifest(&site.reference.repository, tag)
        .await
    {
        Ok(head) => head,
        Err(QuayError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(info) = head else {
        return Ok((None, Catalog::default()));
    };
    let mut at = site.reference.clone();
    at.digest = Some(info.digest.clone());
    let pulled = catalog_image::pull_catalog(&site.client, &at, limits).await?;
    Ok((Some(info.digest), pulled.catalog))
}

/// Bundle images of `repo` that `catalog` lacks, rendered: at most `site.repair_limit` image
/// reads. `skip` holds the digests this push wrote (rendered already). Failures become
/// warnings (the update itself still runs).
async fn missing_bundles(
    site: &CatalogSite,
    repo: &str,
    catalog: &Catalog,
    skip: &BTreeSet<String>,
    limits: &CatalogLimits,
) -> (Vec<Rendered>, Vec<String>) {
    let mut warnings = Vec::new();
    let repository = site.bundle_repository_of(repo);
    let prefix = format!("{}/{repository}@", site.host);
    let tags = match site.client.list_tags(&repository, None).await {
        Ok(tags) => tags,
        Err(e) => {
            warnings.push(format!("repair: cannot list the tags of {repository}: {e}"));
            return (Vec::new(), warnings);
        }
    };
    // Bundles of this repository the catalog holds: by image, and by version (under the
    // `csv-version` tag policy a tag is its bundle's version, which saves a request per tag).
    let present_images: BTreeSet<&str> = catalog
        .bundles
        .iter()
        .filter(|b| b.image.starts_with(&prefix))
        .map(|b| b.image.as_str())
        .collect();
    let present_tags: BTreeSet<String> = catalog
        .bundles
        .iter()
        .filter(|b| b.image.starts_with(&prefix))
        .filter_map(|b| b.version().map(tag_of_version))
        .collect();
    let names: BTreeSet<(&str, &str)> = catalog
        .bundles
        .iter()
        .map(|b| (b.package.as_str(), b.name.as_str()))
        .collect();
    let mut out = Vec::new();
    let mut reads = 0u32;
    for tag in tags.iter().filter(|t| !present_tags.contains(*t)) {
        if reads >= site.repair_limit {
            warnings.push(format!(
                "repair: read {} bundle images (catalog_repair_limit); the next push goes on",
                site.repair_limit
            ));
            break;
        }
        let digest = match site.client.head_manifest(&repository, tag).await {
            Ok(Some(info)) => info.digest,
            Ok(None) => continue,
            Err(e) => {
                warnings.push(format!("repair: cannot read {repository}:{tag}: {e}"));
                break;
            }
        };
        let image = by_digest(site, &repository, &digest);
        if skip.contains(&digest) || present_images.contains(image.as_str()) {
            continue;
        }
        reads += 1;
        let Ok(reference) = ImageReference::parse(&image) else {
            continue;
        };
        let pulled = match catalog_image::pull_bundle(&site.client, &reference, limits).await {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!("repair: cannot read {image}: {e}"));
                continue;
            }
        };
        let limits = limits.clone();
        let rendered =
            tokio::task::spawn_blocking(move || render_files(&pulled.files, image, &limits))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
        match rendered {
            // Another image already holds this bundle name (the same CSV pushed again under
            // another tag): the catalog's entry stays.
            Ok(r) if names.contains(&(r.bundle.package.as_str(), r.bundle.name.as_str())) => {}
            Ok(r) => out.push(r),
            Err(e) => {
                warnings.push(format!("repair: cannot render {repository}:{tag}: {e}"));
            }
        }
    }
    (out, warnings)
}

/// Runs the catalog stage for a push of `bundles` (pushed as `images`, same order) to
/// `org/repo`. Never fails: the outcome says what happened.
pub async fn update(
    state: &AppState,
    site: &CatalogSite,
    org: &str,
    repo: &str,
    bundles: &[ReleaseBundle],
    images: &[PushedImage],
) -> CatalogOutcome {
    let started = Instant::now();
    let outcome = update_inner(state, site, repo, bundles, images).await;
    let label = match &outcome.error {
        Some(f) => f.id.as_str(),
        None if outcome.status == CatalogStatus::Updated => "updated",
        None => "unchanged",
    };
    state
        .inner
        .metrics
        .upstream("catalog", "update", started.elapsed());
    state.inner.metrics.catalog(org, label);
    if let Some(f) = &outcome.error {
        tracing::error!(organization = %org, repo = %repo, catalog = %outcome.reference, error_id = f.id.as_str(), detail = %f.message, "catalog update failed; the bundle push stands and the next push repairs the catalog");
    } else {
        tracing::info!(organization = %org, repo = %repo, catalog = %outcome.reference, status = label, digest = outcome.digest.as_deref().unwrap_or(""), repaired = outcome.repaired.len(), "catalog updated");
    }
    outcome
}

/// The catalog stage of a push: `None` when the organization's store keeps no catalog.
pub async fn after_push(
    state: &AppState,
    store: &dyn ManifestStore,
    org: &str,
    repo: &str,
    auth: &Auth,
    release: &Release,
    images: &[PushedImage],
) -> Option<CatalogOutcome> {
    let site = match store.catalog_site(org, Some(auth)) {
        Ok(site) => site?,
        Err(e) => {
            tracing::error!(organization = %org, error = %e, "the catalog cannot be reached");
            return None;
        }
    };
    let bundles = match &release.content {
        ReleaseContent::BundleImages(bundles) => bundles.as_slice(),
        ReleaseContent::AppRegistryBlob { .. } => &[],
    };
    Some(update(state, &site, org, repo, bundles, images).await)
}

async fn update_inner(
    state: &AppState,
    site: &CatalogSite,
    repo: &str,
    bundles: &[ReleaseBundle],
    images: &[PushedImage],
) -> CatalogOutcome {
    let limits = CatalogLimits::default();
    let repository = site.bundle_repository_of(repo);
    // Render what this push built, off the runtime.
    let work: Vec<(Vec<u8>, String)> = bundles
        .iter()
        .zip(images)
        .map(|(b, i)| {
            (
                b.image.layer.clone(),
                by_digest(site, &repository, &i.digest),
            )
        })
        .collect();
    let rendered = {
        let limits = limits.clone();
        tokio::task::spawn_blocking(move || {
            work.into_iter()
                .map(|(layer, image)| render_layer(&layer, image, &limits))
                .collect::<Result<Vec<_>, String>>()
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
    };
    let mut rendered = match rendered {
        Ok(r) => r,
        Err(message) => {
            return CatalogOutcome::failed(
                site,
                Vec::new(),
                CatalogErrorId::OMPSCatalogInvalid,
                format!("the pushed bundle cannot be rendered: {message}"),
            );
        }
    };
    let names: Vec<String> = rendered.iter().map(|r| r.bundle.name.clone()).collect();

    // One writer per catalog in this process.
    let lock = state
        .inner
        .catalog_locks
        .get(&site.host, &site.reference.to_string());
    let _guard = lock.lock().await;

    let mut repaired = Vec::new();
    let mut warnings = Vec::new();
    if site.repair_limit > 0 {
        match read_current(site, &limits).await {
            Ok((_, current)) => {
                let skip: BTreeSet<String> = images.iter().map(|i| i.digest.clone()).collect();
                let (missing, problems) =
                    missing_bundles(site, repo, &current, &skip, &limits).await;
                warnings = problems;
                repaired = missing.iter().map(|r| r.bundle.name.clone()).collect();
                rendered.extend(missing);
            }
            Err(e) => {
                return CatalogOutcome::failed(site, names, CatalogErrorId::of(&e), e.to_string());
            }
        }
    }

    let base = match &site.base {
        Some((client, reference)) => BaseRef::Image { client, reference },
        None => BaseRef::Scratch,
    };
    let update = CatalogUpdate {
        client: &site.client,
        target: &site.reference,
        base,
        options: &ImageOptions::default(),
        limits: &limits,
        max_attempts: MAX_ATTEMPTS,
    };
    match update_catalog(update, |catalog| add_all(catalog, &rendered)).await {
        Ok(report) => CatalogOutcome {
            reference: site.reference.to_string(),
            status: if report.pushed.is_some() {
                CatalogStatus::Updated
            } else {
                CatalogStatus::Unchanged
            },
            digest: report.pushed.map(|p| p.digest),
            bundles: names,
            repaired,
            attempts: report.attempts,
            error: None,
            warnings,
        },
        Err(e) => CatalogOutcome {
            warnings,
            ..CatalogOutcome::failed(site, names, CatalogErrorId::of(&e), e.to_string())
        },
    }
}

/// The catalog as an FBC JSON stream.
#[derive(Debug, Clone)]
pub struct CatalogText {
    /// The catalog image read, by digest.
    pub digest: String,
    /// `opm render`-style JSON stream.
    pub json: String,
}

fn catalog_not_found(message: String) -> ApiError {
    ApiError::new(ErrorId::OMPSCatalogNotFound, message)
}

impl PushService {
    /// The catalog of `org` (`GET /v2/<org>/catalog`).
    pub async fn catalog(&self, org: &str, auth: Option<&Auth>) -> Result<CatalogText, PushError> {
        check_names(org, None)?;
        self.authorize(org, Access::Read, auth)?;
        let site = self
            .store_of(org)?
            .catalog_site(org, auth)
            .map_err(|e| ApiError::new(ErrorId::OMPSCatalogError, e.to_string()))?
            .ok_or_else(|| {
                catalog_not_found(format!("Organization {org} has no catalog configured"))
            })?;
        let limits = CatalogLimits::default();
        let started = Instant::now();
        let read = read_current(&site, &limits).await;
        self.state()
            .inner
            .metrics
            .upstream("catalog", "read", started.elapsed());
        match read {
            Ok((Some(digest), catalog)) => {
                let json = tokio::task::spawn_blocking(move || {
                    olm_catalog::to_text(&catalog, Format::Json)
                })
                .await
                .map_err(|_| ApiError::internal())?;
                Ok(CatalogText { digest, json })
            }
            Ok((None, _)) | Err(CatalogImageError::Registry(QuayError::NotFound(_))) => Err(
                catalog_not_found(format!("Catalog {} does not exist yet", site.reference)),
            ),
            Err(e) => {
                tracing::error!(organization = %org, catalog = %site.reference, error = %e, "reading the catalog failed");
                Err(ApiError::new(
                    ErrorId::OMPSCatalogError,
                    format!("Catalog {} cannot be read: {e}", site.reference),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_files(version: &str, replaces: Option<&str>) -> FileSet {
        let replaces = replaces.map_or_else(String::new, |r| format!("  replaces: demo.v{r}\n"));
        let csv = format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: demo.v{version}\nspec:\n  version: {version}\n{replaces}  install:\n    strategy: deployment\n"
        );
        let mut files = FileSet::new();
        files.insert(
            "manifests/demo.clusterserviceversion.yaml",
            csv.into_bytes(),
        );
        files.insert(
            "metadata/annotations.yaml",
            b"annotations:\n  operators.operatorframework.io.bundle.package.v1: demo\n  operators.operatorframework.io.bundle.channels.v1: stable\n".to_vec(),
        );
        files
    }

    #[test]
    fn bundles_accumulate_and_round_trip() {
        let limits = CatalogLimits::default();
        let one = render_files(
            &bundle_files("1.0.1", None),
            "r.example/d@sha256:1".into(),
            &limits,
        )
        .unwrap();
        let two = render_files(
            &bundle_files("1.0.2", Some("1.0.1")),
            "r.example/d@sha256:2".into(),
            &limits,
        )
        .unwrap();
        let mut catalog = Catalog::default();
        assert!(add_all(&mut catalog, std::slice::from_ref(&one)).unwrap());
        let text = olm_catalog::to_text(&catalog, Format::Json);
        let mut back = olm_catalog::load_text("c.json", text.as_bytes(), &limits).unwrap();
        assert_eq!(back, catalog);
        assert!(add_all(&mut back, &[two]).unwrap());
        assert_eq!(back.bundles.len(), 2, "{back:?}");
        let text = olm_catalog::to_text(&back, Format::Json);
        let again = olm_catalog::load_text("c.json", text.as_bytes(), &limits).unwrap();
        assert_eq!(again.bundles.len(), 2, "{text}");
        assert!(
            !add_all(&mut back, &[one]).unwrap(),
            "adding again changes nothing"
        );
    }
}
