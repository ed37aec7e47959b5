//! Hints for the common packaging mistakes: what a person should do when a package cannot even
//! be loaded (a zip with the folder wrapped, no package file, a file-based catalog given where
//! a package is expected). Each returns one line, or `None` when the mistake is not recognised.

use std::path::Path;

use manifest_bundle::ManifestTree;

/// The one top-level folder every file of `tree` sits in, when there is exactly one.
fn wrapping_folder(tree: &ManifestTree) -> Option<String> {
    let mut folder: Option<&str> = None;
    for (name, _) in tree.iter() {
        let (first, _) = name.split_once('/')?;
        match folder {
            None => folder = Some(first),
            Some(f) if f == first => {}
            Some(_) => return None,
        }
    }
    folder.map(str::to_owned)
}

/// Whether the YAML/JSON files of `tree` are a file-based catalog (`schema: olm.package`
/// blobs), read with the catalog loader itself.
fn is_catalog(tree: &ManifestTree) -> bool {
    let mut files = olm_catalog::FileSet::new();
    for (name, data) in tree.iter() {
        files.insert(name, data.to_vec());
    }
    olm_catalog::load_files(&files, &olm_catalog::CatalogLimits::default())
        .is_ok_and(|c| !c.packages.is_empty())
}

/// Whether `tree` is in the bundle format: `metadata/annotations.yaml` at its root or in a
/// version directory.
fn is_bundle_format(tree: &ManifestTree) -> bool {
    tree.iter().any(|(name, _)| {
        name == "metadata/annotations.yaml"
            || name
                .split_once('/')
                .is_some_and(|(_, rest)| rest == "metadata/annotations.yaml")
    })
}

/// The hint for a package that cannot even be loaded (`error`), when the mistake is a common
/// one: a file-based catalog, a wrapped folder, no package file.
pub fn unloadable(
    path: &Path,
    tree: &ManifestTree,
    error: &manifest_bundle::Error,
) -> Option<String> {
    use manifest_bundle::{Error, Structural};
    match error {
        Error::PackageNameNotFound | Error::Structural(Structural::NoPackage) => {
            Some(missing_package(path, tree))
        }
        // A catalog's multi-document YAML fails courier's loader before anything else.
        Error::Structural(_) | Error::YamlFile { .. } if is_catalog(tree) => {
            Some(missing_package(path, tree))
        }
        _ => None,
    }
}

/// The hint for a package that has no package file at its root (`Could not find packageName
/// in manifests.`, `Bundle does not contain any packages.`).
pub fn missing_package(path: &Path, tree: &ManifestTree) -> String {
    let shown = path.display();
    if is_catalog(tree) {
        return format!(
            "{shown} is a file-based catalog (olm.package, olm.channel, olm.bundle blobs), not an \
             operator package: give the package-manifest directory it was made from, or a \
             bundle directory"
        );
    }
    if is_bundle_format(tree) {
        return format!(
            "{shown} is in the bundle format (manifests/ and metadata/annotations.yaml), not \
             package manifests: push it to a registry with `omps bundle push`, or to an \
             organization on the OCI store"
        );
    }
    if let Some(folder) = wrapping_folder(tree) {
        return if path.is_dir() {
            format!(
                "the manifests are one level down, in {folder}/: give that folder ({})",
                path.join(&folder).display()
            )
        } else {
            format!(
                "the archive wraps the manifests in the folder {folder}/; they must be at its \
                 root: zip the folder's contents, e.g. (cd {folder} && zip -r ../{folder}.zip .)"
            )
        };
    }
    "a package needs a package file at its root (e.g. etcd.package.yaml with packageName, \
     channels and defaultChannel) next to the CSV and CRD files or version directories"
        .to_owned()
}
