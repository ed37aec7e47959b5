//! Adding a rendered bundle to a catalog: the bundle blob, its package (created when missing)
//! and its place in each channel.

use crate::error::CatalogError;
use crate::model::{Catalog, Channel, ChannelEntry, Package};
use crate::render::Rendered;
use crate::semver::Version;

/// How the new channel entry is linked into the upgrade graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Placement {
    /// `replaces`, `skips` and `olm.skipRange` from the CSV, verbatim (upstream's
    /// replaces mode). A CSV that names no predecessor in a non-empty channel leaves two heads,
    /// which validation then reports.
    #[default]
    FromCsv,
    /// The channel becomes one `replaces` chain in ascending version order (existing
    /// `skips`/`skipRange` kept); for channels whose bundles are pushed without edges.
    SemverChain,
}

/// Options of [`add_bundle`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// Channels to put the bundle in; empty: the channels of its annotations.
    pub channels: Vec<String>,
    /// How to link it.
    pub placement: Placement,
}

/// What [`add_bundle`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    /// The package blob was created.
    pub package_created: bool,
    /// A bundle of the same name was replaced.
    pub bundle_replaced: bool,
    /// Channels created.
    pub channels_created: Vec<String>,
    /// Channels the bundle was added to or updated in.
    pub channels: Vec<String>,
}

fn entry_from_csv(r: &Rendered) -> ChannelEntry {
    ChannelEntry {
        name: r.bundle.name.clone(),
        ..crate::csv::channel_entry(&r.csv)
    }
}

/// Adds `rendered` to `catalog`. The caller validates the result before writing it.
pub fn add_bundle(
    catalog: &mut Catalog,
    rendered: &Rendered,
    options: &AddOptions,
) -> Result<AddReport, CatalogError> {
    let bundle = &rendered.bundle;
    if bundle.package.is_empty() || bundle.name.is_empty() {
        return Err(CatalogError::InvalidArgument(
            "the bundle has no package or no name".into(),
        ));
    }
    crate::write::check_package_dir_name(&bundle.package)?;
    let channels = if options.channels.is_empty() {
        rendered.channels()
    } else {
        options.channels.clone()
    };
    if channels.is_empty() {
        return Err(CatalogError::InvalidArgument(format!(
            "bundle {:?} names no channel in its annotations; give the channels to add it to",
            bundle.name
        )));
    }
    let mut report = AddReport::default();
    if !catalog.packages.iter().any(|p| p.name == bundle.package) {
        let default_channel = rendered
            .default_channel()
            .filter(|d| channels.iter().any(|c| c == d))
            .map_or_else(|| channels[0].clone(), str::to_owned);
        // An undecodable icon is left out rather than failing the push.
        let icon = crate::csv::first_icon(&rendered.csv).ok().flatten();
        catalog.packages.push(Package {
            name: bundle.package.clone(),
            default_channel,
            icon,
            description: String::new(),
            properties: Vec::new(),
        });
        report.package_created = true;
    }
    if let Some(existing) = catalog
        .bundles
        .iter_mut()
        .find(|b| b.package == bundle.package && b.name == bundle.name)
    {
        *existing = bundle.clone();
        report.bundle_replaced = true;
    } else {
        catalog.bundles.push(bundle.clone());
    }
    let new_entry = entry_from_csv(rendered);
    for name in channels {
        let idx = if let Some(i) = catalog
            .channels
            .iter()
            .position(|c| c.package == bundle.package && c.name == name)
        {
            i
        } else {
            catalog.channels.push(Channel {
                name: name.clone(),
                package: bundle.package.clone(),
                entries: Vec::new(),
                properties: Vec::new(),
            });
            report.channels_created.push(name.clone());
            catalog.channels.len() - 1
        };
        let ch = &mut catalog.channels[idx];
        match ch.entries.iter_mut().find(|e| e.name == bundle.name) {
            Some(e) => *e = new_entry.clone(),
            None => ch.entries.push(new_entry.clone()),
        }
        if options.placement == Placement::SemverChain {
            relink_by_version(catalog, idx)?;
        }
        catalog.channels[idx]
            .entries
            .sort_by(|a, b| a.name.cmp(&b.name));
        report.channels.push(name);
    }
    Ok(report)
}

/// Rewrites `replaces` of every entry of channel `idx` into one chain in version order.
fn relink_by_version(catalog: &mut Catalog, idx: usize) -> Result<(), CatalogError> {
    let package = catalog.channels[idx].package.clone();
    let mut versioned: Vec<(Version, String)> = Vec::new();
    for e in &catalog.channels[idx].entries {
        let raw = catalog
            .bundles
            .iter()
            .find(|b| b.package == package && b.name == e.name)
            .and_then(|b| b.version())
            .ok_or_else(|| {
                CatalogError::InvalidArgument(format!(
                    "channel {:?}: entry {:?} has no bundle with a version",
                    catalog.channels[idx].name, e.name
                ))
            })?;
        let v = Version::parse(raw).map_err(|err| {
            CatalogError::InvalidArgument(format!("bundle {:?} version {raw:?}: {err}", e.name))
        })?;
        versioned.push((v, e.name.clone()));
    }
    versioned.sort_by(|a, b| a.0.compare(&b.0).then_with(|| a.1.cmp(&b.1)));
    for (i, (_, name)) in versioned.iter().enumerate() {
        let previous = if i == 0 {
            String::new()
        } else {
            versioned[i - 1].1.clone()
        };
        if let Some(e) = catalog.channels[idx]
            .entries
            .iter_mut()
            .find(|e| &e.name == name)
        {
            e.replaces = previous;
        }
    }
    Ok(())
}
