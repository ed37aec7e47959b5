//! Directory intake: a local tree is read the way operator-courier reads it (links inside the
//! root followed, any Linux file name), with limits far above any real package, while zip
//! uploads keep refusing links and odd names (see `hostile_archives.rs`).

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::symlink;
use std::path::Path;

use manifest_bundle::{Error, Limits, ManifestTree};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn links_inside_the_root_are_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkg");
    write(
        &root,
        "real/0.1.0/x.csv.yaml",
        "kind: ClusterServiceVersion\n",
    );
    write(&root, "docs/README.md", "read me\n");
    symlink("real/0.1.0", root.join("0.1.0")).unwrap();
    symlink("../docs/README.md", root.join("real/README")).unwrap();
    symlink("real/0.1.0/x.csv.yaml", root.join("top.csv.yaml")).unwrap();
    let tree = ManifestTree::from_dir(&root, &Limits::for_directories()).unwrap();
    assert_eq!(
        tree.paths(),
        [
            "0.1.0/x.csv.yaml",
            "docs/README.md",
            "real/0.1.0/x.csv.yaml",
            "real/README",
            "top.csv.yaml"
        ]
    );
    assert_eq!(
        tree.get("top.csv.yaml"),
        Some(&b"kind: ClusterServiceVersion\n"[..])
    );
}

#[test]
fn links_out_of_the_root_loops_and_dangling_links_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkg");
    write(&root, "a.yaml", "a: 1\n");
    write(tmp.path(), "outside.yaml", "secret: 1\n");
    let limits = Limits::for_directories();

    symlink("../outside.yaml", root.join("up.yaml")).unwrap();
    let e = ManifestTree::from_dir(&root, &limits).unwrap_err();
    assert!(
        matches!(e, Error::LinkOutsideRoot { ref name } if name == "up.yaml"),
        "{e}"
    );
    std::fs::remove_file(root.join("up.yaml")).unwrap();

    std::fs::create_dir(root.join("sub")).unwrap();
    symlink("..", root.join("sub/loop")).unwrap();
    let e = ManifestTree::from_dir(&root, &limits).unwrap_err();
    assert!(
        matches!(e, Error::LinkLoop { ref name } if name == "sub/loop"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "'sub/loop' is a symbolic link to one of its own parent directories (a loop)"
    );
    std::fs::remove_file(root.join("sub/loop")).unwrap();

    symlink("missing.yaml", root.join("gone.yaml")).unwrap();
    let e = ManifestTree::from_dir(&root, &limits).unwrap_err();
    assert!(matches!(e, Error::BrokenLink { .. }), "{e}");
}

#[test]
fn any_linux_file_name_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "back\\slash.yaml", "a: 1\n");
    write(root, "a:b.txt", "x\n");
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.yaml");
    std::fs::write(root.join(odd), "b: 2\n").unwrap();
    let tree = ManifestTree::from_dir(root, &Limits::for_directories()).unwrap();
    assert_eq!(tree.len(), 3);
    assert_eq!(tree.get("back\\slash.yaml"), Some(&b"a: 1\n"[..]));
    assert_eq!(tree.get("a:b.txt"), Some(&b"x\n"[..]));
    assert_eq!(tree.get("caf\u{fffd}.yaml"), Some(&b"b: 2\n"[..]));
}

#[test]
fn directory_limits_are_far_above_real_packages_and_still_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 0..1_200 {
        write(root, &format!("files/f{i}.txt"), "x");
    }
    std::fs::write(root.join("big.bin"), vec![0u8; 21 * 1024 * 1024]).unwrap();
    // Over the upload limits, within the directory limits.
    let tree = ManifestTree::from_dir(root, &Limits::for_directories()).unwrap();
    assert_eq!(tree.len(), 1_201);
    assert!(matches!(
        ManifestTree::from_dir(root, &Limits::default()),
        Err(Error::TooManyEntries { .. } | Error::TooLarge { .. } | Error::EntryTooLarge { .. })
    ));
    let tight = Limits {
        max_entries: 500,
        ..Limits::for_directories()
    };
    assert!(matches!(
        ManifestTree::from_dir(root, &tight),
        Err(Error::TooManyEntries { max: 500, .. })
    ));
    let small = Limits {
        max_total_bytes: 1024 * 1024,
        ..Limits::for_directories()
    };
    assert!(matches!(
        ManifestTree::from_dir(root, &small),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn special_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let e = ManifestTree::from_dir(tmp.path(), &Limits::for_directories()).unwrap_err();
    assert!(matches!(e, Error::NotRegularFile { .. }), "{e}");
}
