//! `olm.csv.metadata` (spec §5): the CSV passed through upstream's Go types, so unknown fields
//! vanish, keys match case-insensitively at every level, and key order and `omitempty` follow
//! the struct definitions.

use base64::Engine as _;

use crate::json::{Object, Value};
use crate::model::{ChannelEntry, Icon};

/// How a Go field is typed.
#[derive(Clone, Copy)]
enum Shape {
    Str,
    Bool,
    Int32,
    /// `json.RawMessage`: any JSON, kept.
    Raw,
    /// `map[string]string`.
    StrMap,
    /// `[]string`.
    StrList,
    List(&'static [Field]),
    Struct(&'static [Field]),
}

/// A struct field: JSON key, type, whether `omitempty` drops it when empty.
#[derive(Clone, Copy)]
struct Field(&'static str, Shape, bool);

const RESOURCE: &[Field] = &[
    Field("name", Shape::Str, false),
    Field("kind", Shape::Str, false),
    Field("version", Shape::Str, false),
];

const DESCRIPTOR: &[Field] = &[
    Field("path", Shape::Str, false),
    Field("displayName", Shape::Str, true),
    Field("description", Shape::Str, true),
    Field("x-descriptors", Shape::StrList, true),
    Field("value", Shape::Raw, true),
];

const CRD_DESCRIPTION: &[Field] = &[
    Field("name", Shape::Str, false),
    Field("version", Shape::Str, false),
    Field("kind", Shape::Str, false),
    Field("displayName", Shape::Str, true),
    Field("description", Shape::Str, true),
    Field("resources", Shape::List(RESOURCE), true),
    Field("statusDescriptors", Shape::List(DESCRIPTOR), true),
    Field("specDescriptors", Shape::List(DESCRIPTOR), true),
    Field("actionDescriptors", Shape::List(DESCRIPTOR), true),
];

const API_SERVICE_DESCRIPTION: &[Field] = &[
    Field("name", Shape::Str, false),
    Field("group", Shape::Str, false),
    Field("version", Shape::Str, false),
    Field("kind", Shape::Str, false),
    Field("deploymentName", Shape::Str, true),
    Field("containerPort", Shape::Int32, true),
    Field("displayName", Shape::Str, true),
    Field("description", Shape::Str, true),
    Field("resources", Shape::List(RESOURCE), true),
    Field("statusDescriptors", Shape::List(DESCRIPTOR), true),
    Field("specDescriptors", Shape::List(DESCRIPTOR), true),
    Field("actionDescriptors", Shape::List(DESCRIPTOR), true),
];

const CRDS: &[Field] = &[
    Field("owned", Shape::List(CRD_DESCRIPTION), true),
    Field("required", Shape::List(CRD_DESCRIPTION), true),
];

const API_SERVICES: &[Field] = &[
    Field("owned", Shape::List(API_SERVICE_DESCRIPTION), true),
    Field("required", Shape::List(API_SERVICE_DESCRIPTION), true),
];

const INSTALL_MODE: &[Field] = &[
    Field("type", Shape::Str, false),
    Field("supported", Shape::Bool, false),
];

const APP_LINK: &[Field] = &[
    Field("name", Shape::Str, true),
    Field("url", Shape::Str, true),
];

const MAINTAINER: &[Field] = &[
    Field("name", Shape::Str, true),
    Field("email", Shape::Str, true),
];

const GVK: &[Field] = &[
    Field("group", Shape::Str, false),
    Field("version", Shape::Str, false),
    Field("kind", Shape::Str, false),
];

fn mismatch(found: &Value, path: &str, want: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {path} of type {want}",
        found.kind()
    )
}

/// Projects `v` onto `shape`; `None` means "empty" for omitempty purposes is decided by caller.
fn project(v: Option<&Value>, shape: Shape, path: &str) -> Result<Value, String> {
    let v = v.filter(|v| !matches!(v, Value::Null));
    match shape {
        Shape::Str => match v {
            None => Ok(Value::str("")),
            Some(Value::String(s)) => Ok(Value::str(s)),
            Some(other) => Err(mismatch(other, path, "string")),
        },
        Shape::Bool => match v {
            None => Ok(Value::Bool(false)),
            Some(Value::Bool(b)) => Ok(Value::Bool(*b)),
            Some(other) => Err(mismatch(other, path, "bool")),
        },
        Shape::Int32 => match v {
            None => Ok(Value::Number("0".into())),
            Some(Value::Number(n)) => match n.parse::<i32>() {
                Ok(i) => Ok(Value::Number(i.to_string())),
                Err(_) => Err(format!(
                    "json: cannot unmarshal number {n} into Go struct field {path} of type int32"
                )),
            },
            Some(other) => Err(mismatch(other, path, "int32")),
        },
        // Absent stays absent (omitempty on a nil RawMessage); explicit null is kept.
        Shape::Raw => Ok(v.cloned().unwrap_or(Value::Null)),
        Shape::StrMap => match v {
            None => Ok(Value::Object(Object::new())),
            Some(Value::Object(o)) => {
                let mut out: Vec<(String, Value)> = Vec::new();
                for (k, item) in o.iter() {
                    match item {
                        Value::String(s) => out.push((k.to_owned(), Value::str(s))),
                        Value::Null => out.push((k.to_owned(), Value::str(""))),
                        other => return Err(mismatch(other, &format!("{path}.{k}"), "string")),
                    }
                }
                // Go writes maps with sorted keys; later duplicates win.
                out.sort_by(|a, b| a.0.cmp(&b.0));
                out.dedup_by(|later, earlier| {
                    if later.0 == earlier.0 {
                        earlier.1 = later.1.clone();
                        true
                    } else {
                        false
                    }
                });
                Ok(Value::Object(out.into_iter().collect()))
            }
            Some(other) => Err(mismatch(other, path, "map[string]string")),
        },
        Shape::StrList => match v {
            None => Ok(Value::Array(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(Value::str(s)),
                    Value::Null => Ok(Value::str("")),
                    other => Err(mismatch(other, path, "string")),
                })
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Some(other) => Err(mismatch(other, path, "[]string")),
        },
        Shape::List(fields) => match v {
            None => Ok(Value::Array(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| project(Some(i), Shape::Struct(fields), path))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Some(other) => Err(mismatch(other, path, "[]struct")),
        },
        Shape::Struct(fields) => {
            let src = match v {
                None => None,
                Some(Value::Object(o)) => Some(o),
                Some(other) => return Err(mismatch(other, path, "struct")),
            };
            let mut out = Object::new();
            for Field(key, shape, omit) in fields {
                let raw = src.and_then(|o| o.get_ci(key));
                if matches!(shape, Shape::Raw) && raw.is_none() {
                    continue;
                }
                let value = project(raw, *shape, &format!("{path}.{key}"))?;
                if *omit && value.is_empty_go() && !matches!(shape, Shape::Raw) {
                    continue;
                }
                out.push(*key, value);
            }
            Ok(Value::Object(out))
        }
    }
}

/// Where a key of `olm.csv.metadata` comes from: (output key, `metadata`/`spec`, source key,
/// type, written even when empty). Already in upstream's (alphabetical) output order.
const CSV_METADATA: &[(&str, &str, &str, Shape, bool)] = &[
    (
        "annotations",
        "metadata",
        "annotations",
        Shape::StrMap,
        false,
    ),
    (
        "apiServiceDefinitions",
        "spec",
        "apiservicedefinitions",
        Shape::Struct(API_SERVICES),
        true,
    ),
    (
        "crdDescriptions",
        "spec",
        "customresourcedefinitions",
        Shape::Struct(CRDS),
        true,
    ),
    ("description", "spec", "description", Shape::Str, false),
    ("displayName", "spec", "displayName", Shape::Str, false),
    (
        "installModes",
        "spec",
        "installModes",
        Shape::List(INSTALL_MODE),
        false,
    ),
    ("keywords", "spec", "keywords", Shape::StrList, false),
    ("labels", "metadata", "labels", Shape::StrMap, false),
    ("links", "spec", "links", Shape::List(APP_LINK), false),
    (
        "maintainers",
        "spec",
        "maintainers",
        Shape::List(MAINTAINER),
        false,
    ),
    ("maturity", "spec", "maturity", Shape::Str, false),
    (
        "minKubeVersion",
        "spec",
        "minKubeVersion",
        Shape::Str,
        false,
    ),
    ("nativeAPIs", "spec", "nativeAPIs", Shape::List(GVK), false),
    (
        "provider",
        "spec",
        "provider",
        Shape::Struct(APP_LINK),
        true,
    ),
];

/// Builds the `olm.csv.metadata` value of a CSV (as JSON, keys as upstream writes them).
pub fn csv_metadata(csv: &Value) -> Result<Value, String> {
    let mut out = Object::new();
    for (key, section, source, shape, always) in CSV_METADATA {
        let raw = csv.get_ci(section).and_then(|s| s.get_ci(source));
        let v = project(
            raw,
            *shape,
            &format!("ClusterServiceVersion.{section}.{source}"),
        )?;
        if *always || !v.is_empty_go() {
            out.push(*key, v);
        }
    }
    Ok(Value::Object(out))
}

/// The channel entry a CSV describes: its name, `spec.replaces`, `spec.skips` and the
/// `olm.skipRange` annotation, verbatim.
pub fn channel_entry(csv: &Value) -> ChannelEntry {
    ChannelEntry {
        name: csv.str_at(&["metadata", "name"]).to_owned(),
        replaces: csv.str_at(&["spec", "replaces"]).to_owned(),
        skips: csv
            .get_ci("spec")
            .and_then(|s| s.get_ci("skips"))
            .and_then(Value::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        skip_range: csv
            .get_ci("metadata")
            .and_then(|m| m.get_ci("annotations"))
            .and_then(|a| a.get("olm.skipRange"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    }
}

/// The CSV's first `spec.icon`, decoded (base64 with embedded whitespace tolerated) so that it
/// is written back canonically.
pub fn first_icon(csv: &Value) -> Result<Option<Icon>, String> {
    let Some(icon) = csv
        .get_ci("spec")
        .and_then(|s| s.get_ci("icon"))
        .and_then(Value::as_array)
        .and_then(|i| i.first())
    else {
        return Ok(None);
    };
    let data: String = icon
        .str_at(&["base64data"])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(data.trim_end_matches('=').as_bytes())
        })
        .map_err(|e| format!("the CSV icon is not base64: {e}"))?;
    Ok(Some(Icon {
        data: Some(bytes),
        media_type: icon.str_at(&["mediatype"]).to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse, to_compact};

    #[test]
    fn projection_drops_unknown_fields_and_matches_keys_case_insensitively() {
        let csv = parse(
            r#"{"metadata":{"annotations":{"b":"2","a":"1"},"name":"x"},
                "spec":{"customResourceDefinitions":{"owned":[{"name":"n","Kind":"K","extra":1,
                  "resources":[{"Kind":"Job"}],
                  "specDescriptors":[{"path":"p","value":{"z":1,"a":null}},{"path":"q","value":null}]}]},
                "installModes":[{"type":"AllNamespaces","supported":true},{"type":"OwnNamespace"}],
                "provider":{},"unknown":true,"apiservicedefinitions":{"owned":[{"name":"s","containerPort":8443}]}}}"#,
            32,
        )
        .unwrap();
        assert_eq!(
            to_compact(&csv_metadata(&csv).unwrap()),
            concat!(
                r#"{"annotations":{"a":"1","b":"2"},"#,
                r#""apiServiceDefinitions":{"owned":[{"name":"s","group":"","version":"","kind":"","containerPort":8443}]},"#,
                r#""crdDescriptions":{"owned":[{"name":"n","version":"","kind":"K","resources":[{"name":"","kind":"Job","version":""}],"#,
                r#""specDescriptors":[{"path":"p","value":{"z":1,"a":null}},{"path":"q","value":null}]}]},"#,
                r#""installModes":[{"type":"AllNamespaces","supported":true},{"type":"OwnNamespace","supported":false}],"#,
                r#""provider":{}}"#
            )
        );
    }

    #[test]
    fn type_mismatches_fail_like_go() {
        let csv = parse(r#"{"spec":{"keywords":"a,b"}}"#, 8).unwrap();
        assert_eq!(
            csv_metadata(&csv).unwrap_err(),
            "json: cannot unmarshal string into Go struct field ClusterServiceVersion.spec.keywords of type []string"
        );
        let csv = parse(r#"{"metadata":{"annotations":{"k":1}}}"#, 8).unwrap();
        assert!(
            csv_metadata(&csv)
                .unwrap_err()
                .contains("metadata.annotations.k of type string")
        );
    }
}
