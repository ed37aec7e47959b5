//! Stable driver for the fuzz targets: replays every file under `regressions/<target>/` (seed
//! inputs and any crash ever found), then mutates them at random for a bounded time.
//!
//! `OMPS_FUZZ_SECONDS` (default 5) is the random budget per target and `OMPS_FUZZ_SEED` fixes the
//! generator (default: time-based, printed so a failure can be replayed). A failing input is
//! written to `target/fuzz-failures/` and named in the panic message; copy it into
//! `regressions/<target>/` once fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Target = fn(&[u8]);

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed inputs in {}", dir.display());
    files
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff\xff\xff\xff",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"../",
    b"/",
    b"&a ",
    b"*a",
    b"[[[[",
    b"{{{{",
    b"- ",
    b": ",
    b"\n",
    b"<value>",
    b"</value>",
    b"<struct><member><name>",
    b"<!DOCTYPE",
    b"&amp;",
    b"18446744073709551616",
    b"0.0.0",
    b".",
    b"\xc3\x28",
];

fn mutate(rng: &mut Rng, seeds: &[(PathBuf, Vec<u8>)], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = u8::try_from(rng.below(256)).unwrap();
            }
            2 => {
                let i = rng.below(len + 1);
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(i..i, piece.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(64) + 1);
                input.drain(i..i + n);
            }
            4 if len > 0 => input.truncate(rng.below(len)),
            5 if len > 0 => {
                // Duplicate a slice (grows repetitive structure).
                let i = rng.below(len);
                let n = rng.below((len - i).min(256) + 1);
                let piece = input[i..i + n].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, piece);
            }
            6 => {
                // Splice in part of another seed.
                let other = &seeds[rng.below(seeds.len())].1;
                if !other.is_empty() {
                    let i = rng.below(other.len());
                    let n = rng.below(other.len() - i + 1);
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            _ => {
                if len >= 4 {
                    // Overwrite a little-endian field with an extreme value.
                    let i = rng.below(len - 3);
                    let v: u32 = [0, 1, 0xFFFF, 0xFFFF_FFFF, 0x7FFF_FFFF][rng.below(5)];
                    input[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    input.truncate(1 << 20);
}

fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{target}-{hash:016x}"));
    std::fs::write(&path, input).unwrap();
    path
}

fn drive(name: &str, target: Target) {
    let seeds = corpus(name);
    for (path, bytes) in &seeds {
        assert!(
            catch_unwind(AssertUnwindSafe(|| target(bytes))).is_ok(),
            "{name}: regression input {} fails again",
            path.display()
        );
    }
    let seconds: u64 = std::env::var("OMPS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("OMPS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            // The low 64 bits are plenty for a seed.
            u64::try_from(nanos & u128::from(u64::MAX)).unwrap()
        })
        | 1;
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut input = seeds[rng.below(seeds.len())].1.clone();
        mutate(&mut rng, &seeds, &mut input);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let path = save_failure(name, &input);
            panic!(
                "{name}: input {} fails (OMPS_FUZZ_SEED={seed}, after {runs} runs)",
                path.display()
            );
        }
        runs += 1;
    }
    eprintln!("{name}: {runs} random inputs in {seconds} s (OMPS_FUZZ_SEED={seed})");
    assert!(runs > 0, "{name}: no input was run");
}

#[test]
fn zip_intake() {
    drive("zip_intake", omps_fuzz::zip_intake);
}

#[test]
fn yaml_roundtrip() {
    drive("yaml_roundtrip", omps_fuzz::yaml_roundtrip);
}

#[test]
fn xmlrpc_decode() {
    drive("xmlrpc_decode", omps_fuzz::xmlrpc_decode);
}

#[test]
fn version() {
    drive("version", omps_fuzz::version);
}
