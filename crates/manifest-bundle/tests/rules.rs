//! One test per courier rule (validation spec §4) and structural message (§2): an input that
//! triggers it alone, and an assertion on the exact text.

use std::fmt::Write as _;

use manifest_bundle::{Error, Layout, ManifestTree, YamlLimits, validate_tree};

const PACKAGE: &str = "packageName: example
channels:
- name: alpha
  currentCSV: example.v0.1.0
";

const CSV: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: example.v0.1.0
  annotations:
    categories: Database
    description: An example
    containerImage: example/op:1
    createdAt: 2020-01-01
    support: Example
    certified: 'false'
    alm-examples: '[{\"kind\": \"Example\"}]'
spec:
  displayName: Example
  description: An example
  icon: []
  version: 0.1.0
  provider:
    name: Example
  maturity: alpha
  installModes: []
  install:
    strategy: deployment
    spec:
      deployments: []
  customresourcedefinitions:
    owned:
    - name: examples.example.com
      kind: Example
      version: v1
";

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: examples.example.com
spec:
  group: example.com
  names:
    kind: Example
    plural: examples
  versions:
  - name: v1
    served: true
    storage: true
";

/// A flat package whose three files went through `edit`.
fn flat(edit: impl Fn(&str, String) -> String) -> ManifestTree {
    let mut tree = ManifestTree::new();
    for (name, text) in [
        ("example.package.yaml", PACKAGE),
        ("example.csv.yaml", CSV),
        ("example.crd.yaml", CRD),
    ] {
        tree.insert(name, edit(name, text.to_owned()).into_bytes());
    }
    tree
}

fn replace(
    file: &'static str,
    from: &'static str,
    to: &'static str,
) -> impl Fn(&str, String) -> String {
    move |name, text| {
        if name.contains(file) {
            assert!(text.contains(from), "{from:?} not in {name}");
            text.replacen(from, to, 1)
        } else {
            text
        }
    }
}

fn messages(tree: &ManifestTree) -> (Vec<String>, Vec<String>) {
    let (_, report) = validate_tree(tree, None, &YamlLimits::default()).unwrap();
    (report.warnings, report.errors)
}

fn errors_for(file: &'static str, from: &'static str, to: &'static str) -> Vec<String> {
    let (warnings, errors) = messages(&flat(replace(file, from, to)));
    assert!(warnings.is_empty(), "unexpected warnings {warnings:?}");
    errors
}

fn warnings_for(file: &'static str, from: &'static str, to: &'static str) -> Vec<String> {
    let (warnings, errors) = messages(&flat(replace(file, from, to)));
    assert!(errors.is_empty(), "unexpected errors {errors:?}");
    warnings
}

#[test]
fn baseline_is_clean() {
    let tree = flat(|_, t| t);
    let (manifests, report) =
        validate_tree(&tree, Some("example"), &YamlLimits::default()).unwrap();
    assert_eq!(manifests.layout, Layout::Flat);
    assert_eq!((report.warnings, report.errors), (vec![], vec![]));
}

// ---- CRD rules -------------------------------------------------------------------------------

#[test]
fn c1_crd_metadata() {
    // Without metadata the CSV's owned reference also dangles (O2): courier reports both.
    assert_eq!(
        errors_for("crd", "metadata:\n  name: examples.example.com\n", ""),
        [
            "crd metadata not defined.",
            "custom resource definition examples.example.com referenced in csv not defined in root list of crds"
        ]
    );
    assert_eq!(
        errors_for("crd", "  name: examples.example.com\n", "  labels: {}\n"),
        [
            "crd metadata.name not defined.",
            "custom resource definition examples.example.com referenced in csv not defined in root list of crds"
        ]
    );
}

#[test]
fn c2_crd_api_version() {
    assert_eq!(
        errors_for("crd", "apiVersion: apiextensions.k8s.io/v1\n", ""),
        ["crd apiVersion not defined."]
    );
}

#[test]
fn c3_crd_spec() {
    let crd_without_spec: &'static str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: examples.example.com\n";
    let tree = flat(|name, text| {
        if name.contains("crd") {
            crd_without_spec.to_owned()
        } else {
            text
        }
    });
    assert_eq!(messages(&tree).1, ["crd spec not defined."]);
}

#[test]
fn c4_crd_names() {
    assert_eq!(
        errors_for(
            "crd",
            "  names:\n    kind: Example\n    plural: examples\n",
            ""
        ),
        ["crd spec.names not defined."]
    );
    assert_eq!(
        errors_for("crd", "    kind: Example\n", ""),
        ["crd spec.names.kind not defined."]
    );
    assert_eq!(
        errors_for("crd", "    plural: examples\n", ""),
        ["crd spec.names.plural not defined."]
    );
}

#[test]
fn c5_crd_group() {
    assert_eq!(
        errors_for("crd", "  group: example.com\n", ""),
        ["crd spec.group not defined."]
    );
}

#[test]
fn c6_crd_version_or_versions() {
    assert_eq!(
        errors_for(
            "crd",
            "  versions:\n  - name: v1\n    served: true\n    storage: true\n",
            ""
        ),
        ["crd spec.version or spec.versions not defined."]
    );
}

#[test]
fn c7_crd_versions_entries() {
    assert_eq!(
        errors_for(
            "crd",
            "  versions:\n  - name: v1\n    served: true\n    storage: true\n",
            "  versions: []\n"
        ),
        [
            "crd spec.versions is empty.",
            "CSV.spec.crd.owned.version is not in CRD.spec.versions list"
        ]
    );
    assert_eq!(
        errors_for("crd", "    served: true\n", ""),
        ["crd spec.versions contains an invalid CustomResourceDefinitionVersion."]
    );
    assert_eq!(
        errors_for("crd", "    storage: true\n", "    storage: false\n"),
        ["crd spec.version should contain exactly one version flagged as storage version."]
    );
    assert_eq!(
        errors_for(
            "crd",
            "    storage: true\n",
            "    storage: true\n  - name: v2\n    served: true\n    storage: true\n"
        ),
        ["crd spec.version should contain exactly one version flagged as storage version."]
    );
}

#[test]
fn singular_crd_version_is_accepted() {
    assert!(
        errors_for(
            "crd",
            "  versions:\n  - name: v1\n    served: true\n    storage: true\n",
            "  version: v1\n"
        )
        .is_empty()
    );
}

// ---- CSV metadata ----------------------------------------------------------------------------

#[test]
fn v1_csv_metadata() {
    let no_metadata = errors_for(
        "csv",
        "metadata:\n  name: example.v0.1.0\n  annotations:\n    categories: Database\n    description: An example\n    containerImage: example/op:1\n    createdAt: 2020-01-01\n    support: Example\n    certified: 'false'\n    alm-examples: '[{\"kind\": \"Example\"}]'\n",
        "",
    );
    assert_eq!(
        no_metadata,
        [
            "csv metadata not defined.",
            "channel.currentCSV example.v0.1.0 is not included in list of csvs"
        ]
    );
    assert_eq!(
        errors_for("csv", "  name: example.v0.1.0\n", ""),
        [
            "csv metadata.name not defined.",
            "channel.currentCSV example.v0.1.0 is not included in list of csvs"
        ]
    );
}

#[test]
fn v2_annotation_warnings() {
    for key in [
        "categories",
        "description",
        "containerImage",
        "createdAt",
        "support",
    ] {
        let tree = flat(move |name, text| {
            if name.contains("csv") {
                let prefix = format!("    {key}:");
                text.split_inclusive('\n')
                    .filter(|l| !l.starts_with(&prefix))
                    .collect()
            } else {
                text
            }
        });
        assert_eq!(
            messages(&tree),
            (
                vec![format!("csv metadata.annotations.{key} not defined")],
                vec![]
            ),
            "{key}"
        );
    }
    assert_eq!(
        warnings_for("csv", "    certified: 'false'\n", ""),
        ["csv metadata.annotations.certified not defined."]
    );
}

#[test]
fn v2_3_certified_must_be_a_string() {
    // YAML 1.1: unquoted false, and also `no`, are booleans.
    assert_eq!(
        errors_for("csv", "certified: 'false'", "certified: false"),
        ["metadata.annotations.certified is not of typestring"]
    );
    assert_eq!(
        errors_for("csv", "certified: 'false'", "certified: no"),
        ["metadata.annotations.certified is not of typestring"]
    );
    assert!(errors_for("csv", "certified: 'false'", "certified: nope").is_empty());
}

#[test]
fn v2_4_alm_examples_json() {
    assert_eq!(
        errors_for(
            "csv",
            "alm-examples: '[{\"kind\": \"Example\"}]'",
            "alm-examples: '[{\"kind\": \"Example\"},]'"
        ),
        ["metadata.annotations.alm-examples contains invalid json string"]
    );
}

#[test]
fn v2_5_no_annotations() {
    let tree = flat(|name, text| {
        if name.contains("csv") {
            let start = text.find("  annotations:\n").unwrap();
            let end = text.find("spec:\n").unwrap();
            format!("{}{}", &text[..start], &text[end..])
        } else {
            text
        }
    });
    assert_eq!(
        messages(&tree),
        (
            vec!["csv metadata.annotations not defined.".to_owned()],
            vec![]
        )
    );
}

#[test]
fn v3_v4_csv_api_version_and_spec() {
    assert_eq!(
        errors_for("csv", "apiVersion: operators.coreos.com/v1alpha1\n", ""),
        ["csv apiVersion not defined."]
    );
    let tree = flat(|name, text| {
        if name.contains("csv") {
            text[..text.find("spec:\n").unwrap()].to_owned()
        } else {
            text
        }
    });
    assert_eq!(messages(&tree).1, ["csv spec not defined."]);
}

// ---- CSV spec --------------------------------------------------------------------------------

#[test]
fn s1_spec_warnings_in_order() {
    for (field, line) in [
        ("displayName", "\n  displayName: Example\n"),
        ("description", "\n  description: An example\n"),
        ("icon", "\n  icon: []\n"),
        ("version", "\n  version: 0.1.0\n"),
        ("provider", "\n  provider:\n    name: Example\n"),
        ("maturity", "\n  maturity: alpha\n"),
    ] {
        assert_eq!(
            warnings_for("csv", line, "\n"),
            [format!("csv spec.{field} not defined")],
            "{field}"
        );
    }
}

#[test]
fn s2_install_modes() {
    assert_eq!(
        errors_for("csv", "  installModes: []\n", ""),
        ["csv spec.installModes not defined"]
    );
}

#[test]
fn s3_install() {
    assert_eq!(
        errors_for(
            "csv",
            "  install:\n    strategy: deployment\n    spec:\n      deployments: []\n",
            ""
        ),
        ["csv spec.install not defined"]
    );
    assert_eq!(
        errors_for("csv", "    strategy: deployment\n", ""),
        ["csv spec.install.strategy not defined"]
    );
    assert_eq!(
        errors_for("csv", "strategy: deployment", "strategy: helm"),
        ["csv spec.install.strategy must be one of ['deployment']"]
    );
    assert_eq!(
        errors_for("csv", "    spec:\n      deployments: []\n", ""),
        ["csv spec.install.spec not defined"]
    );
    assert_eq!(
        errors_for("csv", "      deployments: []\n", "      other: []\n"),
        ["csv spec.install.spec.deployments not defined"]
    );
    assert_eq!(
        errors_for("csv", "deployments: []", "deployments: {}"),
        ["csv spec.install.spec.deployments should be a list"]
    );
    assert_eq!(
        errors_for(
            "csv",
            "      deployments: []\n",
            "      deployments: []\n      permissions: {}\n"
        ),
        ["csv spec.install.spec.permissions should be a list"]
    );
    assert_eq!(
        errors_for(
            "csv",
            "      deployments: []\n",
            "      deployments: []\n      clusterPermissions: x\n"
        ),
        ["csv spec.install.spec.clusterPermissions should be a list"]
    );
    assert!(
        errors_for(
            "csv",
            "      deployments: []\n",
            "      deployments: []\n      permissions: []\n"
        )
        .is_empty()
    );
}

// ---- owned CRDs ------------------------------------------------------------------------------

#[test]
fn o1_to_o4_owned_items() {
    assert_eq!(
        errors_for(
            "csv",
            "    - name: examples.example.com\n",
            "    - other: x\n"
        ),
        ["name not defined for item in spec.customresourcedefinitions."]
    );
    assert_eq!(
        errors_for(
            "csv",
            "    - name: examples.example.com\n",
            "    - name: missing.example.com\n"
        ),
        [
            "custom resource definition missing.example.com referenced in csv not defined in root list of crds"
        ]
    );
    assert_eq!(
        errors_for("csv", "      kind: Example\n", ""),
        ["kind not defined for item in spec.customresourcedefinitions."]
    );
    assert_eq!(
        errors_for("csv", "      version: v1\n", ""),
        ["version not defined for item in spec.customresourcedefinitions."]
    );
}

#[test]
fn o5_to_o7_owned_crd_mismatches() {
    assert_eq!(
        errors_for("csv", "      kind: Example\n", "      kind: Other\n"),
        ["CRD.spec.names.kind does not match CSV.spec.crd.owned.kind"]
    );
    assert_eq!(
        errors_for("csv", "      version: v1\n", "      version: v2\n"),
        ["CSV.spec.crd.owned.version is not in CRD.spec.versions list"]
    );
    assert_eq!(
        errors_for("crd", "    plural: examples\n", "    plural: samples\n"),
        ["`CRD.spec.names.plural`.`CRD.spec.group` does not match CSV.spec.crd.owned.name"]
    );
}

#[test]
fn o8_singular_version_mismatch() {
    let tree = flat(|name, text| {
        if name.contains("crd") {
            text.replace(
                "  versions:\n  - name: v1\n    served: true\n    storage: true\n",
                "  version: v2\n",
            )
        } else {
            text
        }
    });
    assert_eq!(
        messages(&tree).1,
        ["CRD.spec.version does not match CSV.spec.crd.owned.version"]
    );
}

#[test]
fn null_crd_section_is_valid_since_2_1_11() {
    let tree = flat(|name, text| {
        if name.contains("csv") {
            let start = text.find("  customresourcedefinitions:").unwrap();
            format!("{}  customresourcedefinitions: null\n", &text[..start])
        } else {
            text
        }
    });
    assert_eq!(messages(&tree), (vec![], vec![]));
}

// ---- package ---------------------------------------------------------------------------------

#[test]
fn p2_to_p4_package() {
    // P2 alone cannot be reached from a directory (a package file is one *with* packageName);
    // courier's message is still produced for bundles built from YAML strings.
    assert_eq!(
        errors_for(
            "package",
            "channels:\n- name: alpha\n  currentCSV: example.v0.1.0\n",
            "channels: []\n"
        ),
        ["no package channels defined."]
    );
    assert_eq!(
        errors_for(
            "package",
            "channels:\n- name: alpha\n  currentCSV: example.v0.1.0\n",
            "other: 1\n"
        ),
        ["package channels not defined."]
    );
    assert_eq!(
        errors_for("package", "- name: alpha\n", "- label: alpha\n"),
        ["package channel.name not defined."]
    );
    assert_eq!(
        errors_for("package", "  currentCSV: example.v0.1.0\n", ""),
        ["package channel.currentCSV not defined."]
    );
    assert_eq!(
        errors_for(
            "package",
            "currentCSV: example.v0.1.0",
            "currentCSV: example.v9"
        ),
        ["channel.currentCSV example.v9 is not included in list of csvs"]
    );
}

#[test]
fn p4_3_only_in_flat_layout() {
    let mut tree = ManifestTree::new();
    tree.insert(
        "example.package.yaml",
        PACKAGE.replace("example.v0.1.0", "example.v9").into_bytes(),
    );
    tree.insert("0.1.0/example.csv.yaml", CSV.as_bytes().to_vec());
    tree.insert("0.1.0/example.crd.yaml", CRD.as_bytes().to_vec());
    let (manifests, report) = validate_tree(&tree, None, &YamlLimits::default()).unwrap();
    assert_eq!(manifests.layout, Layout::Nested);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn b5_repository_must_match_package_name() {
    let (_, report) =
        validate_tree(&flat(|_, t| t), Some("other-repo"), &YamlLimits::default()).unwrap();
    assert_eq!(
        report.errors,
        [
            "The packageName (example) in bundle does not match repository name (other-repo) provided as command line argument."
        ]
    );
}

// ---- structure -------------------------------------------------------------------------------

fn structural(tree: &ManifestTree) -> String {
    match validate_tree(tree, None, &YamlLimits::default()) {
        Err(e @ Error::Structural(_)) => e.to_string(),
        other => panic!("expected a structural error, got {other:?}"),
    }
}

#[test]
fn structural_messages() {
    let mut no_package = flat(|_, t| t);
    no_package.remove("example.package.yaml");
    assert_eq!(
        structural(&no_package),
        "Bundle does not contain any packages."
    );

    let mut two = flat(|_, t| t);
    two.insert("second.package.yml", PACKAGE.as_bytes().to_vec());
    assert_eq!(
        structural(&two),
        "Only 1 package is expected to exist in source root folder."
    );

    let mut no_csv = flat(|_, t| t);
    no_csv.remove("example.csv.yaml");
    assert_eq!(
        structural(&no_csv),
        "The source directory structure is not in valid flat or nested format,because no valid CSV file is found in root or manifest directories."
    );

    let mut bad_yaml = flat(|_, t| t);
    bad_yaml.insert("broken.yaml", b"a: [unclosed\n".to_vec());
    assert_eq!(
        structural(&bad_yaml),
        "Courier requires valid input YAML files"
    );

    let mut two_docs = flat(|_, t| t);
    two_docs.insert("0.1.0/two.yaml", b"a: 1\n---\nb: 2\n".to_vec());
    assert_eq!(
        structural(&two_docs),
        "Courier requires valid input YAML files"
    );
}

#[test]
fn non_yaml_files_and_deeper_files_are_ignored() {
    let mut tree = flat(|_, t| t);
    tree.insert("README.md", b"not: [yaml".to_vec());
    tree.insert("a/b/deep.yaml", b"not: [yaml".to_vec());
    tree.insert(".yaml", b"not: [yaml".to_vec());
    assert_eq!(messages(&tree), (vec![], vec![]));
}

#[test]
fn yaml_bomb_is_a_structural_error_not_a_crash() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let alias = if i == 0 {
            "*a".to_owned()
        } else {
            format!("*b{}", i - 1)
        };
        let _ = writeln!(bomb, "b{i}: &b{i} [{}]", vec![alias; 10].join(", "));
    }
    let mut tree = flat(|_, t| t);
    tree.insert("bomb.yaml", bomb.into_bytes());
    // PyYAML would share the aliases; expanding them is what our budget refuses, with our text.
    assert_eq!(
        structural(&tree),
        "bomb.yaml: YAML document expands to more than 100000 nodes (alias bomb?), over this \
         service's limit"
    );
}

#[test]
fn package_name_discovery_like_omps() {
    let limits = YamlLimits::default();
    let tree = flat(|_, t| t);
    assert_eq!(
        manifest_bundle::discover_package_name(&tree, &limits).unwrap(),
        ("example.package.yaml".to_owned(), "example".to_owned())
    );

    let mut early_broken = flat(|_, t| t);
    early_broken.insert("a-broken.yaml", b"key: [\n".to_vec());
    assert_eq!(
        manifest_bundle::discover_package_name(&early_broken, &limits)
            .unwrap_err()
            .to_string(),
        "Failed to process yaml file /a-broken.yaml"
    );

    let mut late_broken = flat(|_, t| t);
    late_broken.insert("z-broken.yaml", b"key: [\n".to_vec());
    assert!(manifest_bundle::discover_package_name(&late_broken, &limits).is_ok());

    let mut nested_only = ManifestTree::new();
    nested_only.insert("dir/example.package.yaml", PACKAGE.as_bytes().to_vec());
    assert_eq!(
        manifest_bundle::discover_package_name(&nested_only, &limits)
            .unwrap_err()
            .to_string(),
        "Could not find packageName in manifests."
    );

    let mut empty_name = ManifestTree::new();
    empty_name.insert("p.yaml", b"packageName: ''\n".to_vec());
    assert!(matches!(
        manifest_bundle::discover_package_name(&empty_name, &limits),
        Err(Error::PackageNameNotFound)
    ));
}
