//! Catalog templates (spec §8): `olm.template.basic` and `olm.semver`.
//!
//! Both name bundles by image; turning an image into a rendered bundle needs a registry, so the
//! caller passes a [`BundleSource`] (the CLI pulls and renders; tests use files in memory).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::CatalogError;
use crate::json::Value;
use crate::limits::CatalogLimits;
use crate::load::{add_blob, parse_blobs};
use crate::model::{Catalog, Channel, ChannelEntry, Package};
use crate::render::Rendered;
use crate::semver::Version;

/// Renders the bundle behind an image reference (with the image set and the
/// `olm.csv.metadata` form).
pub trait BundleSource {
    /// Renders `image`.
    fn render(&mut self, image: &str) -> Result<Rendered, CatalogError>;
}

impl<F: FnMut(&str) -> Result<Rendered, CatalogError>> BundleSource for F {
    fn render(&mut self, image: &str) -> Result<Rendered, CatalogError> {
        self(image)
    }
}

fn template_err(m: impl Into<String>) -> CatalogError {
    CatalogError::Template(m.into())
}

/// The schema of a template text (`olm.template.basic`, `olm.semver`, ...).
pub fn template_schema(text: &[u8], limits: &CatalogLimits) -> Result<String, CatalogError> {
    let doc = single_doc(text, limits)?;
    Ok(doc
        .get_ci("schema")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

fn single_doc(text: &[u8], limits: &CatalogLimits) -> Result<Value, CatalogError> {
    let mut docs = parse_blobs("template", text, limits)?;
    match docs.len() {
        1 => Ok(docs.swap_remove(0)),
        0 => Err(template_err("the template is empty")),
        n => Err(template_err(format!(
            "a template is one document, found {n}"
        ))),
    }
}

/// Every bundle image a template names, in order, without duplicates: what a caller must pull
/// and render before expanding it.
pub fn referenced_images(text: &[u8], limits: &CatalogLimits) -> Result<Vec<String>, CatalogError> {
    let doc = single_doc(text, limits)?;
    let mut out: Vec<String> = Vec::new();
    let mut push = |image: Option<&str>| {
        if let Some(i) = image.filter(|i| !i.is_empty()) {
            if !out.iter().any(|o| o == i) {
                out.push(i.to_owned());
            }
        }
    };
    match doc.get_ci("schema").and_then(Value::as_str).unwrap_or("") {
        "olm.template.basic" => {
            for e in doc
                .get_ci("entries")
                .and_then(Value::as_array)
                .unwrap_or(&[])
            {
                if e.get_ci("schema").and_then(Value::as_str) == Some("olm.bundle") {
                    push(e.get_ci("image").and_then(Value::as_str));
                }
            }
        }
        "olm.semver" => {
            for arch in ARCHETYPES {
                let bundles = doc
                    .get_ci(arch)
                    .and_then(|a| a.get_ci("bundles"))
                    .and_then(Value::as_array)
                    .unwrap_or(&[]);
                for b in bundles {
                    push(b.get_ci("image").and_then(Value::as_str));
                }
            }
        }
        other => {
            return Err(template_err(format!(
                "unknown template schema {other:?} (olm.template.basic or olm.semver)"
            )));
        }
    }
    Ok(out)
}

/// Expands an `olm.template.basic` template.
pub fn expand_basic(
    text: &[u8],
    source: &mut dyn BundleSource,
    limits: &CatalogLimits,
) -> Result<Catalog, CatalogError> {
    let doc = single_doc(text, limits)?;
    let schema = doc.get_ci("schema").and_then(Value::as_str).unwrap_or("");
    if schema != "olm.template.basic" {
        return Err(template_err(format!(
            "expected schema \"olm.template.basic\", found {schema:?}"
        )));
    }
    let mut catalog = Catalog::default();
    for entry in doc
        .get_ci("entries")
        .and_then(Value::as_array)
        .unwrap_or(&[])
    {
        let is_bundle = entry.get_ci("schema").and_then(Value::as_str) == Some("olm.bundle");
        if !is_bundle {
            add_blob(&mut catalog, "template", entry.clone())?;
            continue;
        }
        let obj = entry.as_object().map_or(0, |o| o.iter().count());
        let image = entry.get_ci("image").and_then(Value::as_str).unwrap_or("");
        if obj != 2 || image.is_empty() {
            return Err(template_err(
                "unexpected fields present in basic template bundle",
            ));
        }
        catalog.bundles.push(source.render(image)?.bundle);
    }
    Ok(catalog)
}

const ARCHETYPES: [&str; 3] = ["candidate", "fast", "stable"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stream {
    Major,
    Minor,
}

/// Expands an `olm.semver` template.
#[allow(clippy::too_many_lines)] // options, rendering, channels, edges, default channel in order
pub fn expand_semver(
    text: &[u8],
    source: &mut dyn BundleSource,
    limits: &CatalogLimits,
) -> Result<Catalog, CatalogError> {
    let doc = single_doc(text, limits)?;
    let schema = doc.get_ci("schema").and_then(Value::as_str).unwrap_or("");
    if schema != "olm.semver" {
        return Err(template_err(format!(
            "expected schema \"olm.semver\", found {schema:?}"
        )));
    }
    let flag = |k: &str| -> Result<bool, CatalogError> {
        match doc.get_ci(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(template_err(format!(
                "{k} must be true or false, not {}",
                other.kind()
            ))),
        }
    };
    let major = flag("generateMajorChannels")?;
    let mut minor = flag("generateMinorChannels")?;
    if !major && !minor {
        minor = true;
    }
    let preference = match doc
        .get_ci("defaultChannelTypePreference")
        .and_then(Value::as_str)
    {
        None | Some("") => {
            if minor {
                Stream::Minor
            } else {
                Stream::Major
            }
        }
        Some("minor") => Stream::Minor,
        Some("major") => Stream::Major,
        Some(other) => {
            return Err(template_err(format!(
                "unknown defaultChannelTypePreference {other:?} (minor or major)"
            )));
        }
    };
    if (preference == Stream::Minor && !minor) || (preference == Stream::Major && !major) {
        return Err(template_err(format!(
            "defaultChannelTypePreference is {} but those channels are not generated",
            if preference == Stream::Minor {
                "minor"
            } else {
                "major"
            }
        )));
    }

    // Render every image once.
    let mut rendered: BTreeMap<String, Rendered> = BTreeMap::new();
    let mut per_archetype: Vec<(usize, Vec<String>)> = Vec::new();
    for (ai, arch) in ARCHETYPES.iter().enumerate() {
        let images: Vec<String> = doc
            .get_ci(arch)
            .and_then(|a| a.get_ci("bundles"))
            .and_then(Value::as_array)
            .unwrap_or(&[])
            .iter()
            .map(|b| {
                b.get_ci("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        for image in &images {
            if image.is_empty() {
                return Err(template_err(format!("{arch}: a bundle without an image")));
            }
            if !rendered.contains_key(image) {
                rendered.insert(image.clone(), source.render(image)?);
            }
        }
        per_archetype.push((ai, images));
    }
    if rendered.is_empty() {
        return Err(template_err("the template names no bundles"));
    }
    let mut package = String::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut versions: BTreeMap<String, Version> = BTreeMap::new();
    for (image, r) in &rendered {
        if package.is_empty() {
            package.clone_from(&r.bundle.package);
        } else if package != r.bundle.package {
            return Err(template_err(format!(
                "bundles of more than one package: {package:?} and {:?}",
                r.bundle.package
            )));
        }
        if let Some(other) = names.insert(r.bundle.name.clone(), image.clone()) {
            return Err(template_err(format!(
                "bundle name {:?} appears for two images: {other} and {image}",
                r.bundle.name
            )));
        }
        let raw = r.bundle.version().unwrap_or("");
        let v = Version::parse(raw).map_err(|e| {
            template_err(format!("bundle {:?} version {raw:?}: {e}", r.bundle.name))
        })?;
        versions.insert(r.bundle.name.clone(), v);
    }

    // (archetype, stream, channel key) → members; a run is (archetype, stream, major).
    let mut channels: BTreeMap<String, (usize, Stream, u64, u64, Vec<String>)> = BTreeMap::new();
    for (ai, images) in &per_archetype {
        let arch = ARCHETYPES[*ai];
        for image in images {
            let name = rendered[image].bundle.name.clone();
            let v = &versions[&name];
            let mut add = |stream: Stream, key: String| {
                let e = channels
                    .entry(key)
                    .or_insert((*ai, stream, v.major, v.minor, Vec::new()));
                if !e.4.contains(&name) {
                    e.4.push(name.clone());
                }
            };
            if major {
                add(Stream::Major, format!("{arch}-v{}", v.major));
            }
            if minor {
                add(Stream::Minor, format!("{arch}-v{}.{}", v.major, v.minor));
            }
        }
    }
    let by_version =
        |a: &String, b: &String| versions[a].compare(&versions[b]).then_with(|| a.cmp(b));
    for (_, _, _, _, members) in channels.values_mut() {
        members.sort_by(by_version);
    }
    // Edges per run.
    let mut edges: BTreeMap<(usize, Stream, String), (String, Vec<String>)> = BTreeMap::new();
    let mut runs: BTreeMap<(usize, Stream, u64), BTreeSet<String>> = BTreeMap::new();
    for (ai, stream, maj, _, members) in channels.values() {
        runs.entry((*ai, *stream, *maj))
            .or_default()
            .extend(members.iter().cloned());
    }
    for ((ai, stream, _), members) in &runs {
        let mut ordered: Vec<String> = members.iter().cloned().collect();
        ordered.sort_by(by_version);
        // Y-streams in order, each with its entries.
        let mut streams: Vec<(u64, Vec<String>)> = Vec::new();
        for n in &ordered {
            let y = versions[n].minor;
            match streams.last_mut() {
                Some((sy, list)) if *sy == y => list.push(n.clone()),
                _ => streams.push((y, vec![n.clone()])),
            }
        }
        let mut previous_head: Option<String> = None;
        let mut earlier: Vec<String> = Vec::new();
        for (_, list) in &streams {
            let head = list.last().cloned().unwrap_or_default();
            earlier.extend(list[..list.len() - 1].iter().cloned());
            let mut skips: Vec<String> = earlier
                .iter()
                .filter(|n| Some(*n) != previous_head.as_ref())
                .cloned()
                .collect();
            skips.sort();
            edges.insert(
                (*ai, *stream, head.clone()),
                (previous_head.clone().unwrap_or_default(), skips),
            );
            if let Some(p) = previous_head.take() {
                earlier.push(p);
            }
            previous_head = Some(head);
        }
    }
    let mut out_channels = Vec::new();
    for (name, (ai, stream, _, _, members)) in &channels {
        let entries = members
            .iter()
            .map(|m| {
                let (replaces, skips) = edges
                    .get(&(*ai, *stream, m.clone()))
                    .cloned()
                    .unwrap_or_default();
                ChannelEntry {
                    name: m.clone(),
                    replaces,
                    skips,
                    skip_range: String::new(),
                }
            })
            .collect();
        out_channels.push(Channel {
            name: name.clone(),
            package: package.clone(),
            entries,
            properties: Vec::new(),
        });
    }
    // Default channel: most stable archetype, preferred stream kind, highest version.
    let default = channels
        .iter()
        .filter(|(_, (_, s, _, _, _))| *s == preference)
        .max_by(|a, b| {
            let (ai, _, amaj, amin, _) = a.1;
            let (bi, _, bmaj, bmin, _) = b.1;
            ai.cmp(bi).then(amaj.cmp(bmaj)).then(amin.cmp(bmin))
        })
        .map(|(n, _)| n.clone())
        .unwrap_or_default();
    let last = channels
        .get(&default)
        .and_then(|c| c.4.last())
        .and_then(|n| names.get(n))
        .and_then(|img| rendered.get(img));
    let description = last.map_or(String::new(), |r| {
        r.csv
            .get_ci("spec")
            .and_then(|s| s.get_ci("description"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    });
    let icon = last
        .map(|r| crate::csv::first_icon(&r.csv))
        .transpose()
        .map_err(template_err)?
        .flatten();
    Ok(Catalog {
        packages: vec![Package {
            name: package,
            default_channel: default,
            icon,
            description,
            properties: Vec::new(),
        }],
        channels: out_channels,
        bundles: rendered.into_values().map(|r| r.bundle).collect(),
        deprecations: Vec::new(),
        others: Vec::new(),
    })
}

/// Expands a template of either kind, chosen by its `schema`.
pub fn expand(
    text: &[u8],
    source: &mut dyn BundleSource,
    limits: &CatalogLimits,
) -> Result<Catalog, CatalogError> {
    match template_schema(text, limits)?.as_str() {
        "olm.template.basic" => expand_basic(text, source, limits),
        "olm.semver" => expand_semver(text, source, limits),
        other => Err(template_err(format!(
            "unknown template schema {other:?} (olm.template.basic or olm.semver)"
        ))),
    }
}
