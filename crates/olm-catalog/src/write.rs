//! Writing catalogs as `opm` does (spec §9): blob order, JSON and YAML formatting, and the
//! one-directory-per-package layout (§2).

use std::path::Path;

use crate::error::CatalogError;
use crate::json::{self, Value};
use crate::load::FileSet;
use crate::model::Catalog;
use crate::yaml_out;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// One 4-space-indented JSON value per blob.
    Json,
    /// One `---` document per blob, keys sorted.
    Yaml,
}

impl Format {
    /// File extension (`json` / `yaml`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// The blobs in document order: packages by name (the package, its channels by name, bundles
/// by name, other schemas stably by schema, deprecations), then blobs without a package.
pub fn ordered_blobs(catalog: &Catalog) -> Vec<Value> {
    let mut out = Vec::new();
    for name in catalog.package_names() {
        push_package(&mut out, catalog, &name);
    }
    push_package(&mut out, catalog, "");
    out
}

fn push_package(out: &mut Vec<Value>, c: &Catalog, name: &str) {
    out.extend(
        c.packages
            .iter()
            .filter(|p| p.name == name)
            .map(crate::model::Package::to_value),
    );
    let mut channels: Vec<_> = c.channels.iter().filter(|x| x.package == name).collect();
    channels.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(channels.into_iter().map(crate::model::Channel::to_value));
    let mut bundles: Vec<_> = c.bundles.iter().filter(|x| x.package == name).collect();
    bundles.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(bundles.into_iter().map(crate::model::Bundle::to_value));
    let mut others: Vec<_> = c.others.iter().filter(|x| x.package == name).collect();
    others.sort_by(|a, b| a.schema.cmp(&b.schema));
    out.extend(others.into_iter().map(|x| x.blob.clone()));
    out.extend(
        c.deprecations
            .iter()
            .filter(|x| x.package == name)
            .map(crate::model::Deprecation::to_value),
    );
}

/// One blob in `format`, with its separator / trailing newline.
pub fn blob_text(v: &Value, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = json::to_indented(v);
            s.push('\n');
            s
        }
        Format::Yaml => format!("---\n{}", yaml_out::to_yaml(v)),
    }
}

/// The whole catalog as one stream.
pub fn to_text(catalog: &Catalog, format: Format) -> String {
    ordered_blobs(catalog)
        .iter()
        .map(|b| blob_text(b, format))
        .collect()
}

/// Checks that a package name can be a directory name.
pub fn check_package_dir_name(name: &str) -> Result<(), CatalogError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(CatalogError::InvalidArgument(format!(
            "package name {name:?} cannot be used as a directory name"
        )));
    }
    Ok(())
}

/// The catalog as files: `<package>/catalog.<ext>` per package, `catalog.<ext>` at the root
/// for blobs without a package.
pub fn to_files(catalog: &Catalog, format: Format) -> Result<FileSet, CatalogError> {
    let mut files = FileSet::new();
    let ext = format.extension();
    for name in catalog.package_names() {
        check_package_dir_name(&name)?;
        let mut text = String::new();
        let mut blobs = Vec::new();
        push_package(&mut blobs, catalog, &name);
        for b in &blobs {
            text.push_str(&blob_text(b, format));
        }
        files.insert(format!("{name}/catalog.{ext}"), text.into_bytes());
    }
    let mut rootless = Vec::new();
    push_package(&mut rootless, catalog, "");
    if !rootless.is_empty() {
        let text: String = rootless.iter().map(|b| blob_text(b, format)).collect();
        files.insert(format!("catalog.{ext}"), text.into_bytes());
    }
    Ok(files)
}

/// Writes the catalog into `dir` with the layout of [`to_files`].
pub fn write_dir(catalog: &Catalog, dir: &Path, format: Format) -> Result<(), CatalogError> {
    to_files(catalog, format)?.write_to(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::CatalogLimits;
    use crate::load::load_text;

    #[test]
    fn order_and_layout() {
        let text = r#"{"schema":"olm.bundle","name":"b.v2","package":"b","properties":[]}
{"schema":"olm.channel","name":"stable","package":"b","entries":[]}
{"schema":"olm.bundle","name":"b.v1","package":"b","properties":[]}
{"schema":"olm.package","name":"b","defaultChannel":"stable"}
{"schema":"x.rootless","name":"r"}
{"schema":"olm.package","name":"a","defaultChannel":""}
{"schema":"olm.deprecations","package":"a","entries":[]}
{"schema":"x.other","package":"a"}"#;
        let c = load_text("in", text.as_bytes(), &CatalogLimits::default()).unwrap();
        let names: Vec<String> = ordered_blobs(&c)
            .iter()
            .map(|b| {
                format!(
                    "{}:{}",
                    b.get("schema").and_then(Value::as_str).unwrap_or(""),
                    b.get("name").and_then(Value::as_str).unwrap_or("")
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                "olm.package:a",
                "x.other:",
                "olm.deprecations:",
                "olm.package:b",
                "olm.channel:stable",
                "olm.bundle:b.v1",
                "olm.bundle:b.v2",
                "x.rootless:r"
            ]
        );
        let files = to_files(&c, Format::Json).unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["a/catalog.json", "b/catalog.json", "catalog.json"]);
        assert_eq!(
            std::str::from_utf8(files.get("catalog.json").unwrap()).unwrap(),
            "{\n    \"schema\": \"x.rootless\",\n    \"name\": \"r\"\n}\n"
        );
        let yaml = to_text(&c.only_package("a"), Format::Yaml);
        assert_eq!(
            yaml,
            "---\ndefaultChannel: \"\"\nname: a\nschema: olm.package\n---\npackage: a\nschema: x.other\n---\nentries: []\npackage: a\nschema: olm.deprecations\n"
        );
    }

    #[test]
    fn package_names_must_be_path_elements() {
        for bad in ["", "..", "a/b", "."] {
            assert!(check_package_dir_name(bad).is_err(), "{bad}");
        }
        check_package_dir_name("etcd").unwrap();
    }
}
