//! Multi-document YAML to JSON with the scalar rules `oc`/`kubectl` use.
//!
//! `oc` converts YAML with go-yaml v2, which resolves plain scalars by **YAML 1.1**: `yes`, `on`,
//! `Y` are booleans, `0755` is octal, `1e3` is a float. A YAML 1.2 reading would send `"yes"` where
//! `oc` sends `true`, so this loader resolves plain scalars itself from `saphyr-parser`'s event
//! stream, with hard budgets (bytes, depth, nodes including alias expansion).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

use crate::limits::YamlLimits;

/// One parsed document with the warnings its scalars raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The document as JSON (`None` for an empty or comment-only document).
    pub value: Option<Value>,
    /// 1-based line where the document starts.
    pub line: usize,
    /// Unquoted scalars that YAML 1.1 reads as booleans (`yes`, `on`, `n`, …), with their line.
    pub ambiguous_scalars: Vec<(usize, String)>,
}

/// Why a YAML text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// The text is not YAML.
    #[error("invalid YAML at line {line}, column {col}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 0-based column.
        col: usize,
        /// What the parser said.
        message: String,
    },
    /// A tag the loader does not accept (only the core `!!str`, `!!int`, … tags are).
    #[error("unsupported YAML tag {0}")]
    UnsupportedTag(String),
    /// An alias to an anchor that was never defined.
    #[error("alias to an unknown anchor")]
    UnknownAnchor,
    /// A value JSON cannot carry (`.inf`, `.nan`, an integer out of range).
    #[error("line {line}: {value:?} has no JSON form")]
    NotJson {
        /// 1-based line.
        line: usize,
        /// The scalar.
        value: String,
    },
    /// The text is larger than [`YamlLimits::max_bytes`].
    #[error("YAML text is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than [`YamlLimits::max_depth`].
    #[error("YAML nesting is deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More nodes (after alias expansion) than the limits allow.
    #[error("YAML expands to more than {max} nodes (alias bomb?)")]
    TooManyNodes {
        /// The limit.
        max: usize,
    },
}

enum Frame {
    Seq(Vec<Value>, usize, usize),
    Map(Map<String, Value>, Option<String>, usize, usize),
}

struct Loader<'a> {
    limits: &'a YamlLimits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    alias_nodes: usize,
    root: Option<Value>,
    line: usize,
    ambiguous: Vec<(usize, String)>,
}

impl Loader<'_> {
    fn count(&mut self, n: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn push(&mut self, value: Value, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq(items, ..)) => items.push(value),
            Some(Frame::Map(map, pending, ..)) => match pending.take() {
                None => *pending = Some(key_string(&value)),
                Some(key) => {
                    if key == "<<" && merge(map, &value) {
                        return;
                    }
                    map.insert(key, value);
                }
            },
        }
    }

    fn event(&mut self, event: Event<'_>, line: usize) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1)?;
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let value = resolve(&text, style, tag.as_deref(), line)?;
                if style == ScalarStyle::Plain && tag.is_none() && is_yaml11_bool(&text) {
                    let lower = text.to_ascii_lowercase();
                    if lower != "true" && lower != "false" {
                        self.ambiguous.push((line, text.to_string()));
                    }
                }
                self.push(value, anchor, 1);
            }
            Event::Alias(id) => {
                let (value, size) = self.anchors.get(&id).ok_or(YamlError::UnknownAnchor)?;
                let size = *size;
                // Budget first: cloning is what an alias bomb multiplies.
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(YamlError::TooManyNodes {
                        max: self.limits.max_alias_nodes,
                    });
                }
                let value = value.clone();
                self.count(size)?;
                self.push(value, 0, size);
            }
            Event::SequenceStart(anchor, tag) => {
                check_tag(tag.map(|t| format!("{}{}", t.handle, t.suffix)), "seq")?;
                self.enter()?;
                self.stack.push(Frame::Seq(Vec::new(), anchor, self.nodes));
            }
            Event::MappingStart(anchor, tag) => {
                check_tag(tag.map(|t| format!("{}{}", t.handle, t.suffix)), "map")?;
                self.enter()?;
                self.stack
                    .push(Frame::Map(Map::new(), None, anchor, self.nodes));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, start) = match self.stack.pop() {
                    Some(Frame::Seq(items, anchor, start)) => (Value::Array(items), anchor, start),
                    Some(Frame::Map(map, _, anchor, start)) => (Value::Object(map), anchor, start),
                    None => return Ok(()),
                };
                let size = self.nodes - start;
                self.push(value, anchor, size);
            }
            _ => {}
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), YamlError> {
        self.count(1)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(YamlError::TooDeep {
                max: self.limits.max_depth,
            });
        }
        Ok(())
    }
}

/// Merge keys (`<<: *base`), which go-yaml v2 supports: keys already present win.
fn merge(map: &mut Map<String, Value>, value: &Value) -> bool {
    let sources: Vec<&Map<String, Value>> = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) if items.iter().all(Value::is_object) => {
            items.iter().filter_map(Value::as_object).collect()
        }
        _ => return false,
    };
    for source in sources {
        for (k, v) in source {
            if !map.contains_key(k) {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    true
}

/// JSON keys are strings; like sigs.k8s.io/yaml, a non-string key is written in its JSON form.
fn key_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_tag(tag: Option<String>, kind: &str) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if t == format!("!!{kind}") || t == format!("tag:yaml.org,2002:{kind}") => Ok(()),
        Some(t) => Err(YamlError::UnsupportedTag(t)),
    }
}

fn is_yaml11_bool(s: &str) -> bool {
    yaml11_bool(s).is_some()
}

fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            Some(false)
        }
        _ => None,
    }
}

fn resolve(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    line: usize,
) -> Result<Value, YamlError> {
    let tag = tag.map(|t| {
        t.trim_start_matches("tag:yaml.org,2002:")
            .trim_start_matches("!!")
    });
    match (style, tag) {
        (_, Some("str")) => Ok(Value::String(text.to_owned())),
        (_, Some("null")) => Ok(Value::Null),
        (_, Some("bool")) => yaml11_bool(text)
            .map(Value::Bool)
            .ok_or_else(|| not_json(text, line)),
        (_, Some("int")) => int(text).ok_or_else(|| not_json(text, line)),
        (_, Some("float")) => float(text, line)?.ok_or_else(|| not_json(text, line)),
        (_, Some("binary")) => Ok(Value::String(text.split_whitespace().collect())),
        (_, Some(other)) => Err(YamlError::UnsupportedTag(other.to_owned())),
        (ScalarStyle::Plain, None) => plain(text, line),
        (_, None) => Ok(Value::String(text.to_owned())),
    }
}

fn not_json(text: &str, line: usize) -> YamlError {
    YamlError::NotJson {
        line,
        value: text.to_owned(),
    }
}

/// go-yaml v2's resolution of an untagged plain scalar.
fn plain(text: &str, line: usize) -> Result<Value, YamlError> {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = yaml11_bool(text) {
        return Ok(Value::Bool(b));
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        if let Some(v) = int(text) {
            return Ok(v);
        }
        if let Some(v) = float(text, line)? {
            return Ok(v);
        }
    }
    Ok(Value::String(text.to_owned()))
}

/// Integers as go-yaml v2 reads them: underscores dropped, then Go's base prefixes (`0x`, `0o`,
/// `0b`, and a bare leading `0` meaning octal).
fn int(text: &str) -> Option<Value> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match cleaned.as_bytes().first()? {
        b'-' => (true, &cleaned[1..]),
        b'+' => (false, &cleaned[1..]),
        _ => (false, cleaned.as_str()),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits.strip_prefix("0x").or(digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, rest)
    } else if let Some(rest) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        (8, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        let v = 0i64.checked_sub_unsigned(magnitude)?;
        Some(Value::Number(v.into()))
    } else {
        Some(Value::Number(magnitude.into()))
    }
}

fn float(text: &str, line: usize) -> Result<Option<Value>, YamlError> {
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | "+.inf" | "-.inf" | ".nan") {
        return Err(not_json(text, line));
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    // go-yaml v2: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let body = cleaned.strip_prefix(['-', '+']).unwrap_or(&cleaned);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !(mantissa_ok && exponent_ok) {
        return Ok(None);
    }
    let f: f64 = cleaned.parse().map_err(|_| not_json(text, line))?;
    // sigs.k8s.io/yaml writes floats with Go's shortest form, so `1e3` and `08` reach the server as
    // the integers `1000` and `8`.
    if f.fract() == 0.0 && f.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        return Ok(Some(Value::Number((f as i64).into())));
    }
    Number::from_f64(f)
        .map(|n| Some(Value::Number(n)))
        .ok_or_else(|| not_json(text, line))
}

/// Parses every document of `text`.
pub fn parse_documents(text: &str, limits: &YamlLimits) -> Result<Vec<Document>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let mut docs = Vec::new();
    let mut loader = Loader {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        alias_nodes: 0,
        root: None,
        line: 1,
        ambiguous: Vec::new(),
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError::Syntax {
            line: e.marker().line(),
            col: e.marker().col(),
            message: e.info().to_owned(),
        })?;
        let line = span.start.line();
        match event {
            Event::DocumentStart(_) => {
                loader.root = None;
                loader.anchors.clear();
                loader.line = line;
                loader.ambiguous.clear();
            }
            Event::DocumentEnd => docs.push(Document {
                // An empty or comment-only document parses as a null scalar.
                value: loader.root.take().filter(|v| !v.is_null()),
                line: loader.line,
                ambiguous_scalars: std::mem::take(&mut loader.ambiguous),
            }),
            other => loader.event(other, line)?,
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fmt::Write as _;

    fn one(text: &str) -> Value {
        let docs = parse_documents(text, &YamlLimits::default()).unwrap();
        docs.into_iter().next().unwrap().value.unwrap()
    }

    #[test]
    fn yaml_1_1_scalars_as_go_yaml_v2_reads_them() {
        let v = one(
            "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: '0755'\ng: 0755\nh: 0x1F\ni: 1e3\nj: 1_000\nk: ~\nl: \"yes\"\nm: 2019-01-01\nneg: -12\no: .5\np: 0b101\nq: 08\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": true, "d": false, "e": true, "f": "0755", "g": 493,
                   "h": 31, "i": 1000, "j": 1000, "k": null, "l": "yes", "m": "2019-01-01",
                   "neg": -12, "o": 0.5, "p": 5, "q": 8})
        );
    }

    #[test]
    fn ambiguous_booleans_are_reported_with_their_line() {
        let docs = parse_documents(
            "a: true\nb: yes\n---\nc: 'on'\nd: off\n",
            &YamlLimits::default(),
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].ambiguous_scalars, vec![(2, "yes".to_owned())]);
        assert_eq!(docs[1].ambiguous_scalars, vec![(5, "off".to_owned())]);
    }

    #[test]
    fn documents_empty_comment_only_and_anchors() {
        let docs = parse_documents(
            "---\n# only a comment\n---\nbase: &b {x: 1}\nuse:\n  <<: *b\n  z: 2\n---\n",
            &YamlLimits::default(),
        )
        .unwrap();
        let values: Vec<_> = docs.iter().map(|d| d.value.clone()).collect();
        assert_eq!(
            values,
            vec![
                None,
                Some(json!({"base": {"x": 1}, "use": {"x": 1, "z": 2}})),
                None
            ]
        );
    }

    #[test]
    fn infinities_and_foreign_tags_are_errors() {
        let limits = YamlLimits::default();
        assert!(matches!(
            parse_documents("a: .inf\n", &limits),
            Err(YamlError::NotJson { line: 1, .. })
        ));
        assert!(matches!(
            parse_documents("a: !!python/object x\n", &limits),
            Err(YamlError::UnsupportedTag(_))
        ));
    }

    #[test]
    fn alias_bomb_hits_the_node_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = i - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            let _ = writeln!(text, "a{i}: &a{i} [{refs}]");
        }
        assert!(matches!(
            parse_documents(&text, &YamlLimits::default()),
            Err(YamlError::TooManyNodes { .. })
        ));
    }

    #[test]
    fn size_and_depth_limits() {
        let limits = YamlLimits {
            max_bytes: 10,
            ..YamlLimits::default()
        };
        assert_eq!(
            parse_documents("a: 123456789012", &limits),
            Err(YamlError::TooLarge { max: 10 })
        );
        let limits = YamlLimits {
            max_depth: 3,
            ..YamlLimits::default()
        };
        assert_eq!(
            parse_documents("[[[[1]]]]", &limits),
            Err(YamlError::TooDeep { max: 3 })
        );
    }
}
