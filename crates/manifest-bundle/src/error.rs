//! The crate's single error type.

use crate::validate::ValidationReport;
use crate::yaml::YamlError;

/// What the OMPS API calls the class of an [`Error`]; the server maps it to its error id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The upload itself is unusable (`OMPSUploadedFileError`): fix the archive.
    UploadedFile,
    /// The manifests are not a valid operator package (`PackageValidationError`): fix the manifests.
    PackageValidation,
    /// The caller's configuration (rewrite rules) is wrong: fix the configuration.
    Configuration,
    /// Local I/O failed: retry or check the machine.
    Io,
}

/// Everything that can go wrong in intake, validation, rewriting and packaging.
///
/// `Display` gives the exact message text of the OMPS and operator-courier contracts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a zip archive (or it is truncated before its central directory).
    #[error("File is not a zip file")]
    NotAZip,
    /// The archive's structure is damaged.
    #[error("Archive is corrupt: {detail}")]
    CorruptArchive {
        /// What is wrong.
        detail: String,
    },
    /// More uncompressed bytes than allowed (declared or actually decompressed).
    #[error("Uncompressed archive is larger than limit ({seen}B>{max}B)")]
    TooLarge {
        /// Bytes declared or seen so far.
        seen: u64,
        /// The limit.
        max: u64,
    },
    /// One entry decompresses to more than the per-entry limit.
    #[error("Archive entry '{name}' is larger than limit ({max}B)")]
    EntryTooLarge {
        /// Entry name.
        name: String,
        /// The limit.
        max: u64,
    },
    /// More entries than allowed.
    #[error("Archive has too many entries ({count} > {max})")]
    TooManyEntries {
        /// Entries in the archive.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An encrypted member.
    #[error("File '{name}' is encrypted, password required for extraction")]
    Encrypted {
        /// Entry name.
        name: String,
    },
    /// Absolute path, `..`, `.`, empty component, backslash, NUL or drive letter.
    #[error("Archive entry '{name}' has an unsafe path")]
    UnsafePath {
        /// Entry name (shortened when huge).
        name: String,
    },
    /// A path longer or deeper than the limits.
    #[error(
        "Archive entry '{name}' has a path longer than {max_len} bytes or deeper than {max_depth} levels"
    )]
    PathTooLong {
        /// Entry name (shortened).
        name: String,
        /// Byte limit.
        max_len: usize,
        /// Depth limit.
        max_depth: usize,
    },
    /// A name that is not UTF-8.
    #[error("Archive entry '{lossy}' has a name that is not valid UTF-8")]
    NonUtf8Name {
        /// The name with invalid bytes replaced.
        lossy: String,
    },
    /// A symlink, device or other non-regular entry.
    #[error("Archive entry '{name}' is not a regular file")]
    NotRegularFile {
        /// Entry name.
        name: String,
    },
    /// A symbolic link in a directory that resolves outside the package root.
    #[error("'{name}' is a symbolic link to a place outside the package directory")]
    LinkOutsideRoot {
        /// The link, relative to the root.
        name: String,
    },
    /// A symbolic link to a directory that contains it (following it would never end).
    #[error("'{name}' is a symbolic link to one of its own parent directories (a loop)")]
    LinkLoop {
        /// The link, relative to the root.
        name: String,
    },
    /// A symbolic link whose target does not exist.
    #[error("'{name}' is a symbolic link whose target does not exist")]
    BrokenLink {
        /// The link, relative to the root.
        name: String,
    },
    /// Two entries for one path (or a file that is also a directory).
    #[error("Archive entry '{name}' is duplicated")]
    Duplicate {
        /// Entry name.
        name: String,
    },
    /// Entries whose data overlap: the trick behind non-recursive zip bombs.
    #[error("Archive entry '{name}' overlaps another entry")]
    OverlappingEntries {
        /// Entry name.
        name: String,
    },
    /// CRC-32 of the decompressed data does not match.
    #[error("CRC check failed for file {name} in archive")]
    CrcMismatch {
        /// Entry name.
        name: String,
    },
    /// A compression method other than stored or deflate.
    #[error("Archive entry '{name}' uses an unsupported compression method")]
    UnsupportedCompression {
        /// Entry name.
        name: String,
    },
    /// A YAML file needed for package discovery or rewriting cannot be processed.
    #[error("Failed to process yaml file /{path}")]
    YamlFile {
        /// Path relative to the root.
        path: String,
        /// Why.
        #[source]
        source: Option<YamlError>,
    },
    /// No top-level YAML file holds a `packageName`.
    #[error("Could not find packageName in manifests.")]
    PackageNameNotFound,
    /// A courier structural failure (`validation_info` is `{}`).
    #[error("{0}")]
    Structural(Structural),
    /// Validation ran and found errors.
    #[error("Resulting bundle is invalid, input yaml is improperly defined.")]
    Invalid(Box<ValidationReport>),
    /// A rewrite rule or template of the configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Conversion to the bundle format failed.
    #[error("{0}")]
    Conversion(String),
    /// Local I/O.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// operator-courier's structural failures, raised before any rule runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Structural {
    /// A YAML file is not valid YAML (or holds several documents).
    #[error("Courier requires valid input YAML files")]
    InvalidYaml {
        /// The offending file, relative to the root (not part of the courier text).
        path: String,
    },
    /// No package file in the root.
    #[error("Bundle does not contain any packages.")]
    NoPackage,
    /// More than one package file in the root.
    #[error("Only 1 package is expected to exist in source root folder.")]
    MultiplePackages,
    /// A file operator-courier cannot load: its Python ends with an exception, not a report
    /// (a character PyYAML refuses, an impossible date, text that is not UTF-8, a `kind` that
    /// is a list), or one of our YAML budgets is exceeded. Invalid, with our message.
    #[error("{path}: {detail}")]
    Unloadable {
        /// The file, relative to the root.
        path: String,
        /// What is wrong, with the line where known.
        detail: String,
    },
    /// Neither flat nor nested.
    #[error(
        "The source directory structure is not in valid flat or nested format,because no valid CSV file is found in root or manifest directories."
    )]
    NoCsv,
}

impl Error {
    /// The OMPS class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::YamlFile { .. }
            | Error::PackageNameNotFound
            | Error::Structural(_)
            | Error::Invalid(_)
            | Error::Conversion(_) => ErrorClass::PackageValidation,
            Error::Config(_) => ErrorClass::Configuration,
            Error::Io { .. } => ErrorClass::Io,
            _ => ErrorClass::UploadedFile,
        }
    }

    /// The courier `validation_info` carried by this error, if validation ran.
    pub fn validation_info(&self) -> Option<&ValidationReport> {
        match self {
            Error::Invalid(report) => Some(report),
            _ => None,
        }
    }

    /// Whether trying again with the same input can succeed (only local I/O failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io { .. })
    }

    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shortens a hostile name for messages.
pub(crate) fn display_name(name: &str) -> String {
    const MAX: usize = 200;
    if name.len() <= MAX {
        return name.to_owned();
    }
    let mut end = MAX;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &name[..end])
}
