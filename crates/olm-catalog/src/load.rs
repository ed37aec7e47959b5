//! Reading catalogs: a directory or an in-memory file set, every regular file a stream of YAML
//! documents or concatenated JSON values, `.indexignore` honoured (spec §2, rules L1–L4).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use crate::error::CatalogError;
use crate::ignore::IgnoreRules;
use crate::json::{self, Value};
use crate::limits::CatalogLimits;
use crate::model::{
    Bundle, Catalog, Channel, Deprecation, Meta, PROP_BUNDLE_OBJECT, Package, SCHEMA_BUNDLE,
    SCHEMA_CHANNEL, SCHEMA_DEPRECATIONS, SCHEMA_PACKAGE,
};

/// Files by `/`-separated relative path, sorted. The common input of every loader: a
/// directory, a zip, an image layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSet {
    files: BTreeMap<String, Vec<u8>>,
    total: u64,
}

impl FileSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, data: Vec<u8>) {
        let path = path.into();
        self.total += data.len() as u64;
        if let Some(old) = self.files.insert(path, data) {
            self.total -= old.len() as u64;
        }
    }

    /// Removes a file, returning it.
    pub fn remove(&mut self, path: &str) -> Option<Vec<u8>> {
        let old = self.files.remove(path)?;
        self.total -= old.len() as u64;
        Some(old)
    }

    /// Removes every file under directory `dir` (and a file named `dir`).
    pub fn remove_dir(&mut self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let doomed: Vec<String> = self
            .files
            .keys()
            .filter(|k| k.starts_with(&prefix) || *k == dir)
            .cloned()
            .collect();
        for k in doomed {
            self.remove(&k);
        }
    }

    /// A file's bytes.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Files in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Sum of file sizes.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The files under directory `dir`, with `dir/` removed from their paths.
    #[must_use]
    pub fn subtree(&self, dir: &str) -> FileSet {
        let prefix = format!("{}/", dir.trim_matches('/'));
        let mut out = FileSet::new();
        for (k, v) in &self.files {
            if let Some(rest) = k.strip_prefix(&prefix) {
                out.insert(rest, v.clone());
            }
        }
        out
    }

    /// The files of a manifest tree (e.g. a zip read by `ManifestTree::from_zip_bytes`, which
    /// applies its own archive limits).
    pub fn from_manifest_tree(tree: &manifest_bundle::ManifestTree) -> Self {
        let mut set = FileSet::new();
        for (path, data) in tree.iter() {
            set.insert(path, data.to_vec());
        }
        set
    }

    /// Reads a directory tree under `limits` (symbolic links to directories are not followed).
    pub fn from_dir(root: &Path, limits: &CatalogLimits) -> Result<Self, CatalogError> {
        let mut set = FileSet::new();
        walk(root, "", 0, limits, &mut set)?;
        Ok(set)
    }

    /// Writes every file below `dir`, creating directories.
    pub fn write_to(&self, dir: &Path) -> Result<(), CatalogError> {
        for (path, data) in self.iter() {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| CatalogError::io(parent.display().to_string(), e))?;
            }
            std::fs::write(&target, data)
                .map_err(|e| CatalogError::io(target.display().to_string(), e))?;
        }
        Ok(())
    }
}

fn walk(
    dir: &Path,
    rel: &str,
    depth: usize,
    limits: &CatalogLimits,
    set: &mut FileSet,
) -> Result<(), CatalogError> {
    if depth > limits.max_depth {
        return Err(CatalogError::limit(
            format!("directory depth at {}", dir.display()),
            limits.max_depth as u64,
        ));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| CatalogError::io(dir.display().to_string(), e))?
        .collect::<Result<_, _>>()
        .map_err(|e| CatalogError::io(dir.display().to_string(), e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let file_type = entry
            .file_type()
            .map_err(|e| CatalogError::io(path.display().to_string(), e))?;
        if file_type.is_dir() {
            walk(&path, &child, depth + 1, limits, set)?;
            continue;
        }
        // A symlink counts when it points at a regular file.
        let meta = std::fs::metadata(&path)
            .map_err(|e| CatalogError::io(path.display().to_string(), e))?;
        if !meta.is_file() {
            continue;
        }
        if meta.len() > limits.max_file_bytes {
            return Err(CatalogError::limit(
                format!("file {child} ({} bytes)", meta.len()),
                limits.max_file_bytes,
            ));
        }
        if set.len() >= limits.max_files {
            return Err(CatalogError::limit(
                "number of files",
                limits.max_files as u64,
            ));
        }
        let data = read_bounded(&path, limits.max_file_bytes)?;
        if set.total_bytes() + data.len() as u64 > limits.max_total_bytes {
            return Err(CatalogError::limit("total bytes", limits.max_total_bytes));
        }
        set.insert(child, data);
    }
    Ok(())
}

/// Reads at most `max` bytes (the file may grow after `metadata`).
fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, CatalogError> {
    use std::io::Read as _;
    let f =
        std::fs::File::open(path).map_err(|e| CatalogError::io(path.display().to_string(), e))?;
    let mut data = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut data)
        .map_err(|e| CatalogError::io(path.display().to_string(), e))?;
    if data.len() as u64 > max {
        return Err(CatalogError::limit(format!("file {}", path.display()), max));
    }
    Ok(data)
}

/// Whether a directory is a bundle directory (`manifests/` and `metadata/`), the only test
/// upstream uses to tell it from a catalog.
pub fn is_bundle_dir(dir: &Path) -> bool {
    dir.join("manifests").is_dir() && dir.join("metadata").is_dir()
}

/// Whether a file set is a bundle (`manifests/` and `metadata/` at its root).
pub fn is_bundle_files(files: &FileSet) -> bool {
    let has = |d: &str| files.iter().any(|(p, _)| p.starts_with(d));
    has("manifests/") && has("metadata/")
}

/// What a directory holds, so that each command can say "that is a bundle, not a catalog".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirKind {
    /// `manifests/` and `metadata/`: a bundle.
    Bundle,
    /// A top-level YAML file with `packageName`: package manifests (flat or nested).
    PackageManifests,
    /// Anything else: read as a file-based catalog.
    Catalog,
}

/// Whether `name` holding `data` is a package manifest (a YAML file whose first document has
/// `packageName`).
fn is_package_manifest(name: &str, data: &[u8], limits: &CatalogLimits) -> bool {
    manifest_bundle::layout::is_yaml_name(name)
        && parse_blobs(name, data, limits)
            .is_ok_and(|docs| docs.first().is_some_and(|d| d.get("packageName").is_some()))
}

/// [`classify_dir`] for files already read (a zip, an image layer): the same tests on the
/// top-level paths.
pub fn classify_files(files: &FileSet, limits: &CatalogLimits) -> DirKind {
    if is_bundle_files(files) {
        return DirKind::Bundle;
    }
    let top_level_manifest = files
        .iter()
        .filter(|(p, _)| !p.contains('/'))
        .any(|(p, d)| d.len() as u64 <= limits.max_file_bytes && is_package_manifest(p, d, limits));
    if top_level_manifest {
        DirKind::PackageManifests
    } else {
        DirKind::Catalog
    }
}

/// Tells a bundle, a package-manifest directory and a catalog apart (only top-level files are
/// looked at; a bundle is what upstream calls one).
pub fn classify_dir(dir: &Path, limits: &CatalogLimits) -> Result<DirKind, CatalogError> {
    if is_bundle_dir(dir) {
        return Ok(DirKind::Bundle);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| CatalogError::io(dir.display().to_string(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CatalogError::io(dir.display().to_string(), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !manifest_bundle::layout::is_yaml_name(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > limits.max_file_bytes {
            continue;
        }
        let Ok(data) = read_bounded(&path, limits.max_file_bytes) else {
            continue;
        };
        if is_package_manifest(&name, &data, limits) {
            return Ok(DirKind::PackageManifests);
        }
    }
    Ok(DirKind::Catalog)
}

/// Loads the catalog in a directory; a bundle or package-manifest directory is refused with a
/// message that says what it is.
pub fn load_dir(root: &Path, limits: &CatalogLimits) -> Result<Catalog, CatalogError> {
    if !root.is_dir() {
        return Err(CatalogError::InvalidArgument(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    match classify_dir(root, limits)? {
        DirKind::Bundle => Err(CatalogError::InvalidArgument(format!(
            "{} is a bundle directory (manifests/ and metadata/), not a catalog; render it into one",
            root.display()
        ))),
        DirKind::PackageManifests => Err(CatalogError::InvalidArgument(format!(
            "{} holds package manifests (a *.package.yaml), not a catalog; migrate it into one",
            root.display()
        ))),
        DirKind::Catalog => load_files(&FileSet::from_dir(root, limits)?, limits),
    }
}

/// The files of `files` that hold catalog blobs: all but `.indexignore` files and what their
/// patterns match.
pub fn catalog_files(files: &FileSet) -> Vec<(&str, &[u8])> {
    let mut rules = IgnoreRules::default();
    for (path, data) in files.iter() {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name == ".indexignore" {
            rules.add_file(dir, &String::from_utf8_lossy(data));
        }
    }
    files
        .iter()
        .filter(|(path, _)| {
            let name = path.rsplit('/').next().unwrap_or(path);
            name != ".indexignore" && !rules.is_ignored(path)
        })
        .collect()
}

/// Loads the catalog held by `files` (every file except `.indexignore`d ones).
pub fn load_files(files: &FileSet, limits: &CatalogLimits) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::default();
    for (path, data) in catalog_files(files) {
        for blob in parse_blobs(path, data, limits)? {
            add_blob(&mut catalog, path, blob)?;
        }
    }
    for b in &catalog.bundles {
        check_bundle_objects(b, limits)?;
    }
    Ok(catalog)
}

/// Loads blobs from one text (a file, standard input) named `path` in messages.
pub fn load_text(path: &str, data: &[u8], limits: &CatalogLimits) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::default();
    for blob in parse_blobs(path, data, limits)? {
        add_blob(&mut catalog, path, blob)?;
    }
    for b in &catalog.bundles {
        check_bundle_objects(b, limits)?;
    }
    Ok(catalog)
}

/// Splits a file into its blobs: concatenated JSON values when it starts with `{`, otherwise
/// YAML documents separated by `---` lines (upstream's reader splits the same way).
pub fn parse_blobs(
    path: &str,
    data: &[u8],
    limits: &CatalogLimits,
) -> Result<Vec<Value>, CatalogError> {
    if data.len() as u64 > limits.max_file_bytes {
        return Err(CatalogError::limit(
            format!("file {path}"),
            limits.max_file_bytes,
        ));
    }
    let text = std::str::from_utf8(data)
        .map_err(|e| CatalogError::load(path, format!("not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return json::parse_stream(text, limits.max_json_depth).map_err(|e| {
            if e.message.contains("nesting deeper") {
                CatalogError::limit(
                    format!("JSON nesting in {path}"),
                    limits.max_json_depth as u64,
                )
            } else {
                CatalogError::load(path, format!("invalid JSON: {e}"))
            }
        });
    }
    let mut out = Vec::new();
    for (line, doc) in yaml_documents(text) {
        let parsed = manifest_bundle::yaml::parse(doc, &limits.yaml).map_err(|e| {
            use manifest_bundle::yaml::YamlError;
            let y = &limits.yaml;
            match e {
                YamlError::TooLarge { .. } => CatalogError::limit(
                    format!("YAML document bytes in {path}"),
                    y.max_bytes as u64,
                ),
                YamlError::TooDeep { .. } => {
                    CatalogError::limit(format!("YAML nesting in {path}"), y.max_depth as u64)
                }
                YamlError::TooManyNodes { .. } => CatalogError::limit(
                    format!("YAML nodes (aliases expanded) in {path}"),
                    y.max_nodes as u64,
                ),
                other => CatalogError::load(
                    path,
                    format!("invalid YAML in the document starting at line {line}: {other}"),
                ),
            }
        })?;
        if let Some(y) = parsed {
            out.push(Value::from_yaml(&y));
        }
    }
    Ok(out)
}

/// `(first line number, text)` of each YAML document: a line starting with `---` followed
/// only by whitespace or a comment separates documents.
pub(crate) fn yaml_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                docs.push((start_line, &text[start..offset]));
                start = offset + line.len();
                start_line = i + 2;
            }
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

/// Adds one blob to the catalog by its schema.
pub(crate) fn add_blob(catalog: &mut Catalog, path: &str, blob: Value) -> Result<(), CatalogError> {
    let Value::Object(obj) = &blob else {
        return Err(CatalogError::load(
            path,
            format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                blob.kind()
            ),
        ));
    };
    // Keys that fold to the same name would make schema/package/name ambiguous.
    let mut seen: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (k, _) in obj.iter() {
        seen.entry(k.to_lowercase()).or_default().push(k);
    }
    if let Some((k, originals)) = seen.iter().find(|(_, v)| v.len() > 1) {
        return Err(CatalogError::load(
            path,
            format!("duplicate keys for key {k:?}: [{}]", originals.join(" ")),
        ));
    }
    let text_field = |key: &str| -> Result<String, CatalogError> {
        match obj.get_ci(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(CatalogError::load(
                path,
                crate::model::type_error(other, &format!("Meta.{key}"), "string"),
            )),
        }
    };
    let schema = text_field("schema")?;
    let wrap = |what: &str, e: String| CatalogError::load(path, format!("parse {what}: {e}"));
    match schema.as_str() {
        SCHEMA_PACKAGE => catalog
            .packages
            .push(Package::from_value(&blob).map_err(|e| wrap("package", e))?),
        SCHEMA_CHANNEL => catalog
            .channels
            .push(Channel::from_value(&blob).map_err(|e| wrap("channel", e))?),
        SCHEMA_BUNDLE => catalog
            .bundles
            .push(Bundle::from_value(&blob).map_err(|e| wrap("bundle", e))?),
        SCHEMA_DEPRECATIONS => catalog
            .deprecations
            .push(Deprecation::from_value(&blob).map_err(|e| wrap("deprecation", e))?),
        "" => {
            return Err(CatalogError::load(
                path,
                format!(
                    "object '{}' is missing root schema field",
                    json::to_compact(&blob)
                ),
            ));
        }
        _ => {
            let package = text_field("package")?;
            let name = text_field("name")?;
            catalog.others.push(Meta {
                schema,
                package,
                name,
                blob,
            });
        }
    }
    Ok(())
}

/// Rule L4: every `olm.bundle.object` holds base64 of a YAML or JSON object.
fn check_bundle_objects(b: &Bundle, limits: &CatalogLimits) -> Result<(), CatalogError> {
    for (i, p) in b.properties.iter().enumerate() {
        if p.kind != PROP_BUNDLE_OBJECT {
            continue;
        }
        let fail = |what: &str, e: String| {
            CatalogError::Model(format!(
                "package {:?}, bundle {:?}: {what} at index {i}: {e}",
                b.package, b.name
            ))
        };
        bundle_object_json(&p.value, limits)
            .map_err(|e| fail("parse property as bundle object", e))?;
    }
    Ok(())
}

/// Decodes the manifest held by an `olm.bundle.object` value.
pub fn bundle_object_json(value: &Value, limits: &CatalogLimits) -> Result<Value, String> {
    let f = crate::model::Fields::of(value, "property.BundleObject")?;
    let data = match f.raw("data") {
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| format!("illegal base64 data: {e}"))?,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(crate::model::type_error(
                other,
                "BundleObject.data",
                "[]uint8",
            ));
        }
    };
    let text = String::from_utf8(data).map_err(|_| "bundle object is not UTF-8".to_owned())?;
    if text.trim_start().starts_with('{') {
        return json::parse(&text, limits.max_json_depth).map_err(|e| e.to_string());
    }
    match manifest_bundle::yaml::parse(&text, &limits.yaml) {
        Ok(Some(y)) => Ok(Value::from_yaml(&y)),
        Ok(None) => Err("bundle object is empty".into()),
        Err(e) => Err(format!("convert bundle object to JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> FileSet {
        let mut f = FileSet::new();
        for (p, d) in entries {
            f.insert(*p, d.as_bytes().to_vec());
        }
        f
    }

    #[test]
    fn yaml_and_json_streams_and_ignore_files() {
        let f = files(&[
            (
                "a/catalog.yaml",
                "---\nschema: olm.package\nname: a\n---\n# empty\n---\nSchema: olm.channel\npackage: a\nname: alpha\nentries: []\n",
            ),
            (
                "b/catalog.json",
                "{\"schema\":\"olm.package\",\"name\":\"b\"}\n{\"schema\":\"my.other\",\"Package\":\"b\",\"z\":1,\"a\":2}",
            ),
            ("b/README.md", "# not a catalog"),
            (".indexignore", "*.md\n"),
        ]);
        let c = load_files(&f, &CatalogLimits::default()).unwrap();
        assert_eq!(c.packages.len(), 2);
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.others.len(), 1);
        assert_eq!(c.others[0].package, "b");
        assert_eq!(
            json::to_compact(&c.others[0].blob),
            r#"{"schema":"my.other","Package":"b","z":1,"a":2}"#
        );
    }

    #[test]
    fn file_sets_are_classified_like_directories() {
        let limits = CatalogLimits::default();
        let bundle = files(&[
            ("manifests/csv.yaml", "kind: ClusterServiceVersion\n"),
            ("metadata/annotations.yaml", "annotations: {}\n"),
        ]);
        assert_eq!(classify_files(&bundle, &limits), DirKind::Bundle);
        let package = files(&[
            ("etcd.package.yaml", "packageName: etcd\nchannels: []\n"),
            ("0.9.4/csv.yaml", "kind: ClusterServiceVersion\n"),
        ]);
        assert_eq!(classify_files(&package, &limits), DirKind::PackageManifests);
        // A package manifest below the top level does not make a package directory.
        let nested = files(&[("etcd/etcd.package.yaml", "packageName: etcd\n")]);
        assert_eq!(classify_files(&nested, &limits), DirKind::Catalog);
        let catalog = files(&[("etcd/catalog.yaml", "schema: olm.package\nname: etcd\n")]);
        assert_eq!(classify_files(&catalog, &limits), DirKind::Catalog);
    }

    #[test]
    fn load_errors_name_the_file() {
        let limits = CatalogLimits::default();
        let e = load_files(&files(&[("x.json", "{\"name\":\"a\"}")]), &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.json: object '{\"name\":\"a\"}' is missing root schema field"
        );
        let e = load_files(
            &files(&[("x.yaml", "schema: olm.package\nSchema: olm.package\n")]),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.yaml: duplicate keys for key \"schema\": [Schema schema]"
        );
        let e = load_files(&files(&[("x.yaml", "a: [\n")]), &limits).unwrap_err();
        assert!(e.to_string().starts_with("x.yaml: invalid YAML"), "{e}");
        let e = load_files(
            &files(&[("x.json", "{\"schema\":\"olm.bundle\",\"image\":5}")]),
            &limits,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.json: parse bundle: json: cannot unmarshal number into Go struct field Bundle.image of type string"
        );
        let bad_object = "{\"schema\":\"olm.bundle\",\"name\":\"b\",\"package\":\"p\",\"properties\":[{\"type\":\"olm.bundle.object\",\"value\":{\"data\":\"%%%\"}}]}";
        let e = load_files(&files(&[("x.json", bad_object)]), &limits).unwrap_err();
        assert!(
            e.to_string()
                .contains("bundle \"b\": parse property as bundle object at index 0"),
            "{e}"
        );
    }

    #[test]
    fn hostile_documents_hit_typed_limits_fast() {
        use std::fmt::Write as _;
        let limits = CatalogLimits::default();
        let deep = format!("{{\"schema\":{}1{}}}", "[".repeat(300), "]".repeat(300));
        assert!(matches!(
            load_text("deep.json", deep.as_bytes(), &limits),
            Err(CatalogError::Limit { .. })
        ));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            let _ = writeln!(
                bomb,
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            );
        }
        let start = std::time::Instant::now();
        assert!(matches!(
            load_text("bomb.yaml", bomb.as_bytes(), &limits),
            Err(CatalogError::Limit { .. })
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn file_limits_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.json"), vec![b' '; 2048]).unwrap();
        let limits = CatalogLimits {
            max_file_bytes: 1024,
            ..CatalogLimits::default()
        };
        assert!(matches!(
            load_dir(dir.path(), &limits),
            Err(CatalogError::Limit { limit: 1024, .. })
        ));
        let deep = (0..5).fold(dir.path().to_path_buf(), |p, i| p.join(format!("d{i}")));
        std::fs::create_dir_all(&deep).unwrap();
        let limits = CatalogLimits {
            max_depth: 3,
            ..CatalogLimits::default()
        };
        assert!(matches!(
            FileSet::from_dir(dir.path(), &limits),
            Err(CatalogError::Limit { .. })
        ));
    }
}
