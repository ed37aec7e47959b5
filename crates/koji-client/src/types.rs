//! Typed results of the Koji methods this crate wraps.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::Value;

/// How to name a build in `getBuild`, `getBuildType` and `getBuildLogs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildRef {
    /// A build id.
    Id(i64),
    /// An NVR string such as `foo-1.0-3` (the hub splits it at the last two dashes).
    Nvr(String),
    /// Name, version and release given separately.
    Parts {
        /// Package name.
        name: String,
        /// Version.
        version: String,
        /// Release.
        release: String,
    },
}

impl BuildRef {
    /// The XML-RPC argument for this reference.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Id(id) => Value::Int(*id),
            Self::Nvr(nvr) => Value::String(nvr.clone()),
            Self::Parts {
                name,
                version,
                release,
            } => Value::structure([
                ("name", Value::from(name.as_str())),
                ("version", Value::from(version.as_str())),
                ("release", Value::from(release.as_str())),
            ]),
        }
    }
}

impl fmt::Display for BuildRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Nvr(nvr) => f.write_str(nvr),
            Self::Parts {
                name,
                version,
                release,
            } => write!(f, "{name}-{version}-{release}"),
        }
    }
}

impl From<i64> for BuildRef {
    fn from(id: i64) -> Self {
        Self::Id(id)
    }
}
impl From<&str> for BuildRef {
    fn from(nvr: &str) -> Self {
        Self::Nvr(nvr.to_owned())
    }
}
impl From<String> for BuildRef {
    fn from(nvr: String) -> Self {
        Self::Nvr(nvr)
    }
}

/// State of a build (`koji.BUILD_STATES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum BuildState {
    /// 0: still building.
    Building,
    /// 1: done; the only state whose outputs may be used.
    Complete,
    /// 2: deleted.
    Deleted,
    /// 3: failed.
    Failed,
    /// 4: canceled.
    Canceled,
    /// A value this crate does not know.
    Unknown(i64),
}

impl From<i64> for BuildState {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::Building,
            1 => Self::Complete,
            2 => Self::Deleted,
            3 => Self::Failed,
            4 => Self::Canceled,
            other => Self::Unknown(other),
        }
    }
}

impl From<BuildState> for i64 {
    fn from(s: BuildState) -> Self {
        match s {
            BuildState::Building => 0,
            BuildState::Complete => 1,
            BuildState::Deleted => 2,
            BuildState::Failed => 3,
            BuildState::Canceled => 4,
            BuildState::Unknown(v) => v,
        }
    }
}

impl fmt::Display for BuildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Building => f.write_str("BUILDING"),
            Self::Complete => f.write_str("COMPLETE"),
            Self::Deleted => f.write_str("DELETED"),
            Self::Failed => f.write_str("FAILED"),
            Self::Canceled => f.write_str("CANCELED"),
            Self::Unknown(v) => write!(f, "{v}"),
        }
    }
}

/// A build as returned by `getBuild`. Fields the hub may omit or send as nil are `Option`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// Build id.
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// `name-version-release`.
    pub nvr: String,
    /// Epoch, usually nil for containers.
    #[serde(default)]
    pub epoch: Option<i64>,
    /// State.
    pub state: BuildState,
    /// Whether this is a draft build.
    #[serde(default)]
    pub draft: bool,
    /// Task id, nil for content-generator imports.
    #[serde(default)]
    pub task_id: Option<i64>,
    /// Package id.
    #[serde(default)]
    pub package_id: Option<i64>,
    /// Owner's name.
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Storage volume id.
    #[serde(default)]
    pub volume_id: Option<i64>,
    /// Storage volume name, normally `DEFAULT`.
    #[serde(default)]
    pub volume_name: Option<String>,
    /// Creation time as the hub's text (e.g. `2024-11-14 14:54:20.342482+00:00`).
    #[serde(default)]
    pub creation_time: Option<String>,
    /// Completion time as text; nil while building.
    #[serde(default)]
    pub completion_time: Option<String>,
    /// Completion time in epoch seconds.
    #[serde(default)]
    pub completion_ts: Option<f64>,
    /// Source SCM URL.
    #[serde(default)]
    pub source: Option<String>,
    /// Content generator name.
    #[serde(default)]
    pub cg_name: Option<String>,
    /// Free-form metadata; nil for many builds.
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub other: Map<String, serde_json::Value>,
}

/// Checksum algorithm of an archive (`checksum_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum ChecksumType {
    /// 0.
    Md5,
    /// 1.
    Sha1,
    /// 2.
    Sha256,
    /// A value this crate does not know; such checksums are not verified.
    Unknown(i64),
}

impl From<i64> for ChecksumType {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::Md5,
            1 => Self::Sha1,
            2 => Self::Sha256,
            other => Self::Unknown(other),
        }
    }
}

impl From<ChecksumType> for i64 {
    fn from(c: ChecksumType) -> Self {
        match c {
            ChecksumType::Md5 => 0,
            ChecksumType::Sha1 => 1,
            ChecksumType::Sha256 => 2,
            ChecksumType::Unknown(v) => v,
        }
    }
}

/// An archive row of `listArchives`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    /// Archive id.
    pub id: i64,
    /// Owning build id.
    pub build_id: i64,
    /// File name.
    pub filename: String,
    /// Size in bytes (sent as `<i8>` above 2 GiB).
    #[serde(default)]
    pub size: Option<i64>,
    /// Hex checksum.
    #[serde(default)]
    pub checksum: Option<String>,
    /// Checksum algorithm.
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    /// Build type name, e.g. `operator-manifests`.
    #[serde(default)]
    pub btype: Option<String>,
    /// Archive type name, e.g. `zip`.
    #[serde(default)]
    pub type_name: Option<String>,
    /// Free-form metadata.
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub other: Map<String, serde_json::Value>,
}

/// Filters of `listArchives`; unset filters are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArchives {
    /// Only archives of this build.
    pub build_id: Option<i64>,
    /// Only archives of this build type (e.g. `operator-manifests`).
    pub btype: Option<String>,
    /// Only archives with this file name.
    pub filename: Option<String>,
}

impl ListArchives {
    /// The keyword-argument struct for the call.
    pub fn to_kwargs(&self) -> Value {
        let mut members = Vec::new();
        if let Some(id) = self.build_id {
            members.push(("buildID", Value::Int(id)));
        }
        if let Some(t) = &self.btype {
            members.push(("type", Value::from(t.as_str())));
        }
        if let Some(f) = &self.filename {
            members.push(("filename", Value::from(f.as_str())));
        }
        crate::kwargs(members)
    }
}

/// A log file of a build (`getBuildLogs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildLog {
    /// File name.
    pub name: String,
    /// Directory (architecture) the log belongs to.
    #[serde(default)]
    pub dir: Option<String>,
    /// Path relative to the file root.
    pub path: String,
}
