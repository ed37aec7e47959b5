//! The crate's error type.

use crate::validate::ValidationTree;

/// Everything that can go wrong in this crate.
///
/// Variants say what the caller can do: fix the input (`Load`, `Render`, `Model`, `Invalid`,
/// `Template`, `InvalidArgument`), raise a limit (`Limit`), or look at the file system (`Io`).
/// Nothing here is retryable: the library does no network I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A catalog file could not be read as FBC (rules L1–L4).
    #[error("{path}: {message}")]
    Load {
        /// File (relative to the catalog root) or `<input>`.
        path: String,
        /// What is wrong, in upstream's words where it has them.
        message: String,
    },
    /// The catalog could not be turned into a package/channel/bundle model (rules M1–M18); the
    /// first failure stops, as in `opm validate`.
    #[error("{0}")]
    Model(String),
    /// The model breaks rules of §7.3; every failure is in the tree.
    #[error("{0}")]
    Invalid(ValidationTree),
    /// A bundle could not be rendered.
    #[error("{0}")]
    Render(String),
    /// A template could not be expanded.
    #[error("{0}")]
    Template(String),
    /// An argument is not usable (bad package name, unknown channel, wrong kind of input).
    #[error("{0}")]
    InvalidArgument(String),
    /// Input exceeded a configured limit.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What was counted.
        what: String,
        /// The limit that was hit.
        limit: u64,
    },
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CatalogError {
    /// Always `false`: every failure here comes from the input or the local file system and
    /// repeats on retry.
    pub fn is_retryable(&self) -> bool {
        false
    }

    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn load(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Load {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn limit(what: impl Into<String>, limit: u64) -> Self {
        Self::Limit {
            what: what.into(),
            limit,
        }
    }
}
