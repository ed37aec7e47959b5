//! The crate's one error type.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// One entry of a Kubernetes `Status`'s `details.causes` (a field that failed validation, or a
/// field another manager owns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
pub struct Cause {
    /// `FieldManagerConflict`, `FieldValueInvalid`, …
    #[serde(default, rename = "reason")]
    pub kind: String,
    /// The field path (`.spec.replicas`).
    #[serde(default)]
    pub field: String,
    /// What the server said about it (for a conflict, it names the other manager).
    #[serde(default)]
    pub message: String,
}

/// An object that was not ready when its wait ended, with the deciding field or condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotReady {
    /// `Kind/name` (with ` (namespace)` for namespaced objects).
    pub object: String,
    /// The deciding field or condition with its reason and message.
    pub status: String,
}

/// Everything that can go wrong, grouped by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent (bad YAML, stray files, missing names,
    /// `<INFRAID>` without OpenShift). Every problem found is listed.
    #[error("invalid input:\n  {}", .problems.join("\n  "))]
    Input {
        /// One line per problem, each naming its file (and document).
        problems: Vec<String>,
    },
    /// A local file could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The connection settings (kubeconfig, server URL, certificates) are unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The API server refused a request; `body` is its answer as received.
    #[error("{context}: {status} {reason}: {message}{}", causes_suffix(.causes))]
    Api {
        /// What was being done (`apply Deployment/web (ns)`).
        context: String,
        /// HTTP status.
        status: u16,
        /// Status `reason` (`Invalid`, `Forbidden`, `NotFound`, …).
        reason: String,
        /// Status `message`.
        message: String,
        /// Status `details.causes`.
        causes: Vec<Cause>,
        /// The raw body.
        body: String,
    },
    /// Server-side apply found fields owned by another field manager; re-run with force to take
    /// them over.
    #[error("{object}: apply conflicts with other field managers:\n  {}", .conflicts.iter().map(|c| format!("{}: {}", c.field, c.message)).collect::<Vec<_>>().join("\n  "))]
    Conflict {
        /// `Kind/name (namespace)`.
        object: String,
        /// Every conflicting field and the manager that owns it.
        conflicts: Vec<Cause>,
    },
    /// The credentials were refused (401, OAuth failure, expired token).
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    /// The cluster could not be reached, or answered with something unreadable, after retries.
    #[error("{context}: {message}")]
    Transport {
        /// What was being done.
        context: String,
        /// What went wrong.
        message: String,
    },
    /// An API response was larger than [`crate::Limits::max_response_bytes`].
    #[error("{context}: response larger than {max} bytes")]
    ResponseTooLarge {
        /// What was being done.
        context: String,
        /// The limit.
        max: usize,
    },
    /// A kind never appeared in discovery before the deadline.
    #[error("{file}: kind not served: {api_version} {kind}")]
    KindNotServed {
        /// The file that uses it.
        file: String,
        /// `group/version`.
        api_version: String,
        /// The kind.
        kind: String,
    },
    /// Objects were still not ready when the file's (or the run's) deadline passed.
    #[error("{file}: timed out after {waited_s:.0}s waiting for:\n  {}", .not_ready.iter().map(|n| format!("{}: {}", n.object, n.status)).collect::<Vec<_>>().join("\n  "))]
    Timeout {
        /// The file being waited on.
        file: String,
        /// How long it waited.
        waited_s: f64,
        /// Every object that was not ready.
        not_ready: Vec<NotReady>,
    },
    /// An object reached a state it will not recover from by waiting.
    #[error("{file}: {object} failed: {message}")]
    Failed {
        /// The file being waited on.
        file: String,
        /// `Kind/name (namespace)`.
        object: String,
        /// The object's own words (condition or container message).
        message: String,
    },
    /// The secret exists and replacing it was not asked for.
    #[error("secret {namespace}/{name} exists (use --replace)")]
    SecretExists {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The cluster has no `config.openshift.io` infrastructure (not OpenShift) or it is not
    /// readable.
    #[error("infrastructure name unavailable: {0}")]
    NotOpenShift(String),
    /// The run was interrupted (SIGINT/SIGTERM); what was applied stays applied.
    #[error("interrupted (what was applied stays applied)")]
    Interrupted,
}

fn causes_suffix(causes: &[Cause]) -> String {
    causes.iter().fold(String::new(), |mut out, c| {
        let _ = write!(out, "\n  {}: {}", c.field, c.message);
        out
    })
}

impl Error {
    /// Whether the same call may succeed if made again (429, 5xx, transport).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// The exit code the specification gives this failure (`cluster-apply.md` §7): 1 rejected by
    /// the API or unreachable, 2 bad input, 3 timeout, 4 failed object, 5 authentication, 130
    /// interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Input { .. } | Self::Io { .. } | Self::Config(_) => 2,
            Self::KindNotServed { .. } | Self::Timeout { .. } => 3,
            Self::Failed { .. } => 4,
            Self::Unauthorized(_) => 5,
            Self::Interrupted => 130,
            Self::Api { .. }
            | Self::Conflict { .. }
            | Self::Transport { .. }
            | Self::ResponseTooLarge { .. }
            | Self::SecretExists { .. }
            | Self::NotOpenShift(_) => 1,
        }
    }
}
