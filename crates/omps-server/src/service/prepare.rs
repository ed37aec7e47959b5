//! Stage 3, prepare: the organization's rewrites, validation, and exactly the release the store
//! takes (an App Registry blob, or one bundle image per CSV), named.

use manifest_bundle::{Limits, Rewrites, layout, validate};

use crate::backends::{
    Release, ReleaseBundle, ReleaseContent, ReleaseNaming, ReleaseShape, StoreCapabilities,
};
use crate::error::{ApiError, ErrorId};
use crate::service::intake::{Intake, blocking};

/// How the release is named: the version chosen in stage 2 (stores naming releases by
/// version), or the content's (stores naming releases by content, checked against the
/// caller's explicit version).
#[derive(Debug, Clone, Default)]
pub struct Naming {
    /// The version from [`super::version::choose`].
    pub chosen: Option<String>,
    /// The caller's explicit version.
    pub requested: Option<String>,
}

/// Builds the release on the blocking pool (the caller holds a `cpu` permit).
pub async fn prepare(
    intake: Intake,
    rewrites: Rewrites,
    repo: &str,
    capabilities: StoreCapabilities,
    naming: Naming,
    public: bool,
    limits: &Limits,
) -> Result<Release, ApiError> {
    let repo = repo.to_owned();
    let limits = limits.clone();
    blocking(move || {
        prepare_now(
            intake,
            &rewrites,
            &repo,
            capabilities,
            naming,
            public,
            &limits,
        )
    })
    .await
}

/// [`prepare`] on the current thread.
pub fn prepare_now(
    intake: Intake,
    rewrites: &Rewrites,
    repo: &str,
    capabilities: StoreCapabilities,
    naming: Naming,
    public: bool,
    limits: &Limits,
) -> Result<Release, ApiError> {
    let Intake {
        mut tree,
        spooled,
        package_name,
        ..
    } = intake;
    let yaml = &limits.yaml;
    rewrites.replace_registries(&mut tree)?;
    rewrites.annotate_csvs(&mut tree, &package_name, yaml)?;
    let manifests = match capabilities.takes {
        ReleaseShape::BundleImages => layout::load(&tree, yaml)?,
        ReleaseShape::AppRegistryBlob => layout::load_package_manifests(&tree, yaml)?,
    };
    let report = validate::validate(&manifests, Some(repo));
    if !report.is_valid() {
        return Err(manifest_bundle::Error::Invalid(Box::new(report)).into());
    }
    let content = match capabilities.takes {
        ReleaseShape::AppRegistryBlob => {
            let blob = manifest_bundle::app_registry_blob_spooled(
                &manifests,
                &tree,
                &spooled.files,
                repo,
            )?;
            ReleaseContent::AppRegistryBlob {
                blob: blob.tar_gz.into(),
                digest: blob.tar_sha256,
            }
        }
        // Built from the rewritten tree, so every organization rewrite is in the images.
        ReleaseShape::BundleImages => ReleaseContent::BundleImages(
            manifest_bundle::to_bundles(&manifests, &tree)?
                .into_iter()
                .map(|bundle| {
                    Ok(ReleaseBundle {
                        image: manifest_bundle::image::build_image(&bundle)?,
                        csv_version: bundle.version,
                        csv_name: bundle.csv_name,
                    })
                })
                .collect::<Result<Vec<_>, manifest_bundle::Error>>()?,
        ),
    };
    let version = match (capabilities.naming, naming.chosen) {
        (ReleaseNaming::FromVersion, Some(chosen)) => chosen,
        (ReleaseNaming::FromVersion, None) => {
            tracing::error!("no version was chosen for a store naming releases by version");
            return Err(ApiError::internal());
        }
        (ReleaseNaming::FromContent, _) => content_name(&content, naming.requested.as_deref())?,
    };
    Ok(Release {
        version,
        content,
        public,
    })
}

/// The release name of content named by its CSV versions: the explicit version when a bundle
/// has it, else the highest CSV version.
pub fn content_name(content: &ReleaseContent, requested: Option<&str>) -> Result<String, ApiError> {
    let ReleaseContent::BundleImages(bundles) = content else {
        tracing::error!("a store naming releases by content must take bundle images");
        return Err(ApiError::internal());
    };
    let mut versions: Vec<&str> = bundles.iter().map(|b| b.csv_version.as_str()).collect();
    versions.sort_by(
        |a, b| match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => a.cmp(b),
        },
    );
    versions.dedup();
    match requested {
        Some(v) if versions.contains(&v) => Ok(v.to_owned()),
        Some(v) => Err(ApiError::new(
            ErrorId::OMPSVersionNotApplicable,
            format!(
                "Version '{v}' cannot be used: this organization's releases are named after the CSV versions of the bundles, and this upload has {}",
                versions.join(", ")
            ),
        )),
        None => versions.last().map(|v| (*v).to_owned()).ok_or_else(|| {
            ApiError::package_validation(
                "Failed to push manifest: the upload has no bundle",
                serde_json::json!({}),
            )
        }),
    }
}
