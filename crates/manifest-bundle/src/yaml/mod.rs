//! A small YAML document model for untrusted manifests, loaded the way operator-courier loads
//! them: PyYAML 6's `yaml.safe_load` (its pure-Python `SafeLoader`).
//!
//! The front end is our own scanner, parser, composer and constructor with PyYAML's acceptance
//! rules (see the crate README for why not a libyaml port): the characters its reader refuses,
//! quoted continuation lines at any column, a tab after a plain value refused, `%YAML 2.0`
//! refused, duplicate anchors refused, recursive aliases built as recursive values, YAML 1.1
//! scalar resolution (`yes` is a boolean, `1:20` is 80, `-.5` is a string), the standard tags
//! (`!!binary`, `!!timestamp`, `!!set`, `!!omap`, `!!pairs`), merge keys with PyYAML 6's exact
//! de-duplication, and Python's dictionary rules for equal keys (`1`, `1.0` and `true` are one
//! key). Values a Python loader would fail on with an exception (the date `2020-02-30`, an
//! unparseable `!!int`) are [`YamlError::Python`].
//!
//! Every budget is a typed error: input size, nesting depth, nodes, and nodes produced by alias
//! expansion (a billion-laughs document fails fast).
//!
//! The emitter writes block-style YAML that never folds long lines, which matters for the JSON
//! `alm-examples` annotation.

use std::fmt::Write as _;

use crate::limits::YamlLimits;

mod compose;
mod parser;
mod pyint;
mod resolve;
mod scanner;

pub use scanner::ScalarStyle;

/// A parsed YAML node: the Python value PyYAML's `safe_load` builds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Yaml {
    /// `~`, `null`, or an empty value.
    Null,
    /// A YAML 1.1 boolean.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A Python integer beyond 64 bits, as its decimal text (at most 4300 digits, Python's
    /// printing limit).
    BigInt(String),
    /// A float (including `.inf` and `.nan`).
    Float(f64),
    /// A string.
    Str(String),
    /// `!!binary` data.
    Bytes(Vec<u8>),
    /// A scalar PyYAML builds as a `date` or `datetime`; kept verbatim (it is a valid date).
    Timestamp(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// `!!omap` or `!!pairs`: a Python list of `(key, value)` tuples.
    Pairs(Vec<(Yaml, Yaml)>),
    /// `!!set`: the keys, in document order.
    Set(Vec<Yaml>),
    /// A mapping, in document order.
    Map(Mapping),
    /// The enclosing collection `n` levels up (a recursive alias such as `&r [*r]`): Python
    /// builds a recursive list or dict there.
    Recursive(usize),
}

/// A YAML mapping that keeps document order. Later equal keys replace earlier values, as in a
/// Python dict.
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

    /// Inserts or replaces `key` (Python equality), keeping the position of an existing key.
    pub fn insert(&mut self, key: Yaml, value: Yaml) {
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| k.py_eq(&key)) {
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

    /// Python's `key in value` for the shapes manifests use: a key of a mapping or set, an
    /// element of a sequence, a substring of a string. Anything else contains nothing (see
    /// [`crate::validate`] for the cases where Python raises instead).
    pub fn py_contains(&self, key: &str) -> bool {
        match self {
            Yaml::Map(m) => m.contains_key(key),
            Yaml::Seq(items) | Yaml::Set(items) => {
                items.iter().any(|i| matches!(i, Yaml::Str(s) if s == key))
            }
            Yaml::Str(s) => s.contains(key),
            _ => false,
        }
    }

    /// Whether Python can use the value as a dict key.
    pub fn is_hashable(&self) -> bool {
        !matches!(
            self,
            Yaml::Seq(_) | Yaml::Pairs(_) | Yaml::Set(_) | Yaml::Map(_) | Yaml::Recursive(_)
        )
    }

    #[allow(clippy::match_same_arms)] // one arm per pair of Python types
    /// Python's `==` between two loaded values (`1 == 1.0 == True`, dates by value).
    pub fn py_eq(&self, other: &Yaml) -> bool {
        #[allow(clippy::cast_precision_loss)]
        fn num(v: &Yaml) -> Option<f64> {
            match v {
                Yaml::Bool(b) => Some(f64::from(u8::from(*b))),
                Yaml::Int(i) => Some(*i as f64),
                Yaml::Float(f) => Some(*f),
                _ => None,
            }
        }
        fn int(v: &Yaml) -> Option<i64> {
            match v {
                Yaml::Bool(b) => Some(i64::from(*b)),
                Yaml::Int(i) => Some(*i),
                _ => None,
            }
        }
        match (self, other) {
            (a, b) if int(a).is_some() && int(b).is_some() => int(a) == int(b),
            (a, b) if num(a).is_some() && num(b).is_some() => num(a) == num(b),
            (Yaml::BigInt(a), Yaml::BigInt(b)) => a == b,
            (Yaml::BigInt(a), Yaml::Float(f)) | (Yaml::Float(f), Yaml::BigInt(a)) => {
                f.is_finite() && f.fract() == 0.0 && format!("{f:.0}") == *a
            }
            (Yaml::Timestamp(a), Yaml::Timestamp(b)) => {
                match (resolve::parse_timestamp(a), resolve::parse_timestamp(b)) {
                    (Ok(x), Ok(y)) => x.eq_key() == y.eq_key(),
                    _ => a == b,
                }
            }
            (Yaml::Seq(a), Yaml::Seq(b)) | (Yaml::Set(a), Yaml::Set(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (Yaml::Pairs(a), Yaml::Pairs(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((k1, v1), (k2, v2))| k1.py_eq(k2) && v1.py_eq(v2))
            }
            (Yaml::Map(a), Yaml::Map(b)) => {
                a.len() == b.len()
                    && a.iter().all(|(k, v)| {
                        b.iter()
                            .find(|(k2, _)| k.py_eq(k2))
                            .is_some_and(|(_, v2)| v.py_eq(v2))
                    })
            }
            (Yaml::Null, Yaml::Null) => true,
            (Yaml::Str(a), Yaml::Str(b)) => a == b,
            (Yaml::Bytes(a), Yaml::Bytes(b)) => a == b,
            _ => false,
        }
    }

    /// Python's `str()` of the loaded value, for messages that substitute a value.
    pub fn py_str(&self) -> String {
        match self {
            Yaml::Str(s) => s.clone(),
            Yaml::Timestamp(t) => {
                resolve::parse_timestamp(t).map_or_else(|_| t.clone(), |ts| ts.py_str())
            }
            other => other.py_repr(),
        }
    }

    /// Python's `repr()` of the loaded value (how containers print their items).
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out, &mut Vec::new());
        out
    }

    fn write_repr<'a>(&'a self, out: &mut String, path: &mut Vec<&'a Yaml>) {
        match self {
            Yaml::Null => out.push_str("None"),
            Yaml::Bool(true) => out.push_str("True"),
            Yaml::Bool(false) => out.push_str("False"),
            Yaml::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Yaml::BigInt(s) => out.push_str(s),
            Yaml::Float(f) => out.push_str(&py_float(*f)),
            Yaml::Str(s) => out.push_str(&py_repr_str(s)),
            Yaml::Bytes(b) => out.push_str(&py_repr_bytes(b)),
            Yaml::Timestamp(t) => out.push_str(
                &resolve::parse_timestamp(t).map_or_else(|_| t.clone(), |ts| ts.py_repr()),
            ),
            Yaml::Recursive(n) => {
                let target = path.len().checked_sub(*n).and_then(|i| path.get(i));
                out.push_str(match target {
                    Some(Yaml::Map(_)) => "{...}",
                    Some(Yaml::Set(_)) => "set(...)",
                    _ => "[...]",
                });
            }
            Yaml::Seq(items) => {
                path.push(self);
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out, path);
                }
                out.push(']');
                path.pop();
            }
            Yaml::Set(items) => {
                if items.is_empty() {
                    out.push_str("set()");
                    return;
                }
                path.push(self);
                out.push('{');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_repr(out, path);
                }
                out.push('}');
                path.pop();
            }
            Yaml::Pairs(items) => {
                path.push(self);
                out.push('[');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    k.write_repr(out, path);
                    out.push_str(", ");
                    v.write_repr(out, path);
                    out.push(')');
                }
                out.push(']');
                path.pop();
            }
            Yaml::Map(m) => {
                path.push(self);
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out, path);
                    out.push_str(": ");
                    v.write_repr(out, path);
                }
                out.push('}');
                path.pop();
            }
        }
    }

    /// Converts to JSON (timestamps and big integers become strings, bytes become base64,
    /// non-string keys are stringified, a recursive reference becomes `null`).
    pub fn to_json(&self) -> serde_json::Value {
        use base64::Engine as _;
        use serde_json::Value as J;
        match self {
            Yaml::Null | Yaml::Recursive(_) => J::Null,
            Yaml::Bool(b) => J::Bool(*b),
            Yaml::Int(i) => J::from(*i),
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Yaml::Str(s) | Yaml::Timestamp(s) | Yaml::BigInt(s) => J::String(s.clone()),
            Yaml::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Yaml::Seq(items) | Yaml::Set(items) => {
                J::Array(items.iter().map(Yaml::to_json).collect())
            }
            Yaml::Pairs(items) => J::Array(
                items
                    .iter()
                    .map(|(k, v)| J::Array(vec![k.to_json(), v.to_json()]))
                    .collect(),
            ),
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

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)] // digit counts of an f64 are tiny
/// Python's `repr()` of a float (shortest round-trip digits; exponent form below 1e-4 and
/// from 1e16 on, as `1e+20` and `1e-07`).
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else if exp + 1 >= n {
            format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

/// Whether Python's `str.isprintable()` holds for `c` (control, format, separator and
/// private-use characters are not; unassigned code points are not known here).
fn py_printable(c: char) -> bool {
    let u = c as u32;
    !(u < 0x20
        || (0x7f..=0xa0).contains(&u)
        || u == 0xad
        || (0x600..=0x605).contains(&u)
        || u == 0x61c
        || u == 0x6dd
        || u == 0x70f
        || u == 0x1680
        || u == 0x180e
        || (0x2000..=0x200f).contains(&u)
        || (0x2028..=0x202f).contains(&u)
        || (0x205f..=0x2064).contains(&u)
        || (0x2066..=0x206f).contains(&u)
        || (0xd7fc..=0xd7ff).contains(&u)
        || u == 0x3000
        || (0xd800..=0xf8ff).contains(&u)
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || u >= 0xf0000)
}

/// Python's `repr()` of a string.
fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if py_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `repr()` of bytes.
fn py_repr_bytes(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from("b");
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote);
    out
}

/// Why a YAML text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum YamlError {
    /// The text is not YAML (PyYAML raises a `MarkedYAMLError`: courier's "Courier requires
    /// valid input YAML files").
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
    /// A character PyYAML's reader refuses (control characters other than tab and line
    /// breaks, DEL, C1 controls except NEL, U+FFFE, U+FFFF).
    #[error(
        "unacceptable character #x{code:04x} at line {line}, column {col}: special characters are not allowed in YAML"
    )]
    Character {
        /// 1-based line.
        line: usize,
        /// 0-based column.
        col: usize,
        /// The code point.
        code: u32,
    },
    /// A value whose construction makes PyYAML's loader raise a Python exception (an
    /// impossible date, `!!int` text that is not a number): courier stops with a traceback.
    #[error("YAML value at line {line}, column {col} cannot be loaded: {message}")]
    Python {
        /// 1-based line.
        line: usize,
        /// 0-based column.
        col: usize,
        /// The Python exception.
        message: String,
    },
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

impl YamlError {
    /// Whether PyYAML reports this as a `MarkedYAMLError`, which operator-courier turns into
    /// "Courier requires valid input YAML files"; other failures end courier with a Python
    /// exception (or are budgets of ours).
    pub fn is_marked(&self) -> bool {
        matches!(
            self,
            YamlError::Syntax { .. }
                | YamlError::MultipleDocuments
                | YamlError::UnsupportedTag(_)
                | YamlError::UnknownAnchor
        )
    }
}

/// The first character PyYAML's reader refuses, with its line and column.
fn check_printable(text: &str) -> Result<(), YamlError> {
    let bad = |c: char| {
        let u = c as u32;
        !(c == '\t'
            || c == '\n'
            || c == '\r'
            || (0x20..=0x7e).contains(&u)
            || u == 0x85
            || (0xa0..=0xd7ff).contains(&u)
            || (0xe000..=0xfffd).contains(&u)
            || u >= 0x10000)
    };
    let Some(pos) = text.find(bad) else {
        return Ok(());
    };
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    let code = text[pos..].chars().next().map_or(0, |c| c as u32);
    Err(YamlError::Character { line, col, code })
}

/// Parses `text` as a single YAML document. An empty stream gives `Ok(None)` (PyYAML's `None`).
pub fn parse(text: &str, limits: &YamlLimits) -> Result<Option<Yaml>, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    check_printable(text)?;
    compose::load(text, limits)
}

/// Finds the source span (byte range) of the plain/quoted scalar value under the top-level key
/// `key` of a mapping document, so the value can be replaced without touching any other byte.
pub fn top_level_value_span(
    text: &str,
    key: &str,
    limits: &YamlLimits,
) -> Result<Option<(usize, usize, ScalarStyle)>, YamlError> {
    use parser::Event;
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    check_printable(text)?;
    let mut p = parser::Parser::new(text);
    let mut depth = 0usize;
    let mut expect_key = true;
    let mut key_matched = false;
    let mut events = 0usize;
    loop {
        let event = p.next_event().map_err(compose::syntax)?;
        events += 1;
        if events > limits.max_nodes {
            return Err(YamlError::TooManyNodes {
                max: limits.max_nodes,
            });
        }
        match event {
            Event::StreamEnd => return Ok(None),
            Event::MappingStart { .. } | Event::SequenceStart { .. } => {
                if depth == 1 && !expect_key && key_matched {
                    return Ok(None);
                }
                depth += 1;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    expect_key = true;
                }
            }
            Event::Scalar {
                value,
                style,
                start,
                end,
                ..
            } if depth == 1 => {
                if expect_key {
                    key_matched = value == key;
                    expect_key = false;
                } else {
                    if key_matched {
                        return Ok(Some((
                            char_to_byte(text, start.index),
                            char_to_byte(text, end.index),
                            style,
                        )));
                    }
                    expect_key = true;
                }
            }
            Event::Alias { .. } if depth == 1 => {
                expect_key = !expect_key;
            }
            _ => {}
        }
    }
}

fn char_to_byte(text: &str, char_index: usize) -> usize {
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(b, _)| b)
}

/// Whether a plain scalar with this text would load as something other than a string.
fn resolve_plain(v: &str) -> Option<Yaml> {
    if resolve::resolve_tag(v) == resolve::TAG_STR {
        None
    } else {
        Some(Yaml::Null)
    }
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
        v if tagged_block(v).is_some() => emit_tagged(&mut out, v, 0, sort_keys),
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
            v if tagged_block(v).is_some() => {
                out.push(' ');
                emit_tagged(out, v, indent + 2, sort);
            }
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
        Yaml::Str(s) if s.contains('\n') || s.contains('\r') => double_quoted(s),
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
            v if tagged_block(v).is_some() => emit_tagged(out, v, indent + 2, sort),
            scalar => emit_scalar(out, scalar, indent + 2),
        }
    }
}

/// A non-empty `!!set` or `!!pairs` as its tag and the plain collection written under it.
fn tagged_block(v: &Yaml) -> Option<(&'static str, Yaml)> {
    match v {
        Yaml::Set(items) if !items.is_empty() => Some((
            "!!set",
            Yaml::Map(Mapping {
                entries: items.iter().map(|k| (k.clone(), Yaml::Null)).collect(),
            }),
        )),
        Yaml::Pairs(items) if !items.is_empty() => Some((
            "!!pairs",
            Yaml::Seq(
                items
                    .iter()
                    .map(|(k, v)| {
                        Yaml::Map(Mapping {
                            entries: vec![(k.clone(), v.clone())],
                        })
                    })
                    .collect(),
            ),
        )),
        _ => None,
    }
}

/// Writes the tag, then the collection on the following lines at `indent`.
fn emit_tagged(out: &mut String, v: &Yaml, indent: usize, sort: bool) {
    let Some((tag, plain)) = tagged_block(v) else {
        return;
    };
    out.push_str(tag);
    match &plain {
        Yaml::Map(m) => emit_map(out, m, indent, false, sort),
        Yaml::Seq(items) => emit_seq(out, items, indent, false, sort),
        _ => {}
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

#[allow(clippy::match_same_arms)]
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
        Yaml::BigInt(s) => out.push_str(s),
        Yaml::Recursive(_) => out.push_str("null"),
        Yaml::Bytes(b) => {
            use base64::Engine as _;
            let _ = write!(
                out,
                "!!binary \"{}\"",
                base64::engine::general_purpose::STANDARD.encode(b)
            );
        }
        // Rare tagged collections are written in flow style, items as JSON.
        Yaml::Set(items) => {
            out.push_str("!!set {");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&item.to_json().to_string());
                out.push_str(": null");
            }
            out.push('}');
        }
        Yaml::Pairs(items) => {
            out.push_str("!!pairs [");
            for (i, (k, v)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{{{}: {}}}", k.to_json(), v.to_json());
            }
            out.push(']');
        }
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
        out.push_str(&double_quoted(s));
    }
}

/// `s` as a YAML double-quoted scalar: a JSON string, with YAML 1.1's other line breaks (NEL,
/// LS, PS), which JSON leaves raw, escaped so the scalar stays on one line and reads back as
/// written.
fn double_quoted(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    if !json.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return json;
    }
    json.replace('\u{85}', "\\N")
        .replace('\u{2028}', "\\L")
        .replace('\u{2029}', "\\P")
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

    /// The fuzzer's find: a key with a NEL (`"a\Nj"`) was written raw inside quotes, where
    /// YAML 1.1 reads it as a line break.
    #[test]
    fn yaml_line_breaks_other_than_newline_are_escaped() {
        for text in [
            "k: {x: y, \"a\\Nj\": 1}\n",
            "k: \"a\\Lb\\Pc\"\n",
            "\"\\N\\L\": [\"x\\Ny\"]\n",
        ] {
            let value = p(text);
            let emitted = emit(&value, false);
            assert_eq!(p(&emitted), value, "{emitted}");
            // Sorted keys change the order only.
            let sorted = emit(&value, true);
            assert_eq!(p(&sorted).to_json(), value.to_json(), "{sorted}");
        }
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
        // PyYAML's float pattern wants a digit before the dot when there is a sign.
        assert_eq!(doc.get("k"), Some(&Yaml::Str("-.5".into())));
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
        let limits = YamlLimits::default();
        let flow = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&flow(limits.max_depth), &limits).is_ok());
        assert_eq!(
            parse(&flow(limits.max_depth + 1), &limits),
            Err(YamlError::TooDeep {
                max: limits.max_depth
            })
        );
        let mut block = String::new();
        for i in 0..400 {
            let _ = writeln!(block, "{}k{i}:", " ".repeat(i));
        }
        assert!(matches!(
            parse(&block, &limits),
            Err(YamlError::TooDeep { .. })
        ));
        // Aliases cannot build a deeper tree than the limit either.
        let mut chain = format!("a0: &a0 {}\n", flow(limits.max_depth - 2));
        for i in 1..10 {
            let _ = writeln!(chain, "a{i}: &a{i} [*a{}]", i - 1);
        }
        assert!(matches!(
            parse(&chain, &limits),
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
