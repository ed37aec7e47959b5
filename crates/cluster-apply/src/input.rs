//! The manifest directory: which files, in which order, and the objects they hold.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use serde_json::Value;

use crate::error::Error;
use crate::limits::Limits;
use crate::yaml;

/// The literal a file uses where the cluster's infrastructure name belongs.
pub const INFRA_ID: &str = "<INFRAID>";

/// How files are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Byte-wise comparison of the whole name (upstream's order; the seed's mixed-width example
    /// depends on it).
    #[default]
    Bytes,
    /// Leading integer ascending, ties by byte order, files without a number last.
    Numeric,
}

/// One manifest file as read from disk (before templating).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// File name (no directory).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The files of a directory in apply order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// Files in apply order.
    pub files: Vec<SourceFile>,
    /// Things worth telling the user (ignored subdirectories, order ambiguity).
    pub warnings: Vec<String>,
}

impl Sources {
    /// Whether any file uses [`INFRA_ID`] (so the infrastructure name must be read first).
    pub fn needs_infra_id(&self) -> bool {
        self.files.iter().any(|f| f.text.contains(INFRA_ID))
    }

    /// Templating, parsing and validation of every file; every problem is reported together.
    ///
    /// `infra_id` replaces [`INFRA_ID`]; when it is `None` and a file uses the placeholder, that is
    /// an input error.
    pub fn plan(&self, infra_id: Option<&str>, limits: &Limits) -> Result<Plan, Error> {
        let mut problems = Vec::new();
        let mut warnings = self.warnings.clone();
        let mut files = Vec::new();
        let mut seen: HashMap<(String, String, Option<String>, String), String> = HashMap::new();
        let mut total_objects = 0usize;
        for source in &self.files {
            let text = if source.text.contains(INFRA_ID) {
                let Some(id) = infra_id else {
                    problems.push(format!(
                        "{}: uses {INFRA_ID} but the cluster has no infrastructure name (not OpenShift?)",
                        source.name
                    ));
                    continue;
                };
                source.text.replace(INFRA_ID, id)
            } else {
                source.text.clone()
            };
            let docs = match yaml::parse_documents(&text, &limits.yaml) {
                Ok(docs) => docs,
                Err(e) => {
                    problems.push(format!("{}: {e}", source.name));
                    continue;
                }
            };
            let mut objects = Vec::new();
            for (index, doc) in docs.into_iter().enumerate() {
                let doc_no = index + 1;
                for (line, scalar) in &doc.ambiguous_scalars {
                    warnings.push(format!(
                        "{}:{line}: unquoted {scalar:?} is a boolean (YAML 1.1, as oc reads it); quote it if a string is meant",
                        source.name
                    ));
                }
                let Some(value) = doc.value else { continue };
                for (item_no, item) in expand_list(value).into_iter().enumerate() {
                    let at = if item_no == 0 {
                        format!("{} document {doc_no}", source.name)
                    } else {
                        format!("{} document {doc_no} item {item_no}", source.name)
                    };
                    match Object::from_value(item, &source.name, doc_no, &mut warnings, &at) {
                        Ok(obj) => {
                            let key = (
                                obj.group().to_owned(),
                                obj.kind.clone(),
                                obj.namespace.clone(),
                                obj.name.clone(),
                            );
                            if let Some(first) = seen.insert(key, at.clone()) {
                                warnings.push(format!(
                                    "{at}: {} is also defined in {first} (the later one wins)",
                                    obj.display()
                                ));
                            }
                            objects.push(obj);
                        }
                        Err(problem) => problems.push(format!("{at}: {problem}")),
                    }
                }
            }
            total_objects += objects.len();
            files.push(ManifestFile {
                name: source.name.clone(),
                objects,
            });
        }
        if total_objects > limits.max_objects {
            problems.push(format!(
                "{total_objects} objects exceed the limit of {}",
                limits.max_objects
            ));
        }
        if problems.is_empty() {
            Ok(Plan { files, warnings })
        } else {
            Err(Error::Input { problems })
        }
    }
}

/// Validated objects, file by file, in apply order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Files in apply order (a file whose documents are all empty has no objects).
    pub files: Vec<ManifestFile>,
    /// Warnings from reading and validation.
    pub warnings: Vec<String>,
}

/// The objects of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestFile {
    /// File name.
    pub name: String,
    /// Objects in document order.
    pub objects: Vec<Object>,
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` as written (defaulting happens once the scope is known).
    pub namespace: Option<String>,
    /// 1-based document index in its file.
    pub document: usize,
    /// The object as it will be sent (server-populated fields removed).
    pub body: Value,
}

/// Fields the server owns: sent back, they make apply fail (a stale `resourceVersion` is a 409).
const SERVER_FIELDS: [&str; 4] = [
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
];

impl Object {
    fn from_value(
        mut value: Value,
        file: &str,
        document: usize,
        warnings: &mut Vec<String>,
        at: &str,
    ) -> Result<Self, String> {
        let Some(map) = value.as_object_mut() else {
            return Err("not a mapping".into());
        };
        let api_version = match map.get("apiVersion") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err("missing or non-string apiVersion".into()),
        };
        let kind = match map.get("kind") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err("missing or non-string kind".into()),
        };
        let Some(Value::Object(meta)) = map.get_mut("metadata") else {
            return Err(format!("{kind}: missing metadata"));
        };
        let name = match meta.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ if meta.contains_key("generateName") => {
                return Err(format!(
                    "{kind}: generateName without name (apply needs a name)"
                ));
            }
            _ => return Err(format!("{kind}: missing or empty metadata.name")),
        };
        let namespace = match meta.get("namespace") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(format!("{kind}/{name}: metadata.namespace is not a string")),
        };
        let mut removed: Vec<&str> = SERVER_FIELDS
            .into_iter()
            .filter(|f| meta.remove(*f).is_some())
            .collect();
        if map.remove("status").is_some() {
            removed.push("status");
        }
        if !removed.is_empty() {
            warnings.push(format!(
                "{at}: {kind}/{name}: removed server-populated {} before sending",
                removed.join(", ")
            ));
        }
        let _ = file;
        Ok(Self {
            api_version,
            kind,
            name,
            namespace,
            document,
            body: value,
        })
    }

    /// API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// API version without the group.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// `Kind/name` with ` (namespace)` when one is set.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} ({ns})", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// Sets (or clears) the namespace, in the body too.
    pub fn set_namespace(&mut self, namespace: Option<String>) {
        if let Some(meta) = self.body.get_mut("metadata").and_then(Value::as_object_mut) {
            match &namespace {
                Some(ns) => {
                    meta.insert("namespace".into(), Value::String(ns.clone()));
                }
                None => {
                    meta.remove("namespace");
                }
            }
        }
        self.namespace = namespace;
    }
}

/// `v1/List` and any `…List` kind with `items` expand into their items.
fn expand_list(value: Value) -> Vec<Value> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![value];
    }
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Reads the directory: regular files only, no recursion, sorted as `order` says.
///
/// Stray files (not `.yaml`, `.yml` or `.json`) fail the run before anything is applied; hidden
/// files and editor backups are skipped silently, subdirectories with a warning.
pub fn read_dir(dir: &Path, order: Order, limits: &Limits) -> Result<Sources, Error> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut warnings = Vec::new();
    let mut stray = Vec::new();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        // Follows symlinks, as `oc apply -f DIR` does.
        let meta = std::fs::metadata(entry.path()).map_err(|source| Error::Io {
            path: entry.path(),
            source,
        })?;
        if meta.is_dir() {
            warnings.push(format!("{name}/: subdirectory ignored (no recursion)"));
            continue;
        }
        if !meta.is_file() {
            stray.push(name);
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if [".yaml", ".yml", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            names.push(name);
        } else {
            stray.push(name);
        }
    }
    if !stray.is_empty() {
        stray.sort();
        return Err(Error::Input {
            problems: vec![format!(
                "{}: files other than .yaml, .yml or .json: {}",
                dir.display(),
                stray.join(", ")
            )],
        });
    }
    if names.len() > limits.max_files {
        return Err(Error::Input {
            problems: vec![format!(
                "{}: {} files exceed the limit of {}",
                dir.display(),
                names.len(),
                limits.max_files
            )],
        });
    }
    let (ordered, warning) = sort_names(names, order);
    warnings.extend(warning);
    let mut total = 0u64;
    let mut files = Vec::with_capacity(ordered.len());
    for name in ordered {
        let path = dir.join(&name);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let remaining = limits.max_total_bytes.saturating_sub(total);
        let mut text = String::new();
        // Counted on what is read, so a file growing under us cannot pass the limit.
        std::fs::File::open(&path)
            .map_err(io)?
            .take(remaining.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(io)?;
        total += text.len() as u64;
        if total > limits.max_total_bytes {
            return Err(Error::Input {
                problems: vec![format!(
                    "{}: manifest files exceed {} bytes in total",
                    dir.display(),
                    limits.max_total_bytes
                )],
            });
        }
        files.push(SourceFile { name, text });
    }
    Ok(Sources { files, warnings })
}

fn leading_number(name: &str) -> Option<u128> {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Sorts names; the warning says when the other reading of the leading digits disagrees.
pub fn sort_names(mut names: Vec<String>, order: Order) -> (Vec<String>, Option<String>) {
    names.sort();
    let mut numeric = names.clone();
    numeric.sort_by(|a, b| match (leading_number(a), leading_number(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    let differs = numeric != names;
    match order {
        Order::Bytes => {
            let warning = differs.then(|| {
                "file order is byte-wise on the whole name; reading the leading numbers as numbers would order them differently (--order numeric)".to_owned()
            });
            (names, warning)
        }
        Order::Numeric => {
            let warning = differs.then(|| {
                "file order is numeric on the leading numbers, which differs from byte-wise order".to_owned()
            });
            (numeric, warning)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn byte_order_keeps_the_seed_listing_and_warns_about_numeric_order() {
        let seed = names(&[
            "003-quay_registry.yaml",
            "0001-ODF_machineset.yaml",
            "002-quay_sub.yaml",
            "0003-odf_sub.yaml",
            "0003-odf_og.yaml",
            "001-quay_namespace.yaml",
            "002-quay_og.yaml",
            "0002-odf_namespace.yaml",
        ]);
        let (ordered, warning) = sort_names(seed.clone(), Order::Bytes);
        assert_eq!(
            ordered,
            names(&[
                "0001-ODF_machineset.yaml",
                "0002-odf_namespace.yaml",
                "0003-odf_og.yaml",
                "0003-odf_sub.yaml",
                "001-quay_namespace.yaml",
                "002-quay_og.yaml",
                "002-quay_sub.yaml",
                "003-quay_registry.yaml",
            ])
        );
        assert!(warning.is_some());
        let (numeric, _) = sort_names(seed, Order::Numeric);
        assert_eq!(numeric[0], "0001-ODF_machineset.yaml");
        assert_eq!(numeric[1], "001-quay_namespace.yaml");
        let (_, none) = sort_names(names(&["01-a.yaml", "02-b.yaml"]), Order::Bytes);
        assert_eq!(none, None);
    }

    fn plan_of(text: &str) -> Result<Plan, Error> {
        Sources {
            files: vec![SourceFile {
                name: "f.yaml".into(),
                text: text.into(),
            }],
            warnings: vec![],
        }
        .plan(Some("infra-1"), &Limits::default())
    }

    #[test]
    fn lists_expand_server_fields_go_and_infraid_is_replaced() {
        let plan = plan_of(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b-<INFRAID>, resourceVersion: '7'}, status: {}}\n",
        )
        .unwrap();
        let objs = &plan.files[0].objects;
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].name, "b-infra-1");
        assert!(objs[1].body.get("status").is_none());
        assert!(objs[1].body["metadata"].get("resourceVersion").is_none());
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("resourceVersion, status"))
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let err = plan_of(
            "kind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n---\n- 1\n",
        )
        .unwrap_err();
        let Error::Input { problems } = err else {
            panic!("{err:?}")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("document 1") && problems[0].contains("apiVersion"));
        assert!(problems[1].contains("generateName"));
        assert!(problems[2].contains("not a mapping"));
    }

    #[test]
    fn infraid_without_openshift_is_an_input_error() {
        let sources = Sources {
            files: vec![SourceFile {
                name: "m.yaml".into(),
                text: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: <INFRAID>}\n".into(),
            }],
            warnings: vec![],
        };
        assert!(sources.needs_infra_id());
        let err = sources.plan(None, &Limits::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("m.yaml: uses <INFRAID>"));
    }

    #[test]
    fn duplicates_warn_later_wins() {
        let plan = plan_of(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )
        .unwrap();
        assert_eq!(plan.files[0].objects.len(), 2);
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("also defined in f.yaml document 1"))
        );
    }

    #[test]
    fn directory_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("02-b.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("01-a.yml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        std::fs::write(dir.path().join("01-a.yml~"), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let sources = read_dir(dir.path(), Order::Bytes, &Limits::default()).unwrap();
        let got: Vec<_> = sources.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(got, ["01-a.yml", "02-b.yaml"]);
        assert!(sources.warnings.iter().any(|w| w.contains("sub/")));
        std::fs::write(dir.path().join("README.md"), "x").unwrap();
        let err = read_dir(dir.path(), Order::Bytes, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("README.md"), "{err}");
        std::fs::remove_file(dir.path().join("README.md")).unwrap();
        let small = Limits {
            max_total_bytes: 6,
            ..Limits::default()
        };
        let err = read_dir(dir.path(), Order::Bytes, &small).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
