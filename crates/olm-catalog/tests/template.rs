//! Template expansion (spec §8) with bundles rendered from files in memory.

use olm_catalog::template::{expand, expand_basic, expand_semver, referenced_images};
use olm_catalog::{
    Catalog, CatalogError, CatalogLimits, FileSet, RenderOptions, Rendered, json, render_bundle,
    validate,
};

/// A bundle of package `pkg` at `version`, its image `quay.io/<pkg>/bundle:<version>`.
fn bundle_files(pkg: &str, version: &str) -> FileSet {
    let mut f = FileSet::new();
    f.insert(
        "manifests/csv.yaml",
        format!(
            "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: {pkg}.v{version}\nspec:\n  version: {version}\n  description: {pkg} at {version}\n  icon:\n  - base64data: PHN2Zz4=\n    mediatype: image/svg+xml\n"
        )
        .into_bytes(),
    );
    f.insert(
        "metadata/annotations.yaml",
        format!("annotations:\n  operators.operatorframework.io.bundle.package.v1: {pkg}\n")
            .into_bytes(),
    );
    f
}

/// Resolves `quay.io/<pkg>/bundle:<version>` to a rendered bundle.
fn source(image: &str) -> Result<Rendered, CatalogError> {
    let rest = image
        .strip_prefix("quay.io/")
        .ok_or_else(|| CatalogError::InvalidArgument(image.into()))?;
    let (pkg, version) = rest.split_once("/bundle:").unwrap();
    render_bundle(
        &bundle_files(pkg, version),
        &RenderOptions {
            image: Some(image.to_owned()),
            ..RenderOptions::default()
        },
        &CatalogLimits::default(),
    )
}

fn semver(text: &str) -> Result<Catalog, CatalogError> {
    expand_semver(text.as_bytes(), &mut source, &CatalogLimits::default())
}

/// `channel: entry(replaces; skips) ...` for every channel.
fn graph(c: &Catalog) -> Vec<String> {
    c.channels
        .iter()
        .map(|ch| {
            let entries: Vec<String> = ch
                .entries
                .iter()
                .map(|e| format!("{}({};{})", e.name, e.replaces, e.skips.join(",")))
                .collect();
            format!("{}: {}", ch.name, entries.join(" "))
        })
        .collect()
}

fn images(arch: &str, versions: &[&str]) -> String {
    let list: Vec<String> = versions
        .iter()
        .map(|v| format!("  - image: quay.io/op/bundle:{v}\n"))
        .collect();
    format!("{arch}:\n  bundles:\n{}", list.concat())
}

#[test]
fn major_channels_example_from_the_spec() {
    let c = semver(&format!(
        "schema: olm.semver\ngenerateMajorChannels: true\ngenerateMinorChannels: false\n{}",
        images("stable", &["1.1.0", "1.0.0", "1.0.1"])
    ))
    .unwrap();
    assert_eq!(
        graph(&c),
        ["stable-v1: op.v1.0.0(;) op.v1.0.1(;op.v1.0.0) op.v1.1.0(op.v1.0.1;op.v1.0.0)"]
    );
    assert_eq!(c.packages[0].default_channel, "stable-v1");
    validate(&c).unwrap();
}

#[test]
fn minor_channels_example_from_the_spec() {
    let c = semver(&format!(
        "schema: olm.semver\n{}",
        images("stable", &["1.1.0", "1.1.1", "1.2.0", "1.2.1"])
    ))
    .unwrap();
    assert_eq!(
        graph(&c),
        [
            "stable-v1.1: op.v1.1.0(;) op.v1.1.1(;op.v1.1.0)",
            "stable-v1.2: op.v1.2.0(;) op.v1.2.1(op.v1.1.1;op.v1.1.0,op.v1.2.0)",
        ]
    );
    let p = &c.packages[0];
    assert_eq!(p.default_channel, "stable-v1.2");
    assert_eq!(
        p.description, "op at 1.2.1",
        "from the default channel's last entry"
    );
    assert_eq!(
        p.icon.as_ref().unwrap().data.as_deref(),
        Some(&b"<svg>"[..])
    );
    validate(&c).unwrap();
}

#[test]
fn archetypes_streams_and_default_preference() {
    let text = format!(
        "schema: olm.semver\ngenerateMajorChannels: true\ngenerateMinorChannels: true\ndefaultChannelTypePreference: major\n{}{}",
        images("candidate", &["1.0.0", "1.1.0", "2.0.0"]),
        images("stable", &["1.0.0"])
    );
    let c = semver(&text).unwrap();
    let names: Vec<&str> = c.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "candidate-v1",
            "candidate-v1.0",
            "candidate-v1.1",
            "candidate-v2",
            "candidate-v2.0",
            "stable-v1",
            "stable-v1.0"
        ]
    );
    assert_eq!(
        c.packages[0].default_channel, "stable-v1",
        "most stable archetype, preferred kind"
    );
    assert_eq!(
        c.bundles.len(),
        3,
        "a bundle in two archetypes is rendered once"
    );
    validate(&c).unwrap();
}

#[test]
fn semver_errors() {
    let e = semver(&format!(
        "schema: olm.semver\ngenerateMajorChannels: true\ndefaultChannelTypePreference: minor\n{}",
        images("stable", &["1.0.0"])
    ))
    .unwrap_err();
    assert!(e.to_string().contains("not generated"), "{e}");
    let e = semver(
        "schema: olm.semver\nstable:\n  bundles:\n  - image: quay.io/a/bundle:1.0.0\n  - image: quay.io/b/bundle:1.0.0\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("more than one package"), "{e}");
    let e = semver(&format!(
        "schema: olm.semver\n{}",
        images("stable", &["1.0.0-01"])
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("must not contain leading zeroes"),
        "{e}"
    );
    let e = semver(&format!(
        "schema: olm.semver\n{}",
        images("stable", &["1.0"])
    ))
    .unwrap_err();
    assert!(e.to_string().contains("cannot unmarshal number"), "{e}");
    assert!(
        semver("schema: olm.semver\n")
            .unwrap_err()
            .to_string()
            .contains("no bundles")
    );
}

#[test]
fn basic_template_replaces_bundle_entries_by_rendered_bundles() {
    let text = "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: op\n  defaultChannel: stable\n- schema: olm.channel\n  package: op\n  name: stable\n  entries:\n  - name: op.v1.0.0\n- schema: olm.bundle\n  image: quay.io/op/bundle:1.0.0\n";
    let c = expand(text.as_bytes(), &mut source, &CatalogLimits::default()).unwrap();
    assert_eq!(c.bundles.len(), 1);
    assert_eq!(c.bundles[0].name, "op.v1.0.0");
    assert_eq!(c.bundles[0].image, "quay.io/op/bundle:1.0.0");
    assert_eq!(
        c.bundles[0].properties.last().unwrap().kind,
        "olm.csv.metadata"
    );
    assert_eq!(
        json::to_compact(&c.packages[0].to_value()),
        r#"{"schema":"olm.package","name":"op","defaultChannel":"stable"}"#
    );
    validate(&c).unwrap();

    let extra = "schema: olm.template.basic\nentries:\n- schema: olm.bundle\n  image: quay.io/op/bundle:1.0.0\n  name: op.v1.0.0\n";
    let e = expand_basic(extra.as_bytes(), &mut source, &CatalogLimits::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected fields present in basic template bundle"
    );
    let e = expand(b"schema: other\n", &mut source, &CatalogLimits::default()).unwrap_err();
    assert!(
        e.to_string().contains("unknown template schema \"other\""),
        "{e}"
    );
}

#[test]
fn referenced_images_lists_what_to_pull() {
    let limits = CatalogLimits::default();
    let semver_text = format!(
        "schema: olm.semver\n{}{}",
        images("candidate", &["1.0.0", "1.1.0"]),
        images("stable", &["1.0.0"])
    );
    assert_eq!(
        referenced_images(semver_text.as_bytes(), &limits).unwrap(),
        ["quay.io/op/bundle:1.0.0", "quay.io/op/bundle:1.1.0"]
    );
    let basic = "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: op\n- schema: olm.bundle\n  image: quay.io/op/bundle:2.0.0\n";
    assert_eq!(
        referenced_images(basic.as_bytes(), &limits).unwrap(),
        ["quay.io/op/bundle:2.0.0"]
    );
    assert!(referenced_images(b"schema: x\n", &limits).is_err());
}
