//! Writing one edited package back into an existing catalog directory without touching the
//! files of other packages (what `omps catalog add` does after [`add_bundle`](crate::add_bundle)).
//!
//! The package ends up in one file: the file that held only its blobs (rewritten in place, in
//! its format), or `<package>/catalog.<ext>` (spec §2's layout) when it had none. Blobs of the
//! package found in files shared with other packages are taken out of them; a file left empty
//! is removed. Files matched by `.indexignore` are never read or written.

use std::path::Path;

use crate::error::CatalogError;
use crate::json::Value;
use crate::limits::CatalogLimits;
use crate::load::{FileSet, catalog_files, parse_blobs};
use crate::model::{Catalog, SCHEMA_PACKAGE};
use crate::write::{Format, blob_text, check_package_dir_name, to_text};

/// The file changes that bring a catalog directory in line with an edited package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirUpdate {
    /// Files to write (created or replaced), by relative path.
    pub write: Vec<(String, Vec<u8>)>,
    /// Files to remove, by relative path.
    pub remove: Vec<String>,
}

impl DirUpdate {
    /// Applies the changes below `root`. Each file is written to a temporary file next to it
    /// and renamed over the old one, so a reader never sees half a file.
    pub fn apply(&self, root: &Path) -> Result<(), CatalogError> {
        for (path, data) in &self.write {
            let target = root.join(path);
            let parent = target.parent().unwrap_or(root);
            std::fs::create_dir_all(parent)
                .map_err(|e| CatalogError::io(parent.display().to_string(), e))?;
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let temp = parent.join(format!(".{name}.omps-tmp"));
            std::fs::write(&temp, data)
                .and_then(|()| std::fs::rename(&temp, &target))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&temp);
                    CatalogError::io(target.display().to_string(), e)
                })?;
        }
        for path in &self.remove {
            let target = root.join(path);
            std::fs::remove_file(&target)
                .map_err(|e| CatalogError::io(target.display().to_string(), e))?;
        }
        Ok(())
    }

    /// Every path written or removed, sorted.
    pub fn paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .write
            .iter()
            .map(|(p, _)| p.as_str())
            .chain(self.remove.iter().map(String::as_str))
            .collect();
        out.sort_unstable();
        out
    }
}

/// The package a blob belongs to: an `olm.package`'s name, any other blob's `package` field
/// (both matched case-insensitively, as the loader does).
fn blob_package(blob: &Value) -> &str {
    let field = |k: &str| blob.get_ci(k).and_then(Value::as_str).unwrap_or("");
    if field("schema") == SCHEMA_PACKAGE {
        field("name")
    } else {
        field("package")
    }
}

/// A file's format: by extension, else by its first character (as the loader reads it).
fn file_format(path: &str, data: &[u8]) -> Format {
    let extension = Path::new(path)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if extension.as_deref() == Some("json") {
        Format::Json
    } else if matches!(extension.as_deref(), Some("yaml" | "yml")) {
        Format::Yaml
    } else if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        Format::Json
    } else {
        Format::Yaml
    }
}

/// Computes how to write `package`, as held by `catalog`, into the catalog directory whose
/// current files are `files`. `new_format` is used when the package gets a new file.
pub fn update_package(
    files: &FileSet,
    catalog: &Catalog,
    package: &str,
    new_format: Format,
    limits: &CatalogLimits,
) -> Result<DirUpdate, CatalogError> {
    check_package_dir_name(package)?;
    // Files holding blobs of the package: (path, format, blobs of other packages).
    let mut holders: Vec<(&str, Format, Vec<Value>)> = Vec::new();
    for (path, data) in catalog_files(files) {
        let blobs = parse_blobs(path, data, limits)?;
        if !blobs.iter().any(|b| blob_package(b) == package) {
            continue;
        }
        let foreign: Vec<Value> = blobs
            .into_iter()
            .filter(|b| blob_package(b) != package)
            .collect();
        holders.push((path, file_format(path, data), foreign));
    }
    let (target, format) = if let Some((path, format, _)) =
        holders.iter().find(|(_, _, foreign)| foreign.is_empty())
    {
        ((*path).to_owned(), *format)
    } else {
        let format = holders.first().map_or(new_format, |(_, f, _)| *f);
        let path = format!("{package}/catalog.{}", format.extension());
        if holders.iter().all(|(p, _, _)| *p != path) && files.get(&path).is_some() {
            return Err(CatalogError::InvalidArgument(format!(
                "{path} exists but holds no blob of package {package:?}; move it away or \
                 name it in .indexignore"
            )));
        }
        (path, format)
    };
    let mut update = DirUpdate::default();
    for (path, format, foreign) in &holders {
        if *path == target {
            continue;
        }
        if foreign.is_empty() {
            update.remove.push((*path).to_owned());
        } else {
            let text: String = foreign.iter().map(|b| blob_text(b, *format)).collect();
            update.write.push(((*path).to_owned(), text.into_bytes()));
        }
    }
    let text = to_text(&catalog.only_package(package), format);
    if text.is_empty() {
        if holders.iter().any(|(p, _, _)| *p == target) {
            update.remove.push(target);
        }
    } else {
        update.write.push((target, text.into_bytes()));
    }
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load_files, load_text};

    fn files(entries: &[(&str, &str)]) -> FileSet {
        let mut f = FileSet::new();
        for (p, d) in entries {
            f.insert(*p, d.as_bytes().to_vec());
        }
        f
    }

    const DEMO_YAML: &str = "---\ndefaultChannel: stable\nname: demo\nschema: olm.package\n";
    const OTHER_JSON: &str =
        "{\"schema\":\"olm.package\",\"name\":\"other\",\"defaultChannel\":\"a\"}";

    fn edited(text: &str) -> Catalog {
        load_text("edited.json", text.as_bytes(), &CatalogLimits::default()).unwrap()
    }

    fn applied(before: &FileSet, update: &DirUpdate) -> FileSet {
        let mut after = before.clone();
        for p in &update.remove {
            after.remove(p);
        }
        for (p, d) in &update.write {
            after.insert(p.clone(), d.clone());
        }
        after
    }

    #[test]
    fn a_file_of_its_own_is_rewritten_in_place_in_its_format() {
        let before = files(&[
            ("demo/index.yaml", DEMO_YAML),
            ("other/catalog.json", OTHER_JSON),
        ]);
        let catalog = edited(r#"{"schema":"olm.package","name":"demo","defaultChannel":"fast"}"#);
        let u = update_package(
            &before,
            &catalog,
            "demo",
            Format::Json,
            &CatalogLimits::default(),
        )
        .unwrap();
        assert!(u.remove.is_empty());
        assert_eq!(u.paths(), ["demo/index.yaml"]);
        assert_eq!(
            String::from_utf8(u.write[0].1.clone()).unwrap(),
            "---\ndefaultChannel: fast\nname: demo\nschema: olm.package\n"
        );
    }

    #[test]
    fn a_new_package_gets_its_own_directory_in_the_requested_format() {
        let before = files(&[("other/catalog.json", OTHER_JSON)]);
        let catalog = edited(r#"{"schema":"olm.package","name":"demo","defaultChannel":"s"}"#);
        let u = update_package(
            &before,
            &catalog,
            "demo",
            Format::Yaml,
            &CatalogLimits::default(),
        )
        .unwrap();
        assert_eq!(u.paths(), ["demo/catalog.yaml"]);
        let after = applied(&before, &u);
        let loaded = load_files(&after, &CatalogLimits::default()).unwrap();
        assert_eq!(loaded.package_names(), ["demo", "other"]);
    }

    #[test]
    fn blobs_in_shared_files_move_out_and_empty_files_go() {
        let before = files(&[
            (
                "all.json",
                "{\"schema\":\"olm.package\",\"name\":\"demo\",\"defaultChannel\":\"s\"}\n{\"schema\":\"olm.package\",\"name\":\"other\",\"defaultChannel\":\"a\"}",
            ),
            (
                "more/demo-channel.yaml",
                "schema: olm.channel\npackage: demo\nname: s\nentries: []\n",
            ),
            (
                "ignored/x.json",
                "{\"schema\":\"olm.package\",\"name\":\"demo\"}",
            ),
            (".indexignore", "ignored/\n"),
        ]);
        let catalog = edited(
            r#"{"schema":"olm.package","name":"demo","defaultChannel":"s"}
{"schema":"olm.channel","name":"s","package":"demo","entries":[]}"#,
        );
        let u = update_package(
            &before,
            &catalog,
            "demo",
            Format::Yaml,
            &CatalogLimits::default(),
        )
        .unwrap();
        // The channel file held only "demo": it gets the whole package, in YAML; the shared
        // file keeps only "other".
        assert!(u.remove.is_empty());
        assert_eq!(u.paths(), ["all.json", "more/demo-channel.yaml"]);
        let after = applied(&before, &u);
        assert_eq!(
            std::str::from_utf8(after.get("all.json").unwrap()).unwrap(),
            "{\n    \"schema\": \"olm.package\",\n    \"name\": \"other\",\n    \"defaultChannel\": \"a\"\n}\n"
        );
        assert!(
            std::str::from_utf8(after.get("more/demo-channel.yaml").unwrap())
                .unwrap()
                .starts_with(
                    "---\ndefaultChannel: s\nname: demo\nschema: olm.package\n---\nentries: []\n"
                ),
        );
        assert!(after.get("ignored/x.json").is_some(), "ignored files stay");
        let loaded = load_files(&after, &CatalogLimits::default()).unwrap();
        assert_eq!(loaded.packages.len(), 2);
        assert_eq!(loaded.channels.len(), 1);
    }

    #[test]
    fn without_a_file_of_its_own_the_package_gets_one_and_leaves_shared_files() {
        let before = files(&[(
            "all.yaml",
            "schema: olm.package\nname: demo\n---\nschema: olm.package\nname: other\n",
        )]);
        let catalog = edited(r#"{"schema":"olm.package","name":"demo","defaultChannel":"s"}"#);
        let u = update_package(
            &before,
            &catalog,
            "demo",
            Format::Json,
            &CatalogLimits::default(),
        )
        .unwrap();
        // The new file takes the format of the file the package came from.
        assert_eq!(u.paths(), ["all.yaml", "demo/catalog.yaml"]);
        let after = applied(&before, &u);
        assert_eq!(
            std::str::from_utf8(after.get("all.yaml").unwrap()).unwrap(),
            "---\nname: other\nschema: olm.package\n"
        );
        let loaded = load_files(&after, &CatalogLimits::default()).unwrap();
        assert_eq!(loaded.package_names(), ["demo", "other"]);
    }

    #[test]
    fn a_foreign_file_at_the_new_path_is_refused_and_bad_names_too() {
        let before = files(&[
            (
                "all.json",
                r#"{"schema":"olm.package","name":"demo"}{"schema":"olm.package","name":"x"}"#,
            ),
            ("demo/catalog.json", OTHER_JSON),
        ]);
        let catalog = edited(r#"{"schema":"olm.package","name":"demo","defaultChannel":"s"}"#);
        let e = update_package(
            &before,
            &catalog,
            "demo",
            Format::Json,
            &CatalogLimits::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "demo/catalog.json exists but holds no blob of package \"demo\"; move it away or name it in .indexignore"
        );
        assert!(
            update_package(
                &before,
                &catalog,
                "../x",
                Format::Json,
                &CatalogLimits::default()
            )
            .is_err()
        );
    }

    #[test]
    fn apply_writes_and_removes_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("old")).unwrap();
        std::fs::write(dir.path().join("old/x.json"), "{}").unwrap();
        let u = DirUpdate {
            write: vec![("demo/catalog.json".into(), b"{}\n".to_vec())],
            remove: vec!["old/x.json".into()],
        };
        u.apply(dir.path()).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("demo/catalog.json")).unwrap(),
            b"{}\n"
        );
        assert!(!dir.path().join("old/x.json").exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("demo"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }
}
