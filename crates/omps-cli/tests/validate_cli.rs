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
    // courier's document byte for byte, then our two fields: the file of each message.
    let courier =
        std::fs::read_to_string(fixture("deployment-validation-operator.courier.json")).unwrap();
    let expected = format!(
        "{}, \"warning_files\": [\"0.0.10/deploymentvalidationoperator.0.0.10.clusterserviceversion.yaml\"], \"error_files\": []}}\n",
        courier.trim_end().strip_suffix('}').unwrap()
    );
    omps()
        .args(["validate", "--output", "json"])
        .arg(fixture("deployment-validation-operator"))
        .assert()
        .success()
        .stdout(expected);
}

#[test]
fn text_output_is_courier_like_with_a_summary_line() {
    omps()
        .current_dir(test_support::fixtures::operators_dir())
        .args(["validate", "deployment-validation-operator"])
        .assert()
        .success()
        .stdout("WARNING: csv spec.icon not defined [0.0.10/deploymentvalidationoperator.0.0.10.clusterserviceversion.yaml]\n\
                 deployment-validation-operator: valid (0 errors, 1 warning)\n");
}

/// Errors first, each message once with the files it was found in, a summary line; `--quiet`
/// hides the warnings but still counts them; JSON keeps courier's lists (one entry per file)
/// and adds the files; YAML is the same document.
#[test]
fn errors_come_first_and_repeated_messages_are_folded() {
    let csv = |v: &str| format!("{v}/etcdoperator.v{v}.clusterserviceversion.yaml");
    let community = "0.6.1/etcdoperator-community.v0.6.1.clusterserviceversion.yaml";
    let first_four = format!(
        "{community}, {}, {}, {}",
        csv("0.9.0"),
        csv("0.9.2"),
        csv("0.9.2-clusterwide")
    );
    let all_six = format!(
        "{first_four}, {}, {}",
        csv("0.9.4"),
        csv("0.9.4-clusterwide")
    );
    let expected = format!(
        "ERROR: csv spec.install not defined [{}]\n\
         WARNING: csv metadata.annotations.categories not defined [{community}, {}]\n\
         WARNING: csv metadata.annotations.containerImage not defined [{first_four}]\n\
         WARNING: csv metadata.annotations.createdAt not defined [{first_four}]\n\
         WARNING: csv metadata.annotations.support not defined [{all_six}]\n\
         WARNING: csv metadata.annotations.certified not defined. [{all_six}]\n\
         etcd-missing-install: invalid (1 error, 22 warnings)\n",
        csv("0.9.4"),
        csv("0.9.0"),
    );
    let dir = test_support::fixtures::operators_dir();
    omps()
        .current_dir(&dir)
        .args(["validate", "etcd-missing-install"])
        .assert()
        .code(1)
        .stdout(expected)
        .stderr("Resulting bundle is invalid, input yaml is improperly defined.\n");
    omps()
        .current_dir(&dir)
        .args(["validate", "-q", "etcd-missing-install"])
        .assert()
        .code(1)
        .stdout(format!(
            "ERROR: csv spec.install not defined [{}]\n\
             etcd-missing-install: invalid (1 error, 22 warnings)\n",
            csv("0.9.4")
        ));
    let out = omps()
        .current_dir(&dir)
        .args(["validate", "-o", "json", "etcd-missing-install"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["errors"],
        serde_json::json!(["csv spec.install not defined"])
    );
    assert_eq!(doc["error_files"], serde_json::json!([csv("0.9.4")]));
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 22);
    assert_eq!(doc["warning_files"].as_array().unwrap().len(), 22);
    let yaml = omps()
        .current_dir(&dir)
        .args(["validate", "-o", "yaml", "etcd-missing-install"])
        .output()
        .unwrap();
    let text = String::from_utf8(yaml.stdout).unwrap();
    assert!(
        text.contains("errors:\n  - \"csv spec.install not defined\"\n"),
        "{text}"
    );
    // Read back by a YAML parser, it is the JSON document.
    let back: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(back, doc);
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
        .stderr(
            "Bundle does not contain any packages.\nhint: a package needs a package file at its \
             root (e.g. etcd.package.yaml with packageName, channels and defaultChannel) next to \
             the CSV and CRD files or version directories\n",
        );
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
        .args(["validate", "x", "--output", "xml"])
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
