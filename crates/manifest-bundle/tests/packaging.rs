//! App Registry blobs and bundle conversion, on the shared fixtures.

use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use manifest_bundle::layout::{self, Layout};
use manifest_bundle::yaml::{self, Yaml};

use manifest_bundle::{
    Limits, ManifestTree, YamlLimits, app_registry_blob, to_bundles, validate_tree,
};
use sha2::Digest as _;

fn fixture(name: &str) -> ManifestTree {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(name);
    ManifestTree::from_dir(&dir, &Limits::default()).unwrap()
}

/// `(path, is_dir, contents)` of every tar entry, in archive order.
type TarEntry = (String, bool, Vec<u8>);

fn untar(tar_gz: &[u8]) -> (Vec<u8>, Vec<TarEntry>) {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(tar_gz)
        .read_to_end(&mut tar)
        .unwrap();
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        assert_eq!(
            (
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap()
            ),
            (0, 0, 0)
        );
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((path, header.entry_type().is_dir(), data));
    }
    (tar, out)
}

fn parse(bytes: &[u8]) -> Yaml {
    yaml::parse(std::str::from_utf8(bytes).unwrap(), &YamlLimits::default())
        .unwrap()
        .unwrap()
}

#[test]
fn flat_blob_is_one_bundle_yaml_with_the_parsed_objects() {
    let tree = fixture("ext-postgres-operator-flat");
    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    assert_eq!(manifests.layout, Layout::Flat);
    let blob = app_registry_blob(&manifests, &tree, "ext-postgres-operator").unwrap();
    let (tar, entries) = untar(&blob.tar_gz);
    assert_eq!(blob.tar_sha256, format!("{:x}", sha2::Sha256::digest(&tar)));
    assert!(blob.top_dir.starts_with("ext-postgres-operator-"));
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            format!("{}/", blob.top_dir),
            format!("{}/bundle.yaml", blob.top_dir)
        ]
    );

    let bundle = parse(&entries[1].2);
    let data = bundle.get("data").unwrap();
    // Compared as JSON: key order differs on purpose (the sections are written with sorted keys).
    let section = |k: &str| -> serde_json::Value {
        let text = data.get(k).unwrap().as_str().unwrap();
        yaml::parse(text, &YamlLimits::default())
            .unwrap()
            .unwrap()
            .to_json()
    };
    let json = |docs: &[manifest_bundle::Document]| {
        serde_json::Value::Array(docs.iter().map(|d| d.value.to_json()).collect())
    };
    let version = &manifests.versions[0];
    assert_eq!(section("clusterServiceVersions"), json(&version.csvs));
    assert_eq!(section("customResourceDefinitions"), json(&version.crds));
    assert_eq!(
        section("packages"),
        json(std::slice::from_ref(manifests.package.as_ref().unwrap()))
    );
    // Sorted keys, clusterServiceVersions first, literal blocks.
    let text = std::str::from_utf8(&entries[1].2).unwrap();
    assert!(
        text.starts_with("data:\n  clusterServiceVersions: |"),
        "{}",
        &text[..80]
    );

    // Reproducible, and base64 without line breaks.
    assert_eq!(
        app_registry_blob(&manifests, &tree, "ext-postgres-operator").unwrap(),
        blob
    );
    let b64 = blob.base64();
    assert!(!b64.contains('\n'));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        blob.tar_gz
    );
}

#[test]
fn nested_blob_is_the_whole_tree_minus_art_and_image_references() {
    let mut tree = fixture("etcd");
    tree.insert("README.md", b"readme".to_vec());
    tree.insert("art.yaml", b"art".to_vec());
    tree.insert("0.9.0/image-references", b"refs".to_vec());
    tree.insert("notes/deep/file.txt", b"kept".to_vec());
    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    let blob = app_registry_blob(&manifests, &tree, "etcd").unwrap();
    let (_, entries) = untar(&blob.tar_gz);
    let top = format!("{}/", blob.top_dir);
    assert_eq!(entries[0].0, top);
    let files: Vec<String> = entries
        .iter()
        .filter(|e| !e.1)
        .map(|e| e.0.strip_prefix(&top).unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = tree
        .paths()
        .into_iter()
        .filter(|p| !p.ends_with("art.yaml") && !p.ends_with("image-references"))
        .collect();
    expected.sort();
    assert_eq!(files, expected);
    // Every directory comes before its files.
    for (i, (path, is_dir, _)) in entries.iter().enumerate() {
        if let Some((parent, _)) = path.trim_end_matches('/').rsplit_once('/') {
            let pos = entries
                .iter()
                .position(|e| e.0 == format!("{parent}/"))
                .unwrap_or_else(|| panic!("no dir for {path}"));
            assert!(pos < i, "{parent} after {path}");
        }
        if !is_dir {
            let rel = path.strip_prefix(&top).unwrap();
            assert_eq!(tree.get(rel).unwrap(), &entries[i].2[..]);
        }
    }
}

#[test]
fn etcd_converts_to_one_bundle_per_version_with_channels_from_replaces() {
    let tree = fixture("etcd");
    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    let bundles = to_bundles(&manifests, &tree).unwrap();
    let summary: Vec<(String, String)> = bundles
        .iter()
        .map(|b| {
            (
                b.version.clone(),
                b.annotations
                    .iter()
                    .find(|(k, _)| k.ends_with("channels.v1"))
                    .unwrap()
                    .1
                    .clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("0.6.1".into(), "alpha".into()),
            (
                "0.9.0".into(),
                "singlenamespace-alpha,clusterwide-alpha".into()
            ),
            ("0.9.2".into(), "singlenamespace-alpha".into()),
            ("0.9.2-clusterwide".into(), "clusterwide-alpha".into()),
            ("0.9.4".into(), "singlenamespace-alpha".into()),
            ("0.9.4-clusterwide".into(), "clusterwide-alpha".into()),
        ]
    );
    for b in &bundles {
        // The default channel only on the bundles that are in it (else opm refuses them).
        let in_default = b.annotations.iter().any(|(k, v)| {
            k == "operators.operatorframework.io.bundle.channels.v1"
                && v.split(',').any(|c| c == "singlenamespace-alpha")
        });
        assert_eq!(
            b.annotations.contains(&(
                "operators.operatorframework.io.bundle.channel.default.v1".into(),
                "singlenamespace-alpha".into()
            )),
            in_default,
            "{}",
            b.version
        );
        assert!(
            b.files
                .paths()
                .iter()
                .all(|p| p.starts_with("manifests/") || p == "metadata/annotations.yaml")
        );
        assert!(b.dockerfile().starts_with("FROM scratch\n"));
    }
}

/// Every valid package-manifest fixture converts, and each converted bundle passes our bundle
/// validation with the same CSV/CRD messages as the source version.
#[test]
fn every_fixture_converts_to_valid_bundles() {
    let limits = Limits::default();
    for name in [
        "argocd-operator-helm",
        "deployment-validation-operator",
        "etcd",
        "ext-postgres-operator",
        "ext-postgres-operator-flat",
        "flagsmith",
        "kubernetes-nmstate-operator",
        "node-problem-detector",
        "percona-xtradb-cluster-operator",
        "sosreport-operator",
        "tackle-operator",
        "vault-helm",
    ] {
        let tree = fixture(name);
        let (manifests, _) = validate_tree(&tree, None, &limits.yaml).unwrap();
        let bundles = to_bundles(&manifests, &tree).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            bundles.len(),
            manifests
                .versions
                .iter()
                .map(|v| v.csvs.len())
                .sum::<usize>(),
            "{name}"
        );
        let mut as_bundle_tree = ManifestTree::new();
        for b in &bundles {
            for (path, data) in b.files.iter() {
                as_bundle_tree.insert(format!("{}/{path}", b.version), data.to_vec());
            }
        }
        let (converted, report) = validate_tree(&as_bundle_tree, None, &limits.yaml).unwrap();
        assert_eq!(converted.layout, Layout::Bundle, "{name}");
        assert!(report.is_valid(), "{name}: {:?}", report.errors);
        let package = bundles[0].package.clone();
        let (_, with_repo) = validate_tree(&as_bundle_tree, Some(&package), &limits.yaml).unwrap();
        assert!(with_repo.is_valid(), "{name}");
        let (_, wrong_repo) = validate_tree(&as_bundle_tree, Some("other"), &limits.yaml).unwrap();
        assert!(
            !wrong_repo.is_valid(),
            "{name}: repository check must apply to bundles"
        );
    }
}

#[test]
fn flat_conversion_keeps_only_owned_crds_and_needs_spec_version() {
    let mut tree = fixture("ext-postgres-operator-flat");
    tree.insert("unrelated.crd.yaml", b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: others.example.com\nspec: {}\n".to_vec());
    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    let bundles = to_bundles(&manifests, &tree).unwrap();
    assert_eq!(bundles.len(), 1);
    assert!(
        !bundles[0]
            .files
            .paths()
            .contains(&"manifests/unrelated.crd.yaml".to_owned())
    );
    assert_eq!(
        bundles[0]
            .files
            .paths()
            .iter()
            .filter(|p| p.starts_with("manifests/"))
            .count(),
        3
    );

    let csv_path = tree
        .paths()
        .into_iter()
        .find(|p| p.contains("clusterserviceversion"))
        .unwrap();
    let text = String::from_utf8(tree.get(&csv_path).unwrap().to_vec())
        .unwrap()
        .replace("\n  version: 0.4.1", "\n");
    tree.insert(csv_path.clone(), text.into_bytes());
    let manifests = layout::load(&tree, &YamlLimits::default()).unwrap();
    let Err(err) = to_bundles(&manifests, &tree) else {
        panic!("conversion without spec.version must fail")
    };
    assert_eq!(
        err.to_string(),
        format!("{csv_path} is not a valid CSV file as \"spec.version\" field is required")
    );
}
