//! The few Python operations operator-courier's rules apply to loaded manifests (`in`, `[]`,
//! `len`, iteration, `==`, `isinstance`, `+`, `json.loads`), with Python's results, including
//! where Python raises. A raise ends courier without a report; we report it as an error of ours
//! (see [`Stop`]) so the verdict is the same: invalid.

use crate::yaml::{Mapping, Yaml};

/// A Python exception courier would end with, as our message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stop(pub String);

pub(crate) type R<T> = Result<T, Stop>;

/// A loaded value as courier's Python sees it: a node (with its ancestors, so a recursive
/// alias resolves to the enclosing collection), a value made by iteration (a character of a
/// string, a byte), or a `(key, value)` tuple of `!!pairs`.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Node(&'a Yaml, Vec<&'a Yaml>),
    Owned(Yaml),
    Tuple(Box<Val<'a>>, Box<Val<'a>>),
}

impl<'a> Val<'a> {
    /// A document root.
    pub fn root(v: &'a Yaml) -> Self {
        Val::Node(v, Vec::new())
    }

    /// The child `v` of the node `self` (resolving a recursive reference).
    fn child(&self, v: &'a Yaml) -> Val<'a> {
        let Val::Node(parent, anc) = self else {
            return Val::Owned(v.clone());
        };
        let mut path = anc.clone();
        path.push(parent);
        if let Yaml::Recursive(n) = v {
            if let Some(i) = path.len().checked_sub(*n) {
                let target = path[i];
                path.truncate(i);
                return Val::Node(target, path);
            }
        }
        Val::Node(v, path)
    }

    fn yaml(&self) -> Option<&Yaml> {
        match self {
            Val::Node(v, _) => Some(v),
            Val::Owned(v) => Some(v),
            Val::Tuple(..) => None,
        }
    }

    /// Python's type name, as its error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self.yaml() {
            None => "tuple",
            Some(Yaml::Null) => "NoneType",
            Some(Yaml::Bool(_)) => "bool",
            Some(Yaml::Int(_) | Yaml::BigInt(_)) => "int",
            Some(Yaml::Float(_)) => "float",
            Some(Yaml::Str(_)) => "str",
            Some(Yaml::Bytes(_)) => "bytes",
            Some(Yaml::Timestamp(t)) => {
                if Yaml::Timestamp(t.clone()).py_str().contains(' ') {
                    "datetime.datetime"
                } else {
                    "datetime.date"
                }
            }
            Some(Yaml::Seq(_) | Yaml::Pairs(_) | Yaml::Recursive(_)) => "list",
            Some(Yaml::Set(_)) => "set",
            Some(Yaml::Map(_)) => "dict",
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self.yaml(), Some(Yaml::Null))
    }

    /// `isinstance(v, str)`.
    pub fn is_str(&self) -> bool {
        matches!(self.yaml(), Some(Yaml::Str(_)))
    }

    /// `isinstance(v, list)` (`!!omap` and `!!pairs` load as lists too).
    pub fn is_list(&self) -> bool {
        matches!(self.yaml(), Some(Yaml::Seq(_) | Yaml::Pairs(_)))
    }

    /// `v is True`.
    pub fn is_true(&self) -> bool {
        matches!(self.yaml(), Some(Yaml::Bool(true)))
    }

    /// `str(v)`, as `%s` prints it.
    pub fn py_str(&self) -> String {
        match (self, self.yaml()) {
            (Val::Tuple(k, v), _) => format!("({}, {})", k.repr(), v.repr()),
            (_, Some(v)) => v.py_str(),
            (_, None) => String::new(),
        }
    }

    fn repr(&self) -> String {
        match self.yaml() {
            Some(v) => v.py_repr(),
            None => self.py_str(),
        }
    }

    /// Python's `==`.
    pub fn eq(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Tuple(a1, b1), Val::Tuple(a2, b2)) => a1.eq(a2) && b1.eq(b2),
            (Val::Tuple(..), _) | (_, Val::Tuple(..)) => false,
            _ => match (self.yaml(), other.yaml()) {
                (Some(a), Some(b)) => a.py_eq(b),
                _ => false,
            },
        }
    }

    /// `self == key` for a string.
    fn eq_str(&self, key: &str) -> bool {
        matches!(self.yaml(), Some(Yaml::Str(s)) if s == key)
    }

    /// `key in self`, for a string key.
    pub fn contains(&self, key: &str) -> R<bool> {
        match self {
            Val::Tuple(a, b) => Ok(a.eq_str(key) || b.eq_str(key)),
            _ => match self.yaml() {
                Some(Yaml::Map(m)) => Ok(m.contains_key(key)),
                Some(Yaml::Seq(items) | Yaml::Set(items)) => {
                    Ok(items.iter().any(|i| matches!(i, Yaml::Str(s) if s == key)))
                }
                Some(Yaml::Pairs(_)) => Ok(false),
                Some(Yaml::Str(s)) => Ok(s.contains(key)),
                Some(Yaml::Bytes(_)) => {
                    raise("TypeError: a bytes-like object is required, not 'str'")
                }
                _ => raise(format!(
                    "TypeError: argument of type '{}' is not iterable",
                    self.type_name()
                )),
            },
        }
    }

    /// `self[key]`, for a string key.
    pub fn get(&self, key: &str) -> R<Val<'a>> {
        match self {
            Val::Node(Yaml::Map(m), _) => match m.get(key) {
                Some(v) => Ok(self.child(v)),
                None => raise(format!("KeyError: '{key}'")),
            },
            Val::Owned(Yaml::Map(m)) => match m.get(key) {
                Some(v) => Ok(Val::Owned(v.clone())),
                None => raise(format!("KeyError: '{key}'")),
            },
            _ => raise(self.not_subscriptable("str")),
        }
    }

    /// `self[0]`.
    pub fn get_first(&self) -> R<Val<'a>> {
        let index_error = |what: &str| raise(format!("IndexError: {what} index out of range"));
        match self {
            Val::Tuple(a, _) => Ok((**a).clone()),
            Val::Node(v, _) => match v {
                Yaml::Seq(items) => items
                    .first()
                    .map_or_else(|| index_error("list"), |i| Ok(self.child(i))),
                Yaml::Pairs(items) => items.first().map_or_else(
                    || index_error("list"),
                    |(k, v2)| {
                        Ok(Val::Tuple(
                            Box::new(self.child(k)),
                            Box::new(self.child(v2)),
                        ))
                    },
                ),
                Yaml::Str(s) => s.chars().next().map_or_else(
                    || index_error("string"),
                    |c| Ok(Val::Owned(Yaml::Str(c.to_string()))),
                ),
                Yaml::Bytes(b) => b.first().map_or_else(
                    || index_error("index"),
                    |c| Ok(Val::Owned(Yaml::Int(i64::from(*c)))),
                ),
                Yaml::Map(m) => {
                    dict_get_zero(m).map_or_else(|| raise("KeyError: 0"), |v2| Ok(self.child(v2)))
                }
                _ => raise(self.not_subscriptable("int")),
            },
            Val::Owned(Yaml::Str(s)) => s.chars().next().map_or_else(
                || index_error("string"),
                |c| Ok(Val::Owned(Yaml::Str(c.to_string()))),
            ),
            Val::Owned(_) => raise(self.not_subscriptable("int")),
        }
    }

    fn not_subscriptable(&self, index_type: &str) -> String {
        match self.type_name() {
            "list" => {
                format!("TypeError: list indices must be integers or slices, not {index_type}")
            }
            "tuple" => {
                format!("TypeError: tuple indices must be integers or slices, not {index_type}")
            }
            "str" => format!("TypeError: string indices must be integers, not '{index_type}'"),
            "bytes" => {
                format!("TypeError: byte indices must be integers or slices, not {index_type}")
            }
            other => format!("TypeError: '{other}' object is not subscriptable"),
        }
    }

    /// `len(self)`.
    pub fn len(&self) -> R<usize> {
        match self {
            Val::Tuple(..) => Ok(2),
            _ => match self.yaml() {
                Some(Yaml::Map(m)) => Ok(m.len()),
                Some(Yaml::Seq(i) | Yaml::Set(i)) => Ok(i.len()),
                Some(Yaml::Pairs(i)) => Ok(i.len()),
                Some(Yaml::Str(s)) => Ok(s.chars().count()),
                Some(Yaml::Bytes(b)) => Ok(b.len()),
                _ => raise(format!(
                    "TypeError: object of type '{}' has no len()",
                    self.type_name()
                )),
            },
        }
    }

    /// `list(self)`: what a `for` loop visits.
    pub fn items(&self) -> R<Vec<Val<'a>>> {
        match self {
            Val::Tuple(a, b) => Ok(vec![(**a).clone(), (**b).clone()]),
            Val::Node(v, _) => match v {
                Yaml::Map(m) => Ok(m.iter().map(|(k, _)| self.child(k)).collect()),
                Yaml::Seq(items) | Yaml::Set(items) => {
                    Ok(items.iter().map(|i| self.child(i)).collect())
                }
                Yaml::Pairs(items) => Ok(items
                    .iter()
                    .map(|(k, v2)| Val::Tuple(Box::new(self.child(k)), Box::new(self.child(v2))))
                    .collect()),
                Yaml::Str(s) => Ok(s
                    .chars()
                    .map(|c| Val::Owned(Yaml::Str(c.to_string())))
                    .collect()),
                Yaml::Bytes(b) => Ok(b
                    .iter()
                    .map(|c| Val::Owned(Yaml::Int(i64::from(*c))))
                    .collect()),
                _ => raise(format!(
                    "TypeError: '{}' object is not iterable",
                    self.type_name()
                )),
            },
            Val::Owned(Yaml::Str(s)) => Ok(s
                .chars()
                .map(|c| Val::Owned(Yaml::Str(c.to_string())))
                .collect()),
            Val::Owned(_) => raise(format!(
                "TypeError: '{}' object is not iterable",
                self.type_name()
            )),
        }
    }

    /// Whether Python can hash the value (a dict key).
    pub fn hashable(&self) -> bool {
        match self {
            Val::Tuple(a, b) => a.hashable() && b.hashable(),
            _ => self.yaml().is_some_and(Yaml::is_hashable),
        }
    }

    /// `self + other` for the string concatenation courier does; the text or the raise.
    pub fn concat(&self, other: &str) -> R<String> {
        match self.yaml() {
            Some(Yaml::Str(s)) => Ok(format!("{s}{other}")),
            Some(Yaml::Seq(_) | Yaml::Pairs(_)) => {
                raise("TypeError: can only concatenate list (not \"str\") to list")
            }
            _ => raise(format!(
                "TypeError: unsupported operand type(s) for +: '{}' and 'str'",
                self.type_name()
            )),
        }
    }

    /// `text + self` where `text` is a string.
    pub fn concat_to(&self, text: &str) -> R<String> {
        match self.yaml() {
            Some(Yaml::Str(s)) => Ok(format!("{text}{s}")),
            _ => raise(format!(
                "TypeError: can only concatenate str (not \"{}\") to str",
                self.type_name()
            )),
        }
    }

    /// Whether `json.loads(self)` succeeds (any exception counts as failure, as courier catches
    /// them all).
    pub fn json_loads_ok(&self) -> bool {
        match self.yaml() {
            Some(Yaml::Str(s)) => python_json_ok(s),
            Some(Yaml::Bytes(b)) => std::str::from_utf8(b).is_ok_and(python_json_ok),
            _ => false,
        }
    }
}

/// `d[0]`: the key equal to `0` (`0`, `0.0` and `False` are equal in Python).
fn dict_get_zero(m: &Mapping) -> Option<&Yaml> {
    m.iter()
        .find(|(k, _)| k.py_eq(&Yaml::Int(0)))
        .map(|(_, v)| v)
}

fn raise<T>(message: impl Into<String>) -> R<T> {
    Err(Stop(message.into()))
}

/// Python's `json.loads` grammar: standard JSON plus `NaN`, `Infinity` and `-Infinity`;
/// Python's whitespace; control characters refused in strings; at most about 990 levels of
/// nesting (Python's recursion limit, minus courier's own stack).
#[allow(clippy::many_single_char_names)] // a small scanner over `b` at `i`
pub(crate) fn python_json_ok(s: &str) -> bool {
    const MAX_DEPTH: usize = 980;
    let b = s.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    // An explicit stack of open containers: b'[' or b'{'.
    let mut stack: Vec<u8> = Vec::new();
    ws(&mut i);
    loop {
        // parse a value
        ws(&mut i);
        let Some(&c) = b.get(i) else {
            return false;
        };
        match c {
            b'[' | b'{' => {
                if stack.len() >= MAX_DEPTH {
                    return false;
                }
                stack.push(c);
                i += 1;
                ws(&mut i);
                let close = if c == b'[' { b']' } else { b'}' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    stack.pop();
                } else {
                    if c == b'{' && !string_then_colon(b, &mut i) {
                        return false;
                    }
                    continue;
                }
            }
            b'"' => {
                if !string(b, &mut i) {
                    return false;
                }
            }
            b'-' | b'0'..=b'9' | b'N' | b'I' => {
                if !number(b, &mut i) {
                    return false;
                }
            }
            b't' if b[i..].starts_with(b"true") => i += 4,
            b'f' if b[i..].starts_with(b"false") => i += 5,
            b'n' if b[i..].starts_with(b"null") => i += 4,
            _ => return false,
        }
        // after a value: close containers or continue with a comma
        loop {
            ws(&mut i);
            let Some(&top) = stack.last() else {
                return i == b.len();
            };
            let close = if top == b'[' { b']' } else { b'}' };
            match b.get(i) {
                Some(&x) if x == close => {
                    i += 1;
                    stack.pop();
                }
                Some(b',') => {
                    i += 1;
                    if top == b'{' {
                        ws(&mut i);
                        if !string_then_colon(b, &mut i) {
                            return false;
                        }
                    }
                    break;
                }
                _ => return false,
            }
        }
    }
}

fn string_then_colon(b: &[u8], i: &mut usize) -> bool {
    if b.get(*i) != Some(&b'"') || !string(b, i) {
        return false;
    }
    while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
        *i += 1;
    }
    if b.get(*i) != Some(&b':') {
        return false;
    }
    *i += 1;
    true
}

fn string(b: &[u8], i: &mut usize) -> bool {
    *i += 1; // opening quote
    while let Some(&c) = b.get(*i) {
        match c {
            b'"' => {
                *i += 1;
                return true;
            }
            b'\\' => match b.get(*i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 2,
                Some(b'u') => {
                    let hex = b.get(*i + 2..*i + 6);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return false;
                    }
                    *i += 6;
                }
                _ => return false,
            },
            0..=0x1f => return false,
            _ => *i += 1,
        }
    }
    false
}

fn number(b: &[u8], i: &mut usize) -> bool {
    let rest = &b[*i..];
    for word in [&b"NaN"[..], b"Infinity", b"-Infinity"] {
        if rest.starts_with(word) {
            *i += word.len();
            return true;
        }
    }
    let start = *i;
    if b.get(*i) == Some(&b'-') {
        *i += 1;
    }
    match b.get(*i) {
        Some(b'0') => *i += 1,
        Some(b'1'..=b'9') => {
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
        }
        _ => return false,
    }
    if b.get(*i) == Some(&b'.') && b.get(*i + 1).is_some_and(u8::is_ascii_digit) {
        *i += 1;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
    }
    if matches!(b.get(*i), Some(b'e' | b'E')) {
        let mut j = *i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            *i = j;
        }
    }
    *i > start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_python() {
        for ok in [
            "[]",
            "{}",
            " [1, 2.5, -0, 1e5, 1E+2, true, false, null] ",
            "{\"a\": [NaN, Infinity, -Infinity]}",
            "\"x\\u00e9\"",
            "1",
            "\"\"",
            "[{\"a\": {}}]",
        ] {
            assert!(python_json_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "[",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "[1] x",
            "{'a': 1}",
            "\"\t\"",
            "nan",
            "[-]",
            "1.",
            "{\"a\":1,}",
            "\"\\x\"",
        ] {
            assert!(!python_json_ok(bad), "{bad}");
        }
        assert!(python_json_ok(&format!(
            "{}{}",
            "[".repeat(900),
            "]".repeat(900)
        )));
        assert!(!python_json_ok(&format!(
            "{}{}",
            "[".repeat(5000),
            "]".repeat(5000)
        )));
    }
}
