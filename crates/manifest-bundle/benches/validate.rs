//! In-process timing of directory intake plus validation, without process start-up.
//!
//! `cargo bench -p manifest-bundle --bench validate -- [DIR...]` (default: every shared
//! fixture; give absolute paths, cargo runs benches from the package directory). Prints one tab-separated line per directory:
//! `name  bytes  median_ns  min_ns  iterations`; `cargo xtask bench` reads these lines into
//! `docs/benchmarks.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use manifest_bundle::{Limits, ManifestTree, validate_tree};

/// Each directory is measured for at least this long (and at least `MIN_ITERATIONS` times).
const BUDGET: Duration = Duration::from_millis(300);
const MIN_ITERATIONS: usize = 10;

fn main() {
    // cargo passes `--bench`; every other argument is a directory.
    let mut dirs: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators");
        dirs = std::fs::read_dir(&fixtures)
            .unwrap_or_else(|e| panic!("{}: {e}", fixtures.display()))
            .map(|e| e.expect("fixture entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
    }
    let limits = Limits::default();
    for dir in dirs {
        let once = || {
            let tree = ManifestTree::from_dir(&dir, &limits)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            // Structural failures are results too (courier stops there as well).
            std::hint::black_box(validate_tree(&tree, None, &limits.yaml).is_ok());
        };
        once();
        let mut samples = Vec::new();
        let start = Instant::now();
        while samples.len() < MIN_ITERATIONS || start.elapsed() < BUDGET {
            let t = Instant::now();
            once();
            samples.push(t.elapsed());
        }
        samples.sort_unstable();
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "{name}\t{}\t{}\t{}\t{}",
            tree_bytes(&dir),
            samples[samples.len() / 2].as_nanos(),
            samples[0].as_nanos(),
            samples.len()
        );
    }
}

fn tree_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| {
            let e = e.expect("entry");
            let t = e.file_type().expect("file type");
            if t.is_dir() {
                tree_bytes(&e.path())
            } else if t.is_file() {
                e.metadata().expect("metadata").len()
            } else {
                0
            }
        })
        .sum()
}
