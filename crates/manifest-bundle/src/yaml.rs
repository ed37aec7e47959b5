//! A small YAML document model for untrusted manifests.
//!
//! Parsing goes through `saphyr-parser`'s event stream into [`Yaml`] with hard budgets (input size,
//! nesting depth, node count including alias expansion), so a billion-laughs document fails fast
//! instead of eating memory. Plain scalars are resolved with **YAML 1.1** rules, as PyYAML's
//! `safe_load` (and so operator-courier) does: `yes`/`no`/`on`/`off` are booleans, `1.0` is a float,
//! `1e3` is a string, `2019-01-01` is a timestamp.
//!
//! The emitter writes block-style YAML that never folds long lines, which matters for the JSON
//! `alm-examples` annotation.

use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::limits::YamlLimits;

/// A parsed YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// `~`, `null`, or an empty value.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float (including `.inf` and `.nan`).
    Float(f64),
    /// A string.
    Str(String),
    /// A plain scalar that YAML 1.1 resolves to a timestamp; kept verbatim.
    Timestamp(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A mapping, in document order.
    Map(Mapping),
}

/// A YAML mapping that keeps document order. Later duplicate keys replace earlier ones, as in PyYAML.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    entries: Vec<(Yaml, Yaml)>,
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value stored under the string key `key`.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Yaml::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    /// Mutable access to the value stored under the string key `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Yaml> {
        self.entries
            .iter_mut()
            .find(|(k, _)| matches!(k, Yaml::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    /// Whether the string key `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces `key`, keeping the position of an existing key.
    pub fn insert(&mut self, key: Yaml, value: Yaml) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// The entries in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&Yaml, &Yaml)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Yaml {
    /// The mapping, if this node is one.
    pub fn as_map(&self) -> Option<&Mapping> {
        match self {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string, if this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Yaml::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The sequence, if this node is one.
    pub fn as_seq(&self) -> Option<&[Yaml]> {
        match self {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// `self[key]` for a mapping node.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Python's `key in value` for the shapes manifests use: a key of a mapping, an element of a
    /// sequence, a substring of a string. Anything else contains nothing.
    pub fn py_contains(&self, key: &str) -> bool {
        match self {
            Yaml::Map(m) => m.contains_key(key),
            Yaml::Seq(items) => items.iter().any(|i| matches!(i, Yaml::Str(s) if s == key)),
            Yaml::Str(s) => s.contains(key),
            _ => false,
        }
    }

    /// Python's `==` between two loaded values (`1 == 1.0 == True`).
    pub fn py_eq(&self, other: &Yaml) -> bool {
        fn num(v: &Yaml) -> Option<f64> {
            #[allow(clippy::cast_precision_loss)]
            match v {
                Yaml::Bool(b) => Some(f64::from(u8::from(*b))),
                Yaml::Int(i) => Some(*i as f64),
                Yaml::Float(f) => Some(*f),
                _ => None,
            }
        }
        match (self, other) {
            (Yaml::Int(a), Yaml::Int(b)) => a == b,
            (a, b) if num(a).is_some() && num(b).is_some() => num(a) == num(b),
            (Yaml::Seq(a), Yaml::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (a, b) => a == b,
        }
    }

    /// Python's `str()` of the loaded value, for messages that substitute a value.
    pub fn py_str(&self) -> String {
        match self {
            Yaml::Null => "None".into(),
            Yaml::Bool(true) => "True".into(),
            Yaml::Bool(false) => "False".into(),
            Yaml::Int(i) => i.to_string(),
            Yaml::Float(f) => py_float(*f),
            Yaml::Str(s) | Yaml::Timestamp(s) => s.clone(),
            other => emit_flow_json(other),
        }
    }

    /// Converts to JSON (timestamps become strings, non-string keys are stringified).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Yaml::Null => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Yaml::Str(s) | Yaml::Timestamp(s) => J::String(s.clone()),
            Yaml::Seq(items) => J::Array(items.iter().map(Yaml::to_json).collect()),
            Yaml::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().map_or_else(|| k.py_str(), str::to_owned),
                            v.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

fn py_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn emit_flow_json(v: &Yaml) -> String {
    v.to_json().to_string()
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
    /// The stream holds more than one document.
    #[error("expected a single YAML document, found more")]
    MultipleDocuments,
    /// A tag that a safe loader refuses.
    #[error("unsupported YAML tag {0}")]
    UnsupportedTag(String),
    /// An alias to an anchor that was never defined.
    #[error("alias to an unknown anchor")]
    UnknownAnchor,
    /// The input is larger than [`YamlLimits::max_bytes`].
    #[error("YAML document is larger than {max} bytes")]
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
    /// More nodes (after alias expansion) than [`YamlLimits::max_nodes`].
    #[error("YAML document expands to more than {max} nodes (alias bomb?)")]
    TooManyNodes {
        /// The limit.
        max: usize,
    },
}

enum Frame {
    Seq {
        items: Vec<Yaml>,
        anchor: usize,
        start_nodes: usize,
    },
    Map {
        map: Mapping,
        pending_key: Option<Yaml>,
        anchor: usize,
        start_nodes: usize,
    },
}

struct Builder<'a> {
    limits: &'a YamlLimits,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, (Yaml, usize)>,
    nodes: usize,
    alias_nodes: usize,
    root: Option<Yaml>,
    documents: usize,
}

impl Builder<'_> {
    fn count(&mut self, n: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn push_value(&mut self, value: Yaml, anchor: usize, size: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, pending_key, ..
            }) => match pending_key.take() {
                None => *pending_key = Some(value),
                Some(key) => {
                    if matches!(&key, Yaml::Str(k) if k == "<<") && merge_into(map, &value) {
                        return;
                    }
                    map.insert(key, value);
                }
            },
        }
    }

    fn on_event(&mut self, event: Event<'_>) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError::MultipleDocuments);
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.count(1)?;
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let node = resolve_scalar(&value, style, tag.as_deref())?;
                self.push_value(node, anchor, 1);
            }
            Event::Alias(id) => {
                let size = self
                    .anchors
                    .get(&id)
                    .map(|(_, size)| *size)
                    .ok_or(YamlError::UnknownAnchor)?;
                // Check the budgets before cloning: the clone is what a bomb multiplies.
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(YamlError::TooManyNodes {
                        max: self.limits.max_alias_nodes,
                    });
                }
                self.count(size)?;
                let value = self
                    .anchors
                    .get(&id)
                    .map(|(v, _)| v.clone())
                    .ok_or(YamlError::UnknownAnchor)?;
                self.push_value(value, 0, size);
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(
                    tag.as_deref()
                        .map(|t| (t.handle.as_str(), t.suffix.as_str())),
                    "seq",
                )?;
                self.enter()?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    start_nodes: self.nodes,
                });
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(
                    tag.as_deref()
                        .map(|t| (t.handle.as_str(), t.suffix.as_str())),
                    "map",
                )?;
                self.enter()?;
                self.stack.push(Frame::Map {
                    map: Mapping::new(),
                    pending_key: None,
                    anchor,
                    start_nodes: self.nodes,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, start) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        start_nodes,
                    }) => (Yaml::Seq(items), anchor, start_nodes),
                    Some(Frame::Map {
                        map,
                        anchor,
                        start_nodes,
                        ..
                    }) => (Yaml::Map(map), anchor, start_nodes),
                    None => return Ok(()),
                };
                let size = self.nodes - start;
                self.push_value(value, anchor, size);
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

/// PyYAML merge keys (`<<: *base`): keys already present win. Returns false when `value` is not
/// mergeable, in which case `<<` is kept as an ordinary key.
fn merge_into(map: &mut Mapping, value: &Yaml) -> bool {
    let sources: Vec<&Mapping> = match value {
        Yaml::Map(m) => vec![m],
        Yaml::Seq(items) if items.iter().all(|i| matches!(i, Yaml::Map(_))) => {
            items.iter().filter_map(Yaml::as_map).collect()
        }
        _ => return false,
    };
    for source in sources {
        for (k, v) in source.iter() {
            if !map.entries.iter().any(|(existing, _)| existing == k) {
                map.entries.push((k.clone(), v.clone()));
            }
        }
    }
    true
}

fn check_collection_tag(tag: Option<(&str, &str)>, kind: &str) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(("!!" | "tag:yaml.org,2002:", s)) if s == kind || (kind == "map" && s == "omap") => {
            Ok(())
        }
        Some((h, s)) => Err(YamlError::UnsupportedTag(format!("{h}{s}"))),
    }
}

/// Parses `text` as a single YAML document. An empty stream gives `Ok(None)` (PyYAML's `None`).
pub fn parse(text: &str, limits: &YamlLimits) -> Result<Option<Yaml>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let mut builder = Builder {
        limits,
        stack: Vec::new(),
        anchors: std::collections::HashMap::new(),
        nodes: 0,
        alias_nodes: 0,
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        let (event, _span) = item.map_err(|e| YamlError::Syntax {
            line: e.marker().line(),
            col: e.marker().col(),
            message: e.info().to_owned(),
        })?;
        builder.on_event(event)?;
    }
    Ok(builder.root)
}

/// Finds the source span (byte range) of the plain/quoted scalar value under the top-level key
/// `key` of a mapping document, so the value can be replaced without touching any other byte.
pub fn top_level_value_span(
    text: &str,
    key: &str,
    limits: &YamlLimits,
) -> Result<Option<(usize, usize, ScalarStyle)>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let mut depth = 0usize;
    let mut expect_key = true;
    let mut key_matched = false;
    let mut events = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span): (Event<'_>, Span) = item.map_err(|e| YamlError::Syntax {
            line: e.marker().line(),
            col: e.marker().col(),
            message: e.info().to_owned(),
        })?;
        events += 1;
        if events > limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: limits.max_nodes,
            });
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if depth == 1 && !expect_key {
                    // value of a top-level key is a collection
                    if key_matched {
                        return Ok(None);
                    }
                }
                depth += 1;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    expect_key = true;
                }
            }
            Event::Scalar(value, style, ..) if depth == 1 => {
                if expect_key {
                    key_matched = value == key;
                    expect_key = false;
                } else {
                    if key_matched {
                        let start = char_to_byte(text, span.start.index());
                        let end = char_to_byte(text, span.end.index());
                        return Ok(Some((start, end, style)));
                    }
                    expect_key = true;
                }
            }
            Event::Alias(_) if depth == 1 => {
                expect_key = !expect_key;
            }
            _ => {}
        }
    }
    Ok(None)
}

fn char_to_byte(text: &str, char_index: usize) -> usize {
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(b, _)| b)
}

fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Yaml, YamlError> {
    if let Some(tag) = tag {
        let suffix = tag
            .strip_prefix("!!")
            .or_else(|| tag.strip_prefix("tag:yaml.org,2002:"));
        return match suffix {
            Some("str") => Ok(Yaml::Str(value.to_string())),
            Some("null") => Ok(Yaml::Null),
            Some("bool") => resolve_plain(value)
                .filter(|v| matches!(v, Yaml::Bool(_)))
                .ok_or_else(|| YamlError::UnsupportedTag(format!("{tag} {value}"))),
            Some("int") => resolve_plain(value)
                .filter(|v| matches!(v, Yaml::Int(_)))
                .ok_or_else(|| YamlError::UnsupportedTag(format!("{tag} {value}"))),
            Some("float") => match resolve_plain(value) {
                Some(Yaml::Float(f)) => Ok(Yaml::Float(f)),
                #[allow(clippy::cast_precision_loss)]
                Some(Yaml::Int(i)) => Ok(Yaml::Float(i as f64)),
                _ => Err(YamlError::UnsupportedTag(format!("{tag} {value}"))),
            },
            _ => Err(YamlError::UnsupportedTag(tag.to_owned())),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Yaml::Str(value.to_string()));
    }
    Ok(resolve_plain(value).unwrap_or_else(|| Yaml::Str(value.to_string())))
}

/// YAML 1.1 implicit resolution of a plain scalar, as PyYAML's resolver does it.
fn resolve_plain(v: &str) -> Option<Yaml> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Yaml::Null),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(Yaml::Bool(true));
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(Yaml::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Yaml::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Yaml::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Yaml::Float(f64::NAN)),
        _ => {}
    }
    if let Some(i) = resolve_int(v) {
        return Some(i);
    }
    if let Some(f) = resolve_float(v) {
        return Some(f);
    }
    if is_timestamp(v) {
        return Some(Yaml::Timestamp(v.to_owned()));
    }
    None
}

fn split_sign(v: &str) -> (bool, &str) {
    match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    }
}

fn resolve_int(v: &str) -> Option<Yaml> {
    let (neg, body) = split_sign(v);
    if body.is_empty() {
        return None;
    }
    let digits_ok =
        |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c == '_' || c.is_digit(radix));
    let parse = |s: &str, radix: u32| -> Option<i128> {
        let cleaned: String = s.chars().filter(|c| *c != '_').collect();
        if cleaned.is_empty() {
            return Some(0);
        }
        i128::from_str_radix(&cleaned, radix).ok()
    };
    let magnitude = if let Some(b) = body.strip_prefix("0b") {
        if !digits_ok(b, 2) {
            return None;
        }
        parse(b, 2)
    } else if let Some(h) = body.strip_prefix("0x") {
        if !digits_ok(h, 16) {
            return None;
        }
        parse(h, 16)
    } else if body == "0" {
        Some(0)
    } else if let Some(o) = body.strip_prefix('0') {
        if !digits_ok(o, 8) {
            return None;
        }
        parse(o, 8)
    } else if body.contains(':') {
        // sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| ('1'..='9').contains(&c)) || !digits_ok(first, 10) {
            return None;
        }
        let mut total = parse(first, 10)?;
        for p in parts {
            if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            if p.len() == 2 && p.as_bytes()[0] > b'5' {
                return None;
            }
            total = total
                .checked_mul(60)?
                .checked_add(p.parse::<i128>().ok()?)?;
        }
        Some(total)
    } else {
        if !body.starts_with(|c: char| ('1'..='9').contains(&c)) || !digits_ok(body, 10) {
            return None;
        }
        parse(body, 10)
    }?;
    let signed = if neg { -magnitude } else { magnitude };
    // Python ints are unbounded; beyond i64 we keep the text as a float-free string value.
    i64::try_from(signed)
        .ok()
        .map(Yaml::Int)
        .or_else(|| Some(Yaml::Str(v.to_owned())))
}

fn resolve_float(v: &str) -> Option<Yaml> {
    // [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?   (PyYAML requires the dot)
    let (neg, body) = split_sign(v);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let dot = mantissa.find('.')?;
    let (int_part, frac_part) = (&mantissa[..dot], &mantissa[dot + 1..]);
    let int_ok = int_part.is_empty()
        || (int_part.starts_with(|c: char| c.is_ascii_digit())
            && int_part.chars().all(|c| c.is_ascii_digit() || c == '_'));
    if !int_ok {
        return None;
    }
    if !frac_part.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    if int_part.is_empty() && !frac_part.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(exp) = exponent {
        let digits = exp.strip_prefix(['+', '-'])?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let cleaned: String = body.chars().filter(|c| *c != '_').collect();
    let parsed: f64 = cleaned.parse().ok()?;
    Some(Yaml::Float(if neg { -parsed } else { parsed }))
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() < 8 || !digits(&b[..4]) || b[4] != b'-' {
        return false;
    }
    // date part: YYYY-M?M-D?D
    let rest = &v[5..];
    let date_end = rest.find(['T', 't', ' ', '\t']).unwrap_or(rest.len());
    let date = &rest[..date_end];
    let mut parts = date.split('-');
    let (Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok_md = |s: &str| (1..=2).contains(&s.len()) && digits(s.as_bytes());
    if !ok_md(m) || !ok_md(d) {
        return false;
    }
    if date_end == rest.len() {
        return m.len() == 2 && d.len() == 2;
    }
    // time part must start with H?H:MM:SS
    let time = rest[date_end..].trim_start_matches([' ', '\t', 'T', 't']);
    let tb = time.as_bytes();
    let h_len = tb.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=2).contains(&h_len)
        && tb.len() >= h_len + 6
        && tb[h_len] == b':'
        && digits(&tb[h_len + 1..h_len + 3])
        && tb[h_len + 3] == b':'
        && digits(&tb[h_len + 4..h_len + 6])
}

// ------------------------------------------------------------------------------------------------
// Emitter

/// Serialises `value` as a block-style YAML document (no `---`), ending with a newline.
///
/// Multi-line strings become literal blocks; nothing is ever folded, so long JSON annotations stay
/// on their lines. Keys are written in document order unless `sort_keys` is set.
pub fn emit(value: &Yaml, sort_keys: bool) -> String {
    let mut out = String::new();
    match value {
        Yaml::Map(m) if !m.is_empty() => emit_map(&mut out, m, 0, true, sort_keys),
        Yaml::Seq(s) if !s.is_empty() => emit_seq(&mut out, s, 0, true, sort_keys),
        scalar => emit_scalar(&mut out, scalar, 0),
    }
    out.push('\n');
    out
}

fn new_line(out: &mut String, indent: usize) {
    out.push('\n');
    push_indent(out, indent);
}

/// Writes a mapping whose first key continues the current line when `first_inline`.
fn emit_map(out: &mut String, m: &Mapping, indent: usize, first_inline: bool, sort: bool) {
    let mut entries: Vec<(&Yaml, &Yaml)> = m.iter().collect();
    if sort {
        entries.sort_by_key(|(k, _)| scalar_text(k));
    }
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 || !first_inline {
            new_line(out, indent);
        }
        let seq_indent = if let Some(key) = simple_key(k) {
            out.push_str(&key);
            // Sequences under a key sit at the key's indentation, as PyYAML writes them.
            indent
        } else {
            // Collections, multi-line and very long keys need the explicit `? key` form.
            out.push_str("? ");
            match k {
                Yaml::Map(child) if !child.is_empty() => {
                    emit_map(out, child, indent + 2, true, sort);
                }
                Yaml::Seq(items) if !items.is_empty() => {
                    emit_seq(out, items, indent + 2, true, sort);
                }
                scalar => emit_scalar(out, scalar, indent + 2),
            }
            new_line(out, indent);
            indent + 2
        };
        out.push(':');
        match v {
            Yaml::Map(child) if !child.is_empty() => emit_map(out, child, indent + 2, false, sort),
            Yaml::Seq(items) if !items.is_empty() => emit_seq(out, items, seq_indent, false, sort),
            scalar => {
                out.push(' ');
                emit_scalar(out, scalar, indent + 2);
            }
        }
    }
}

/// The key as an implicit (simple) key, when YAML allows one: a scalar written on one line and
/// at most 1024 characters long.
fn simple_key(key: &Yaml) -> Option<String> {
    let text = match key {
        Yaml::Map(_) | Yaml::Seq(_) => return None,
        Yaml::Str(s) if s.contains('\n') || s.contains('\r') => serde_json::to_string(s).ok()?,
        scalar => scalar_text(scalar),
    };
    (text.chars().count() <= 1000 && !text.contains('\n')).then_some(text)
}

/// Writes a sequence whose first dash continues the current line when `first_inline`.
fn emit_seq(out: &mut String, items: &[Yaml], indent: usize, first_inline: bool, sort: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !first_inline {
            new_line(out, indent);
        }
        out.push_str("- ");
        match item {
            Yaml::Map(child) if !child.is_empty() => emit_map(out, child, indent + 2, true, sort),
            Yaml::Seq(inner) if !inner.is_empty() => emit_seq(out, inner, indent + 2, true, sort),
            scalar => emit_scalar(out, scalar, indent + 2),
        }
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn scalar_text(v: &Yaml) -> String {
    let mut s = String::new();
    emit_scalar(&mut s, v, 0);
    s
}

fn emit_scalar(out: &mut String, v: &Yaml, indent: usize) {
    match v {
        Yaml::Null => out.push_str("null"),
        Yaml::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Yaml::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Yaml::Float(f) => out.push_str(&yaml_float(*f)),
        Yaml::Timestamp(t) => out.push_str(t),
        Yaml::Str(s) => emit_string(out, s, indent),
        Yaml::Map(_) => out.push_str("{}"),
        Yaml::Seq(_) => out.push_str("[]"),
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        let s = py_float(f);
        if s.contains('.') { s } else { format!("{s}.0") }
    }
}

fn emit_string(out: &mut String, s: &str, indent: usize) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if s.contains('\n') && literal_block_ok(s) {
        emit_literal(out, s, indent);
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

fn literal_block_ok(s: &str) -> bool {
    s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.contains('\r')
        && !s.contains('\u{feff}')
        && !s.starts_with(['\n'])
        && !s
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(' ') || l.starts_with('\t'))
}

fn emit_literal(out: &mut String, s: &str, indent: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    let body = s.trim_end_matches('\n');
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, indent.max(2));
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn is_plain_safe(s: &str) -> bool {
    if s.is_empty() || resolve_plain(s).is_some() {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_alphanumeric() || first == '/' || first == '_' || first == '.') {
        return false;
    }
    if s.ends_with([' ', ':']) {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./=+@()".contains(c) || c == ':')
        && !s.contains(": ")
        && !s.contains(" #")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Yaml {
        parse(s, &YamlLimits::default()).unwrap().unwrap()
    }

    #[test]
    fn yaml_1_1_scalars() {
        let doc = p(
            "a: yes\nb: off\nc: 1.0\nd: 1e3\ne: 010\nf: 0x1F\ng: 1:30\nh: 2019-01-02\ni: ~\nj: '1.0'\nk: -.5\n",
        );
        assert_eq!(doc.get("a"), Some(&Yaml::Bool(true)));
        assert_eq!(doc.get("b"), Some(&Yaml::Bool(false)));
        assert_eq!(doc.get("c"), Some(&Yaml::Float(1.0)));
        assert_eq!(doc.get("d"), Some(&Yaml::Str("1e3".into())));
        assert_eq!(doc.get("e"), Some(&Yaml::Int(8)));
        assert_eq!(doc.get("f"), Some(&Yaml::Int(31)));
        assert_eq!(doc.get("g"), Some(&Yaml::Int(90)));
        assert_eq!(doc.get("h"), Some(&Yaml::Timestamp("2019-01-02".into())));
        assert_eq!(doc.get("i"), Some(&Yaml::Null));
        assert_eq!(doc.get("j"), Some(&Yaml::Str("1.0".into())));
        assert_eq!(doc.get("k"), Some(&Yaml::Float(-0.5)));
    }

    #[test]
    fn multi_document_rejected_and_empty_is_none() {
        assert_eq!(
            parse("a: 1\n---\nb: 2\n", &YamlLimits::default()),
            Err(YamlError::MultipleDocuments)
        );
        assert_eq!(parse("", &YamlLimits::default()), Ok(None));
        assert_eq!(
            parse("# only a comment\n", &YamlLimits::default()),
            Ok(None)
        );
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            let _ = writeln!(
                s,
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]"
            );
        }
        let start = std::time::Instant::now();
        let err = parse(&s, &YamlLimits::default()).unwrap_err();
        assert!(matches!(err, YamlError::TooManyNodes { .. }), "{err:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn depth_limit() {
        let s = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            parse(&s, &YamlLimits::default()),
            Err(YamlError::TooDeep { .. } | YamlError::Syntax { .. })
        ));
        let mut block = String::new();
        for i in 0..300 {
            let _ = writeln!(block, "{}k{i}:", " ".repeat(i));
        }
        assert!(matches!(
            parse(&block, &YamlLimits::default()),
            Err(YamlError::TooDeep { .. })
        ));
    }

    #[test]
    fn merge_keys_and_unknown_tags() {
        let doc = p("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n");
        let d = doc.get("derived").unwrap();
        assert_eq!(d.get("x"), Some(&Yaml::Int(1)));
        assert_eq!(d.get("y"), Some(&Yaml::Int(3)));
        assert!(matches!(
            parse("a: !python/object x\n", &YamlLimits::default()),
            Err(YamlError::UnsupportedTag(_))
        ));
    }

    #[test]
    fn emit_round_trips_and_never_folds() {
        let long_json = format!(
            "[{}]",
            (0..400)
                .map(|i| format!("{{\"k{i}\": \"v\"}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let text = format!(
            "a: 1\nb:\n- x\n- y: 2\n  z: [1, 2]\nc: 'yes'\nd: \"multi\\nline\\n\"\ne: {}\nf: ''\ng: {{}}\nh: []\ni: 2019-01-02\nj: 'a: b'\n",
            serde_json::to_string(&long_json).unwrap()
        );
        let doc = p(&text);
        let out = emit(&doc, false);
        assert_eq!(p(&out), doc, "{out}");
        let quoted = serde_json::to_string(&long_json).unwrap();
        assert!(
            out.lines().any(|l| l.ends_with(&quoted)),
            "long scalar must stay on one line"
        );
    }

    #[test]
    fn value_span_finds_package_name() {
        let text =
            "# comment\nchannels:\n- name: alpha\n  currentCSV: x\npackageName: etcd # trailing\n";
        let (s, e, _) = top_level_value_span(text, "packageName", &YamlLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&text[s..e], "etcd");
        let quoted = "packageName: \"etcd\"\n";
        let (s, e, style) = top_level_value_span(quoted, "packageName", &YamlLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&quoted[s..e], "\"etcd\"");
        assert_eq!(style, ScalarStyle::DoubleQuoted);
    }
}
