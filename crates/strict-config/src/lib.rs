#![doc = include_str!("../README.md")]

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize as _;
use serde::Serialize;
use serde::de::{DeserializeOwned, Deserializer};

#[cfg(feature = "yaml")]
mod yaml;
#[cfg(feature = "yaml")]
pub use yaml::{YamlLimits, from_yaml_file, from_yaml_str, from_yaml_str_with_limits};

/// Largest configuration file [`from_toml_file`] reads. Configuration is small; a bigger file is
/// a mistake (a wrong path, a log file) and is refused before it is parsed.
pub const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// What [`redact`] and [`redact_option`] print in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// A position in a configuration text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

impl Location {
    /// The location of a byte offset in `text` (clamped to the text's end).
    pub fn from_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Every way loading a configuration can fail. Each variant names where (`origin`, the file or
/// other source) and, when known, the position and key path, so the message alone says what to
/// fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The source could not be read; fix the path or its permissions.
    #[error("{origin}: cannot read: {source}")]
    Read {
        /// The file or other source.
        origin: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The source is larger than the limit; it is not a configuration file.
    #[error("{origin}: larger than {limit} bytes; not read")]
    TooLarge {
        /// The file or other source.
        origin: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The text is not valid in its format (TOML syntax, YAML syntax).
    #[error("{origin}{}: {message}", at(.location.as_ref()))]
    Syntax {
        /// The file or other source.
        origin: String,
        /// Where the parser stopped, when it knows.
        location: Option<Location>,
        /// The parser's message.
        message: String,
    },
    /// A key that the configuration does not have; usually a typo.
    #[error(
        "{origin}{}: unknown key `{path}`{}",
        at(.location.as_ref()),
        did_you_mean(.suggestion.as_deref())
    )]
    UnknownKey {
        /// The file or other source.
        origin: String,
        /// Where the key is, when the format knows.
        location: Option<Location>,
        /// The full key path, the unknown key last (`organizations[0].registry.tokn`).
        path: String,
        /// The closest known key at that level, if one is close enough to be a likely typo.
        suggestion: Option<String>,
        /// Every key known at that level.
        known: Vec<String>,
    },
    /// A key has a value of the wrong type or out of range, a required key is missing, or a
    /// cross-field rule is broken.
    #[error("{origin}{}: {}{message}", at(.location.as_ref()), key_prefix(.path))]
    Invalid {
        /// The file or other source.
        origin: String,
        /// Where the value is, when the format knows.
        location: Option<Location>,
        /// The full key path of the value, empty for the whole document.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration could not be written back as TOML.
    #[error("cannot print the configuration as TOML: {0}")]
    Print(String),
}

fn at(location: Option<&Location>) -> String {
    location.map_or_else(String::new, |l| format!(": {l}"))
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

fn key_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("`{path}`: ")
    }
}

impl ConfigError {
    /// An error for a broken cross-field rule or a value that parsed but is not acceptable,
    /// found by a validation pass after deserialization.
    pub fn invalid(
        origin: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            origin: origin.into(),
            location: None,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The full key path the error is about, when it is about one key.
    pub fn key_path(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { path, .. } => Some(path),
            Self::Invalid { path, .. } if !path.is_empty() => Some(path),
            _ => None,
        }
    }

    /// The position in the source, when the format reported one.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { location, .. }
            | Self::UnknownKey { location, .. }
            | Self::Invalid { location, .. } => *location,
            _ => None,
        }
    }
}

/// How one format's deserialization error reads: its message without position decorations,
/// and the position when the format tracks one.
#[derive(Debug, Clone)]
pub struct FormatError {
    /// The format's message for the error (for serde errors, the `serde::de::Error::custom`
    /// text: `unknown field ...`, `invalid type ...`, `missing field ...`).
    pub message: String,
    /// Where in the text, when known.
    pub location: Option<Location>,
}

/// Deserialize `T` from any serde deserializer, refusing unknown keys (declared per struct with
/// `#[serde(deny_unknown_fields)]`) and naming the full key path in every error.
///
/// `describe` turns the format's own error into a [`FormatError`]; a YAML or JSON front end
/// supplies its own.
pub fn from_deserializer<'de, D, T>(
    origin: &str,
    deserializer: D,
    describe: impl FnOnce(&D::Error) -> FormatError,
) -> Result<T, ConfigError>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = render_path(error.path());
        let described = describe(error.inner());
        classify(origin, &path, described)
    })
}

/// Deserialize `T` from TOML text. `origin` names the source in messages (usually the file
/// path).
pub fn from_toml_str<T: DeserializeOwned>(origin: &str, text: &str) -> Result<T, ConfigError> {
    let deserializer = toml::de::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_owned(),
        location: e.span().map(|s| Location::from_offset(text, s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    from_deserializer(origin, deserializer, |e| FormatError {
        message: e.message().trim_end().to_owned(),
        location: e.span().map(|s| Location::from_offset(text, s.start)),
    })
}

/// Deserialize `T` from an already parsed TOML value (for example a file merged with
/// environment overrides). Errors name key paths but no line, since the value has no text.
pub fn from_toml_value<T: DeserializeOwned>(
    origin: &str,
    value: toml::Value,
) -> Result<T, ConfigError> {
    from_deserializer(origin, value, |e| FormatError {
        message: e.message().trim_end().to_owned(),
        location: None,
    })
}

/// Read a TOML file (at most [`MAX_FILE_SIZE`] bytes) and deserialize `T` from it.
pub fn from_toml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let origin = path.display().to_string();
    let text = read_limited(path, &origin)?;
    from_toml_str(&origin, &text)
}

/// Read a text file of at most [`MAX_FILE_SIZE`] bytes, for front ends of other formats.
pub fn read_limited(path: &Path, origin: &str) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::Read {
        origin: origin.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    file.take(MAX_FILE_SIZE + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(ConfigError::TooLarge {
            origin: origin.to_owned(),
            limit: MAX_FILE_SIZE,
        });
    }
    Ok(text)
}

/// Print a configuration value as TOML (for `--check-config` and start-up logs). Mark secret
/// fields with [`redact`] or [`redact_option`] so they print as [`REDACTED`].
pub fn to_toml_string<T: Serialize>(value: &T) -> Result<String, ConfigError> {
    toml::to_string(value).map_err(|e| ConfigError::Print(e.to_string()))
}

/// `#[serde(serialize_with = "strict_config::redact")]`: print a secret as [`REDACTED`].
pub fn redact<T: ?Sized, S: serde::Serializer>(
    _secret: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(REDACTED)
}

/// `#[serde(serialize_with = "strict_config::redact_option")]`: print a present secret as
/// [`REDACTED`] and an absent one as absent.
#[allow(clippy::ref_option)] // serde's serialize_with hands us `&Option<T>`.
pub fn redact_option<T, S: serde::Serializer>(
    secret: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_some(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// A value that must be written as a table (map). serde's derived structs also accept a
/// sequence (`oci = []` would load as "all defaults"); wrapping the struct in `Table` refuses
/// anything but a table, with the key path. Use it through [`table`], [`option_table`] or
/// [`map_of_tables`] in `#[serde(deserialize_with = ...)]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = Table<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Table)
            }
        }
        deserializer.deserialize_map(Only(std::marker::PhantomData))
    }
}

/// `deserialize_with` for a struct that must be a table.
pub fn table<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Table::<T>::deserialize(d).map(|t| t.0)
}

/// `deserialize_with` for an optional struct that must be a table when present (pair it with
/// `#[serde(default)]`).
pub fn option_table<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<Table<T>>::deserialize(d).map(|o| o.map(|t| t.0))
}

/// `deserialize_with` for a map whose values must be tables (`[organizations.<name>]`).
pub fn map_of_tables<'de, D, K, T>(d: D) -> Result<std::collections::BTreeMap<K, T>, D::Error>
where
    D: Deserializer<'de>,
    K: serde::Deserialize<'de> + Ord,
    T: serde::Deserialize<'de>,
{
    let map = std::collections::BTreeMap::<K, Table<T>>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

/// The path as `a.b[0].c`; the root is the empty string, not serde_path_to_error's `.`.
fn render_path(path: &serde_path_to_error::Path) -> String {
    if path.iter().next().is_none() {
        String::new()
    } else {
        path.to_string()
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Turn a deserialization error into the variant that says what to do about it.
fn classify(origin: &str, path: &str, described: FormatError) -> ConfigError {
    let FormatError { message, location } = described;
    if let Some((key, known)) = parse_unknown(&message, "unknown field `") {
        let suggestion = closest(&key, &known);
        // serde_path_to_error stops at the struct holding the key; the key is the last segment.
        let full = if path.rsplit('.').next() == Some(key.as_str()) {
            path.to_owned()
        } else {
            join(path, &key)
        };
        return ConfigError::UnknownKey {
            origin: origin.to_owned(),
            location,
            path: full,
            suggestion,
            known,
        };
    }
    if let Some((value, known)) = parse_unknown(&message, "unknown variant `") {
        let mut message = format!(
            "unknown value `{value}`, expected one of {}",
            quoted_list(&known)
        );
        if let Some(s) = closest(&value, &known) {
            message.push_str(&did_you_mean(Some(&s)));
        }
        return ConfigError::Invalid {
            origin: origin.to_owned(),
            location,
            path: path.to_owned(),
            message,
        };
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return ConfigError::Invalid {
            origin: origin.to_owned(),
            location,
            path: join(path, field),
            message: "required key is missing".to_owned(),
        };
    }
    ConfigError::Invalid {
        origin: origin.to_owned(),
        location,
        path: path.to_owned(),
        message,
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse serde's standard `unknown field `x`, expected one of `a`, `b`` (or `expected `a``, or
/// `there are no fields`) into the key and the known keys.
fn parse_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let (key, rest) = rest.split_once('`')?;
    let known = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((key.to_owned(), known))
}

/// The known key most like `key`, when it is close enough to be a typo of it.
pub fn closest(key: &str, known: &[String]) -> Option<String> {
    let lowered = key.to_lowercase();
    known
        .iter()
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase());
            (distance, candidate)
        })
        // Allow about one edit in three characters, at least one, so `tokn` finds `token` but
        // `port` does not "suggest" `host`.
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::from_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::from_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // 'é' is two bytes but one column.
        assert_eq!(
            Location::from_offset(text, 9),
            Location { line: 2, column: 3 }
        );
        assert_eq!(Location::from_offset(text, 999).line, 3);
    }

    #[test]
    fn unknown_message_forms_parse() {
        let (key, known) = parse_unknown(
            "unknown field `tokn`, expected one of `token`, `url`",
            "unknown field `",
        )
        .unwrap();
        assert_eq!(key, "tokn");
        assert_eq!(known, ["token", "url"]);
        let (_, known) =
            parse_unknown("unknown field `x`, expected `token`", "unknown field `").unwrap();
        assert_eq!(known, ["token"]);
        let (_, known) =
            parse_unknown("unknown field `x`, there are no fields", "unknown field `").unwrap();
        assert!(known.is_empty());
        assert!(parse_unknown("invalid type: string", "unknown field `").is_none());
    }

    #[test]
    fn suggestions_are_typos_only() {
        let known = [
            "token".to_owned(),
            "url".to_owned(),
            "organizations".to_owned(),
        ];
        assert_eq!(closest("tokn", &known).as_deref(), Some("token"));
        assert_eq!(closest("Token", &known).as_deref(), Some("token"));
        assert_eq!(
            closest("organisations", &known).as_deref(),
            Some("organizations")
        );
        assert_eq!(closest("port", &known), None);
        assert_eq!(closest("x", &[]), None);
    }
}
