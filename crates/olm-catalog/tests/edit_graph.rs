//! Adding bundles to a catalog, and the upgrade graph in Mermaid and dot.

use olm_catalog::graph::{EdgeKind, to_dot, to_mermaid, upgrade_graphs};
use olm_catalog::{
    AddOptions, Catalog, CatalogLimits, FileSet, Format, MigrateOptions, Placement, RenderOptions,
    Rendered, add_bundle, migrate_dir, render_bundle, to_text, validate,
};

fn rendered(version: &str, csv_spec: &str, channels: &str) -> Rendered {
    let mut f = FileSet::new();
    f.insert(
        "manifests/csv.yaml",
        format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: demo.v{version}\nspec:\n  version: {version}\n{csv_spec}"
        )
        .into_bytes(),
    );
    f.insert(
        "metadata/annotations.yaml",
        format!(
            "annotations:\n  operators.operatorframework.io.bundle.package.v1: demo\n  operators.operatorframework.io.bundle.channels.v1: {channels}\n  operators.operatorframework.io.bundle.channel.default.v1: stable\n"
        )
        .into_bytes(),
    );
    render_bundle(
        &f,
        &RenderOptions {
            image: Some(format!("quay.io/demo/bundle:{version}")),
            ..RenderOptions::default()
        },
        &CatalogLimits::default(),
    )
    .unwrap()
}

#[test]
fn add_creates_the_package_and_channels_from_annotations_and_csv_edges() {
    let mut c = Catalog::default();
    let r = add_bundle(
        &mut c,
        &rendered("1.0.0", "", "stable,fast"),
        &AddOptions::default(),
    )
    .unwrap();
    assert!(r.package_created);
    assert_eq!(r.channels_created, ["stable", "fast"]);
    validate(&c).unwrap();
    let r = add_bundle(
        &mut c,
        &rendered(
            "1.1.0",
            "  replaces: demo.v1.0.0\n  skips: [demo.v0.9.0]\n",
            "stable",
        ),
        &AddOptions::default(),
    )
    .unwrap();
    assert!(!r.package_created && r.channels_created.is_empty());
    validate(&c).unwrap();
    let yaml = to_text(&c, Format::Yaml);
    assert!(yaml.contains("entries:\n- name: demo.v1.0.0\n- name: demo.v1.1.0\n  replaces: demo.v1.0.0\n  skips:\n  - demo.v0.9.0\nname: stable\n"), "{yaml}");
    // Re-adding the same version replaces the bundle, never duplicates it.
    let r = add_bundle(
        &mut c,
        &rendered("1.1.0", "  replaces: demo.v1.0.0\n", "stable"),
        &AddOptions::default(),
    )
    .unwrap();
    assert!(r.bundle_replaced);
    assert_eq!(c.bundles.len(), 2);
    validate(&c).unwrap();
}

#[test]
fn csv_without_edges_leaves_two_heads_unless_chained_by_version() {
    let mut c = Catalog::default();
    for v in ["1.0.0", "1.2.0"] {
        add_bundle(&mut c, &rendered(v, "", "stable"), &AddOptions::default()).unwrap();
    }
    assert!(
        validate(&c)
            .unwrap_err()
            .to_string()
            .contains("multiple channel heads")
    );
    let chained = AddOptions {
        placement: Placement::SemverChain,
        ..AddOptions::default()
    };
    let mut c = Catalog::default();
    for v in ["1.2.0", "1.0.0", "1.1.0"] {
        add_bundle(&mut c, &rendered(v, "", "stable"), &chained).unwrap();
        validate(&c).unwrap();
    }
    let e: Vec<(String, String)> = c.channels[0]
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.replaces.clone()))
        .collect();
    assert_eq!(
        e,
        [
            ("demo.v1.0.0".into(), String::new()),
            ("demo.v1.1.0".into(), "demo.v1.0.0".into()),
            ("demo.v1.2.0".into(), "demo.v1.1.0".into())
        ]
    );
}

#[test]
fn explicit_channels_override_annotations_and_a_bundle_without_channels_is_refused() {
    let mut c = Catalog::default();
    let opts = AddOptions {
        channels: vec!["beta".into()],
        ..AddOptions::default()
    };
    add_bundle(&mut c, &rendered("1.0.0", "", "stable"), &opts).unwrap();
    assert_eq!(c.channels[0].name, "beta");
    assert_eq!(
        c.packages[0].default_channel, "beta",
        "the annotated default is not among the channels"
    );
    let mut none = rendered("1.0.0", "", "stable");
    none.annotations.retain(|(k, _)| !k.contains("channel"));
    assert!(add_bundle(&mut Catalog::default(), &none, &AddOptions::default()).is_err());
}

#[test]
fn graph_of_etcd_has_every_edge_and_one_head_per_channel() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators/etcd");
    let m = migrate_dir(&dir, &MigrateOptions::default(), &CatalogLimits::default()).unwrap();
    let graphs = upgrade_graphs(&m.catalog, Some("etcd"));
    let summary: Vec<String> = graphs
        .iter()
        .map(|g| format!("{} heads={:?} edges={}", g.channel, g.heads, g.edges.len()))
        .collect();
    assert_eq!(
        summary,
        [
            "alpha heads=[\"etcdoperator-community.v0.6.1\"] edges=0",
            "clusterwide-alpha heads=[\"etcdoperator.v0.9.4-clusterwide\"] edges=2",
            "singlenamespace-alpha heads=[\"etcdoperator.v0.9.4\"] edges=2",
        ]
    );
    let mermaid = to_mermaid(&graphs);
    assert!(
        mermaid.starts_with("graph LR\n  subgraph c0[\"etcd / alpha\"]\n"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("    c2n0 -- replaces --> c2n1\n"),
        "{mermaid}"
    );
    assert!(mermaid.contains("  class c2n2 head\n"), "{mermaid}");
    let dot = to_dot(&graphs);
    assert!(dot.contains(
        "    \"etcd/singlenamespace-alpha/etcdoperator.v0.9.2\" -> \"etcd/singlenamespace-alpha/etcdoperator.v0.9.4\" [label=\"replaces\"];\n"
    ), "{dot}");
    assert!(dot.contains("\"etcd/singlenamespace-alpha/etcdoperator.v0.9.4\" [label=\"etcdoperator.v0.9.4\", peripheries=2, style=bold];"), "{dot}");
}

#[test]
fn skip_edges_skip_ranges_and_bundles_outside_the_channel() {
    let mut c = Catalog::default();
    for (v, spec) in [
        ("1.0.0", ""),
        ("1.1.0", "  replaces: demo.v0.9.0\n"),
        ("2.0.0", "  replaces: demo.v1.1.0\n  skips: [demo.v1.0.0]\n"),
    ] {
        add_bundle(&mut c, &rendered(v, spec, "stable"), &AddOptions::default()).unwrap();
    }
    c.channels[0].entries[2].skip_range = ">=1.0.0 <2.0.0".into();
    let g = &upgrade_graphs(&c, None)[0];
    let edges: Vec<(String, String, EdgeKind)> = g
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone(), e.kind))
        .collect();
    assert!(edges.contains(&("demo.v1.0.0".into(), "demo.v2.0.0".into(), EdgeKind::Skips)));
    assert!(edges.contains(&(
        "demo.v1.0.0".into(),
        "demo.v2.0.0".into(),
        EdgeKind::SkipRange
    )));
    assert!(edges.contains(&(
        "demo.v1.1.0".into(),
        "demo.v2.0.0".into(),
        EdgeKind::SkipRange
    )));
    assert!(edges.contains(&(
        "demo.v0.9.0".into(),
        "demo.v1.1.0".into(),
        EdgeKind::Replaces
    )));
    assert_eq!(g.outside.iter().collect::<Vec<_>>(), ["demo.v0.9.0"]);
    assert_eq!(g.heads, ["demo.v2.0.0"]);
    let m = to_mermaid(std::slice::from_ref(g));
    assert!(m.contains("[\"demo.v0.9.0 (not in channel)\"]"), "{m}");
    assert!(m.contains("-. skipRange .->"), "{m}");
    assert!(to_dot(std::slice::from_ref(g)).contains("style=dotted"));
}

fn graph_data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/graph")
        .join(name)
}

/// The whole Mermaid and dot text of the shared `etcd` fixture, against hand-written files
/// (also what `omps catalog graph` prints for it).
#[test]
fn graph_of_etcd_is_the_hand_written_mermaid_and_dot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators/etcd");
    let m = migrate_dir(&dir, &MigrateOptions::default(), &CatalogLimits::default()).unwrap();
    let graphs = upgrade_graphs(&m.catalog, None);
    let read = |n: &str| std::fs::read_to_string(graph_data(n)).unwrap();
    assert_eq!(to_mermaid(&graphs), read("etcd.mmd"));
    assert_eq!(to_dot(&graphs), read("etcd.dot"));
}

/// Every edge kind, a bundle outside the channel and the head, in both notations.
#[test]
fn graph_with_every_edge_kind_is_the_hand_written_mermaid_and_dot() {
    let text = std::fs::read(graph_data("demo.yaml")).unwrap();
    let c = olm_catalog::load_text("demo.yaml", &text, &CatalogLimits::default()).unwrap();
    validate(&c).unwrap();
    // The fixture is in the writer's own YAML, so it also pins the output format.
    assert_eq!(to_text(&c, Format::Yaml).as_bytes(), &text[..]);
    let graphs = upgrade_graphs(&c, Some("demo"));
    let read = |n: &str| std::fs::read_to_string(graph_data(n)).unwrap();
    assert_eq!(to_mermaid(&graphs), read("demo.mmd"));
    assert_eq!(to_dot(&graphs), read("demo.dot"));
    assert!(upgrade_graphs(&c, Some("other")).is_empty());
}
