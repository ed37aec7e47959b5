//! Every fixture of `shared/fixtures/operators` against operator-courier 2.1.11's recorded output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use manifest_bundle::{Error, Layout, Limits, ManifestTree, Structural, validate_tree};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators")
}

fn multiset(items: &[String]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.as_str()).or_default() += 1;
    }
    m
}

/// `(exit code, last line)` of `<name>.courier.txt`.
fn courier_txt(name: &str) -> (i32, String) {
    let text = std::fs::read_to_string(fixtures_dir().join(format!("{name}.courier.txt"))).unwrap();
    let mut lines = text.lines();
    let code = lines.next().unwrap().trim().parse().unwrap();
    (code, lines.next().unwrap_or("").to_owned())
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("shared/fixtures/operators must be beside the repository")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(
        names.len() >= 15,
        "expected the 15 fixtures, found {names:?}"
    );
    names
}

#[test]
fn every_fixture_matches_courier() {
    let limits = Limits::default();
    let mut checked = 0;
    for name in fixture_names() {
        let tree = ManifestTree::from_dir(&fixtures_dir().join(&name), &limits).unwrap();
        let (code, last_line) = courier_txt(&name);
        let json_path = fixtures_dir().join(format!("{name}.courier.json"));
        if json_path.exists() {
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
            let want = |k: &str| -> Vec<String> {
                expected[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            };
            let (_, report) =
                validate_tree(&tree, None, &limits.yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                multiset(&report.warnings),
                multiset(&want("warnings")),
                "{name}: warnings"
            );
            assert_eq!(
                multiset(&report.errors),
                multiset(&want("errors")),
                "{name}: errors"
            );
            assert_eq!(report.is_valid(), code == 0, "{name}: verdict");
            // The push-time check (repository = packageName) adds nothing for these fixtures.
            let package = manifest_bundle::discover_package_name(&tree, &limits.yaml)
                .unwrap()
                .1;
            let (_, with_repo) = validate_tree(&tree, Some(&package), &limits.yaml).unwrap();
            assert_eq!(
                with_repo.errors, report.errors,
                "{name}: repository = packageName"
            );
        } else {
            // Bundle format: courier cannot read it and stops with a structural error.
            assert_eq!(code, 1, "{name}");
            assert_eq!(last_line, "Bundle does not contain any packages.");
            let (manifests, report) = validate_tree(&tree, None, &limits.yaml).unwrap();
            assert_eq!(manifests.layout, Layout::Bundle, "{name}");
            assert!(
                report.is_valid(),
                "{name}: our bundle rules accept it: {:?}",
                report.errors
            );
            // The App Registry path needs a package file, and reports courier's exact text.
            let err =
                manifest_bundle::layout::load_package_manifests(&tree, &limits.yaml).unwrap_err();
            assert!(
                matches!(err, Error::Structural(Structural::NoPackage)),
                "{name}: {err}"
            );
            assert_eq!(err.to_string(), last_line);
        }
        checked += 1;
    }
    assert_eq!(checked, fixture_names().len());
}

#[test]
fn courier_json_bytes_match_for_fixtures() {
    // The JSON text itself (separators, escaping) is what courier wrote, for single-version fixtures
    // where message order cannot differ.
    let limits = Limits::default();
    for name in [
        "deployment-validation-operator",
        "flagsmith",
        "flagsmith-owned-crd-mismatch",
        "node-problem-detector",
        "ext-postgres-operator-flat",
    ] {
        let tree = ManifestTree::from_dir(&fixtures_dir().join(name), &limits).unwrap();
        let (_, report) = validate_tree(&tree, None, &limits.yaml).unwrap();
        let expected =
            std::fs::read_to_string(fixtures_dir().join(format!("{name}.courier.json"))).unwrap();
        assert_eq!(report.to_courier_json(), expected.trim_end(), "{name}");
    }
}

#[test]
fn last_warning_line_names_the_file_like_courier() {
    let limits = Limits::default();
    for name in [
        "deployment-validation-operator",
        "node-problem-detector",
        "ext-postgres-operator",
    ] {
        let tree = ManifestTree::from_dir(&fixtures_dir().join(name), &limits).unwrap();
        let (_, report) = validate_tree(&tree, None, &limits.yaml).unwrap();
        let (_, last_line) = courier_txt(name);
        let ours: Vec<String> = report
            .warnings_with_files()
            .map(|(m, f)| format!("WARNING: {m} [{f}]"))
            .collect();
        assert!(
            ours.contains(&last_line),
            "{name}: {last_line} not in {ours:?}"
        );
    }
}
