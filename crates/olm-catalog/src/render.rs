//! Rendering a bundle (a directory, a zip, or an image layer's files) into an `olm.bundle`
//! blob exactly as spec §4 says, property order included.

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::csv::csv_metadata;
use crate::error::CatalogError;
use crate::json::{self, Object, Value};
use crate::limits::CatalogLimits;
use crate::load::FileSet;
use crate::model::{
    Bundle, PROP_BUNDLE_OBJECT, PROP_CSV_METADATA, PROP_GVK, PROP_GVK_REQUIRED, PROP_PACKAGE,
    PROP_PACKAGE_REQUIRED, Property, RelatedImage,
};

/// The annotation naming a bundle's package.
pub const ANNOTATION_PACKAGE: &str = "operators.operatorframework.io.bundle.package.v1";
/// The annotation listing a bundle's channels (comma-separated).
pub const ANNOTATION_CHANNELS: &str = "operators.operatorframework.io.bundle.channels.v1";
/// The annotation naming a bundle's default channel.
pub const ANNOTATION_DEFAULT_CHANNEL: &str =
    "operators.operatorframework.io.bundle.channel.default.v1";

/// Which form carries the manifests in the rendered bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ObjectForm {
    /// One `olm.csv.metadata` property (what catalogs use).
    #[default]
    CsvMetadata,
    /// One `olm.bundle.object` per manifest (upstream's form without an image).
    BundleObjects,
}

/// Options of [`render_bundle`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// The bundle image reference, when known.
    pub image: Option<String>,
    /// A template giving the image from `{{.Package}}`, `{{.Name}}`, `{{.Version}}` (used when
    /// `image` is `None`).
    pub image_template: Option<String>,
    /// The manifest form.
    pub form: ObjectForm,
}

/// A rendered bundle with what was skipped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The blob.
    pub bundle: Bundle,
    /// The CSV as JSON (keys sorted).
    pub csv: Value,
    /// The bundle's annotations (`metadata/annotations.yaml`).
    pub annotations: Vec<(String, String)>,
    /// Files skipped or partly read, with why.
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The channels the bundle's annotations name.
    pub fn channels(&self) -> Vec<String> {
        self.annotation(ANNOTATION_CHANNELS)
            .map(|c| {
                c.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The default channel annotation.
    pub fn default_channel(&self) -> Option<&str> {
        self.annotation(ANNOTATION_DEFAULT_CHANNEL)
    }

    /// One annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The CSV's `spec.version`.
    pub fn version(&self) -> &str {
        spec_str(&self.csv, "version")
    }
}

fn spec_str<'a>(csv: &'a Value, key: &str) -> &'a str {
    csv.get_ci("spec")
        .and_then(|s| s.get_ci(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Expands an image template (`{{.Package}}`, `{{.Name}}`, `{{.Version}}`).
pub fn expand_image_template(template: &str, package: &str, name: &str, version: &str) -> String {
    let mut out = template.to_owned();
    for (key, value) in [("Package", package), ("Name", name), ("Version", version)] {
        for form in [format!("{{{{.{key}}}}}"), format!("{{{{ .{key} }}}}")] {
            out = out.replace(&form, value);
        }
    }
    out
}

/// The first YAML or JSON document of a file, keys sorted (as upstream converts it), and
/// whether more documents follow.
fn first_document(data: &[u8], limits: &CatalogLimits) -> Result<(Value, bool), String> {
    let text = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_owned())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let mut all = json::parse_stream(text, limits.max_json_depth).map_err(|e| e.to_string())?;
        if all.is_empty() {
            return Err("empty".into());
        }
        let more = all.len() > 1;
        let mut first = all.swap_remove(0);
        first.sort_keys_recursive();
        return Ok((first, more));
    }
    let docs = crate::load::yaml_documents(text);
    let has_content = |d: &str| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    };
    for (i, (_, doc)) in docs.iter().enumerate() {
        match manifest_bundle::yaml::parse(doc, &limits.yaml) {
            Ok(Some(y)) => {
                let more = docs[i + 1..].iter().any(|(_, d)| has_content(d));
                return Ok((Value::from_yaml(&y), more));
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("empty".into())
}

fn gvk(group: &str, kind: &str, version: &str) -> Value {
    let mut o = Object::new();
    o.push("group", Value::str(group));
    o.push("kind", Value::str(kind));
    o.push("version", Value::str(version));
    Value::Object(o)
}

fn list_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = Some(v);
    for p in path {
        cur = cur.and_then(|c| c.get_ci(p));
    }
    cur.and_then(Value::as_array).unwrap_or(&[])
}

/// Renders the bundle held by `files` (`manifests/...` and `metadata/...` at its root).
#[allow(clippy::too_many_lines)] // one pass in the order of spec §4: objects, metadata, properties, images
pub fn render_bundle(
    files: &FileSet,
    options: &RenderOptions,
    limits: &CatalogLimits,
) -> Result<Rendered, CatalogError> {
    let mut warnings = Vec::new();
    // manifests/: regular files directly inside, not hidden, in lexical order.
    let mut objects: Vec<(String, Value)> = Vec::new();
    for (path, data) in files.iter() {
        let Some(name) = path.strip_prefix("manifests/") else {
            continue;
        };
        if name.contains('/') || name.starts_with('.') {
            continue;
        }
        match first_document(data, limits) {
            Ok((Value::Object(o), more)) => {
                if more {
                    warnings.push(format!("{path}: only the first document is used"));
                }
                objects.push((path.to_owned(), Value::Object(o)));
            }
            Ok(_) => warnings.push(format!("{path}: not an object, skipped")),
            Err(e) => warnings.push(format!("{path}: cannot be decoded, skipped: {e}")),
        }
    }
    if objects.is_empty() {
        return Err(CatalogError::Render("no bundle objects found".into()));
    }
    let kind = |v: &Value| {
        v.get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let csv = objects
        .iter()
        .find(|(_, v)| kind(v) == "ClusterServiceVersion")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| CatalogError::Render("no csv in bundle".into()))?;
    let name = csv.str_at(&["metadata", "name"]).to_owned();

    // metadata/: the first non-empty annotations, dependencies and properties files.
    let mut annotations: Option<Vec<(String, String)>> = None;
    let mut dependencies: Option<Vec<Value>> = None;
    let mut file_properties: Option<Vec<Value>> = None;
    for (path, data) in files.iter() {
        if !path.starts_with("metadata/") || path["metadata/".len()..].contains('/') {
            continue;
        }
        let Ok((doc, _)) = first_document(data, limits) else {
            continue;
        };
        if annotations.is_none() {
            if let Some(Value::Object(a)) = doc.get("annotations") {
                if !a.is_empty() {
                    let mut pairs = Vec::new();
                    for (k, v) in a.iter() {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            Value::Number(n) => n.clone(),
                            Value::Bool(b) => b.to_string(),
                            other => json::to_compact(other),
                        };
                        pairs.push((k.to_owned(), text));
                    }
                    annotations = Some(pairs);
                }
            }
        }
        if dependencies.is_none() {
            if let Some(Value::Array(d)) = doc.get("dependencies") {
                if !d.is_empty() {
                    dependencies = Some(d.clone());
                }
            }
        }
        if file_properties.is_none() {
            if let Some(Value::Array(p)) = doc.get("properties") {
                if !p.is_empty() {
                    file_properties = Some(p.clone());
                }
            }
        }
    }
    let annotations = annotations
        .ok_or_else(|| CatalogError::Render("Could not find annotations file".into()))?;
    let package = annotations
        .iter()
        .find(|(k, _)| k == ANNOTATION_PACKAGE)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // The CSV type reads spec.version tolerantly and writes it back normalised.
    let version = match csv.get_ci("spec").and_then(|s| s.get_ci("version")) {
        None | Some(Value::Null) => "0.0.0".to_owned(),
        Some(Value::String(s)) => crate::semver::Version::parse_tolerant(s)
            .map_err(|e| CatalogError::Render(format!("bundle {name:?}: get version: {e}")))?
            .to_string(),
        Some(other) => {
            return Err(CatalogError::Render(format!(
                "bundle {name:?}: {}",
                crate::model::type_error(other, "ClusterServiceVersion.spec.version", "string")
            )));
        }
    };
    let release = spec_str(&csv, "release").to_owned();

    let image = options
        .image
        .clone()
        .or_else(|| {
            options
                .image_template
                .as_deref()
                .map(|t| expand_image_template(t, &package, &name, &version))
        })
        .unwrap_or_default();

    let bad = |m: String| CatalogError::Render(format!("bundle {name:?}: {m}"));
    let mut props: Vec<Property> = Vec::new();
    let mut package_prop: Option<Value> = None;
    let package_value = |v: &Value| -> Result<Value, String> {
        let f = crate::model::Fields::of(v, "property.Package")?;
        let mut o = Object::new();
        o.push("packageName", Value::str(f.string("packageName")?));
        o.push("version", Value::str(f.string("version")?));
        let r = f.string("release")?;
        if !r.is_empty() {
            o.push("release", Value::str(r));
        }
        Ok(Value::Object(o))
    };
    let gvk_value = |v: &Value| -> Result<Value, String> {
        let f = crate::model::Fields::of(v, "property.GVK")?;
        Ok(gvk(
            &f.string("group")?,
            &f.string("kind")?,
            &f.string("version")?,
        ))
    };
    // Properties file first.
    let mut declared: Vec<Property> = Vec::new();
    for p in file_properties.unwrap_or_default() {
        declared.push(
            crate::model::decode_property(&p).map_err(|e| bad(format!("properties file: {e}")))?,
        );
    }
    let annotation_props = csv
        .get_ci("metadata")
        .and_then(|m| m.get_ci("annotations"))
        .and_then(|a| a.get("olm.properties"))
        .and_then(Value::as_str)
        .map(|text| {
            json::parse(text, limits.max_json_depth)
                .map_err(|e| bad(format!("olm.properties annotation is not JSON: {e}")))
                .and_then(|v| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            crate::model::decode_property(i)
                                .map_err(|e| bad(format!("olm.properties annotation: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>(),
                    _ => Err(bad("olm.properties annotation is not a list".into())),
                })
        })
        .transpose()?
        .unwrap_or_default();
    let mut derived_package = Object::new();
    derived_package.push("packageName", Value::str(&package));
    derived_package.push("version", Value::str(&version));
    if !release.is_empty() {
        derived_package.push("release", Value::str(&release));
    }
    let mut seen_package_props = declared
        .iter()
        .filter(|p| p.kind == PROP_PACKAGE)
        .map(|p| p.value.clone())
        .collect::<Vec<_>>();
    seen_package_props.push(Value::Object(derived_package));
    seen_package_props.extend(
        annotation_props
            .iter()
            .filter(|p| p.kind == PROP_PACKAGE)
            .map(|p| p.value.clone()),
    );
    for p in declared.iter().chain(&annotation_props) {
        match p.kind.as_str() {
            PROP_GVK => props.push(Property::new(PROP_GVK, gvk_value(&p.value).map_err(&bad)?)),
            PROP_PACKAGE => {}
            _ => props.push(p.clone()),
        }
    }
    if let Some(last) = seen_package_props.last() {
        package_prop = Some(package_value(last).map_err(&bad)?);
    }
    if let Some(pv) = package_prop {
        props.push(Property::new(PROP_PACKAGE, pv));
    }

    // Provided APIs: every CRD file's versions, plus owned API services.
    let crds: Vec<&Value> = objects
        .iter()
        .map(|(_, v)| v)
        .filter(|v| kind(v) == "CustomResourceDefinition")
        .collect();
    for crd in &crds {
        let group = crd.str_at(&["spec", "group"]);
        let crd_kind = crd.str_at(&["spec", "names", "kind"]);
        let mut versions: Vec<&str> = list_at(crd, &["spec", "versions"])
            .iter()
            .map(|v| v.str_at(&["name"]))
            .collect();
        if crd.get("apiVersion").and_then(Value::as_str) == Some("apiextensions.k8s.io/v1beta1") {
            let v = crd.str_at(&["spec", "version"]);
            if !v.is_empty() {
                versions.push(v);
            }
        }
        for v in versions {
            props.push(Property::new(PROP_GVK, gvk(group, crd_kind, v)));
        }
    }
    let crd_names: BTreeSet<&str> = crds
        .iter()
        .map(|c| c.str_at(&["metadata", "name"]))
        .collect();
    for owned in list_at(&csv, &["spec", "customresourcedefinitions", "owned"]) {
        let n = owned.str_at(&["name"]);
        if !crd_names.contains(n) {
            return Err(bad(format!(
                "get provided apis: the CSV owns CRD {n:?} but the bundle has no such CustomResourceDefinition"
            )));
        }
    }
    for api in list_at(&csv, &["spec", "apiservicedefinitions", "owned"]) {
        props.push(Property::new(
            PROP_GVK,
            gvk(
                api.str_at(&["group"]),
                api.str_at(&["kind"]),
                api.str_at(&["version"]),
            ),
        ));
    }
    // Required APIs.
    for req in list_at(&csv, &["spec", "customresourcedefinitions", "required"]) {
        let n = req.str_at(&["name"]);
        let group = n.split_once('.').map_or("", |(_, g)| g);
        props.push(Property::new(
            PROP_GVK_REQUIRED,
            gvk(group, req.str_at(&["kind"]), req.str_at(&["version"])),
        ));
    }
    for req in list_at(&csv, &["spec", "apiservicedefinitions", "required"]) {
        props.push(Property::new(
            PROP_GVK_REQUIRED,
            gvk(
                req.str_at(&["group"]),
                req.str_at(&["kind"]),
                req.str_at(&["version"]),
            ),
        ));
    }
    for (i, dep) in dependencies.unwrap_or_default().iter().enumerate() {
        let d = crate::model::decode_property(dep)
            .map_err(|e| bad(format!("dependencies[{i}]: {e}")))?;
        match d.kind.as_str() {
            PROP_GVK => {
                let v = gvk_value(&d.value).map_err(&bad)?;
                props.push(Property::new(PROP_GVK_REQUIRED, v));
            }
            PROP_PACKAGE => {
                let f = crate::model::Fields::of(&d.value, "property.Package").map_err(&bad)?;
                let mut o = Object::new();
                o.push(
                    "packageName",
                    Value::str(f.string("packageName").map_err(&bad)?),
                );
                o.push(
                    "versionRange",
                    Value::str(f.string("version").map_err(&bad)?),
                );
                props.push(Property::new(PROP_PACKAGE_REQUIRED, Value::Object(o)));
            }
            _ => props.push(d),
        }
    }
    // Manifests.
    match options.form {
        ObjectForm::BundleObjects => {
            for (_, obj) in &objects {
                let mut o = Object::new();
                o.push(
                    "data",
                    Value::String(
                        base64::engine::general_purpose::STANDARD.encode(json::to_compact(obj)),
                    ),
                );
                props.push(Property::new(PROP_BUNDLE_OBJECT, Value::Object(o)));
            }
        }
        ObjectForm::CsvMetadata => {
            props.push(Property::new(
                PROP_CSV_METADATA,
                csv_metadata(&csv).map_err(|e| bad(format!("CSV metadata: {e}")))?,
            ));
        }
    }
    let properties = order_properties(props);

    // Related images.
    let mut related: Vec<RelatedImage> = list_at(&csv, &["spec", "relatedImages"])
        .iter()
        .map(|r| RelatedImage {
            name: r.str_at(&["name"]).to_owned(),
            image: r.str_at(&["image"]).to_owned(),
        })
        .collect();
    let add_unlisted = |related: &mut Vec<RelatedImage>, image: &str| {
        if !image.is_empty() && !related.iter().any(|r| r.image == image) {
            related.push(RelatedImage {
                name: String::new(),
                image: image.to_owned(),
            });
        }
    };
    add_unlisted(&mut related, &image);
    if csv.str_at(&["spec", "install", "strategy"]) == "deployment" {
        for dep in list_at(&csv, &["spec", "install", "spec", "deployments"]) {
            let pod = dep
                .get_ci("spec")
                .and_then(|s| s.get_ci("template"))
                .and_then(|t| t.get_ci("spec"));
            let Some(pod) = pod else { continue };
            for key in ["containers", "initContainers"] {
                for c in list_at(pod, &[key]) {
                    add_unlisted(&mut related, c.str_at(&["image"]));
                }
            }
        }
    }
    related.sort_by(|a, b| a.image.cmp(&b.image));

    Ok(Rendered {
        bundle: Bundle {
            name,
            package,
            image,
            properties,
            related_images: related,
        },
        csv,
        annotations,
        warnings,
    })
}

/// De-duplicates by (type, compact value), sorts by type then compact value, and moves
/// `olm.bundle.object` and `olm.csv.metadata` to the end (spec §4.2).
pub fn order_properties(props: Vec<Property>) -> Vec<Property> {
    let mut keyed: Vec<(String, String, Property)> = props
        .into_iter()
        .map(|p| (p.kind.clone(), json::to_compact(&p.value), p))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    keyed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    let (tail, head): (Vec<_>, Vec<_>) = keyed
        .into_iter()
        .partition(|(k, _, _)| k == PROP_BUNDLE_OBJECT || k == PROP_CSV_METADATA);
    head.into_iter().chain(tail).map(|(_, _, p)| p).collect()
}

/// Renders the bundle directory at `dir`.
pub fn render_bundle_dir(
    dir: &std::path::Path,
    options: &RenderOptions,
    limits: &CatalogLimits,
) -> Result<Rendered, CatalogError> {
    match crate::load::classify_dir(dir, limits)? {
        crate::load::DirKind::Bundle => {}
        crate::load::DirKind::PackageManifests => {
            return Err(CatalogError::InvalidArgument(format!(
                "{} holds package manifests, not a bundle; migrate it instead",
                dir.display()
            )));
        }
        _ => {
            return Err(CatalogError::InvalidArgument(format!(
                "{} is not a bundle directory (it needs manifests/ and metadata/); a catalog is loaded, not rendered",
                dir.display()
            )));
        }
    }
    render_bundle(&FileSet::from_dir(dir, limits)?, options, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_expansion() {
        assert_eq!(
            expand_image_template(
                "r.example/{{.Package}}-bundle:{{ .Version }}@{{.Name}}",
                "p",
                "p.v1",
                "1.0.0"
            ),
            "r.example/p-bundle:1.0.0@p.v1"
        );
    }

    #[test]
    fn property_order_and_dedup() {
        let p = |k: &str, v: &str| Property::new(k, json::parse(v, 8).unwrap());
        let out = order_properties(vec![
            p(PROP_CSV_METADATA, "{}"),
            p(PROP_PACKAGE, r#"{"packageName":"x","version":"1.0.0"}"#),
            p(PROP_GVK, r#"{"group":"b","kind":"K","version":"v1"}"#),
            p(PROP_BUNDLE_OBJECT, r#"{"data":"b"}"#),
            p(PROP_GVK, r#"{"group":"a","kind":"K","version":"v1"}"#),
            p(PROP_GVK, r#"{"group":"a","kind":"K","version":"v1"}"#),
            p("olm.maxOpenShiftVersion", "\"4.9\""),
            p(PROP_BUNDLE_OBJECT, r#"{"data":"a"}"#),
        ]);
        let kinds: Vec<String> = out
            .iter()
            .map(|p| format!("{} {}", p.kind, json::to_compact(&p.value)))
            .collect();
        assert_eq!(
            kinds,
            [
                r#"olm.gvk {"group":"a","kind":"K","version":"v1"}"#,
                r#"olm.gvk {"group":"b","kind":"K","version":"v1"}"#,
                r#"olm.maxOpenShiftVersion "4.9""#,
                r#"olm.package {"packageName":"x","version":"1.0.0"}"#,
                r#"olm.bundle.object {"data":"a"}"#,
                r#"olm.bundle.object {"data":"b"}"#,
                "olm.csv.metadata {}",
            ]
        );
    }
}
