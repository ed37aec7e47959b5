//! The FBC schemas (`olm.package`, `olm.channel`, `olm.bundle`, `olm.deprecations`, others),
//! decoded the way Go's `encoding/json` fills upstream's structs (field names matched
//! case-insensitively, unknown fields dropped, type mismatches reported) and encoded in upstream's
//! field order with its `omitempty` rules.

use base64::Engine as _;

use crate::json::{Object, Value};

/// Schema name of packages.
pub const SCHEMA_PACKAGE: &str = "olm.package";
/// Schema name of channels.
pub const SCHEMA_CHANNEL: &str = "olm.channel";
/// Schema name of bundles.
pub const SCHEMA_BUNDLE: &str = "olm.bundle";
/// Schema name of deprecations.
pub const SCHEMA_DEPRECATIONS: &str = "olm.deprecations";

/// Property type of the package name and version of a bundle.
pub const PROP_PACKAGE: &str = "olm.package";
/// Property type of a provided API.
pub const PROP_GVK: &str = "olm.gvk";
/// Property type of a required API.
pub const PROP_GVK_REQUIRED: &str = "olm.gvk.required";
/// Property type of a required package.
pub const PROP_PACKAGE_REQUIRED: &str = "olm.package.required";
/// Property type of a base64-encoded manifest.
pub const PROP_BUNDLE_OBJECT: &str = "olm.bundle.object";
/// Property type of the CSV summary.
pub const PROP_CSV_METADATA: &str = "olm.csv.metadata";
/// Property type that marks a deprecated bundle (package-manifest era).
pub const PROP_DEPRECATED: &str = "olm.deprecated";

/// A typed `{type, value}` property; the value is kept as JSON, in its original key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The property type, e.g. `olm.gvk`.
    pub kind: String,
    /// The value.
    pub value: Value,
}

impl Property {
    /// A property.
    pub fn new(kind: impl Into<String>, value: Value) -> Self {
        Self {
            kind: kind.into(),
            value,
        }
    }

    fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("type", Value::str(&self.kind));
        o.push("value", self.value.clone());
        Value::Object(o)
    }
}

/// A package icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    /// The decoded image bytes (`None`: JSON `null`).
    pub data: Option<Vec<u8>>,
    /// The media type, e.g. `image/svg+xml`.
    pub media_type: String,
}

/// An `olm.package` blob.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    /// DNS-1123 label.
    pub name: String,
    /// The default channel (always written).
    pub default_channel: String,
    /// Optional icon.
    pub icon: Option<Icon>,
    /// Long description.
    pub description: String,
    /// Package-level properties.
    pub properties: Vec<Property>,
}

/// One node of a channel's upgrade graph.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelEntry {
    /// Bundle name.
    pub name: String,
    /// The bundle this one directly upgrades from.
    pub replaces: String,
    /// Bundles this one may upgrade from directly.
    pub skips: Vec<String>,
    /// A blang semver range of versions this one may upgrade from.
    pub skip_range: String,
}

/// An `olm.channel` blob.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Channel {
    /// Channel name.
    pub name: String,
    /// Owning package.
    pub package: String,
    /// Upgrade-graph entries.
    pub entries: Vec<ChannelEntry>,
    /// Round-tripped, never generated.
    pub properties: Vec<Property>,
}

/// One related image of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelatedImage {
    /// Name (may be empty).
    pub name: String,
    /// Pull spec.
    pub image: String,
}

/// An `olm.bundle` blob.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bundle {
    /// CSV `metadata.name`.
    pub name: String,
    /// Package name.
    pub package: String,
    /// Bundle image pull spec (may be empty).
    pub image: String,
    /// Properties, in order.
    pub properties: Vec<Property>,
    /// Related images.
    pub related_images: Vec<RelatedImage>,
}

impl Bundle {
    /// Properties of type `kind`.
    pub fn properties_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Property> {
        self.properties.iter().filter(move |p| p.kind == kind)
    }

    /// `olm.package` `version`, when exactly one such property with a string version exists.
    pub fn version(&self) -> Option<&str> {
        let mut it = self.properties_of(PROP_PACKAGE);
        let first = it.next()?;
        if it.next().is_some() {
            return None;
        }
        first.value.get_ci("version").and_then(Value::as_str)
    }
}

/// What a deprecation entry points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PackageScopedReference {
    /// `olm.package`, `olm.channel` or `olm.bundle`.
    pub schema: String,
    /// Channel or bundle name; empty for the package.
    pub name: String,
}

/// One deprecation entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeprecationEntry {
    /// What is deprecated.
    pub reference: PackageScopedReference,
    /// Why (must be non-empty).
    pub message: String,
}

/// An `olm.deprecations` blob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deprecation {
    /// The package.
    pub package: String,
    /// Entries.
    pub entries: Vec<DeprecationEntry>,
}

/// A blob with another schema, kept verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Its schema.
    pub schema: String,
    /// Its package (case-insensitive `package` field), possibly empty.
    pub package: String,
    /// Its name (case-insensitive `name` field), possibly empty.
    pub name: String,
    /// The whole blob.
    pub blob: Value,
}

/// A whole catalog (upstream's `DeclarativeConfig`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// Packages.
    pub packages: Vec<Package>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Bundles.
    pub bundles: Vec<Bundle>,
    /// Deprecations.
    pub deprecations: Vec<Deprecation>,
    /// Blobs of other schemas.
    pub others: Vec<Meta>,
}

impl Catalog {
    /// Appends every blob of `other`.
    pub fn merge(&mut self, other: Catalog) {
        self.packages.extend(other.packages);
        self.channels.extend(other.channels);
        self.bundles.extend(other.bundles);
        self.deprecations.extend(other.deprecations);
        self.others.extend(other.others);
    }

    /// Whether the catalog holds no blob at all.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.channels.is_empty()
            && self.bundles.is_empty()
            && self.deprecations.is_empty()
            && self.others.is_empty()
    }

    /// Names of every package that has any blob, sorted.
    pub fn package_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .packages
            .iter()
            .map(|p| p.name.clone())
            .chain(self.channels.iter().map(|c| c.package.clone()))
            .chain(self.bundles.iter().map(|b| b.package.clone()))
            .chain(self.deprecations.iter().map(|d| d.package.clone()))
            .chain(self.others.iter().map(|m| m.package.clone()))
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The blobs of one package (package, channels, bundles, deprecations, others).
    #[must_use]
    pub fn only_package(&self, package: &str) -> Catalog {
        Catalog {
            packages: self
                .packages
                .iter()
                .filter(|p| p.name == package)
                .cloned()
                .collect(),
            channels: self
                .channels
                .iter()
                .filter(|c| c.package == package)
                .cloned()
                .collect(),
            bundles: self
                .bundles
                .iter()
                .filter(|b| b.package == package)
                .cloned()
                .collect(),
            deprecations: self
                .deprecations
                .iter()
                .filter(|d| d.package == package)
                .cloned()
                .collect(),
            others: self
                .others
                .iter()
                .filter(|m| m.package == package)
                .cloned()
                .collect(),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Encoding (upstream field order and omitempty)

fn props_value(props: &[Property]) -> Value {
    Value::Array(props.iter().map(Property::to_value).collect())
}

impl Package {
    /// The blob as JSON, in upstream's field order.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("schema", Value::str(SCHEMA_PACKAGE));
        o.push("name", Value::str(&self.name));
        o.push("defaultChannel", Value::str(&self.default_channel));
        if let Some(icon) = &self.icon {
            let mut i = Object::new();
            i.push(
                "base64data",
                icon.data.as_ref().map_or(Value::Null, |d| {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(d))
                }),
            );
            i.push("mediatype", Value::str(&icon.media_type));
            o.push("icon", Value::Object(i));
        }
        if !self.description.is_empty() {
            o.push("description", Value::str(&self.description));
        }
        if !self.properties.is_empty() {
            o.push("properties", props_value(&self.properties));
        }
        Value::Object(o)
    }
}

impl ChannelEntry {
    /// The entry as JSON.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("name", Value::str(&self.name));
        if !self.replaces.is_empty() {
            o.push("replaces", Value::str(&self.replaces));
        }
        if !self.skips.is_empty() {
            o.push(
                "skips",
                Value::Array(self.skips.iter().map(Value::str).collect()),
            );
        }
        if !self.skip_range.is_empty() {
            o.push("skipRange", Value::str(&self.skip_range));
        }
        Value::Object(o)
    }
}

impl Channel {
    /// The blob as JSON.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("schema", Value::str(SCHEMA_CHANNEL));
        o.push("name", Value::str(&self.name));
        o.push("package", Value::str(&self.package));
        o.push(
            "entries",
            Value::Array(self.entries.iter().map(ChannelEntry::to_value).collect()),
        );
        if !self.properties.is_empty() {
            o.push("properties", props_value(&self.properties));
        }
        Value::Object(o)
    }
}

impl Bundle {
    /// The blob as JSON.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("schema", Value::str(SCHEMA_BUNDLE));
        if !self.name.is_empty() {
            o.push("name", Value::str(&self.name));
        }
        o.push("package", Value::str(&self.package));
        o.push("image", Value::str(&self.image));
        o.push("properties", props_value(&self.properties));
        if !self.related_images.is_empty() {
            o.push(
                "relatedImages",
                Value::Array(
                    self.related_images
                        .iter()
                        .map(|r| {
                            let mut ri = Object::new();
                            ri.push("name", Value::str(&r.name));
                            ri.push("image", Value::str(&r.image));
                            Value::Object(ri)
                        })
                        .collect(),
                ),
            );
        }
        Value::Object(o)
    }
}

impl Deprecation {
    /// The blob as JSON.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.push("schema", Value::str(SCHEMA_DEPRECATIONS));
        o.push("package", Value::str(&self.package));
        o.push(
            "entries",
            Value::Array(
                self.entries
                    .iter()
                    .map(|e| {
                        let mut r = Object::new();
                        r.push("schema", Value::str(&e.reference.schema));
                        if !e.reference.name.is_empty() {
                            r.push("name", Value::str(&e.reference.name));
                        }
                        let mut eo = Object::new();
                        eo.push("reference", Value::Object(r));
                        eo.push("message", Value::str(&e.message));
                        Value::Object(eo)
                    })
                    .collect(),
            ),
        );
        Value::Object(o)
    }
}

// ------------------------------------------------------------------------------------------------
// Decoding (Go encoding/json semantics)

/// Decodes fields of one Go struct, producing Go-style type errors.
pub(crate) struct Fields<'a> {
    obj: Option<&'a Object>,
    path: String,
}

/// Go's message for a JSON value of the wrong type.
pub(crate) fn type_error(found: &Value, path: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {path} of type {go_type}",
        found.kind()
    )
}

impl<'a> Fields<'a> {
    /// Fields of `v`, which must be an object (or null, which leaves every field empty).
    pub(crate) fn of(v: &'a Value, go_type: &str) -> Result<Self, String> {
        match v {
            // Go names the struct without its package in field paths.
            Value::Object(o) => Ok(Self {
                obj: Some(o),
                path: go_type.rsplit('.').next().unwrap_or(go_type).to_owned(),
            }),
            Value::Null => Ok(Self {
                obj: None,
                path: go_type.rsplit('.').next().unwrap_or(go_type).to_owned(),
            }),
            other => Err(format!(
                "json: cannot unmarshal {} into Go value of type {go_type}",
                other.kind()
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj
            .and_then(|o| o.get_ci(key))
            .filter(|v| !matches!(v, Value::Null))
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub(crate) fn string(&self, key: &str) -> Result<String, String> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(type_error(other, &self.path(key), "string")),
        }
    }

    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    Value::Null => Ok(String::new()),
                    other => Err(type_error(other, &self.path(key), "string")),
                })
                .collect(),
            Some(other) => Err(type_error(other, &self.path(key), "[]string")),
        }
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.and_then(|o| o.get_ci(key))
    }

    pub(crate) fn list<T>(
        &self,
        key: &str,
        go_type: &str,
        each: impl Fn(Fields<'a>) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::Object(o) => each(Fields {
                        obj: Some(o),
                        path: self.path(key),
                    }),
                    Value::Null => each(Fields {
                        obj: None,
                        path: self.path(key),
                    }),
                    other => Err(type_error(other, &self.path(key), go_type)),
                })
                .collect(),
            Some(other) => Err(type_error(other, &self.path(key), &format!("[]{go_type}"))),
        }
    }

    pub(crate) fn object(&self, key: &str, go_type: &str) -> Result<Option<Fields<'a>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Fields {
                obj: Some(o),
                path: self.path(key),
            })),
            Some(other) => Err(type_error(other, &self.path(key), go_type)),
        }
    }
}

fn properties(f: &Fields<'_>) -> Result<Vec<Property>, String> {
    match f.get("properties") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(decode_property).collect(),
        Some(other) => Err(type_error(
            other,
            &f.path("properties"),
            "[]property.Property",
        )),
    }
}

/// upstream's `Property.UnmarshalJSON`: `type` and `value` are required.
pub(crate) fn decode_property(v: &Value) -> Result<Property, String> {
    let f = Fields::of(v, "property.property")?;
    let kind = f.string("type")?;
    if kind.is_empty() {
        return Err("type must be set".into());
    }
    let Some(value) = f.raw("value") else {
        return Err("value must be set".into());
    };
    Ok(Property {
        kind,
        value: value.clone(),
    })
}

impl Package {
    /// Decodes an `olm.package` blob.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let f = Fields::of(v, "declcfg.Package")?;
        let icon = match f.object("icon", "declcfg.Icon")? {
            None => None,
            Some(i) => {
                let data = match i.get("base64data") {
                    None => None,
                    Some(Value::String(s)) => {
                        let cleaned: String =
                            s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
                        Some(
                            base64::engine::general_purpose::STANDARD
                                .decode(cleaned.as_bytes())
                                .map_err(|e| format!("illegal base64 data: {e}"))?,
                        )
                    }
                    Some(other) => {
                        return Err(type_error(other, "Package.icon.base64data", "[]uint8"));
                    }
                };
                Some(Icon {
                    data,
                    media_type: i.string("mediatype")?,
                })
            }
        };
        Ok(Self {
            name: f.string("name")?,
            default_channel: f.string("defaultChannel")?,
            icon,
            description: f.string("description")?,
            properties: properties(&f)?,
        })
    }
}

impl Channel {
    /// Decodes an `olm.channel` blob.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let f = Fields::of(v, "declcfg.Channel")?;
        Ok(Self {
            name: f.string("name")?,
            package: f.string("package")?,
            entries: f.list("entries", "declcfg.ChannelEntry", |e| {
                Ok(ChannelEntry {
                    name: e.string("name")?,
                    replaces: e.string("replaces")?,
                    skips: e.strings("skips")?,
                    skip_range: e.string("skipRange")?,
                })
            })?,
            properties: properties(&f)?,
        })
    }
}

impl Bundle {
    /// Decodes an `olm.bundle` blob.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let f = Fields::of(v, "declcfg.Bundle")?;
        Ok(Self {
            name: f.string("name")?,
            package: f.string("package")?,
            image: f.string("image")?,
            properties: properties(&f)?,
            related_images: f.list("relatedImages", "declcfg.RelatedImage", |r| {
                Ok(RelatedImage {
                    name: r.string("name")?,
                    image: r.string("image")?,
                })
            })?,
        })
    }
}

impl Deprecation {
    /// Decodes an `olm.deprecations` blob.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let f = Fields::of(v, "declcfg.Deprecation")?;
        Ok(Self {
            package: f.string("package")?,
            entries: f.list("entries", "declcfg.DeprecationEntry", |e| {
                let reference = match e.object("reference", "declcfg.PackageScopedReference")? {
                    Some(r) => PackageScopedReference {
                        schema: r.string("schema")?,
                        name: r.string("name")?,
                    },
                    None => PackageScopedReference::default(),
                };
                Ok(DeprecationEntry {
                    reference,
                    message: e.string("message")?,
                })
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse, to_compact};

    #[test]
    fn decode_is_case_insensitive_and_drops_unknown_fields() {
        let v = parse(
            r#"{"Schema":"olm.bundle","Name":"b","package":"p","IMAGE":"i","extra":1,"properties":[{"Type":"olm.package","Value":{"packageName":"p","version":"1.0.0"}}]}"#,
            16,
        )
        .unwrap();
        let b = Bundle::from_value(&v).unwrap();
        assert_eq!((b.name.as_str(), b.image.as_str()), ("b", "i"));
        assert_eq!(b.version(), Some("1.0.0"));
        assert_eq!(
            to_compact(&b.to_value()),
            r#"{"schema":"olm.bundle","name":"b","package":"p","image":"i","properties":[{"type":"olm.package","value":{"packageName":"p","version":"1.0.0"}}]}"#
        );
    }

    #[test]
    fn type_errors_read_like_go() {
        let v = parse(r#"{"name":"c","entries":[{"name":1}]}"#, 16).unwrap();
        assert_eq!(
            Channel::from_value(&v).unwrap_err(),
            "json: cannot unmarshal number into Go struct field Channel.entries.name of type string"
        );
        let v = parse(r#"{"properties":[{"value":1}]}"#, 16).unwrap();
        assert_eq!(Bundle::from_value(&v).unwrap_err(), "type must be set");
        let v = parse(r#"{"properties":[{"type":"x"}]}"#, 16).unwrap();
        assert_eq!(Bundle::from_value(&v).unwrap_err(), "value must be set");
    }

    #[test]
    fn package_icon_is_base64_round_tripped() {
        let v = parse(
            r#"{"name":"p","icon":{"base64data":"PHN2\nZz4=","mediatype":"image/svg+xml"}}"#,
            16,
        )
        .unwrap();
        let p = Package::from_value(&v).unwrap();
        assert_eq!(
            p.icon.as_ref().unwrap().data.as_deref(),
            Some(&b"<svg>"[..])
        );
        assert_eq!(
            to_compact(&p.to_value()),
            r#"{"schema":"olm.package","name":"p","defaultChannel":"","icon":{"base64data":"PHN2Zz4=","mediatype":"image/svg+xml"}}"#
        );
        let bad = parse(r#"{"icon":{"base64data":"***"}}"#, 16).unwrap();
        assert!(Package::from_value(&bad).unwrap_err().contains("base64"));
    }
}
