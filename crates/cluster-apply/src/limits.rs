//! Hard limits for untrusted input (manifest files, API responses), as data.

use std::time::Duration;

/// Budgets for parsing one YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlLimits {
    /// Size of the text in bytes (default 8 MiB).
    pub max_bytes: usize,
    /// Nesting depth (default 128: CRD schemas nest deeply).
    pub max_depth: usize,
    /// Nodes produced, counting alias expansion (default 1,000,000).
    pub max_nodes: usize,
    /// Nodes produced by alias expansion alone (default 100,000), what stops an alias bomb.
    pub max_alias_nodes: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 128,
            max_nodes: 1_000_000,
            max_alias_nodes: 100_000,
        }
    }
}

/// Limits on what is read from disk and from the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Regular files considered in the directory (default 1,000).
    pub max_files: usize,
    /// Bytes of all manifest files together (default 64 MiB).
    pub max_total_bytes: u64,
    /// Objects across the directory after `List` expansion (default 10,000).
    pub max_objects: usize,
    /// Budgets for each file's YAML.
    pub yaml: YamlLimits,
    /// Bytes of one API response body (default 32 MiB; a large cluster's CRD list is big).
    pub max_response_bytes: usize,
    /// Bytes of one secret's data (default 1 MiB, the apiserver's own limit).
    pub max_secret_bytes: usize,
    /// Time for one API call, headers and body (default 30 s).
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 1_000,
            max_total_bytes: 64 * 1024 * 1024,
            max_objects: 10_000,
            yaml: YamlLimits::default(),
            max_response_bytes: 32 * 1024 * 1024,
            max_secret_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}
