//! Bundle-format uploads (`metadata/annotations.yaml` per bundle): the package name they declare,
//! with an organization's suffix written back into every bundle's annotations.

use std::collections::BTreeSet;

use crate::error::Error;
use crate::layout::{self, Layout};
use crate::limits::YamlLimits;
use crate::rewrite::Rewrites;
use crate::tree::ManifestTree;
use crate::validate::annotation::PACKAGE;
use crate::yaml::{self, Yaml};

/// The package name of a bundle-format upload (from `metadata/annotations.yaml`), with the
/// organization's suffix written into every bundle's annotations. Trees that are not in bundle
/// format give [`Error::PackageNameNotFound`], as for a missing package file.
pub fn bundle_package_name(
    tree: &mut ManifestTree,
    rewrites: &Rewrites,
    limits: &YamlLimits,
) -> Result<String, Error> {
    let manifests = layout::load(tree, limits).map_err(|_| Error::PackageNameNotFound)?;
    if manifests.layout != Layout::Bundle {
        return Err(Error::PackageNameNotFound);
    }
    let mut names = BTreeSet::new();
    for version in &manifests.versions {
        let name = version
            .annotations
            .as_ref()
            .and_then(|d| d.value.get("annotations"))
            .and_then(|a| a.get(PACKAGE))
            .map(Yaml::py_str)
            .filter(|n| !n.is_empty())
            .ok_or(Error::PackageNameNotFound)?;
        names.insert(name);
    }
    let Some(name) = names.first().cloned() else {
        return Err(Error::PackageNameNotFound);
    };
    if names.len() > 1 {
        return Err(Error::Conversion(format!(
            "the uploaded bundles name different packages: {}",
            names.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let suffixed = rewrites.suffixed_name(&name);
    if suffixed != name {
        for version in &manifests.versions {
            let Some(doc) = &version.annotations else {
                continue;
            };
            let mut value = doc.value.clone();
            if let Yaml::Map(root) = &mut value {
                if let Some(Yaml::Map(m)) = root.get_mut("annotations") {
                    m.insert(Yaml::Str(PACKAGE.into()), Yaml::Str(suffixed.clone()));
                }
            }
            tree.insert(doc.path.clone(), yaml::emit(&value, false).into_bytes());
        }
    }
    Ok(suffixed)
}
