//! `opm validate`: building the package/channel/bundle model (rules M1–M18, first failure
//! stops) and validating it (rules P, C, B, D; every failure collected into a tree).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::CatalogError;
use crate::json::Value;
use crate::model::{
    Catalog, PROP_BUNDLE_OBJECT, PROP_GVK, PROP_GVK_REQUIRED, PROP_PACKAGE, PROP_PACKAGE_REQUIRED,
    Property, SCHEMA_BUNDLE, SCHEMA_CHANNEL, SCHEMA_PACKAGE,
};
use crate::reference;
use crate::semver::{Range, Version};

/// A validation failure tree, printed like upstream (`invalid index:` / `└── ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationTree {
    /// This level's message (`invalid package "p"`, ...).
    pub message: String,
    /// Sub-failures.
    pub children: Vec<ValidationNode>,
}

/// One child of a [`ValidationTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationNode {
    /// A failure.
    Leaf(String),
    /// A nested level.
    Tree(ValidationTree),
}

/// One failure with where it happened, for machine-readable output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Package, when the failure is inside one.
    pub package: Option<String>,
    /// Channel, when inside one.
    pub channel: Option<String>,
    /// Bundle, when inside one.
    pub bundle: Option<String>,
    /// The message.
    pub message: String,
}

impl ValidationTree {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            children: Vec::new(),
        }
    }

    fn leaf(&mut self, m: impl Into<String>) {
        self.children.push(ValidationNode::Leaf(m.into()));
    }

    fn sub(&mut self, t: ValidationTree) {
        if !t.children.is_empty() {
            self.children.push(ValidationNode::Tree(t));
        }
    }

    fn render(&self, out: &mut String, prefix: &str, last: bool) {
        out.push_str(prefix);
        out.push_str(&self.message);
        if !self.children.is_empty() {
            out.push_str(":\n");
        }
        let n = self.children.len();
        for (i, child) in self.children.iter().enumerate() {
            let mut sub: String = prefix.to_owned();
            let chars: Vec<char> = sub.chars().collect();
            if chars.len() >= 4 {
                sub = chars[..chars.len() - 4].iter().collect();
                sub.push_str(if last { "    " } else { "│   " });
            }
            let sub_last = i + 1 == n;
            sub.push_str(if sub_last { "└── " } else { "├── " });
            match child {
                ValidationNode::Tree(t) => t.render(out, &sub, sub_last),
                ValidationNode::Leaf(m) => {
                    out.push_str(&sub);
                    out.push_str(m);
                }
            }
            if i + 1 < n {
                out.push('\n');
            }
        }
    }

    /// Every leaf with its package, channel and bundle.
    pub fn failures(&self) -> Vec<Failure> {
        let mut out = Vec::new();
        self.collect(
            &mut out,
            &Failure {
                package: None,
                channel: None,
                bundle: None,
                message: String::new(),
            },
        );
        out
    }

    fn collect(&self, out: &mut Vec<Failure>, ctx: &Failure) {
        let mut ctx = ctx.clone();
        let quoted = |prefix: &str| {
            self.message
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('"'))
                .and_then(|r| r.strip_suffix('"'))
                .map(str::to_owned)
        };
        if let Some(p) = quoted("invalid package ") {
            ctx.package = Some(p);
        } else if let Some(c) = quoted("invalid channel ") {
            ctx.channel = Some(c);
        } else if let Some(b) = quoted("invalid bundle ") {
            ctx.bundle = Some(b);
        }
        for child in &self.children {
            match child {
                ValidationNode::Tree(t) => t.collect(out, &ctx),
                ValidationNode::Leaf(m) => out.push(Failure {
                    message: m.clone(),
                    ..ctx.clone()
                }),
            }
        }
    }
}

impl fmt::Display for ValidationTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.render(&mut s, "", true);
        f.write_str(&s)
    }
}

/// One bundle as the model sees it (a channel entry joined with its `olm.bundle` blob).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBundle {
    /// Name.
    pub name: String,
    /// `replaces` edge.
    pub replaces: String,
    /// `skips` edges.
    pub skips: Vec<String>,
    /// `skipRange`.
    pub skip_range: String,
    /// Image.
    pub image: String,
    /// Parsed `olm.package` version.
    pub version: Option<Version>,
    /// `olm.package` release (may be empty).
    pub release: String,
    /// Number of `olm.package` properties.
    pub package_properties: usize,
    /// Whether the bundle carries `olm.bundle.object` properties.
    pub has_objects: bool,
    /// Deprecation message, if any.
    pub deprecation: Option<String>,
}

/// One channel of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelChannel {
    /// Name.
    pub name: String,
    /// Bundles by name.
    pub bundles: BTreeMap<String, ModelBundle>,
    /// Deprecation message, if any.
    pub deprecation: Option<String>,
}

/// One package of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPackage {
    /// Name.
    pub name: String,
    /// The default channel's name, when one resolved.
    pub default_channel: Option<String>,
    /// Channels by name.
    pub channels: BTreeMap<String, ModelChannel>,
    /// Deprecation message, if any.
    pub deprecation: Option<String>,
}

/// The validated-shape model of a catalog.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    /// Packages by name.
    pub packages: BTreeMap<String, ModelPackage>,
}

fn dns1123_label_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        errs.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
             and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', \
             regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                .to_owned(),
        );
    }
    errs
}

/// Checks that a property value has the shape its type needs (upstream's `property.Parse`).
fn parse_property(p: &Property) -> Result<(), String> {
    use crate::model::Fields;
    let strings = |go: &str, keys: &[&str]| -> Result<(), String> {
        let f = Fields::of(&p.value, go)?;
        for k in keys {
            f.string(k)?;
        }
        Ok(())
    };
    match p.kind.as_str() {
        PROP_PACKAGE => strings("property.Package", &["packageName", "version", "release"]),
        PROP_GVK | PROP_GVK_REQUIRED => strings("property.GVK", &["group", "kind", "version"]),
        PROP_PACKAGE_REQUIRED => {
            strings("property.PackageRequired", &["packageName", "versionRange"])
        }
        PROP_BUNDLE_OBJECT => {
            let f = Fields::of(&p.value, "property.BundleObject")?;
            match f.raw("data") {
                None | Some(Value::Null | Value::String(_)) => Ok(()),
                Some(other) => Err(crate::model::type_error(
                    other,
                    "BundleObject.data",
                    "[]uint8",
                )),
            }
        }
        "olm.skips" | "olm.skipRange" => match &p.value {
            Value::String(_) | Value::Null => Ok(()),
            other => Err(format!(
                "json: cannot unmarshal {} into Go value of type string",
                other.kind()
            )),
        },
        "olm.channel" => {
            let f = Fields::of(&p.value, "property.Channel")?;
            f.string("channelName")?;
            match f.raw("priority") {
                None | Some(Value::Null | Value::Number(_)) => Ok(()),
                Some(other) => Err(crate::model::type_error(other, "Channel.priority", "int")),
            }
        }
        _ => Ok(()),
    }
}

fn package_prop(p: &Property) -> (String, String, String) {
    let get = |k: &str| {
        p.value
            .get_ci(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (get("packageName"), get("version"), get("release"))
}

/// Builds the model (rules M1–M18). The first failure is returned, as upstream does.
#[allow(clippy::too_many_lines)] // the rules in upstream's order, one after the other
pub fn build_model(catalog: &Catalog) -> Result<Model, CatalogError> {
    let fail = |m: String| Err(CatalogError::Model(m));
    let mut packages: BTreeMap<String, ModelPackage> = BTreeMap::new();
    let mut default_channels: BTreeMap<String, String> = BTreeMap::new();
    for p in &catalog.packages {
        if p.name.is_empty() {
            return fail("config contains package with no name".into());
        }
        if packages.contains_key(&p.name) {
            return fail(format!("duplicate package {:?}", p.name));
        }
        let errs = dns1123_label_errors(&p.name);
        if !errs.is_empty() {
            return fail(format!(
                "invalid package name {:?}: [{}]",
                p.name,
                errs.join(" ")
            ));
        }
        default_channels.insert(p.name.clone(), p.default_channel.clone());
        packages.insert(
            p.name.clone(),
            ModelPackage {
                name: p.name.clone(),
                default_channel: None,
                channels: BTreeMap::new(),
                deprecation: None,
            },
        );
    }

    // Entries named by channels that still need an olm.bundle blob, per package.
    let mut unmatched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in &catalog.channels {
        let Some(mpkg) = packages.get_mut(&c.package) else {
            return fail(format!(
                "unknown package {:?} for channel {:?}",
                c.package, c.name
            ));
        };
        if c.name.is_empty() {
            return fail(format!(
                "package {:?} contains channel with no name",
                c.package
            ));
        }
        if mpkg.channels.contains_key(&c.name) {
            return fail(format!(
                "package {:?} has duplicate channel {:?}",
                c.package, c.name
            ));
        }
        let mut bundles = BTreeMap::new();
        for e in &c.entries {
            if bundles.contains_key(&e.name) {
                return fail(format!(
                    "invalid package {:?}, channel {:?}: duplicate entry {:?}",
                    c.package, c.name, e.name
                ));
            }
            unmatched
                .entry(c.package.clone())
                .or_default()
                .insert(e.name.clone());
            bundles.insert(
                e.name.clone(),
                ModelBundle {
                    name: e.name.clone(),
                    replaces: e.replaces.clone(),
                    skips: e.skips.clone(),
                    skip_range: e.skip_range.clone(),
                    image: String::new(),
                    version: None,
                    release: String::new(),
                    package_properties: 0,
                    has_objects: false,
                    deprecation: None,
                },
            );
        }
        if default_channels.get(&c.package) == Some(&c.name) {
            mpkg.default_channel = Some(c.name.clone());
        }
        mpkg.channels.insert(
            c.name.clone(),
            ModelChannel {
                name: c.name.clone(),
                bundles,
                deprecation: None,
            },
        );
    }

    let mut package_bundles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in &catalog.bundles {
        if b.package.is_empty() {
            return fail(format!("package name must be set for bundle {:?}", b.name));
        }
        let Some(mpkg) = packages.get_mut(&b.package) else {
            return fail(format!(
                "unknown package {:?} for bundle {:?}",
                b.package, b.name
            ));
        };
        let seen = package_bundles.entry(b.package.clone()).or_default();
        if !seen.insert(b.name.clone()) {
            return fail(format!(
                "package {:?} has duplicate bundle {:?}",
                b.package, b.name
            ));
        }
        for (i, p) in b.properties.iter().enumerate() {
            if let Err(e) = parse_property(p) {
                return fail(format!(
                    "parse properties for bundle {:?}: parse property[{i}] of type {:?}: {e}",
                    b.name, p.kind
                ));
            }
        }
        let pkg_props: Vec<&Property> = b.properties_of(PROP_PACKAGE).collect();
        if pkg_props.len() != 1 {
            return fail(format!(
                "package {:?} bundle {:?} must have exactly 1 {PROP_PACKAGE:?} property, found {}",
                b.package,
                b.name,
                pkg_props.len()
            ));
        }
        let (pkg_name, raw_version, release) = package_prop(pkg_props[0]);
        if pkg_name != b.package {
            return fail(format!(
                "package {:?} does not match {PROP_PACKAGE:?} property {pkg_name:?}",
                b.package
            ));
        }
        if !b.image.is_empty() {
            if let Err(e) = reference::validate(&b.image) {
                return fail(format!(
                    "package {:?} bundle {:?}: invalid image reference {:?}: {e}",
                    b.package, b.name, b.image
                ));
            }
        }
        for (i, r) in b.related_images.iter().enumerate() {
            if !r.image.is_empty() {
                if let Err(e) = reference::validate(&r.image) {
                    return fail(format!(
                        "package {:?} bundle {:?}: relatedImages[{i}]: invalid image reference {:?}: {e}",
                        b.package, b.name, r.image
                    ));
                }
            }
        }
        let version = match Version::parse(&raw_version) {
            Ok(v) => v,
            Err(e) => {
                return fail(format!(
                    "error parsing bundle {:?} version {raw_version:?}: {e}",
                    b.name
                ));
            }
        };
        if let Some(set) = unmatched.get_mut(&b.package) {
            set.remove(&b.name);
        }
        let mut found = false;
        for ch in mpkg.channels.values_mut() {
            if let Some(mb) = ch.bundles.get_mut(&b.name) {
                found = true;
                mb.image.clone_from(&b.image);
                mb.version = Some(version.clone());
                mb.release.clone_from(&release);
                mb.package_properties = pkg_props.len();
                mb.has_objects = b.properties_of(PROP_BUNDLE_OBJECT).next().is_some();
            }
        }
        if !found {
            return fail(format!(
                "package {:?}, bundle {:?} not found in any channel entries",
                b.package, b.name
            ));
        }
    }
    // Unlike upstream (which only remembers the last channel read per package), every
    // channel's entries are checked.
    for (pkg, names) in &unmatched {
        if !names.is_empty() {
            let list: Vec<&str> = names.iter().map(String::as_str).collect();
            return fail(format!(
                "no olm.bundle blobs found in package {pkg:?} for olm.channel entries [{}]",
                list.join(" ")
            ));
        }
    }
    for mpkg in packages.values_mut() {
        let wanted = default_channels
            .get(&mpkg.name)
            .cloned()
            .unwrap_or_default();
        if !wanted.is_empty() && mpkg.default_channel.is_none() {
            // A default channel naming no channel becomes an empty channel (it then fails C1).
            mpkg.channels.insert(
                wanted.clone(),
                ModelChannel {
                    name: wanted.clone(),
                    bundles: BTreeMap::new(),
                    deprecation: None,
                },
            );
            mpkg.default_channel = Some(wanted);
        }
    }

    let mut deprecated_packages = BTreeSet::new();
    for (i, d) in catalog.deprecations.iter().enumerate() {
        if d.package.is_empty() {
            return fail(format!("package name must be set for deprecation item {i}"));
        }
        let Some(mpkg) = packages.get_mut(&d.package) else {
            return fail(format!(
                "cannot apply deprecations to an unknown package {:?}",
                d.package
            ));
        };
        if !deprecated_packages.insert(d.package.clone()) {
            return fail(format!(
                "expected a maximum of one deprecation per package: {:?}",
                d.package
            ));
        }
        let mut refs = BTreeSet::new();
        for (j, e) in d.entries.iter().enumerate() {
            let r = &e.reference;
            let go_ref = format!(
                "declcfg.PackageScopedReference{{Schema:{:?}, Name:{:?}}}",
                r.schema, r.name
            );
            if r.schema.is_empty() {
                return fail(format!(
                    "schema must be set for deprecation entry [{j}] for package {:?}",
                    d.package
                ));
            }
            if !refs.insert((r.schema.clone(), r.name.clone())) {
                return fail(format!(
                    "duplicate deprecation entry {go_ref} for package {:?}",
                    d.package
                ));
            }
            match r.schema.as_str() {
                SCHEMA_BUNDLE => {
                    if !package_bundles
                        .get(&d.package)
                        .is_some_and(|s| s.contains(&r.name))
                    {
                        return fail(format!(
                            "cannot deprecate bundle {:?} for package {:?}: bundle not found",
                            r.name, d.package
                        ));
                    }
                    for ch in mpkg.channels.values_mut() {
                        if let Some(mb) = ch.bundles.get_mut(&r.name) {
                            mb.deprecation = Some(e.message.clone());
                        }
                    }
                }
                SCHEMA_CHANNEL => {
                    let Some(ch) = mpkg.channels.get_mut(&r.name) else {
                        return fail(format!(
                            "cannot deprecate channel {:?} for package {:?}: channel not found",
                            r.name, d.package
                        ));
                    };
                    ch.deprecation = Some(e.message.clone());
                }
                SCHEMA_PACKAGE => {
                    if !r.name.is_empty() {
                        return fail(format!(
                            "package name must be empty for deprecated package {:?} (specified {:?})",
                            d.package, r.name
                        ));
                    }
                    mpkg.deprecation = Some(e.message.clone());
                }
                _ => {
                    return fail(format!(
                        "cannot deprecate object {go_ref} referenced by entry {j} for package {:?}: object schema unknown",
                        d.package
                    ));
                }
            }
        }
    }
    Ok(Model { packages })
}

/// The channel head: the one entry no other entry names in `replaces` or `skips`.
pub fn channel_head(bundles: &BTreeMap<String, ModelBundle>) -> Result<String, String> {
    let mut incoming = BTreeSet::new();
    for b in bundles.values() {
        if !b.replaces.is_empty() {
            incoming.insert(b.replaces.as_str());
        }
        incoming.extend(b.skips.iter().map(String::as_str));
    }
    let heads: Vec<&str> = bundles
        .keys()
        .map(String::as_str)
        .filter(|n| !incoming.contains(n))
        .collect();
    match heads.as_slice() {
        [] => Err("no channel head found in graph".into()),
        [one] => Ok((*one).to_owned()),
        many => Err(format!(
            "multiple channel heads found in graph: {}",
            many.join(", ")
        )),
    }
}

fn validate_replaces_chain(ch: &ModelChannel) -> Result<(), String> {
    let head = channel_head(&ch.bundles)?;
    let skipped: BTreeSet<&str> = ch
        .bundles
        .values()
        .flat_map(|b| b.skips.iter().map(String::as_str))
        .collect();
    let mut chain = vec![head.clone()];
    let mut visited: BTreeSet<String> = BTreeSet::from([head.clone()]);
    let mut cur = &ch.bundles[&head];
    loop {
        let target = cur.replaces.as_str();
        let Some(next) = ch.bundles.get(target) else {
            break;
        };
        if skipped.contains(target) {
            break;
        }
        if visited.contains(target) {
            let start = chain.iter().position(|n| n == target).unwrap_or(0);
            let mut cycle: Vec<&str> = chain[start..].iter().map(String::as_str).collect();
            cycle.push(target);
            return Err(format!(
                "detected cycle in replaces chain of upgrade graph: {}",
                cycle.join(" -> ")
            ));
        }
        visited.insert(target.to_owned());
        chain.push(target.to_owned());
        cur = next;
    }
    let stranded: Vec<&str> = ch
        .bundles
        .keys()
        .map(String::as_str)
        .filter(|n| !visited.contains(*n) && !skipped.contains(n))
        .collect();
    if stranded.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "channel contains one or more stranded bundles: {}",
            stranded.join(", ")
        ))
    }
}

fn deprecation_tree(message: Option<&String>) -> ValidationTree {
    let mut t = ValidationTree::new("invalid deprecation");
    if message.is_some_and(String::is_empty) {
        t.leaf("message must be set");
    }
    t
}

fn validate_bundle(package: &str, b: &ModelBundle) -> ValidationTree {
    let mut t = ValidationTree::new(format!("invalid bundle {:?}", b.name));
    if b.name.is_empty() {
        t.leaf("name must be set");
    }
    for (i, s) in b.skips.iter().enumerate() {
        if s.is_empty() {
            t.leaf(format!("skip[{i}] is empty"));
        }
    }
    if !b.skip_range.is_empty() {
        if let Err(e) = Range::parse(&b.skip_range) {
            t.leaf(format!("invalid skipRange {:?}: {e}", b.skip_range));
        }
    }
    if b.package_properties != 1 {
        t.leaf(format!(
            "must be exactly one property with type {PROP_PACKAGE:?}"
        ));
    }
    if !b.release.is_empty() {
        if let Some(v) = &b.version {
            if !v.build.is_empty() {
                t.leaf("cannot use build metadata in version with a release version");
            }
            let expected = format!("{package}-v{v}-{}", b.release);
            if b.name != expected {
                t.leaf(format!(
                    "name {:?} does not match the name required with a release: {expected:?}",
                    b.name
                ));
            }
        }
    }
    if b.image.is_empty() && !b.has_objects {
        t.leaf("bundle image must be set");
    }
    t.sub(deprecation_tree(b.deprecation.as_ref()));
    t
}

/// Validates the model (rules P, C, B, D); every failure is collected.
pub fn validate_model(model: &Model) -> Result<(), ValidationTree> {
    let mut root = ValidationTree::new("invalid index");
    for p in model.packages.values() {
        let mut pt = ValidationTree::new(format!("invalid package {:?}", p.name));
        if p.default_channel.is_none() {
            pt.leaf("default channel must be set");
        }
        if p.channels.is_empty() {
            pt.leaf("package must contain at least one channel");
        }
        for ch in p.channels.values() {
            let mut ct = ValidationTree::new(format!("invalid channel {:?}", ch.name));
            if ch.bundles.is_empty() {
                ct.leaf("channel must contain at least one bundle");
            } else if let Err(e) = validate_replaces_chain(ch) {
                ct.leaf(e);
            }
            for b in ch.bundles.values() {
                ct.sub(validate_bundle(&p.name, b));
            }
            ct.sub(deprecation_tree(ch.deprecation.as_ref()));
            pt.sub(ct);
        }
        if let Some(e) = duplicate_versions(p) {
            pt.leaf(e);
        }
        pt.sub(deprecation_tree(p.deprecation.as_ref()));
        root.sub(pt);
    }
    if root.children.is_empty() {
        Ok(())
    } else {
        Err(root)
    }
}

fn duplicate_versions(p: &ModelPackage) -> Option<String> {
    let mut by_version: BTreeMap<String, (Version, BTreeSet<String>)> = BTreeMap::new();
    for ch in p.channels.values() {
        for b in ch.bundles.values() {
            let Some(v) = &b.version else { continue };
            let key = if b.release.is_empty() {
                v.to_string()
            } else {
                format!("{v}-{}", b.release)
            };
            by_version
                .entry(key)
                .or_insert_with(|| (v.clone(), BTreeSet::new()))
                .1
                .insert(b.name.clone());
        }
    }
    let mut dups: Vec<(&String, &(Version, BTreeSet<String>))> = by_version
        .iter()
        .filter(|(_, (_, n))| n.len() > 1)
        .collect();
    if dups.is_empty() {
        return None;
    }
    dups.sort_by(|a, b| a.1.0.compare(&b.1.0).then_with(|| a.0.cmp(b.0)));
    let items: Vec<String> = dups
        .iter()
        .map(|(k, (_, names))| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            format!("{{{k}: [{}]}}", names.join(", "))
        })
        .collect();
    Some(format!(
        "duplicate versions found in bundles: [{}]",
        items.join(" ")
    ))
}

/// Full `opm validate`: build the model, then validate it.
pub fn validate(catalog: &Catalog) -> Result<Model, CatalogError> {
    let model = build_model(catalog)?;
    validate_model(&model).map_err(CatalogError::Invalid)?;
    Ok(model)
}
