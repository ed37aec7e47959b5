//! The spooling intake: files the caller does not keep in memory are streamed to disk under the
//! same limits, and the App Registry blob built from the tree plus the spooled files is the blob
//! of the whole tree, byte for byte.

use std::io::Write as _;
use std::path::Path;

use manifest_bundle::layout::{self, Layout};
use manifest_bundle::{
    Error, Limits, ManifestTree, Spool, YamlLimits, app_registry_blob, app_registry_blob_spooled,
};

/// The `etcd` fixture (nested) as zip entries, plus `extra` files.
fn etcd_zip(extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators/etcd");
    let tree = ManifestTree::from_dir(&dir, &Limits::default()).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, data) in tree.iter() {
        writer.start_file(path, options).unwrap();
        writer.write_all(data).unwrap();
    }
    for (path, data) in extra {
        writer.start_file(*path, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn yaml_only(path: &str, _declared: u64) -> bool {
    Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

#[test]
fn spooled_files_leave_memory_and_the_blob_is_unchanged() {
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let zip = etcd_zip(&[
        ("0.9.2/payload.bin", big.clone()),
        ("README.md", b"read me\n".to_vec()),
        ("0.9.2/image-references", b"removed by courier\n".to_vec()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("upload.zip");
    std::fs::write(&archive, &zip).unwrap();
    let spool_dir = dir.path().join("spool");
    std::fs::create_dir(&spool_dir).unwrap();
    let limits = Limits::default();

    let whole = ManifestTree::from_zip_file(&archive, &limits).unwrap();
    let (tree, spooled) = ManifestTree::from_zip_file_spooling(
        &archive,
        &limits,
        &Spool {
            dir: &spool_dir,
            keep_in_memory: &yaml_only,
        },
    )
    .unwrap();

    let spooled_paths: Vec<&str> = spooled.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        spooled_paths,
        ["0.9.2/image-references", "0.9.2/payload.bin", "README.md"]
    );
    assert!(tree.get("0.9.2/payload.bin").is_none(), "not in memory");
    assert_eq!(std::fs::read(&spooled[1].location).unwrap(), big);
    assert_eq!(spooled[1].len, big.len() as u64);
    assert_eq!(tree.len() + spooled.len(), whole.len());

    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    assert_eq!(manifests.layout, Layout::Nested);
    let expected = app_registry_blob(&manifests, &whole, "etcd").unwrap();
    let streamed = app_registry_blob_spooled(&manifests, &tree, &spooled, "etcd").unwrap();
    assert_eq!(streamed, expected, "the same blob, byte for byte");
    // Without the spooled files the blob differs: they really are in it.
    let without = app_registry_blob(&manifests, &tree, "etcd").unwrap();
    assert_ne!(without.tar_sha256, expected.tar_sha256);

    let declared = ManifestTree::zip_declared_sizes(&archive).unwrap();
    assert!(declared.contains(&("0.9.2/payload.bin".to_owned(), big.len() as u64)));
    assert_eq!(declared.len(), whole.len());
}

#[test]
fn spooled_files_count_against_the_same_limits() {
    let zeros = vec![0u8; 2 * 1024 * 1024];
    let zip = etcd_zip(&[("payload.bin", zeros)]);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("upload.zip");
    std::fs::write(&archive, &zip).unwrap();
    // The declared total passes the early check; the entry limit is met while streaming.
    let limits = Limits {
        max_total_bytes: 4 * 1024 * 1024,
        max_entry_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let spool = Spool {
        dir: dir.path(),
        keep_in_memory: &yaml_only,
    };
    let spooled = ManifestTree::from_zip_file_spooling(&archive, &limits, &spool).unwrap_err();
    let in_memory = ManifestTree::from_zip_file(&archive, &limits).unwrap_err();
    assert!(
        matches!(spooled, Error::EntryTooLarge { .. }),
        "{spooled:?}"
    );
    assert_eq!(spooled.to_string(), in_memory.to_string());
}
