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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::RewriteConfig;

    fn bundle(tree: &mut ManifestTree, version: &str, package: &str) {
        let csv = format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: op.v{version}\nspec:\n  version: {version}\n"
        );
        tree.insert(format!("{version}/manifests/op.csv.yaml"), csv.into_bytes());
        tree.insert(
            format!("{version}/metadata/annotations.yaml"),
            format!("annotations:\n  {PACKAGE}: {package}\n  operators.operatorframework.io.bundle.channels.v1: alpha\n").into_bytes(),
        );
    }

    fn rewrites(suffix: Option<&str>) -> Rewrites {
        Rewrites::compile(
            "o",
            &RewriteConfig {
                package_name_suffix: suffix.map(str::to_owned),
                ..RewriteConfig::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn the_package_of_bundle_uploads_with_the_suffix_written_back() {
        let limits = YamlLimits::default();
        let mut tree = ManifestTree::new();
        bundle(&mut tree, "1.0.0", "op");
        bundle(&mut tree, "1.1.0", "op");
        let name = bundle_package_name(&mut tree, &rewrites(Some("-x")), &limits).unwrap();
        assert_eq!(name, "op-x");
        for version in ["1.0.0", "1.1.0"] {
            let text = String::from_utf8(
                tree.get(&format!("{version}/metadata/annotations.yaml"))
                    .unwrap()
                    .to_vec(),
            )
            .unwrap();
            assert!(text.contains("op-x"), "{text}");
        }
        // Without a suffix nothing is rewritten.
        let mut plain = ManifestTree::new();
        bundle(&mut plain, "1.0.0", "op");
        let before = plain
            .get("1.0.0/metadata/annotations.yaml")
            .unwrap()
            .to_vec();
        assert_eq!(
            bundle_package_name(&mut plain, &rewrites(None), &limits).unwrap(),
            "op"
        );
        assert_eq!(
            plain.get("1.0.0/metadata/annotations.yaml").unwrap(),
            &before[..]
        );
    }

    #[test]
    fn disagreeing_or_missing_packages_are_errors() {
        let limits = YamlLimits::default();
        let mut mixed = ManifestTree::new();
        bundle(&mut mixed, "1.0.0", "a");
        bundle(&mut mixed, "1.1.0", "b");
        let e = bundle_package_name(&mut mixed, &rewrites(None), &limits).unwrap_err();
        assert!(e.to_string().contains("a, b"), "{e}");
        let mut flat = ManifestTree::new();
        flat.insert("csv.yaml", b"kind: ClusterServiceVersion\n".to_vec());
        assert!(matches!(
            bundle_package_name(&mut flat, &rewrites(None), &limits),
            Err(Error::PackageNameNotFound)
        ));
    }
}
