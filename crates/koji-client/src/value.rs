//! The untyped XML-RPC value tree and its bridges to serde.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One XML-RPC value, as decoded from the wire.
///
/// `Int` covers `<int>`, `<i4>`, `<i8>` and `<biginteger>`; the encoder picks `<int>` when the
/// number fits 32 bits and `<i8>` otherwise, like the Koji hub. Struct member order carries no
/// meaning in XML-RPC, so structs are sorted maps.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<nil/>` (Python's `None`).
    Nil,
    /// An integer.
    Int(i64),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>` or an untyped `<value>text</value>`.
    String(String),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, kept exactly as sent (e.g. `20241114T14:54:20`).
    DateTime(String),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<struct>`.
    Struct(BTreeMap<String, Value>),
}

impl Value {
    /// A struct from `(name, value)` pairs.
    pub fn structure<K: Into<String>>(members: impl IntoIterator<Item = (K, Value)>) -> Self {
        Self::Struct(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The members, if this is a struct.
    pub fn as_struct(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Self::Struct(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }

    /// Looks a struct member up; `None` for missing members and non-structs.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_struct().and_then(|m| m.get(key))
    }

    /// Converts to JSON (Koji's `extra` is JSON-like). `DateTime` becomes its raw string,
    /// `Base64` its standard base64 text, a non-finite double `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::Nil => J::Null,
            Self::Int(i) => J::from(*i),
            Self::Bool(b) => J::Bool(*b),
            Self::String(s) | Self::DateTime(s) => J::String(s.clone()),
            Self::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Self::Base64(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Self::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Self::Struct(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Converts from JSON. Integers outside `i64` (huge `u64`) become doubles.
    pub fn from_json(json: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match json {
            J::Null => Self::Nil,
            J::Bool(b) => Self::Bool(*b),
            J::Number(n) => n
                .as_i64()
                .map_or_else(|| Self::Double(n.as_f64().unwrap_or(f64::NAN)), Self::Int),
            J::String(s) => Self::String(s.clone()),
            J::Array(a) => Self::Array(a.iter().map(Value::from_json).collect()),
            J::Object(m) => Self::Struct(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Double(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Nil, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Self::Array(v.into_iter().map(Into::into).collect())
    }
}

/// Decodes a value into any `Deserialize` type (through its JSON form).
///
/// # Errors
/// A serde error describing the mismatch.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value.to_json())
}

/// Encodes any `Serialize` type as a value (through its JSON form).
///
/// # Errors
/// A serde error when the type cannot be represented as JSON (e.g. non-string map keys).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(value).map(|j| Value::from_json(&j))
}
