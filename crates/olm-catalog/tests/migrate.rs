//! Package-manifest migration of the shared fixtures (spec §6, worked example A).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use olm_catalog::{
    CatalogLimits, Format, MigrateOptions, Value, json, load_text, migrate_dir, to_text, validate,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(rel)
}

fn limits() -> CatalogLimits {
    CatalogLimits::default()
}

/// Worked example A, package and channels as the spec writes them (icon data elided there,
/// checked separately below).
const ETCD_HEAD: &str = "---
defaultChannel: singlenamespace-alpha
icon:
  base64data: ICON
  mediatype: image/png
name: etcd
schema: olm.package
---
entries:
- name: etcdoperator-community.v0.6.1
name: alpha
package: etcd
schema: olm.channel
---
entries:
- name: etcdoperator.v0.9.0
- name: etcdoperator.v0.9.2-clusterwide
  replaces: etcdoperator.v0.9.0
- name: etcdoperator.v0.9.4-clusterwide
  replaces: etcdoperator.v0.9.2-clusterwide
name: clusterwide-alpha
package: etcd
schema: olm.channel
---
entries:
- name: etcdoperator.v0.9.0
- name: etcdoperator.v0.9.2
  replaces: etcdoperator.v0.9.0
- name: etcdoperator.v0.9.4
  replaces: etcdoperator.v0.9.2
name: singlenamespace-alpha
package: etcd
schema: olm.channel
";

fn first_icon_of_094() -> String {
    let text = std::fs::read_to_string(fixture(
        "etcd/0.9.4/etcdoperator.v0.9.4.clusterserviceversion.yaml",
    ))
    .unwrap();
    let after = &text[text.find("base64data:").unwrap() + "base64data:".len()..];
    let raw: String = after.lines().next().unwrap().trim().to_owned();
    // Re-encoded canonically, as upstream decodes and re-encodes it.
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn worked_example_a_etcd() {
    let m = migrate_dir(&fixture("etcd"), &MigrateOptions::default(), &limits()).unwrap();
    let yaml = to_text(&m.catalog, Format::Yaml);
    let head = ETCD_HEAD.replace("ICON", &first_icon_of_094());
    assert!(
        yaml.starts_with(&head),
        "{}",
        &yaml[..head.len().min(yaml.len())]
    );

    let names: Vec<&str> = m.catalog.bundles.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names.len(),
        6,
        "0.9.0 appears once although it is in two channels"
    );
    let b = m
        .catalog
        .bundles
        .iter()
        .find(|b| b.name == "etcdoperator.v0.9.4")
        .unwrap();
    let props: Vec<String> = b
        .properties
        .iter()
        .map(|p| {
            if p.kind == "olm.bundle.object" {
                p.kind.clone()
            } else {
                format!("{} {}", p.kind, json::to_compact(&p.value))
            }
        })
        .collect();
    assert_eq!(
        props,
        [
            r#"olm.gvk {"group":"etcd.database.coreos.com","kind":"EtcdBackup","version":"v1beta2"}"#,
            r#"olm.gvk {"group":"etcd.database.coreos.com","kind":"EtcdCluster","version":"v1beta2"}"#,
            r#"olm.gvk {"group":"etcd.database.coreos.com","kind":"EtcdRestore","version":"v1beta2"}"#,
            r#"olm.package {"packageName":"etcd","version":"0.9.4"}"#,
            "olm.bundle.object",
            "olm.bundle.object",
            "olm.bundle.object",
            "olm.bundle.object",
        ]
    );
    let community = m
        .catalog
        .bundles
        .iter()
        .find(|b| b.name == "etcdoperator-community.v0.6.1")
        .unwrap();
    assert_eq!(
        community
            .properties
            .iter()
            .filter(|p| p.kind == "olm.gvk")
            .count(),
        1
    );
    // Without an image the bundle-object form keeps the catalog valid (rule B7).
    validate(&m.catalog).unwrap();
    // Written and read back, the catalog is the same.
    for format in [Format::Json, Format::Yaml] {
        let text = to_text(&m.catalog, format);
        let back = load_text("etcd", text.as_bytes(), &limits()).unwrap();
        assert_eq!(to_text(&back, format), text, "{format:?}");
    }
}

#[test]
fn image_template_gives_csv_metadata_and_images() {
    let options = MigrateOptions {
        image_template: Some("quay.example/{{.Package}}/bundle:{{.Version}}".into()),
    };
    let m = migrate_dir(&fixture("etcd"), &options, &limits()).unwrap();
    for b in &m.catalog.bundles {
        let version = b.version().unwrap();
        assert_eq!(b.image, format!("quay.example/etcd/bundle:{version}"));
        assert_eq!(b.properties.last().unwrap().kind, "olm.csv.metadata");
        assert!(b.related_images.iter().any(|r| r.image == b.image));
    }
    validate(&m.catalog).unwrap();
}

#[test]
fn every_package_manifest_fixture_migrates_and_validates() {
    for name in [
        "argocd-operator-helm",
        "deployment-validation-operator",
        "etcd",
        "etcd-missing-install",
        "ext-postgres-operator",
        "ext-postgres-operator-flat",
        "flagsmith",
        "infinispan",
        "kubernetes-nmstate-operator",
        "node-problem-detector",
        "percona-xtradb-cluster-operator",
    ] {
        let m = migrate_dir(&fixture(name), &MigrateOptions::default(), &limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.catalog.packages.len(), 1, "{name}");
        assert!(!m.catalog.bundles.is_empty(), "{name}");
        validate(&m.catalog).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn owned_crd_without_its_file_fails_the_migration() {
    let e = migrate_dir(
        &fixture("flagsmith-owned-crd-mismatch"),
        &MigrateOptions::default(),
        &limits(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("flagsmith.charts.flagsmith.com"),
        "{e}"
    );
}

#[test]
fn bundles_and_catalogs_are_refused_with_a_clear_message() {
    let e = migrate_dir(
        &fixture("sosreport-operator/0.0.2"),
        &MigrateOptions::default(),
        &limits(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("is a bundle directory"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("p")).unwrap();
    std::fs::write(
        dir.path().join("p/catalog.json"),
        "{\"schema\":\"olm.package\",\"name\":\"p\"}",
    )
    .unwrap();
    let e = migrate_dir(dir.path(), &MigrateOptions::default(), &limits()).unwrap_err();
    assert!(e.to_string().contains("no package manifest"), "{e}");
}

#[test]
fn unreachable_and_deprecated_bundles_are_left_out_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("demo.package.yaml"),
        "packageName: demo\nchannels:\n- name: stable\n  currentCSV: demo.v3.0.0\n",
    )
    .unwrap();
    let csv = |v: &str, extra: &str| {
        format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: demo.v{v}\n  annotations:\n    olm.skipRange: '>=0.1.0 <{v}'\n{extra}spec:\n  version: {v}\n"
        )
    };
    for (v, extra, replaces) in [
        ("1.0.0", "", ""),
        (
            "2.0.0",
            "    olm.properties: '[{\"type\":\"olm.deprecated\",\"value\":{}}]'\n",
            "  replaces: demo.v1.0.0\n",
        ),
        (
            "3.0.0",
            "",
            "  replaces: demo.v2.0.0\n  skips:\n  - demo.v1.0.0\n",
        ),
        ("9.0.0", "", ""),
    ] {
        std::fs::create_dir(root.join(v)).unwrap();
        let text = csv(v, extra).replace("spec:\n", &format!("spec:\n{replaces}"));
        std::fs::write(root.join(v).join("csv.yaml"), text).unwrap();
    }
    let m = migrate_dir(root, &MigrateOptions::default(), &limits()).unwrap();
    assert_eq!(
        m.catalog.packages[0].default_channel, "stable",
        "the only channel"
    );
    let entries = &m.catalog.channels[0].entries;
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["demo.v1.0.0", "demo.v3.0.0"]);
    assert_eq!(
        entries[1].replaces, "demo.v2.0.0",
        "kept verbatim though absent"
    );
    assert_eq!(entries[1].skips, ["demo.v1.0.0"]);
    assert_eq!(entries[1].skip_range, ">=0.1.0 <3.0.0");
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("demo.v2.0.0: deprecated")),
        "{:?}",
        m.warnings
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("demo.v9.0.0: not reachable")),
        "{:?}",
        m.warnings
    );
    let b: Vec<&str> = m.catalog.bundles.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(b, ["demo.v1.0.0", "demo.v3.0.0"]);
    let v = m.catalog.bundles[0].to_value();
    assert_eq!(v.get("image"), Some(&Value::str("")));
}

#[test]
fn each_kind_of_directory_is_named_when_given_to_the_wrong_command() {
    use olm_catalog::{DirKind, RenderOptions, classify_dir, load_dir, render_bundle_dir};
    let l = limits();
    assert_eq!(
        classify_dir(&fixture("etcd"), &l).unwrap(),
        DirKind::PackageManifests
    );
    assert_eq!(
        classify_dir(&fixture("ext-postgres-operator-flat"), &l).unwrap(),
        DirKind::PackageManifests
    );
    assert_eq!(
        classify_dir(&fixture("sosreport-operator/0.0.2"), &l).unwrap(),
        DirKind::Bundle
    );
    let e = load_dir(&fixture("etcd"), &l).unwrap_err().to_string();
    assert!(
        e.contains("holds package manifests") && e.contains("migrate"),
        "{e}"
    );
    let e = load_dir(&fixture("sosreport-operator/0.0.2"), &l)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is a bundle directory") && e.contains("render"),
        "{e}"
    );
    let e = render_bundle_dir(&fixture("etcd"), &RenderOptions::default(), &l)
        .unwrap_err()
        .to_string();
    assert!(e.contains("migrate it instead"), "{e}");
    let catalog = tempfile::tempdir().unwrap();
    std::fs::create_dir(catalog.path().join("p")).unwrap();
    std::fs::write(
        catalog.path().join("p/catalog.yaml"),
        "schema: olm.package\nname: p\n",
    )
    .unwrap();
    assert_eq!(classify_dir(catalog.path(), &l).unwrap(), DirKind::Catalog);
    let e = render_bundle_dir(catalog.path(), &RenderOptions::default(), &l)
        .unwrap_err()
        .to_string();
    assert!(e.contains("a catalog is loaded, not rendered"), "{e}");
    assert_eq!(load_dir(catalog.path(), &l).unwrap().packages.len(), 1);
}
