//! The YAML front end (feature `yaml`): a serde deserializer with input limits, so a hostile
//! file (an alias bomb, deep nesting, a huge scalar) is a [`ConfigError`], never a hang or an
//! out-of-memory. Errors carry the same key paths and suggestions as the TOML front end.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::{ConfigError, FormatError, Location, from_deserializer, read_limited};

/// Limits of the YAML parser; the defaults fit configuration files with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlLimits {
    /// Deepest nesting of mappings and sequences.
    pub max_depth: usize,
    /// Most nodes (scalars, mappings, sequences), aliases expanded.
    pub max_nodes: usize,
    /// Most alias references (`*name`).
    pub max_aliases: usize,
    /// Most bytes of scalar text, in all.
    pub max_scalar_bytes: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_scalar_bytes: usize::try_from(crate::MAX_FILE_SIZE).unwrap_or(usize::MAX),
        }
    }
}

fn location(l: serde_saphyr::Location) -> Option<Location> {
    let line = usize::try_from(l.line()).ok()?;
    let column = usize::try_from(l.column()).ok()?;
    (line > 0).then_some(Location { line, column })
}

/// The message without the parser's own ` at line L, column C ...` decorations (the position
/// is reported separately), and the location.
fn describe(e: &serde_saphyr::Error) -> FormatError {
    // serde's own wording for the errors strict-config reads (backquoted names).
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = match e {
        serde_saphyr::Error::Message { msg, .. } => msg.clone(),
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown field `{field}`, expected one of {}",
            quoted(expected)
        ),
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown variant `{variant}`, expected one of {}",
            quoted(expected)
        ),
        other => other.to_string(),
    };
    let message = match text.find(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    };
    FormatError {
        message,
        location: e.location().and_then(location),
    }
}

/// Deserialize `T` from YAML text within `limits`. `origin` names the source in messages.
pub fn from_yaml_str_with_limits<T: DeserializeOwned>(
    origin: &str,
    text: &str,
    limits: &YamlLimits,
) -> Result<T, ConfigError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: serde_saphyr::budget! {
            max_depth: limits.max_depth,
            max_nodes: limits.max_nodes,
            max_aliases: limits.max_aliases,
            max_total_scalar_bytes: limits.max_scalar_bytes,
        },
    };
    // A failed deserialization stops the parser half-way; its own end-of-input check would then
    // report the rest as "more documents", so the first error is kept aside and wins.
    let mut first_error: Option<ConfigError> = None;
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        from_deserializer(origin, de, describe).map_err(|e| {
            first_error = Some(e);
            <serde_saphyr::Error as serde::de::Error>::custom("configuration error")
        })
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => {
            let FormatError { message, location } = describe(&e);
            Err(ConfigError::Syntax {
                origin: origin.to_owned(),
                location,
                message,
            })
        }
    }
}

/// Deserialize `T` from YAML text with the default [`YamlLimits`].
pub fn from_yaml_str<T: DeserializeOwned>(origin: &str, text: &str) -> Result<T, ConfigError> {
    from_yaml_str_with_limits(origin, text, &YamlLimits::default())
}

/// Read a YAML file (at most [`crate::MAX_FILE_SIZE`] bytes) and deserialize `T` from it.
pub fn from_yaml_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let origin = path.display().to_string();
    let text = read_limited(path, &origin)?;
    from_yaml_str(&origin, &text)
}
