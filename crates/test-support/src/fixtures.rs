//! The shared operator fixtures (`../shared/fixtures/operators` beside the repository), and
//! small generated inputs: a directory of given files, a file of patterned bytes.

use std::path::{Path, PathBuf};

/// The directory holding one sub-directory per operator fixture.
pub fn operators_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators")
}

/// One operator fixture directory, e.g. `operator("etcd")`.
pub fn operator(name: &str) -> PathBuf {
    operators_dir().join(name)
}

/// A new temporary directory holding `files` (`(name, text)`).
///
/// # Panics
///
/// When the directory or a file cannot be written.
pub fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a fixture file");
    }
    dir
}

/// Writes `dir/name` with `len` bytes of a pattern that depends on `seed`: files of the same
/// size and seed are identical (fixed MD5s and ETags), different seeds differ.
///
/// # Panics
///
/// When the file cannot be written.
pub fn patterned_file(dir: &Path, name: &str, len: usize, seed: u8) -> PathBuf {
    let path = dir.join(name);
    let data: Vec<u8> = (0..len)
        .map(|i| {
            u8::try_from(i % 251)
                .expect("below 251")
                .wrapping_mul(31)
                .wrapping_add(seed)
        })
        .collect();
    std::fs::write(&path, data).expect("write a patterned file");
    path
}
