//! Hard limits for untrusted catalogs, bundles and layers, as data.

use manifest_bundle::YamlLimits;

/// Limits applied to everything this crate reads. Exceeding one is a
/// [`CatalogError::Limit`](crate::CatalogError::Limit), never a panic or an unbounded allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogLimits {
    /// Bytes of one file (default 64 MiB: the largest community catalog file is about 40 MiB).
    pub max_file_bytes: u64,
    /// Bytes of all files of one catalog or bundle (default 512 MiB).
    pub max_total_bytes: u64,
    /// Number of files (default 100,000).
    pub max_files: usize,
    /// Directory nesting depth (default 32).
    pub max_depth: usize,
    /// Nesting depth of one JSON value (default 256).
    pub max_json_depth: usize,
    /// Decompressed bytes read from one image layer, all entries counted (default 2 GiB: base
    /// image layers are walked to find the catalog).
    pub max_layer_bytes: u64,
    /// Entries of one image layer (default 1,000,000).
    pub max_layer_entries: usize,
    /// Budgets for every YAML document.
    pub yaml: YamlLimits,
}

impl Default for CatalogLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 * 1024 * 1024,
            max_total_bytes: 512 * 1024 * 1024,
            max_files: 100_000,
            max_depth: 32,
            max_json_depth: 256,
            max_layer_bytes: 2 * 1024 * 1024 * 1024,
            max_layer_entries: 1_000_000,
            yaml: YamlLimits {
                max_bytes: 64 * 1024 * 1024,
                ..YamlLimits::default()
            },
        }
    }
}
