//! operator-courier 2.1.x validation rules, with byte-exact message texts, plus rules of our own
//! for the bundle format.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::layout::{Layout, Manifests, VersionManifests};
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
pub fn validate(manifests: &Manifests, repository: Option<&str>) -> ValidationReport {
    let mut report = ValidationReport::default();
    let nested = manifests.layout == Layout::Nested;
    for version in &manifests.versions {
        let crds: Vec<&Yaml> = version.crds.iter().map(|d| &d.value).collect();
        let csvs: Vec<&Yaml> = version.csvs.iter().map(|d| &d.value).collect();
        for crd in &version.crds {
            crd_rules(&mut report, &crd.value);
            report.attribute(&crd.path);
        }
        if csvs.is_empty() {
            report.error("Bundle does not contain any clusterServiceVersions.");
            report.attribute(&version.dir);
        }
        for csv in &version.csvs {
            csv_rules(&mut report, &csv.value, &crds);
            report.attribute(&csv.path);
        }
        if manifests.layout == Layout::Bundle {
            bundle_rules(&mut report, version, repository);
            report.attribute(version.annotations.as_ref().map_or("", |d| d.path.as_str()));
            continue;
        }
        let Some(package) = manifests.package.as_ref() else {
            report.error("Bundle does not contain any packages.");
            report.attribute(&version.dir);
            continue;
        };
        let package_ok = package_rules(&mut report, &package.value, &csvs, nested);
        if let (true, Some(repo)) = (package_ok, repository) {
            let name = package.value.get("packageName").unwrap_or(&Yaml::Null);
            if !name.py_eq(&Yaml::Str(repo.to_owned())) {
                report.error(format!(
                    "The packageName ({}) in bundle does not match repository name ({repo}) provided as command line argument.",
                    name.py_str()
                ));
            }
        }
        report.attribute(&package.path);
    }
    report
}

fn has(v: &Yaml, key: &str) -> bool {
    v.py_contains(key)
}

fn at<'a>(v: &'a Yaml, key: &str) -> &'a Yaml {
    v.get(key).unwrap_or(&Yaml::Null)
}

fn crd_rules(r: &mut ValidationReport, crd: &Yaml) {
    if has(crd, "metadata") {
        if !has(at(crd, "metadata"), "name") {
            r.error("crd metadata.name not defined.");
        }
    } else {
        r.error("crd metadata not defined.");
    }
    if !has(crd, "apiVersion") {
        r.error("crd apiVersion not defined.");
    }
    if !has(crd, "spec") {
        r.error("crd spec not defined.");
        return;
    }
    let spec = at(crd, "spec");
    if has(spec, "names") {
        let names = at(spec, "names");
        if !has(names, "kind") {
            r.error("crd spec.names.kind not defined.");
        }
        if !has(names, "plural") {
            r.error("crd spec.names.plural not defined.");
        }
    } else {
        r.error("crd spec.names not defined.");
    }
    if !has(spec, "group") {
        r.error("crd spec.group not defined.");
    }
    if !has(spec, "versions") && !has(spec, "version") {
        r.error("crd spec.version or spec.versions not defined.");
    }
    if has(spec, "versions") {
        let versions = at(spec, "versions").as_seq().unwrap_or_default();
        if versions.is_empty() {
            r.error("crd spec.versions is empty.");
        } else {
            for v in versions {
                if !has(v, "name") || !has(v, "served") || !has(v, "storage") {
                    r.error(
                        "crd spec.versions contains an invalid CustomResourceDefinitionVersion.",
                    );
                }
            }
            let storage = versions
                .iter()
                .filter(|v| matches!(v.get("storage"), Some(Yaml::Bool(true))))
                .count();
            if storage != 1 {
                r.error("crd spec.version should contain exactly one version flagged as storage version.");
            }
        }
    }
}

fn csv_rules(r: &mut ValidationReport, csv: &Yaml, crds: &[&Yaml]) {
    if has(csv, "metadata") {
        csv_metadata_rules(r, at(csv, "metadata"));
    } else {
        r.error("csv metadata not defined.");
    }
    if !has(csv, "apiVersion") {
        r.error("csv apiVersion not defined.");
    }
    if has(csv, "spec") {
        csv_spec_rules(r, at(csv, "spec"), crds);
    } else {
        r.error("csv spec not defined.");
    }
}

fn csv_metadata_rules(r: &mut ValidationReport, metadata: &Yaml) {
    if !has(metadata, "name") {
        r.error("csv metadata.name not defined.");
    }
    if !has(metadata, "annotations") {
        r.warn("csv metadata.annotations not defined.");
        return;
    }
    let annotations = at(metadata, "annotations");
    for item in [
        "categories",
        "description",
        "containerImage",
        "createdAt",
        "support",
    ] {
        if !has(annotations, item) {
            r.warn(format!("csv metadata.annotations.{item} not defined"));
        }
    }
    match annotations.get("certified") {
        None if !has(annotations, "certified") => {
            r.warn("csv metadata.annotations.certified not defined.");
        }
        Some(Yaml::Str(_)) | None => {}
        Some(_) => r.error("metadata.annotations.certified is not of typestring"),
    }
    if has(annotations, "alm-examples") {
        let valid_json = match annotations.get("alm-examples") {
            Some(Yaml::Str(s)) => serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok(),
            _ => false,
        };
        if !valid_json {
            r.error("metadata.annotations.alm-examples contains invalid json string");
        }
    }
}

fn csv_spec_rules(r: &mut ValidationReport, spec: &Yaml, crds: &[&Yaml]) {
    for item in [
        "displayName",
        "description",
        "icon",
        "version",
        "provider",
        "maturity",
    ] {
        if !has(spec, item) {
            r.warn(format!("csv spec.{item} not defined"));
        }
    }
    if !has(spec, "installModes") {
        r.error("csv spec.installModes not defined");
    }
    if has(spec, "install") {
        install_rules(r, at(spec, "install"));
    } else {
        r.error("csv spec.install not defined");
    }
    if !has(spec, "customresourcedefinitions") {
        return;
    }
    let owned_section = at(spec, "customresourcedefinitions");
    if matches!(owned_section, Yaml::Null) || !has(owned_section, "owned") {
        return;
    }
    let crd_names: Vec<&Yaml> = crds
        .iter()
        .filter_map(|c| c.get("metadata").and_then(|m| m.get("name")))
        .collect();
    // Per owned name: whether some CRD with a singular spec.version matched the owned version.
    let mut singular_versions: Vec<(Yaml, Vec<bool>)> = Vec::new();
    for owned in at(owned_section, "owned").as_seq().unwrap_or_default() {
        let owned_name = owned.get("name");
        match owned_name {
            None => r.error("name not defined for item in spec.customresourcedefinitions."),
            Some(name) if !crd_names.iter().any(|n| n.py_eq(name)) => r.error(format!(
                "custom resource definition {} referenced in csv not defined in root list of crds",
                name.py_str()
            )),
            Some(_) => {}
        }
        if !has(owned, "kind") {
            r.error("kind not defined for item in spec.customresourcedefinitions.");
        }
        if !has(owned, "version") {
            r.error("version not defined for item in spec.customresourcedefinitions.");
        }
        let Some(owned_name) = owned_name else {
            continue;
        };
        for crd in crds {
            let Some(crd_name) = crd.get("metadata").and_then(|m| m.get("name")) else {
                continue;
            };
            if !crd_name.py_eq(owned_name) {
                continue;
            }
            owned_crd_rules(r, owned, owned_name, crd, &mut singular_versions);
        }
    }
    for (_, matches) in singular_versions {
        if !matches.iter().any(|m| *m) {
            r.error("CRD.spec.version does not match CSV.spec.crd.owned.version");
        }
    }
}

fn owned_crd_rules(
    r: &mut ValidationReport,
    owned: &Yaml,
    owned_name: &Yaml,
    crd: &Yaml,
    singular: &mut Vec<(Yaml, Vec<bool>)>,
) {
    let spec = crd.get("spec");
    if let (Some(kind), Some(crd_kind)) = (
        owned.get("kind"),
        spec.and_then(|s| s.get("names"))
            .and_then(|n| n.get("kind")),
    ) {
        if !kind.py_eq(crd_kind) {
            r.error("CRD.spec.names.kind does not match CSV.spec.crd.owned.kind");
        }
    }
    if let (Some(version), Some(spec)) = (owned.get("version"), spec) {
        if has(spec, "versions") {
            let names: Vec<&Yaml> = at(spec, "versions")
                .as_seq()
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.get("name"))
                .collect();
            if !names.iter().any(|n| n.py_eq(version)) {
                r.error("CSV.spec.crd.owned.version is not in CRD.spec.versions list");
            }
        }
        if let Some(crd_version) = spec.get("version") {
            let matched = version.py_eq(crd_version);
            match singular.iter_mut().find(|(n, _)| n.py_eq(owned_name)) {
                Some((_, list)) => list.push(matched),
                None => singular.push((owned_name.clone(), vec![matched])),
            }
        }
    }
    if let Some(spec) = spec {
        let plural = spec
            .get("names")
            .and_then(|n| n.get("plural"))
            .and_then(Yaml::as_str);
        let group = spec.get("group").and_then(Yaml::as_str);
        if let (Some(plural), Some(group)) = (plural, group) {
            if !owned_name.py_eq(&Yaml::Str(format!("{plural}.{group}"))) {
                r.error("`CRD.spec.names.plural`.`CRD.spec.group` does not match CSV.spec.crd.owned.name");
            }
        }
    }
}

fn install_rules(r: &mut ValidationReport, install: &Yaml) {
    if has(install, "strategy") {
        if !at(install, "strategy").py_eq(&Yaml::Str("deployment".into())) {
            r.error("csv spec.install.strategy must be one of ['deployment']");
        }
    } else {
        r.error("csv spec.install.strategy not defined");
    }
    if !has(install, "spec") {
        r.error("csv spec.install.spec not defined");
        return;
    }
    let spec = at(install, "spec");
    if has(spec, "deployments") {
        if at(spec, "deployments").as_seq().is_none() {
            r.error("csv spec.install.spec.deployments should be a list");
        }
    } else {
        r.error("csv spec.install.spec.deployments not defined");
    }
    if let Some(p) = spec.get("permissions") {
        if p.as_seq().is_none() {
            r.error("csv spec.install.spec.permissions should be a list");
        }
    }
    if let Some(p) = spec.get("clusterPermissions") {
        if p.as_seq().is_none() {
            r.error("csv spec.install.spec.clusterPermissions should be a list");
        }
    }
}

/// Returns whether courier would consider the package checks passed (B5 runs only then).
fn package_rules(r: &mut ValidationReport, package: &Yaml, csvs: &[&Yaml], nested: bool) -> bool {
    let mut ok = true;
    if !has(package, "packageName") {
        r.error("packageName not defined.");
        ok = false;
    }
    if !has(package, "channels") {
        r.error("package channels not defined.");
        return false;
    }
    let channels = at(package, "channels");
    let empty = match channels {
        Yaml::Seq(s) => s.is_empty(),
        Yaml::Map(m) => m.is_empty(),
        Yaml::Str(s) => s.is_empty(),
        _ => true,
    };
    if empty {
        r.error("no package channels defined.");
        return false;
    }
    let csv_names: Vec<&Yaml> = csvs
        .iter()
        .filter_map(|c| c.get("metadata").and_then(|m| m.get("name")))
        .collect();
    for channel in channels.as_seq().unwrap_or_default() {
        if !has(channel, "name") {
            r.error("package channel.name not defined.");
            ok = false;
        }
        match channel.get("currentCSV") {
            None => r.error("package channel.currentCSV not defined."),
            Some(current) if !nested && !csv_names.iter().any(|n| n.py_eq(current)) => {
                r.error(format!(
                    "channel.currentCSV {} is not included in list of csvs",
                    current.py_str()
                ));
                ok = false;
            }
            Some(_) => {}
        }
    }
    ok
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
