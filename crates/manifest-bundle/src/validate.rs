//! operator-courier 2.1.x validation rules, with byte-exact message texts, plus rules of our own
//! for the bundle format.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::layout::{Layout, Manifests, VersionManifests};
use crate::py::{R, Stop, Val};
use crate::yaml::Yaml;

/// courier's `validation_info`: every warning and error, duplicates kept, in rule order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Messages that never fail a push.
    pub warnings: Vec<String>,
    /// Messages that make the bundle invalid.
    pub errors: Vec<String>,
    /// The file each warning is about (courier's `[<dir>/<file>]` log suffix); not serialised.
    #[serde(skip)]
    pub warning_files: Vec<String>,
    /// The file each error is about; not serialised.
    #[serde(skip)]
    pub error_files: Vec<String>,
}

impl ValidationReport {
    /// Valid if and only if there is no error.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The report exactly as operator-courier writes it with `--validation-output`: Python's
    /// `json.dumps` (`", "`/`": "` separators, non-ASCII escaped), without the trailing newline.
    pub fn to_courier_json(&self) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|s| python_json_string(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{{\"warnings\": [{}], \"errors\": [{}]}}",
            list(&self.warnings),
            list(&self.errors)
        )
    }

    /// Attributes every message added since the last call to `file`.
    fn attribute(&mut self, file: &str) {
        let short = short_file_name(file);
        self.warning_files
            .resize(self.warnings.len(), short.clone());
        self.error_files.resize(self.errors.len(), short);
    }

    /// Warnings with the file they are about.
    pub fn warnings_with_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.warnings
            .iter()
            .zip(
                self.warning_files
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::repeat("")),
            )
            .map(|(m, f)| (m.as_str(), f))
    }

    /// Errors with the file they are about.
    pub fn errors_with_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.errors
            .iter()
            .zip(
                self.error_files
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::repeat("")),
            )
            .map(|(m, f)| (m.as_str(), f))
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }
}

/// `<parent dir>/<file>`, as courier names files in its log lines.
fn short_file_name(path: &str) -> String {
    let mut parts = path.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some(file), Some(dir)) => format!("{dir}/{file}"),
        (Some(file), None) => file.to_owned(),
        _ => String::new(),
    }
}

/// A JSON string literal as Python's `json.dumps` writes it with `ensure_ascii=True`.
pub fn python_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// Validates every version of `manifests`. `repository` enables rule B5 (always given on push).
///
/// The rules are courier's, evaluated with Python's semantics: where courier's Python raises
/// (`annotations: null`, `owned` a string, CRD `versions` an integer, ...) courier ends without
/// a report; we add one error saying what failed and stop there too, so the verdict is the
/// same: invalid.
pub fn validate(manifests: &Manifests, repository: Option<&str>) -> ValidationReport {
    let mut report = ValidationReport::default();
    if let Err((Stop(python), file, what)) = validate_all(&mut report, manifests, repository) {
        report.error(format!(
            "{what} cannot be validated: operator-courier 2.1.11 stops here with the Python \
             exception \"{python}\"; fix the manifest"
        ));
        report.attribute(&file);
    }
    report
}

/// A raise, the file it happened in and what was being checked.
type Failure = (Stop, String, &'static str);

fn validate_all(
    report: &mut ValidationReport,
    manifests: &Manifests,
    repository: Option<&str>,
) -> Result<(), Failure> {
    let nested = manifests.layout == Layout::Nested;
    for version in &manifests.versions {
        let crds: Vec<Val<'_>> = version.crds.iter().map(|d| Val::root(&d.value)).collect();
        let csvs: Vec<Val<'_>> = version.csvs.iter().map(|d| Val::root(&d.value)).collect();
        for (crd, doc) in crds.iter().zip(&version.crds) {
            crd_rules(report, crd).map_err(|e| (e, doc.path.clone(), "the CRD"))?;
            report.attribute(&doc.path);
        }
        if csvs.is_empty() {
            report.error("Bundle does not contain any clusterServiceVersions.");
            report.attribute(&version.dir);
        }
        for (csv, doc) in csvs.iter().zip(&version.csvs) {
            csv_rules(report, csv, &crds).map_err(|e| (e, doc.path.clone(), "the CSV"))?;
            report.attribute(&doc.path);
        }
        if manifests.layout == Layout::Bundle {
            bundle_rules(report, version, repository);
            report.attribute(version.annotations.as_ref().map_or("", |d| d.path.as_str()));
            continue;
        }
        let Some(package) = manifests.package.as_ref() else {
            report.error("Bundle does not contain any packages.");
            report.attribute(&version.dir);
            continue;
        };
        let fail = |e| (e, package.path.clone(), "the package");
        let pkg = Val::root(&package.value);
        let package_ok = package_rules(report, &pkg, &csvs, nested).map_err(fail)?;
        if let (true, Some(repo)) = (package_ok, repository) {
            let name = pkg.get("packageName").map_err(fail)?;
            if !name.eq(&Val::Owned(Yaml::Str(repo.to_owned()))) {
                report.error(format!(
                    "The packageName ({}) in bundle does not match repository name ({repo}) provided as command line argument.",
                    name.py_str()
                ));
            }
        }
        report.attribute(&package.path);
    }
    Ok(())
}

fn crd_rules(r: &mut ValidationReport, crd: &Val<'_>) -> R<()> {
    if crd.contains("metadata")? {
        let metadata = crd.get("metadata")?;
        if metadata.contains("name")? {
            // courier logs the name: the lookup runs, and may raise.
            metadata.get("name")?;
        } else {
            r.error("crd metadata.name not defined.");
        }
    } else {
        r.error("crd metadata not defined.");
    }
    if !crd.contains("apiVersion")? {
        r.error("crd apiVersion not defined.");
    }
    if !crd.contains("spec")? {
        r.error("crd spec not defined.");
        return Ok(());
    }
    let spec = crd.get("spec")?;
    if spec.contains("names")? {
        let names = spec.get("names")?;
        if !names.contains("kind")? {
            r.error("crd spec.names.kind not defined.");
        }
        if !spec.get("names")?.contains("plural")? {
            r.error("crd spec.names.plural not defined.");
        }
    } else {
        r.error("crd spec.names not defined.");
    }
    if !spec.contains("group")? {
        r.error("crd spec.group not defined.");
    }
    if !spec.contains("versions")? && !spec.contains("version")? {
        r.error("crd spec.version or spec.versions not defined.");
    }
    if spec.contains("versions")? {
        let versions = spec.get("versions")?;
        if versions.len()? == 0 {
            r.error("crd spec.versions is empty.");
        } else {
            for ver in versions.items()? {
                if !ver.contains("name")? || !ver.contains("served")? || !ver.contains("storage")? {
                    r.error(
                        "crd spec.versions contains an invalid CustomResourceDefinitionVersion.",
                    );
                }
            }
            if spec.contains("version")? {
                let first = spec.get("version")?.get_first()?;
                if first.contains("name")? && !first.get("name")?.eq(&spec.get("version")?) {
                    r.error(
                        "crd spec.version and spec.versions are defined but spec.versions[0].name doesn't match spec.version.",
                    );
                }
            }
            let mut storage = 0;
            for v in versions.items()? {
                if v.contains("storage")? && v.get("storage")?.is_true() {
                    storage += 1;
                }
            }
            if storage != 1 {
                r.error("crd spec.version should contain exactly one version flagged as storage version.");
            }
        }
    }
    Ok(())
}

fn csv_rules(r: &mut ValidationReport, csv: &Val<'_>, crds: &[Val<'_>]) -> R<()> {
    if csv.contains("metadata")? {
        csv_metadata_rules(r, &csv.get("metadata")?)?;
    } else {
        r.error("csv metadata not defined.");
    }
    if !csv.contains("apiVersion")? {
        r.error("csv apiVersion not defined.");
    }
    if csv.contains("spec")? {
        csv_spec_rules(r, &csv.get("spec")?, crds)?;
    } else {
        r.error("csv spec not defined.");
    }
    Ok(())
}

fn csv_metadata_rules(r: &mut ValidationReport, metadata: &Val<'_>) -> R<()> {
    if metadata.contains("name")? {
        metadata.get("name")?;
    } else {
        r.error("csv metadata.name not defined.");
    }
    if !metadata.contains("annotations")? {
        r.warn("csv metadata.annotations not defined.");
        return Ok(());
    }
    let annotations = metadata.get("annotations")?;
    for item in [
        "categories",
        "description",
        "containerImage",
        "createdAt",
        "support",
    ] {
        if !annotations.contains(item)? {
            r.warn(format!("csv metadata.annotations.{item} not defined"));
        }
    }
    if annotations.contains("certified")? {
        if !annotations.get("certified")?.is_str() {
            r.error("metadata.annotations.certified is not of typestring");
        }
    } else {
        r.warn("csv metadata.annotations.certified not defined.");
    }
    if annotations.contains("alm-examples")? {
        // courier catches every exception here, the lookup's included.
        let ok = annotations
            .get("alm-examples")
            .is_ok_and(|v| v.json_loads_ok());
        if !ok {
            r.error("metadata.annotations.alm-examples contains invalid json string");
        }
    }
    Ok(())
}

/// `crd["metadata"]["name"]` for every CRD, skipping a `KeyError` as courier does (other
/// exceptions propagate).
fn names_of<'a>(docs: &[Val<'a>]) -> R<Vec<Val<'a>>> {
    let mut out = Vec::new();
    for doc in docs {
        let name = doc.get("metadata").and_then(|m| m.get("name"));
        match name {
            Ok(n) => out.push(n),
            Err(Stop(e)) if e.starts_with("KeyError") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn csv_spec_rules(r: &mut ValidationReport, spec: &Val<'_>, crds: &[Val<'_>]) -> R<()> {
    for item in [
        "displayName",
        "description",
        "icon",
        "version",
        "provider",
        "maturity",
    ] {
        if !spec.contains(item)? {
            r.warn(format!("csv spec.{item} not defined"));
        }
    }
    if !spec.contains("installModes")? {
        r.error("csv spec.installModes not defined");
    }
    if spec.contains("install")? {
        install_rules(r, &spec.get("install")?)?;
    } else {
        r.error("csv spec.install not defined");
    }
    // Per owned name (a dict key in courier): whether some CRD's singular version matched.
    let mut singular: Vec<(Val<'_>, Vec<bool>)> = Vec::new();
    if spec.contains("customresourcedefinitions")? {
        let section = spec.get("customresourcedefinitions")?;
        let crd_names = names_of(crds)?;
        if !section.is_none() && section.contains("owned")? {
            for owned in section.get("owned")?.items()? {
                owned_rules(r, &owned, crds, &crd_names, &mut singular)?;
            }
        }
    }
    for (_, matches) in singular {
        if !matches.iter().any(|m| *m) {
            r.error("CRD.spec.version does not match CSV.spec.crd.owned.version");
        }
    }
    Ok(())
}

fn owned_rules<'a>(
    r: &mut ValidationReport,
    owned: &Val<'a>,
    crds: &[Val<'a>],
    crd_names: &[Val<'a>],
    singular: &mut Vec<(Val<'a>, Vec<bool>)>,
) -> R<()> {
    if owned.contains("name")? {
        let name = owned.get("name")?;
        if !crd_names.iter().any(|n| n.eq(&name)) {
            r.error(format!(
                "custom resource definition {} referenced in csv not defined in root list of crds",
                name.py_str()
            ));
        }
    } else {
        r.error("name not defined for item in spec.customresourcedefinitions.");
    }
    if !owned.contains("kind")? {
        r.error("kind not defined for item in spec.customresourcedefinitions.");
    }
    if !owned.contains("version")? {
        r.error("version not defined for item in spec.customresourcedefinitions.");
    }
    for crd in crds {
        if !owned.contains("name")? {
            continue;
        }
        if !crd.contains("metadata")? || !crd.get("metadata")?.contains("name")? {
            continue;
        }
        let owned_name = owned.get("name")?;
        if !owned_name.eq(&crd.get("metadata")?.get("name")?) {
            continue;
        }
        if owned.contains("kind")?
            && crd.contains("spec")?
            && crd.get("spec")?.contains("names")?
            && crd.get("spec")?.get("names")?.contains("kind")?
            && !owned
                .get("kind")?
                .eq(&crd.get("spec")?.get("names")?.get("kind")?)
        {
            r.error("CRD.spec.names.kind does not match CSV.spec.crd.owned.kind");
        }
        if owned.contains("version")? && crd.contains("spec")? {
            let spec = crd.get("spec")?;
            if spec.contains("versions")? {
                let mut names = Vec::new();
                for v in spec.get("versions")?.items()? {
                    if v.contains("name")? {
                        names.push(v.get("name")?);
                    }
                }
                let version = owned.get("version")?;
                if !names.iter().any(|n| n.eq(&version)) {
                    r.error("CSV.spec.crd.owned.version is not in CRD.spec.versions list");
                }
            }
            if spec.contains("version")? {
                if !owned_name.hashable() {
                    return Err(Stop(format!(
                        "TypeError: unhashable type: '{}'",
                        owned_name.type_name()
                    )));
                }
                let matched = owned.get("version")?.eq(&spec.get("version")?);
                match singular.iter_mut().find(|(n, _)| n.eq(&owned_name)) {
                    Some((_, list)) => list.push(matched),
                    None => singular.push((owned_name.clone(), vec![matched])),
                }
            }
        }
        if crd.contains("spec")? {
            let spec = crd.get("spec")?;
            if spec.contains("names")?
                && spec.contains("group")?
                && spec.get("names")?.contains("plural")?
            {
                let expected = spec
                    .get("group")?
                    .concat_to(&spec.get("names")?.get("plural")?.concat(".")?)?;
                if !owned_name.eq(&Val::Owned(Yaml::Str(expected))) {
                    r.error("`CRD.spec.names.plural`.`CRD.spec.group` does not match CSV.spec.crd.owned.name");
                }
            }
        }
    }
    Ok(())
}

fn install_rules(r: &mut ValidationReport, install: &Val<'_>) -> R<()> {
    if install.contains("strategy")? {
        if !install
            .get("strategy")?
            .eq(&Val::Owned(Yaml::Str("deployment".into())))
        {
            r.error("csv spec.install.strategy must be one of ['deployment']");
        }
    } else {
        r.error("csv spec.install.strategy not defined");
    }
    if !install.contains("spec")? {
        r.error("csv spec.install.spec not defined");
        return Ok(());
    }
    if install.get("spec")?.contains("deployments")? {
        if !install.get("spec")?.get("deployments")?.is_list() {
            r.error("csv spec.install.spec.deployments should be a list");
        }
    } else {
        r.error("csv spec.install.spec.deployments not defined");
    }
    for (key, message) in [
        (
            "permissions",
            "csv spec.install.spec.permissions should be a list",
        ),
        (
            "clusterPermissions",
            "csv spec.install.spec.clusterPermissions should be a list",
        ),
    ] {
        match install.get("spec")?.get(key) {
            Ok(v) if !v.is_list() => r.error(message),
            Ok(_) => {}
            Err(Stop(e)) if e.starts_with("KeyError") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Returns whether courier would consider the package checks passed (B5 runs only then).
fn package_rules(
    r: &mut ValidationReport,
    package: &Val<'_>,
    csvs: &[Val<'_>],
    nested: bool,
) -> R<bool> {
    let mut ok = true;
    if package.contains("packageName")? {
        package.get("packageName")?;
    } else {
        r.error("packageName not defined.");
        ok = false;
    }
    if !package.contains("channels")? {
        r.error("package channels not defined.");
        return Ok(false);
    }
    let channels = package.get("channels")?;
    if channels.len()? == 0 {
        r.error("no package channels defined.");
        return Ok(false);
    }
    let csv_names = names_of(csvs)?;
    for channel in channels.items()? {
        if !channel.contains("name")? {
            r.error("package channel.name not defined.");
            ok = false;
        }
        if !channel.contains("currentCSV")? {
            r.error("package channel.currentCSV not defined.");
        } else if !nested {
            let current = channel.get("currentCSV")?;
            if !csv_names.iter().any(|n| n.eq(&current)) {
                r.error(format!(
                    "channel.currentCSV {} is not included in list of csvs",
                    current.py_str()
                ));
                ok = false;
            }
        }
    }
    Ok(ok)
}

/// Annotation keys of the registry+v1 bundle format.
pub mod annotation {
    /// Media type of the bundle.
    pub const MEDIATYPE: &str = "operators.operatorframework.io.bundle.mediatype.v1";
    /// Directory of the manifests.
    pub const MANIFESTS: &str = "operators.operatorframework.io.bundle.manifests.v1";
    /// Directory of the metadata.
    pub const METADATA: &str = "operators.operatorframework.io.bundle.metadata.v1";
    /// Package name.
    pub const PACKAGE: &str = "operators.operatorframework.io.bundle.package.v1";
    /// Comma-separated channels.
    pub const CHANNELS: &str = "operators.operatorframework.io.bundle.channels.v1";
    /// Default channel.
    pub const DEFAULT_CHANNEL: &str = "operators.operatorframework.io.bundle.channel.default.v1";
}

/// Our rules for a registry+v1 bundle (courier has none; texts follow courier's style).
fn bundle_rules(r: &mut ValidationReport, version: &VersionManifests, repository: Option<&str>) {
    use annotation::{CHANNELS, DEFAULT_CHANNEL, MANIFESTS, MEDIATYPE, METADATA, PACKAGE};
    if version.csvs.len() > 1 {
        r.error(format!(
            "bundle manifests/ must contain exactly one ClusterServiceVersion, found {}.",
            version.csvs.len()
        ));
    }
    let Some(annotations) = version
        .annotations
        .as_ref()
        .and_then(|d| d.value.get("annotations"))
        .and_then(Yaml::as_map)
    else {
        r.error("bundle metadata/annotations.yaml does not contain an annotations mapping.");
        return;
    };
    let text = |key: &str| annotations.get(key).map(Yaml::py_str);
    for key in [MEDIATYPE, MANIFESTS, METADATA, PACKAGE, CHANNELS] {
        if text(key).is_none_or(|v| v.is_empty()) {
            r.error(format!("bundle annotation {key} not defined."));
        }
    }
    if let Some(media) = text(MEDIATYPE) {
        if media != "registry+v1" {
            r.error(format!(
                "bundle annotation {MEDIATYPE} must be registry+v1, not {media}."
            ));
        }
    }
    for (key, expected) in [(MANIFESTS, "manifests/"), (METADATA, "metadata/")] {
        if let Some(v) = text(key) {
            if v != expected {
                r.error(format!(
                    "bundle annotation {key} must be {expected}, not {v}."
                ));
            }
        }
    }
    let channels: Vec<String> = text(CHANNELS)
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if let Some(default) = text(DEFAULT_CHANNEL) {
        if !channels.contains(&default) {
            r.warn(format!(
                "bundle default channel {default} is not one of its channels."
            ));
        }
    }
    if let (Some(repo), Some(package)) = (repository, text(PACKAGE)) {
        if package != repo {
            r.error(format!(
                "The packageName ({package}) in bundle does not match repository name ({repo}) provided as command line argument."
            ));
        }
    }
}
