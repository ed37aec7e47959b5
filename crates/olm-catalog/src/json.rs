//! An order-preserving JSON value, a bounded parser, and writers that format exactly like Go's
//! `encoding/json` as `opm` uses it (HTML characters not escaped, 4-space indentation).
//!
//! Order matters: upstream keeps property values as raw JSON, so a catalog read from JSON is
//! written back with its keys in their original order, while YAML input reaches the model with
//! sorted keys (Go's YAML-to-JSON conversion goes through a map).

use std::fmt::Write as _;

use manifest_bundle::yaml::Yaml;

/// A JSON value. Numbers keep their source text, so they are written back unchanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written (already valid JSON number syntax).
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in order.
    Object(Object),
}

/// A JSON object that keeps key order (and, like raw JSON, duplicate keys).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object(Vec<(String, Value)>);

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`; with duplicates the last one, as Go's decoder does.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Go struct-field matching: an exact key wins, else the first key equal under case folding.
    pub fn get_ci(&self, key: &str) -> Option<&Value> {
        self.get(key)
            .or_else(|| self.0.iter().find(|(k, _)| fold_eq(k, key)).map(|(_, v)| v))
    }

    /// Sets `key`, replacing the first existing entry or appending.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }

    /// Appends without looking for an existing key.
    pub fn push(&mut self, key: impl Into<String>, value: Value) {
        self.0.push((key.into(), value));
    }

    /// Removes every entry named `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts keys bytewise (Go's map order), recursively.
    pub fn sort_keys_recursive(&mut self) {
        self.0.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, v) in &mut self.0 {
            v.sort_keys_recursive();
        }
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Case-insensitive equality as Go's JSON decoder folds field names (ASCII and simple Unicode).
pub fn fold_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<String>) -> Self {
        Value::String(s.into())
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Case-insensitive field of an object (see [`Object::get_ci`]).
    pub fn get_ci(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get_ci(key))
    }

    /// The string at a path of case-insensitive fields, `""` when absent or not a string.
    pub fn str_at(&self, path: &[&str]) -> &str {
        let mut cur = Some(self);
        for p in path {
            cur = cur.and_then(|c| c.get_ci(p));
        }
        cur.and_then(Value::as_str).unwrap_or("")
    }

    /// Exact field of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// The JSON type name Go uses in decoding errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Sorts object keys bytewise at every level.
    pub fn sort_keys_recursive(&mut self) {
        match self {
            Value::Object(o) => o.sort_keys_recursive(),
            Value::Array(items) => items.iter_mut().for_each(Value::sort_keys_recursive),
            _ => {}
        }
    }

    /// Go's `omitempty` test: false, 0, "", empty array or object, null.
    pub fn is_empty_go(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.parse::<f64>().is_ok_and(|f| f == 0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }

    /// Converts a parsed YAML document the way upstream does (YAML → JSON through a Go map):
    /// keys become strings and are sorted, timestamps stay strings.
    pub fn from_yaml(y: &Yaml) -> Value {
        match y {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::Number(i.to_string()),
            Yaml::Float(f) => {
                if f.is_finite() {
                    Value::Number(go_float_json(*f))
                } else {
                    Value::Null
                }
            }
            Yaml::Str(s) | Yaml::Timestamp(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Value::from_yaml).collect()),
            Yaml::Map(m) => {
                let mut o = Object::new();
                for (k, v) in m.iter() {
                    o.insert(yaml_key(k), Value::from_yaml(v));
                }
                o.0.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(o)
            }
            Yaml::BigInt(digits) => Value::Number(digits.clone()),
            // Values only Python's loader builds (bytes, sets, pairs, recursion): their text.
            other => Value::String(other.py_str()),
        }
    }
}

fn yaml_key(k: &Yaml) -> String {
    match k {
        Yaml::Str(s) | Yaml::Timestamp(s) => s.clone(),
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Float(f) => go_float_json(*f),
        other => to_compact(&Value::from_yaml(other)),
    }
}

/// Formats a float as Go's `encoding/json` does (`'f'`, or `'e'` below 1e-6 and from 1e21).
pub fn go_float_json(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if exp < 0 {
            format!("{mantissa}e-{}", -exp)
        } else {
            format!("{mantissa}e+{exp:02}")
        }
    } else {
        let s = format!("{f}");
        if s == "-0" { "-0".into() } else { s }
    }
}

// ------------------------------------------------------------------------------------------------
// Parsing

/// Why a JSON text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, JsonError> {
        Err(JsonError {
            offset: self.pos,
            message: message.into(),
        })
    }

    fn skip_ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > self.max_depth {
            return self.err(format!("nesting deeper than {} levels", self.max_depth));
        }
        self.skip_ws();
        match self.b.get(self.pos) {
            None => self.err("unexpected end of JSON input"),
            Some(b'{') => {
                self.pos += 1;
                let mut o = Object::new();
                self.skip_ws();
                if self.b.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Value::Object(o));
                }
                loop {
                    self.skip_ws();
                    if self.b.get(self.pos) != Some(&b'"') {
                        return self.err("expected a string key");
                    }
                    let k = self.string()?;
                    self.skip_ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return self.err("expected ':' after an object key");
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    o.push(k, v);
                    self.skip_ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Value::Object(o));
                        }
                        _ => return self.err("expected ',' or '}' in an object"),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.b.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return self.err("expected ',' or ']' in an array"),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => self.number(),
            Some(c) => self.err(format!(
                "invalid character {:?} looking for beginning of value",
                *c as char
            )),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            self.err("invalid literal")
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.b.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.b.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(c) if c.is_ascii_digit() => {
                digits(self);
            }
            _ => return self.err("invalid number"),
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return self.err("invalid number");
            }
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return self.err("invalid number");
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("0");
        Ok(Value::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(h) = self.b.get(self.pos..self.pos + 4) else {
            return self.err("invalid \\u escape");
        };
        let s = std::str::from_utf8(h).map_err(|_| JsonError {
            offset: self.pos,
            message: "invalid \\u escape".into(),
        })?;
        let v = u32::from_str_radix(s, 16).map_err(|_| JsonError {
            offset: self.pos,
            message: "invalid \\u escape".into(),
        })?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self
                .b
                .get(self.pos)
                .is_some_and(|c| *c != b'"' && *c != b'\\' && *c >= 0x20)
            {
                self.pos += 1;
            }
            // Invalid UTF-8 becomes U+FFFD, as Go's decoder does.
            out.push_str(&String::from_utf8_lossy(&self.b[start..self.pos]));
            match self.b.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(c) = self.b.get(self.pos).copied() else {
                        return self.err("unexpected end of JSON input");
                    };
                    self.pos += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi)
                                && self.b[self.pos..].starts_with(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.unwrap_or('\u{FFFD}'));
                        }
                        _ => return self.err("invalid escape in string"),
                    }
                }
                None => return self.err("unexpected end of JSON input"),
                Some(_) => return self.err("invalid control character in string"),
            }
        }
    }
}

/// Parses exactly one JSON value (surrounding whitespace allowed).
pub fn parse(text: &str, max_depth: usize) -> Result<Value, JsonError> {
    let mut p = Parser {
        b: text.as_bytes(),
        pos: 0,
        max_depth,
    };
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.b.len() {
        return p.err("invalid character after top-level value");
    }
    Ok(v)
}

/// Parses a stream of concatenated JSON values separated by optional whitespace.
pub fn parse_stream(text: &str, max_depth: usize) -> Result<Vec<Value>, JsonError> {
    let mut p = Parser {
        b: text.as_bytes(),
        pos: 0,
        max_depth,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        if p.pos >= p.b.len() {
            return Ok(out);
        }
        out.push(p.value(0)?);
    }
}

// ------------------------------------------------------------------------------------------------
// Writing

/// Appends `s` as a JSON string the way Go's encoder does with HTML escaping off.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Compact JSON (no insignificant whitespace, HTML characters not escaped).
pub fn to_compact(v: &Value) -> String {
    let mut out = String::new();
    write_compact(&mut out, v);
    out
}

fn write_compact(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_compact(out, item);
            }
            out.push('}');
        }
    }
}

/// JSON indented by 4 spaces per level, as `opm` writes each blob (no trailing newline).
pub fn to_indented(v: &Value) -> String {
    let mut out = String::new();
    write_indented(&mut out, v, 0);
    out
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_indented(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_indented(out, item, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Value::Object(o) if !o.is_empty() => {
            out.push('{');
            for (i, (k, item)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_string(out, k);
                out.push_str(": ");
                write_indented(out, item, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
        other => write_compact(out, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_numbers_and_duplicates() {
        let text = r#"{"b":1.50,"a":[true,null,-0,1e+3],"b":"x","c":{}, "d":[]}"#;
        let v = parse(text, 64).unwrap();
        assert_eq!(
            to_compact(&v),
            r#"{"b":1.50,"a":[true,null,-0,1e+3],"b":"x","c":{},"d":[]}"#
        );
        assert_eq!(v.get("b"), Some(&Value::str("x")), "last duplicate wins");
        assert_eq!(
            to_indented(&v),
            "{\n    \"b\": 1.50,\n    \"a\": [\n        true,\n        null,\n        -0,\n        1e+3\n    ],\n    \"b\": \"x\",\n    \"c\": {},\n    \"d\": []\n}"
        );
    }

    #[test]
    fn strings_are_escaped_like_go_without_html_escaping() {
        let v = Value::str("<a & b>\"\\\n\t\u{1}\u{8}\u{c}\u{2028}é😀");
        assert_eq!(
            to_compact(&v),
            "\"<a & b>\\\"\\\\\\n\\t\\u0001\\b\\f\\u2028é😀\""
        );
        let back = parse(&to_compact(&v), 8).unwrap();
        assert_eq!(back, v);
        assert_eq!(
            parse(r#""\ud83d\ude00\u00e9\ud800x""#, 8).unwrap(),
            Value::str("😀é\u{FFFD}x")
        );
    }

    #[test]
    fn streams_depth_and_errors() {
        let vs = parse_stream("{\"a\":1}\n{\"b\":2} [3]  ", 8).unwrap();
        assert_eq!(vs.len(), 3);
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(parse(&deep, 32).unwrap_err().message.contains("deeper"));
        assert!(parse(&deep, 64).is_ok());
        for bad in [
            "{",
            "{\"a\" 1}",
            "[1,]",
            "01",
            "\"a",
            "tru",
            "{} x",
            "\"\u{1}\"",
        ] {
            assert!(parse(bad, 8).is_err(), "{bad}");
        }
    }

    #[test]
    fn yaml_conversion_sorts_keys_and_formats_numbers() {
        let y = manifest_bundle::yaml::parse(
            "b: 1\na: {z: 2019-01-02, y: 1.0, x: 1e-7}\nc: [yes, ~]\n",
            &manifest_bundle::YamlLimits::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            to_compact(&Value::from_yaml(&y)),
            r#"{"a":{"x":"1e-7","y":1,"z":"2019-01-02"},"b":1,"c":[true,null]}"#
        );
        assert_eq!(go_float_json(1.5e21), "1.5e+21");
        assert_eq!(go_float_json(1.5e-7), "1.5e-7");
        assert_eq!(go_float_json(0.25), "0.25");
    }

    #[test]
    fn case_insensitive_lookup_prefers_exact() {
        let v = parse(r#"{"Kind":"A","kind":"B","NAME":"n"}"#, 8).unwrap();
        assert_eq!(v.get_ci("kind"), Some(&Value::str("B")));
        assert_eq!(v.get_ci("name"), Some(&Value::str("n")));
        assert_eq!(v.get_ci("version"), None);
    }
}
