//! Hard limits for untrusted input, as data.

/// Limits applied while taking in an archive or a directory.
///
/// Every limit is counted on what is really read (decompressed bytes, entries seen), never on what
/// an archive declares about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Total uncompressed bytes of all files (default 20 MiB, OMPS's `zipfile_max_uncompressed_size`).
    pub max_total_bytes: u64,
    /// Uncompressed bytes of one file (default: the total).
    pub max_entry_bytes: u64,
    /// Number of archive entries, directories included (default 1000, `zipfile_max_entries`).
    pub max_entries: usize,
    /// Length of an entry path in bytes (default 1024).
    pub max_path_len: usize,
    /// Number of components in an entry path (default 32).
    pub max_path_depth: usize,
    /// Budgets for every YAML document parsed from the input.
    pub yaml: YamlLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total_bytes: 20 * 1024 * 1024,
            max_entry_bytes: 20 * 1024 * 1024,
            max_entries: 1000,
            max_path_len: 1024,
            max_path_depth: 32,
            yaml: YamlLimits::default(),
        }
    }
}

impl Limits {
    /// Limits for a local directory, which is trusted more than an upload: far above any real
    /// package (the largest seen has 466 entries and 12 MB), still finite.
    pub fn for_directories() -> Self {
        Self {
            max_total_bytes: 1024 * 1024 * 1024,
            max_entry_bytes: 256 * 1024 * 1024,
            max_entries: 100_000,
            max_path_len: 4096,
            max_path_depth: 64,
            yaml: YamlLimits {
                max_bytes: 128 * 1024 * 1024,
                max_nodes: 10_000_000,
                max_alias_nodes: 1_000_000,
                ..YamlLimits::default()
            },
        }
    }
}

/// Budgets for parsing one YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlLimits {
    /// Size of the text in bytes (default 8 MiB, far above any real manifest file; directories
    /// allow 128 MiB).
    pub max_bytes: usize,
    /// Nesting depth of collections (default 326: operator-courier 2.1.11 itself fails on a
    /// manifest nested deeper, when its `yaml.dump` exceeds Python's recursion limit; PyYAML
    /// loads up to about 490 levels; real CRD schemas nest a few dozen).
    pub max_depth: usize,
    /// Nodes produced, counting every node an alias expands to (default 2,000,000: a manifest
    /// has about one node per 10 bytes; the largest fixture file has about 1,200).
    pub max_nodes: usize,
    /// Nodes produced by alias expansion alone (default 100,000): manifests rarely use aliases,
    /// and this is what keeps a billion-laughs document to a few megabytes.
    pub max_alias_nodes: usize,
}

impl Default for YamlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 326,
            max_nodes: 2_000_000,
            max_alias_nodes: 100_000,
        }
    }
}
