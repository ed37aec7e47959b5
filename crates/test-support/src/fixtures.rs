//! The shared operator fixtures (`../shared/fixtures/operators` beside the repository).

use std::path::PathBuf;

/// The directory holding one sub-directory per operator fixture.
pub fn operators_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators")
}

/// One operator fixture directory, e.g. `operator("etcd")`.
pub fn operator(name: &str) -> PathBuf {
    operators_dir().join(name)
}
