//! `omps validate`: exit codes, text and JSON output, zip and directory input.

use std::io::Write as _;

use assert_cmd::Command;
use predicates::prelude::*;

use test_support::fixtures::operator as fixture;

fn omps() -> Command {
    Command::cargo_bin("omps").unwrap()
}

fn zip_dir(dir: &std::path::Path) -> tempfile::NamedTempFile {
    let tree =
        manifest_bundle::ManifestTree::from_dir(dir, &manifest_bundle::Limits::default()).unwrap();
    let mut file = tempfile::Builder::new().suffix(".zip").tempfile().unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, data) in tree.iter() {
        writer
            .start_file(path, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    file.write_all(&writer.finish().unwrap().into_inner())
        .unwrap();
    file
}

#[test]
fn valid_package_exits_zero_with_courier_json() {
    let expected =
        std::fs::read_to_string(fixture("deployment-validation-operator.courier.json")).unwrap();
    omps()
        .args(["validate", "--output", "json"])
        .arg(fixture("deployment-validation-operator"))
        .assert()
        .success()
        .stdout(expected);
}

#[test]
fn text_output_is_courier_like() {
    omps()
        .arg("validate")
        .arg(fixture("deployment-validation-operator"))
        .assert()
        .success()
        .stdout("WARNING: csv spec.icon not defined [0.0.10/deploymentvalidationoperator.0.0.10.clusterserviceversion.yaml]\n");
}

#[test]
fn invalid_package_exits_one() {
    omps()
        .args(["validate", "--output", "json"])
        .arg(fixture("flagsmith-owned-crd-mismatch"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("custom resource definition flagsmith.charts.flagsmith.com referenced in csv not defined in root list of crds"))
        .stderr("Resulting bundle is invalid, input yaml is improperly defined.\n");
    omps()
        .arg("validate")
        .arg(fixture("flagsmith-owned-crd-mismatch"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "ERROR: custom resource definition",
        ));
}

#[test]
fn repository_check() {
    omps()
        .args(["validate", "--repository", "etcd"])
        .arg(fixture("etcd"))
        .assert()
        .success();
    omps()
        .args(["validate", "--output", "json", "--repository", "other"])
        .arg(fixture("etcd"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("The packageName (etcd) in bundle does not match repository name (other) provided as command line argument."));
}

#[test]
fn structural_failure_exits_one_with_empty_info() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.yaml"), "kind: ClusterServiceVersion\n").unwrap();
    omps()
        .args(["validate", "--output", "json"])
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout("{}\n")
        .stderr("Bundle does not contain any packages.\n");
}

#[test]
fn zip_input_gives_the_same_answer_as_the_directory() {
    let zip = zip_dir(&fixture("etcd"));
    let from_dir = omps()
        .args(["validate", "--output", "json"])
        .arg(fixture("etcd"))
        .output()
        .unwrap();
    let from_zip = omps()
        .args(["validate", "--output", "json"])
        .arg(zip.path())
        .output()
        .unwrap();
    assert_eq!(from_zip.status.code(), Some(0));
    assert_eq!(from_zip.stdout, from_dir.stdout);
}

#[test]
fn unreadable_input_exits_two_with_one_line() {
    let mut not_zip = tempfile::NamedTempFile::new().unwrap();
    not_zip.write_all(b"not a zip").unwrap();
    let out = omps()
        .arg("validate")
        .arg(not_zip.path())
        .assert()
        .code(2)
        .stdout("")
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("File is not a zip file"), "{text}");
    omps()
        .args(["validate", "/nonexistent/path.zip"])
        .assert()
        .code(2);
}

#[test]
fn usage_errors_exit_two() {
    omps().args(["validate"]).assert().code(2);
    omps()
        .args(["validate", "x", "--output", "yaml"])
        .assert()
        .code(2);
    omps().arg("no-such-command").assert().code(2);
    omps()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("validate"));
}

#[test]
fn bundle_format_is_validated_with_bundle_rules() {
    omps()
        .args(["validate", "--output", "json"])
        .arg(fixture("tackle-operator"))
        .assert()
        .success();
}
