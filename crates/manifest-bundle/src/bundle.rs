//! Package manifests → registry+v1 bundle directories, one per version.
//!
//! Our rules (spec `validation.md` §9.1), laid out like operator-sdk's `pkgman-to-bundle`:
//! `manifests/` holds the CSV and its CRDs (original file names and bytes), and
//! `metadata/annotations.yaml` the bundle annotations.

use std::fmt::Write as _;

use crate::error::Error;
use crate::layout::{Document, Layout, Manifests};
use crate::tree::ManifestTree;
use crate::validate::annotation;
use crate::yaml::{self, Mapping, Yaml};

/// One operator version in the bundle format.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleDir {
    /// The CSV's `spec.version` (used as the image tag).
    pub version: String,
    /// The CSV's `metadata.name`.
    pub csv_name: String,
    /// The package name.
    pub package: String,
    /// Annotations, in the order written to `annotations.yaml` (also the image labels).
    pub annotations: Vec<(String, String)>,
    /// `manifests/...` and `metadata/annotations.yaml`.
    pub files: ManifestTree,
}

impl BundleDir {
    /// A `bundle.Dockerfile` for users who build with a container builder (we never need one).
    pub fn dockerfile(&self) -> String {
        let mut out = String::from("FROM scratch\n\n");
        for (k, v) in &self.annotations {
            let _ = writeln!(out, "LABEL {k}={v}");
        }
        out.push_str("\nCOPY manifests /manifests/\nCOPY metadata /metadata/\n");
        out
    }
}

/// Converts validated manifests (after org rewrites) into bundle directories. `tree` supplies
/// the original bytes of each manifest file.
pub fn to_bundles(manifests: &Manifests, tree: &ManifestTree) -> Result<Vec<BundleDir>, Error> {
    match manifests.layout {
        Layout::Bundle => manifests
            .versions
            .iter()
            .map(|v| existing_bundle(v, tree))
            .collect(),
        Layout::Flat | Layout::Nested => convert(manifests, tree),
    }
}

fn existing_bundle(
    version: &crate::VersionManifests,
    tree: &ManifestTree,
) -> Result<BundleDir, Error> {
    let csv = version.csvs.first().ok_or_else(|| {
        Error::Conversion(format!(
            "bundle {} has no ClusterServiceVersion",
            version.dir
        ))
    })?;
    let annotations: Vec<(String, String)> = version
        .annotations
        .as_ref()
        .and_then(|d| d.value.get("annotations"))
        .and_then(Yaml::as_map)
        .map(|m| m.iter().map(|(k, v)| (k.py_str(), v.py_str())).collect())
        .unwrap_or_default();
    let package = annotations
        .iter()
        .find(|(k, _)| k == annotation::PACKAGE)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let prefix = if version.dir.is_empty() {
        String::new()
    } else {
        format!("{}/", version.dir)
    };
    let mut files = ManifestTree::new();
    for (path, data) in tree.iter() {
        if let Some(rel) = path.strip_prefix(&prefix) {
            if rel.starts_with("manifests/") || rel.starts_with("metadata/") {
                files.insert(rel, data.to_vec());
            }
        }
    }
    Ok(BundleDir {
        version: csv_version(csv)?,
        csv_name: csv.metadata_name().unwrap_or_default().to_owned(),
        package,
        annotations,
        files,
    })
}

fn csv_version(csv: &Document) -> Result<String, Error> {
    match csv.value.get("spec").and_then(|s| s.get("version")) {
        Some(v @ (Yaml::Str(_) | Yaml::Int(_) | Yaml::Float(_))) => Ok(v.py_str()),
        _ => Err(Error::Conversion(format!(
            "{} is not a valid CSV file as \"spec.version\" field is required",
            csv.path
        ))),
    }
}

fn convert(manifests: &Manifests, tree: &ManifestTree) -> Result<Vec<BundleDir>, Error> {
    let package_doc = manifests
        .package
        .as_ref()
        .ok_or(Error::Structural(crate::Structural::NoPackage))?;
    let package_name = package_doc
        .value
        .get("packageName")
        .map(Yaml::py_str)
        .unwrap_or_default();
    let all_csvs: Vec<&Document> = manifests.versions.iter().flat_map(|v| &v.csvs).collect();
    let channels = channel_members(&package_doc.value, &all_csvs);
    let default_channel = package_doc
        .value
        .get("defaultChannel")
        .map(Yaml::py_str)
        .or_else(|| (channels.len() == 1).then(|| channels[0].0.clone()));

    let mut out = Vec::new();
    for version in &manifests.versions {
        for csv in &version.csvs {
            let csv_name = csv.metadata_name().unwrap_or_default().to_owned();
            let mut in_channels: Vec<String> = channels
                .iter()
                .filter(|(_, members)| members.contains(&csv_name))
                .map(|(c, _)| c.clone())
                .collect();
            if in_channels.is_empty() {
                match &default_channel {
                    Some(d) => in_channels.push(d.clone()),
                    None => {
                        return Err(Error::Conversion(format!(
                            "CSV {csv_name} is in no channel and the package has no default channel"
                        )));
                    }
                }
            }
            let mut annotations = vec![
                (annotation::MEDIATYPE.to_owned(), "registry+v1".to_owned()),
                (annotation::MANIFESTS.to_owned(), "manifests/".to_owned()),
                (annotation::METADATA.to_owned(), "metadata/".to_owned()),
                (annotation::PACKAGE.to_owned(), package_name.clone()),
                (annotation::CHANNELS.to_owned(), in_channels.join(",")),
            ];
            // A default channel the bundle is not in makes the bundle invalid for opm (and
            // for our own bundle validator): it is only written when the bundle is in it.
            if let Some(d) = default_channel.as_ref().filter(|d| in_channels.contains(d)) {
                annotations.push((annotation::DEFAULT_CHANNEL.to_owned(), d.clone()));
            }
            let mut files = ManifestTree::new();
            let mut add = |doc: &Document| -> Result<(), Error> {
                let name = format!("manifests/{}", doc.file_name());
                if files.get(&name).is_some() {
                    return Err(Error::Conversion(format!(
                        "two manifests are both named {}",
                        doc.file_name()
                    )));
                }
                files.insert(name, tree.get(&doc.path).unwrap_or_default().to_vec());
                Ok(())
            };
            add(csv)?;
            let owned = owned_crd_names(&csv.value);
            for crd in &version.crds {
                let keep = manifests.layout == Layout::Nested
                    || crd
                        .metadata_name()
                        .is_some_and(|n| owned.iter().any(|o| o == n));
                if keep {
                    add(crd)?;
                }
            }
            let mut map = Mapping::new();
            for (k, v) in &annotations {
                map.insert(Yaml::Str(k.clone()), Yaml::Str(v.clone()));
            }
            let mut root = Mapping::new();
            root.insert(Yaml::Str("annotations".into()), Yaml::Map(map));
            files.insert(
                "metadata/annotations.yaml",
                yaml::emit(&Yaml::Map(root), false).into_bytes(),
            );
            out.push(BundleDir {
                version: csv_version(csv)?,
                csv_name,
                package: package_name.clone(),
                annotations,
                files,
            });
        }
    }
    Ok(out)
}

fn owned_crd_names(csv: &Yaml) -> Vec<String> {
    csv.get("spec")
        .and_then(|s| s.get("customresourcedefinitions"))
        .and_then(|c| c.get("owned"))
        .and_then(Yaml::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|o| o.get("name").and_then(Yaml::as_str).map(str::to_owned))
        .collect()
}

/// For each channel (package-file order): the CSVs it contains, following `spec.replaces` from
/// `currentCSV` through the package's CSVs.
fn channel_members(package: &Yaml, csvs: &[&Document]) -> Vec<(String, Vec<String>)> {
    let replaces = |name: &str| -> Option<String> {
        csvs.iter()
            .find(|d| d.metadata_name() == Some(name))
            .and_then(|d| d.value.get("spec"))
            .and_then(|s| s.get("replaces"))
            .and_then(Yaml::as_str)
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    for channel in package
        .get("channels")
        .and_then(Yaml::as_seq)
        .unwrap_or_default()
    {
        let Some(name) = channel.get("name").map(Yaml::py_str) else {
            continue;
        };
        let mut members = Vec::new();
        let mut next = channel
            .get("currentCSV")
            .and_then(Yaml::as_str)
            .map(str::to_owned);
        while let Some(csv) = next {
            // A replaces cycle must not loop forever.
            if members.contains(&csv)
                || !csvs.iter().any(|d| d.metadata_name() == Some(csv.as_str()))
            {
                break;
            }
            next = replaces(&csv);
            members.push(csv);
        }
        out.push((name, members));
    }
    out
}
