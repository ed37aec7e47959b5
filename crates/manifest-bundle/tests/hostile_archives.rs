//! Hostile archives: every case must fail with its exact typed error, quickly, in bounded memory,
//! and without leaving a file behind. nextest runs each test in its own process, so the peak RSS
//! read from `/proc/self/status` belongs to the case alone.

use std::path::PathBuf;

use manifest_bundle::{Error, Limits, ManifestTree};
use test_support::zip_forge::{Entry, build, entry};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs intake from a file in a private temp dir and checks the invariants: nothing written beside
/// the archive (intake works in memory by design), bounded time and peak memory.
fn intake(bytes: &[u8], limits: &Limits) -> Result<ManifestTree, Error> {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("upload.zip");
    std::fs::write(&zip, bytes).unwrap();
    let started = std::time::Instant::now();
    let result = ManifestTree::from_zip_file(&zip, limits);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "intake took {:?}",
        started.elapsed()
    );
    let mut left: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    assert_eq!(left, vec![zip], "intake must not write files");
    let peak = peak_rss_kib();
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    // The in-memory path gives the same answer.
    let again = ManifestTree::from_zip_bytes(bytes, limits);
    assert_eq!(
        format!("{:?}", result.as_ref().map(ManifestTree::paths)),
        format!("{:?}", again.as_ref().map(ManifestTree::paths))
    );
    result
}

fn err(bytes: &[u8]) -> Error {
    intake(bytes, &Limits::default()).expect_err("hostile archive must be rejected")
}

fn small_limits() -> Limits {
    Limits {
        max_total_bytes: 1024 * 1024,
        max_entry_bytes: 512 * 1024,
        max_entries: 50,
        ..Limits::default()
    }
}

const PKG: &[u8] = b"packageName: p\nchannels: []\n";

#[test]
fn valid_archive_is_read_sorted() {
    let mut dir = entry("1.0.0/", b"");
    dir.unix_mode = Some(0o040_755);
    let mut csv = entry("1.0.0/p.csv.yaml", b"kind: ClusterServiceVersion\n");
    csv.deflate = true;
    let tree = intake(
        &build(&[entry("z.txt", b"z"), dir, csv, entry("p.package.yaml", PKG)]),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        tree.paths(),
        vec!["1.0.0/p.csv.yaml", "p.package.yaml", "z.txt"]
    );
    assert_eq!(
        tree.get("1.0.0/p.csv.yaml"),
        Some(&b"kind: ClusterServiceVersion\n"[..])
    );
}

#[test]
fn not_a_zip() {
    assert!(matches!(
        err(b"this is not a zip file at all"),
        Error::NotAZip
    ));
    assert_eq!(err(b"hello").to_string(), "File is not a zip file");
}

#[test]
fn empty_file_is_not_a_zip() {
    assert!(matches!(err(b""), Error::NotAZip));
}

#[test]
fn truncated_archive() {
    let bytes = build(&[entry("a.yaml", &[b'a'; 4000]), entry("b.yaml", b"b")]);
    let e = err(&bytes[..bytes.len() / 2]);
    assert!(matches!(e, Error::NotAZip), "{e:?}");
}

#[test]
fn truncated_inside_entry_data() {
    // The central directory survives but points past the local data of the first entry.
    let mut bytes = build(&[entry("a.yaml", &[b'a'; 4000])]);
    let cd = bytes
        .windows(4)
        .rposition(|w| w == 0x0201_4b50u32.to_le_bytes())
        .unwrap();
    bytes.drain(100..cd);
    let e = err(&bytes);
    assert!(matches!(e, Error::NotAZip), "{e:?}");
}

#[test]
fn crc_mismatch() {
    let mut e = entry("a.yaml", b"kind: x\n");
    e.crc = Some(0xdead_beef);
    let error = err(&build(&[e]));
    assert!(
        matches!(error, Error::CrcMismatch { ref name } if name == "a.yaml"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "CRC check failed for file a.yaml in archive"
    );
}

#[test]
fn crc_mismatch_deflated() {
    let mut e = entry("a.yaml", &[b'x'; 10_000]);
    e.deflate = true;
    e.crc = Some(1);
    assert!(matches!(err(&build(&[e])), Error::CrcMismatch { .. }));
}

#[test]
fn encrypted_member() {
    let mut e = entry("secret.yaml", b"\x00\x01garbage");
    e.flags = 1;
    let error = err(&build(&[e]));
    assert!(error.to_string().contains("is encrypted"), "{error}");
    assert_eq!(
        error.to_string(),
        "File 'secret.yaml' is encrypted, password required for extraction"
    );
}

fn assert_unsafe(name: &[u8]) {
    let mut e = entry("x", b"data");
    e.name = name.to_vec();
    let error = err(&build(&[e]));
    assert!(
        matches!(error, Error::UnsafePath { .. }),
        "{:?}: {error:?}",
        String::from_utf8_lossy(name)
    );
    assert!(error.to_string().ends_with("has an unsafe path"));
}

#[test]
fn absolute_path() {
    assert_unsafe(b"/etc/passwd");
}

#[test]
fn parent_traversal() {
    assert_unsafe(b"../evil.yaml");
}

#[test]
fn nested_parent_traversal() {
    assert_unsafe(b"a/../../evil.yaml");
}

#[test]
fn backslash_separator() {
    assert_unsafe(b"..\\..\\evil.yaml");
}

#[test]
fn nul_in_name() {
    assert_unsafe(b"a.yaml\0.txt");
}

#[test]
fn drive_letter() {
    assert_unsafe(b"C:/windows/evil.yaml");
}

#[test]
fn dot_and_empty_components() {
    assert_unsafe(b"./a.yaml");
    assert_unsafe(b"a//b.yaml");
}

#[test]
fn symlink_entry() {
    let mut e = entry("link.yaml", b"/etc/passwd");
    e.unix_mode = Some(0o120_777);
    let error = err(&build(&[e]));
    assert_eq!(
        error.to_string(),
        "Archive entry 'link.yaml' is not a regular file"
    );
}

#[test]
fn fifo_and_device_entries() {
    for mode in [0o010_644, 0o020_644, 0o060_644, 0o140_644] {
        let mut e = entry("special", b"");
        e.unix_mode = Some(mode);
        assert!(
            matches!(err(&build(&[e])), Error::NotRegularFile { .. }),
            "mode {mode:o}"
        );
    }
}

#[test]
fn duplicate_names() {
    let error = err(&build(&[entry("a.yaml", b"1"), entry("a.yaml", b"2")]));
    assert_eq!(error.to_string(), "Archive entry 'a.yaml' is duplicated");
}

#[test]
fn file_and_directory_clash() {
    let error = err(&build(&[entry("a", b"1"), entry("a/b.yaml", b"2")]));
    assert!(matches!(error, Error::Duplicate { .. }), "{error:?}");
    let error = err(&build(&[entry("a/b.yaml", b"2"), entry("a", b"1")]));
    assert!(matches!(error, Error::Duplicate { .. }), "{error:?}");
    let error = err(&build(&[entry("d/", b""), entry("d", b"1")]));
    assert!(matches!(error, Error::Duplicate { .. }), "{error:?}");
}

#[test]
fn non_utf8_name() {
    let mut e = entry("x", b"data");
    e.name = b"caf\xe9.yaml".to_vec();
    let error = err(&build(&[e]));
    assert!(matches!(error, Error::NonUtf8Name { .. }), "{error:?}");
}

#[test]
fn declared_size_over_limit() {
    let mut e = entry("big.yaml", b"small");
    e.declared_size = Some(30 * 1024 * 1024);
    let error = err(&build(&[e]));
    assert_eq!(
        error.to_string(),
        format!(
            "Uncompressed archive is larger than limit ({}B>{}B)",
            30 * 1024 * 1024,
            20 * 1024 * 1024
        )
    );
}

#[test]
fn honest_zip_bomb_rejected_on_declared_sizes() {
    let mut e = entry("zeros.yaml", &vec![0u8; 64 * 1024 * 1024]);
    e.deflate = true;
    let bytes = build(&[e]);
    assert!(bytes.len() < 200 * 1024, "bomb is small: {}", bytes.len());
    assert!(matches!(err(&bytes), Error::TooLarge { .. }));
}

#[test]
fn lying_zip_bomb_stops_at_actual_bytes() {
    // Declares 100 bytes, inflates to 8 MiB: the cap on actual bytes must stop it.
    let limits = small_limits();
    let mut e = entry("zeros.yaml", &vec![0u8; 8 * 1024 * 1024]);
    e.deflate = true;
    e.declared_size = Some(100);
    let error = intake(&build(&[e]), &limits).unwrap_err();
    // The zip reader refuses to inflate past the declared size, so the lie is caught as corruption
    // long before the cap; the cap on actual bytes is tested in the crate's unit tests.
    assert_eq!(
        error.to_string(),
        "Archive is corrupt: zeros.yaml: File is larger than its declared uncompressed size"
    );
}

#[test]
fn actual_total_counted_across_entries() {
    // Each entry is honest and under the per-entry cap, but together they pass the total.
    let limits = Limits {
        max_total_bytes: 1000,
        max_entry_bytes: 1000,
        ..Limits::default()
    };
    let mut a = entry("a.yaml", &[b'a'; 600]);
    a.declared_size = Some(10);
    let mut b = entry("b.yaml", &[b'b'; 600]);
    b.declared_size = Some(10);
    let error = intake(&build(&[a, b]), &limits).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Archive is corrupt: a.yaml: File is larger than its declared uncompressed size"
    );
}

#[test]
fn per_entry_limit() {
    let limits = small_limits();
    let error = intake(
        &build(&[entry("big.yaml", &vec![b'x'; 600 * 1024])]),
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Archive entry 'big.yaml' is larger than limit ({}B)",
            512 * 1024
        )
    );
}

#[test]
fn too_many_entries() {
    let entries: Vec<Entry> = (0..1001)
        .map(|i| entry(&format!("f{i}.yaml"), b"x"))
        .collect();
    assert_eq!(
        err(&build(&entries)).to_string(),
        "Archive has too many entries (1001 > 1000)"
    );
}

#[test]
fn hundred_thousand_entries_fail_fast() {
    // The classic 16-bit entry count caps a plain archive at 65535; use that many.
    let entries: Vec<Entry> = (0..65_535).map(|i| entry(&format!("{i}"), b"")).collect();
    let error = err(&build(&entries));
    assert!(
        matches!(
            error,
            Error::TooManyEntries {
                count: 65_535,
                max: 1000
            }
        ),
        "{error:?}"
    );
}

#[test]
fn overlapping_entries_bomb() {
    // Many central-directory records share one local file: the non-recursive zip bomb shape.
    let mut entries = vec![{
        let mut e = entry("kernel.yaml", &vec![b'k'; 100_000]);
        e.deflate = true;
        e
    }];
    for i in 1..20 {
        let mut e = entries[0].clone();
        e.name = format!("copy{i}.yaml").into_bytes();
        e.reuse_offset_of = Some(0);
        entries.push(e);
    }
    let error = err(&build(&entries));
    assert!(
        matches!(error, Error::OverlappingEntries { .. }),
        "{error:?}"
    );
}

#[test]
fn unsupported_compression_method() {
    let mut e = entry("a.yaml", b"BZh9...");
    e.method = Some(12);
    let error = err(&build(&[e]));
    assert_eq!(
        error.to_string(),
        "Archive entry 'a.yaml' uses an unsupported compression method"
    );
}

#[test]
fn nested_archive_over_the_limit() {
    let limits = small_limits();
    let inner = build(&[entry("x.yaml", &vec![b'y'; 700 * 1024])]);
    let mut outer_a = entry("inner.zip", &inner);
    outer_a.deflate = true;
    let error = intake(
        &build(&[outer_a, entry("pad.yaml", &vec![b'p'; 400 * 1024])]),
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::TooLarge { seen, max: 1_048_576 } if seen > 1_048_576),
        "{error:?}"
    );
}

#[test]
fn giant_name() {
    let name = "a".repeat(60_000);
    let error = err(&build(&[entry(&name, b"x")]));
    assert!(matches!(error, Error::PathTooLong { .. }), "{error:?}");
    assert!(
        error.to_string().len() < 400,
        "message must not echo a giant name"
    );
}

#[test]
fn too_deep() {
    let name = format!("{}f.yaml", "d/".repeat(40));
    assert!(matches!(
        err(&build(&[entry(&name, b"x")])),
        Error::PathTooLong { .. }
    ));
}

#[test]
fn directory_intake_rejects_symlinks_out_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.package.yaml"), PKG).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("evil.yaml")).unwrap();
    let error = ManifestTree::from_dir(dir.path(), &Limits::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "'evil.yaml' is a symbolic link to a place outside the package directory"
    );
}

#[test]
fn directory_intake_counts_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), vec![b'a'; 2000]).unwrap();
    let limits = Limits {
        max_total_bytes: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        ManifestTree::from_dir(dir.path(), &limits),
        Err(Error::TooLarge { .. })
    ));
}
