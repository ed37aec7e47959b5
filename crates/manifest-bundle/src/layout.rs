//! Layout detection (flat, nested, bundle) and package name discovery.

use crate::error::{Error, Structural};
use crate::limits::YamlLimits;
use crate::tree::ManifestTree;
use crate::yaml::{self, Yaml, YamlError};

/// How the manifests are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// Package file and CSVs at the root.
    Flat,
    /// Package file at the root, one directory per version holding a CSV.
    Nested,
    /// The modern bundle format: `manifests/` and `metadata/annotations.yaml`, at the root or in
    /// one directory per version.
    Bundle,
}

/// One parsed manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Path relative to the root.
    pub path: String,
    /// The parsed document.
    pub value: Yaml,
}

impl Document {
    /// The file name without its directory.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// `metadata.name` when it is a string.
    pub fn metadata_name(&self) -> Option<&str> {
        self.value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Yaml::as_str)
    }
}

/// The manifests of one version (a version directory, the flat root, or one bundle).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionManifests {
    /// The directory (`""` for the root).
    pub dir: String,
    /// CRDs, sorted by path.
    pub crds: Vec<Document>,
    /// CSVs, sorted by path.
    pub csvs: Vec<Document>,
    /// Other files of the version's manifest directory (not copied into bundles).
    pub others: Vec<String>,
    /// Bundle format only: `metadata/annotations.yaml`, if it parsed.
    pub annotations: Option<Document>,
}

/// A classified, parsed operator package.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    /// The layout that was detected.
    pub layout: Layout,
    /// The root package file (absent only for the bundle layout).
    pub package: Option<Document>,
    /// One entry per version, in sorted directory order.
    pub versions: Vec<VersionManifests>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Package,
    Csv,
    Crd,
    Other,
}

/// courier's `identify`: a mapping with `packageName`, else its `kind`, which Python looks
/// up in a set (so a `kind` that is a list or a mapping raises).
fn classify(path: &str, value: Option<&Yaml>) -> Result<Kind, Error> {
    let Some(Yaml::Map(m)) = value else {
        return Ok(Kind::Other);
    };
    if m.contains_key("packageName") {
        return Ok(Kind::Package);
    }
    Ok(match m.get("kind") {
        Some(Yaml::Str(k)) if k == "ClusterServiceVersion" => Kind::Csv,
        Some(Yaml::Str(k)) if k == "CustomResourceDefinition" => Kind::Crd,
        Some(k) if !k.is_hashable() => {
            return Err(Error::Structural(Structural::Unloadable {
                path: path.to_owned(),
                detail: format!(
                    "`kind` is a {}, which courier cannot look up (TypeError: unhashable type){COURIER_STOPS}",
                    if matches!(k, Yaml::Map(_)) {
                        "mapping"
                    } else {
                        "list"
                    }
                ),
            }));
        }
        _ => Kind::Other,
    })
}

/// operator-courier's test for a manifest file: the extension after the last dot, ignoring leading
/// dots of the base name (Python's `os.path.splitext`), is `.yaml` or `.yml`.
pub fn is_yaml_name(file_name: &str) -> bool {
    let trimmed = file_name.trim_start_matches('.');
    match trimmed.rfind('.') {
        Some(i) => matches!(&trimmed[i..], ".yaml" | ".yml"),
        None => false,
    }
}

/// Why our verdict is "invalid" where courier has no report.
const COURIER_STOPS: &str = "; operator-courier 2.1.11 stops on this file with a Python exception";

fn parse_doc(path: &str, data: &[u8], limits: &YamlLimits) -> Result<Option<Yaml>, Error> {
    let invalid = || {
        Error::Structural(Structural::InvalidYaml {
            path: path.to_owned(),
        })
    };
    let unloadable = |detail: String| {
        Error::Structural(Structural::Unloadable {
            path: path.to_owned(),
            detail,
        })
    };
    let text = std::str::from_utf8(data)
        .map_err(|e| unloadable(format!("the file is not UTF-8 ({e}){COURIER_STOPS}")))?;
    yaml::parse(text, limits).map_err(|e| match e {
        e if e.is_marked() => invalid(),
        YamlError::TooLarge { .. } | YamlError::TooDeep { .. } | YamlError::TooManyNodes { .. } => {
            unloadable(format!("{e}, over this service's limit"))
        }
        e => unloadable(format!("{e}{COURIER_STOPS}")),
    })
}

/// Parsed YAML files directly in `dir`: `(path, kind, document)`.
fn scan_dir(
    tree: &ManifestTree,
    dir: &str,
    limits: &YamlLimits,
) -> Result<Vec<(Kind, Document)>, Error> {
    let mut out = Vec::new();
    for (name, path, data) in tree.files_in(dir) {
        if !is_yaml_name(name) {
            continue;
        }
        let value = parse_doc(path, data, limits)?;
        let kind = classify(path, value.as_ref())?;
        out.push((
            kind,
            Document {
                path: path.to_owned(),
                value: value.unwrap_or(Yaml::Null),
            },
        ));
    }
    Ok(out)
}

fn split(docs: Vec<(Kind, Document)>, dir: &str, tree: &ManifestTree) -> VersionManifests {
    let mut version = VersionManifests {
        dir: dir.to_owned(),
        ..VersionManifests::default()
    };
    for (kind, doc) in docs {
        match kind {
            Kind::Csv => version.csvs.push(doc),
            Kind::Crd => version.crds.push(doc),
            Kind::Package | Kind::Other => {}
        }
    }
    let kept: Vec<&str> = version
        .csvs
        .iter()
        .chain(&version.crds)
        .map(|d| d.path.as_str())
        .collect();
    version.others = tree
        .files_in(dir)
        .map(|(_, p, _)| p)
        .filter(|p| !kept.contains(p))
        .map(str::to_owned)
        .collect();
    version
}

/// Detects the layout and parses every manifest the way operator-courier reads them.
///
/// Structural problems are returned as [`Error::Structural`] with courier's exact texts.
pub fn load(tree: &ManifestTree, limits: &YamlLimits) -> Result<Manifests, Error> {
    let root = scan_dir(tree, "", limits)?;
    let packages: Vec<&Document> = root
        .iter()
        .filter(|(k, _)| *k == Kind::Package)
        .map(|(_, d)| d)
        .collect();
    if packages.len() > 1 {
        return Err(Error::Structural(Structural::MultiplePackages));
    }
    let Some(package) = packages.first().map(|d| (*d).clone()) else {
        return load_bundles(tree, limits);
    };

    let mut versions = Vec::new();
    for sub in tree.subdirs("") {
        let docs = scan_dir(tree, &sub, limits)?;
        if docs.iter().any(|(k, _)| *k == Kind::Csv) {
            versions.push(split(docs, &sub, tree));
        }
    }
    if !versions.is_empty() {
        return Ok(Manifests {
            layout: Layout::Nested,
            package: Some(package),
            versions,
        });
    }
    if root.iter().any(|(k, _)| *k == Kind::Csv) {
        let flat = split(root, "", tree);
        return Ok(Manifests {
            layout: Layout::Flat,
            package: Some(package),
            versions: vec![flat],
        });
    }
    Err(Error::Structural(Structural::NoCsv))
}

/// Like [`load`], but only the package-manifest layouts (flat, nested) are accepted, as an App
/// Registry push needs a package file: the bundle layout fails with courier's
/// `Bundle does not contain any packages.`
pub fn load_package_manifests(
    tree: &ManifestTree,
    limits: &YamlLimits,
) -> Result<Manifests, Error> {
    let manifests = load(tree, limits)?;
    if manifests.layout == Layout::Bundle {
        return Err(Error::Structural(Structural::NoPackage));
    }
    Ok(manifests)
}

fn is_bundle_dir(tree: &ManifestTree, dir: &str) -> bool {
    let join = |p: &str| {
        if dir.is_empty() {
            p.to_owned()
        } else {
            format!("{dir}/{p}")
        }
    };
    tree.get(&join("metadata/annotations.yaml")).is_some()
        && tree.files_in(&join("manifests")).next().is_some()
}

fn load_bundles(tree: &ManifestTree, limits: &YamlLimits) -> Result<Manifests, Error> {
    let dirs: Vec<String> = if is_bundle_dir(tree, "") {
        vec![String::new()]
    } else {
        tree.subdirs("")
            .into_iter()
            .filter(|d| is_bundle_dir(tree, d))
            .collect()
    };
    if dirs.is_empty() {
        return Err(Error::Structural(Structural::NoPackage));
    }
    let mut versions = Vec::new();
    for dir in dirs {
        let join = |p: &str| {
            if dir.is_empty() {
                p.to_owned()
            } else {
                format!("{dir}/{p}")
            }
        };
        let manifests_dir = join("manifests");
        let docs = scan_dir(tree, &manifests_dir, limits)?;
        let mut version = split(docs, &manifests_dir, tree);
        version.dir.clone_from(&dir);
        let annotations_path = join("metadata/annotations.yaml");
        let data = tree.get(&annotations_path).unwrap_or_default();
        let value = parse_doc(&annotations_path, data, limits)?;
        version.annotations = Some(Document {
            path: annotations_path,
            value: value.unwrap_or(Yaml::Null),
        });
        versions.push(version);
    }
    Ok(Manifests {
        layout: Layout::Bundle,
        package: None,
        versions,
    })
}

/// OMPS's package name discovery: the first top-level YAML file (sorted by name) whose root is a
/// mapping with `packageName`. Returns `(file path, package name)`.
///
/// A file that fails to parse before the package file is found is an error; empty and non-mapping
/// files are skipped.
pub fn discover_package_name(
    tree: &ManifestTree,
    limits: &YamlLimits,
) -> Result<(String, String), Error> {
    for (name, path, data) in tree.files_in("") {
        // OMPS compares the suffix case-sensitively.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if !is_yaml {
            continue;
        }
        let fail = |source| Error::YamlFile {
            path: path.to_owned(),
            source,
        };
        let text = std::str::from_utf8(data).map_err(|_| fail(None))?;
        let doc = yaml::parse(text, limits).map_err(|e| fail(Some(e)))?;
        if let Some(Yaml::Map(m)) = doc {
            if let Some(value) = m.get("packageName") {
                return match value {
                    Yaml::Str(s) if !s.is_empty() => Ok((path.to_owned(), s.clone())),
                    _ => Err(Error::PackageNameNotFound),
                };
            }
        }
    }
    Err(Error::PackageNameNotFound)
}
