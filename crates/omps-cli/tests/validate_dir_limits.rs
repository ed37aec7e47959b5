//! `omps validate DIR`: directory limits far above real packages by default, flags to change
//! them, links inside the package followed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn omps() -> Command {
    Command::cargo_bin("omps").unwrap()
}

/// A valid fixture with 1,100 extra files: more than an upload may hold, fine for a directory.
fn big_package() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkg");
    copy_dir(&fixture("deployment-validation-operator"), &root);
    std::fs::create_dir(root.join("docs")).unwrap();
    for i in 0..1_100 {
        std::fs::write(root.join(format!("docs/{i}.md")), "x").unwrap();
    }
    tmp
}

#[test]
fn a_directory_over_the_upload_limits_is_validated() {
    let tmp = big_package();
    omps()
        .args(["validate", "--output", "json"])
        .arg(tmp.path().join("pkg"))
        .assert()
        .code(0);
}

#[test]
fn limit_flags_tighten_directory_intake() {
    let tmp = big_package();
    omps()
        .args(["validate", "--max-entries", "500"])
        .arg(tmp.path().join("pkg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("too many entries"));
    omps()
        .args(["validate", "--max-total-bytes", "1000"])
        .arg(tmp.path().join("pkg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("larger than limit"));
    omps()
        .args(["validate", "--max-file-bytes", "100"])
        .arg(tmp.path().join("pkg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is larger than limit (100B)"));
}

#[test]
fn a_link_out_of_the_package_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkg");
    copy_dir(&fixture("deployment-validation-operator"), &root);
    std::os::unix::fs::symlink("/etc/hostname", root.join("host.yaml")).unwrap();
    omps()
        .arg("validate")
        .arg(&root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'host.yaml' is a symbolic link to a place outside the package directory",
        ));
}
