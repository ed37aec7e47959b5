#![doc = include_str!("../README.md")]

pub mod bundle;
pub mod bundle_package;
pub mod error;
pub mod image;
pub mod layout;
pub mod limits;
pub mod package;
mod py;
pub mod rewrite;
pub mod tree;
pub mod validate;
pub mod yaml;

pub use bundle::{BundleDir, to_bundles};
pub use bundle_package::bundle_package_name;
pub use error::{Error, ErrorClass, Structural};
pub use layout::{Document, Layout, Manifests, VersionManifests, discover_package_name};
pub use limits::{Limits, YamlLimits};
pub use package::{AppRegistryBlob, app_registry_blob, app_registry_blob_spooled};
pub use rewrite::{CsvAnnotation, RegistryRule, RewriteConfig, Rewrites};
pub use tree::{ManifestTree, Spool, SpooledFile};
pub use validate::ValidationReport;

/// The crate version (reported by the server as its validator engine version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Loads and validates a tree in one call.
///
/// `Ok` carries the report even when it has errors (use [`ValidationReport::is_valid`]);
/// structural failures, which courier raises before any rule runs, are `Err`.
pub fn validate_tree(
    tree: &ManifestTree,
    repository: Option<&str>,
    limits: &YamlLimits,
) -> Result<(Manifests, ValidationReport), Error> {
    let manifests = layout::load(tree, limits)?;
    let report = validate::validate(&manifests, repository);
    Ok((manifests, report))
}
