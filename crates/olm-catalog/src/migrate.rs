//! Package manifests (flat or nested, with a `*.package.yaml`) → `olm.package`, `olm.channel`
//! and `olm.bundle` blobs, as upstream's sqlite-era loader did (spec §6).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::CatalogError;
use crate::json::Value;
use crate::limits::CatalogLimits;
use crate::load::FileSet;
use crate::model::{Catalog, Channel, ChannelEntry, PROP_DEPRECATED, Package};
use crate::render::{ANNOTATION_PACKAGE, ObjectForm, RenderOptions, render_bundle};

/// Options of [`migrate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Bundle image template (`{{.Package}}`, `{{.Name}}`, `{{.Version}}`). Without one the
    /// bundles carry `olm.bundle.object` properties so that the catalog still validates.
    pub image_template: Option<String>,
}

/// The migrated catalog and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrated {
    /// The package, its channels and bundles.
    pub catalog: Catalog,
    /// Bundles not reachable from any channel head, deprecated bundles, skipped files.
    pub warnings: Vec<String>,
}

struct CsvInfo {
    dir: String,
    value: Value,
}

fn first_doc(path: &str, data: &[u8], limits: &CatalogLimits) -> Option<Value> {
    crate::load::parse_blobs(path, data, limits)
        .ok()
        .and_then(|mut d| (!d.is_empty()).then(|| d.swap_remove(0)))
}

/// Migrates the package-manifest directory at `dir`.
pub fn migrate_dir(
    dir: &Path,
    options: &MigrateOptions,
    limits: &CatalogLimits,
) -> Result<Migrated, CatalogError> {
    match crate::load::classify_dir(dir, limits)? {
        crate::load::DirKind::Bundle => {
            return Err(CatalogError::InvalidArgument(format!(
                "{} is a bundle directory, not a package-manifest directory; render it instead",
                dir.display()
            )));
        }
        crate::load::DirKind::Catalog => {
            return Err(CatalogError::InvalidArgument(format!(
                "{}: no package manifest (a YAML file with packageName) at the top of the directory; \
                 a catalog needs no migration, a bundle is rendered",
                dir.display()
            )));
        }
        _ => {}
    }
    migrate(&FileSet::from_dir(dir, limits)?, options, limits)
}

/// Migrates a package-manifest tree.
#[allow(clippy::too_many_lines)] // discovery, rendering, channel walk and package in order
pub fn migrate(
    files: &FileSet,
    options: &MigrateOptions,
    limits: &CatalogLimits,
) -> Result<Migrated, CatalogError> {
    let mut warnings = Vec::new();
    let mut package_doc: Option<(String, Value)> = None;
    let mut csvs: BTreeMap<String, CsvInfo> = BTreeMap::new();
    for (path, data) in files.iter() {
        let depth = path.matches('/').count();
        if depth > 1 {
            continue;
        }
        let Some(doc) = first_doc(path, data, limits) else {
            continue;
        };
        if depth == 0 && package_doc.is_none() && doc.get("packageName").is_some() {
            package_doc = Some((path.to_owned(), doc));
            continue;
        }
        if doc.get("kind").and_then(Value::as_str) == Some("ClusterServiceVersion") {
            let name = doc.str_at(&["metadata", "name"]).to_owned();
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            if csvs.contains_key(&name) {
                warnings.push(format!("{path}: a second CSV named {name:?} is ignored"));
                continue;
            }
            csvs.insert(name, CsvInfo { dir, value: doc });
        }
    }
    let (package_path, pkg) = package_doc.ok_or_else(|| {
        CatalogError::InvalidArgument(
            "no package manifest (a YAML file with packageName) at the top of the directory; \
             is this a catalog or a bundle?"
                .into(),
        )
    })?;
    let package_name = pkg.str_at(&["packageName"]).to_owned();
    crate::write::check_package_dir_name(&package_name)?;
    let channels_in: Vec<(String, String)> = pkg
        .get_ci("channels")
        .and_then(Value::as_array)
        .unwrap_or(&[])
        .iter()
        .map(|c| {
            (
                c.str_at(&["name"]).to_owned(),
                c.str_at(&["currentCSV"]).to_owned(),
            )
        })
        .collect();
    let default_channel = match pkg.str_at(&["defaultChannel"]) {
        "" if channels_in.len() == 1 => channels_in[0].0.clone(),
        d => d.to_owned(),
    };

    // Render every CSV's version directory as a bundle.
    let mut rendered = BTreeMap::new();
    for (name, info) in &csvs {
        let mut bundle_files = FileSet::new();
        let prefix = if info.dir.is_empty() {
            String::new()
        } else {
            format!("{}/", info.dir)
        };
        let mut has_metadata = false;
        for (path, data) in files.iter() {
            let Some(rel) = path.strip_prefix(&prefix) else {
                continue;
            };
            if path == package_path {
                continue;
            }
            if let Some(meta) = rel.strip_prefix("metadata/") {
                has_metadata = true;
                bundle_files.insert(format!("metadata/{meta}"), data.to_vec());
            } else if let Some(m) = rel.strip_prefix("manifests/") {
                bundle_files.insert(format!("manifests/{m}"), data.to_vec());
            } else if !rel.contains('/') {
                bundle_files.insert(format!("manifests/{rel}"), data.to_vec());
            }
        }
        if !has_metadata {
            bundle_files.insert(
                "metadata/annotations.yaml",
                format!("annotations:\n  {ANNOTATION_PACKAGE}: {package_name}\n").into_bytes(),
            );
        }
        let render_options = RenderOptions {
            image: None,
            image_template: options.image_template.clone(),
            form: if options.image_template.is_some() {
                ObjectForm::CsvMetadata
            } else {
                ObjectForm::BundleObjects
            },
        };
        let r = render_bundle(&bundle_files, &render_options, limits)
            .map_err(|e| CatalogError::Render(format!("{name}: {e}")))?;
        warnings.extend(r.warnings.iter().map(|w| format!("{name}: {w}")));
        rendered.insert(name.clone(), r);
    }

    let deprecated: BTreeSet<String> = rendered
        .iter()
        .filter(|(_, r)| {
            r.bundle
                .properties
                .iter()
                .any(|p| p.kind == PROP_DEPRECATED)
        })
        .map(|(n, _)| n.clone())
        .collect();
    for d in &deprecated {
        warnings.push(format!("{d}: deprecated (olm.deprecated), left out"));
    }

    let edges = |name: &str| -> Vec<String> {
        csvs.get(name).map_or_else(Vec::new, |c| {
            let e = crate::csv::channel_entry(&c.value);
            std::iter::once(e.replaces).chain(e.skips).collect()
        })
    };
    let mut channels = Vec::new();
    let mut reachable_all: BTreeSet<String> = BTreeSet::new();
    for (channel_name, head) in &channels_in {
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut todo = vec![head.clone()];
        while let Some(n) = todo.pop() {
            if !csvs.contains_key(&n) || deprecated.contains(&n) || !seen.insert(n.clone()) {
                continue;
            }
            todo.extend(edges(&n));
        }
        if !csvs.contains_key(head) {
            warnings.push(format!(
                "channel {channel_name:?}: currentCSV {head:?} is not in the package"
            ));
        }
        let entries = seen
            .iter()
            .map(|n| ChannelEntry {
                name: n.clone(),
                ..crate::csv::channel_entry(&csvs[n].value)
            })
            .collect();
        reachable_all.extend(seen);
        channels.push(Channel {
            name: channel_name.clone(),
            package: package_name.clone(),
            entries,
            properties: Vec::new(),
        });
    }
    channels.sort_by(|a, b| a.name.cmp(&b.name));
    for n in csvs.keys() {
        if !reachable_all.contains(n) && !deprecated.contains(n) {
            warnings.push(format!(
                "{n}: not reachable from any channel head, left out"
            ));
        }
    }

    let icon = channels_in
        .iter()
        .find(|(c, _)| *c == default_channel)
        .and_then(|(_, head)| csvs.get(head))
        .map(|c| crate::csv::first_icon(&c.value))
        .transpose()
        .map_err(|e| CatalogError::Render(format!("package {package_name:?}: {e}")))?
        .flatten();

    let bundles = rendered
        .into_iter()
        .filter(|(n, _)| reachable_all.contains(n))
        .map(|(_, r)| r.bundle)
        .collect();
    Ok(Migrated {
        catalog: Catalog {
            packages: vec![Package {
                name: package_name,
                default_channel,
                icon,
                description: String::new(),
                properties: Vec::new(),
            }],
            channels,
            bundles,
            deprecations: Vec::new(),
            others: Vec::new(),
        },
        warnings,
    })
}
