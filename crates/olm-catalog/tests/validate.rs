//! One catalog per validation rule of spec §7, each breaking exactly that rule.

use olm_catalog::{CatalogError, CatalogLimits, load_text, validate};

fn pkg(name: &str, default: &str) -> String {
    format!(r#"{{"schema":"olm.package","name":"{name}","defaultChannel":"{default}"}}"#)
}

fn channel(pkg: &str, name: &str, entries: &str) -> String {
    format!(r#"{{"schema":"olm.channel","package":"{pkg}","name":"{name}","entries":[{entries}]}}"#)
}

fn bundle_with(pkg: &str, name: &str, image: &str, props: &str) -> String {
    format!(
        r#"{{"schema":"olm.bundle","package":"{pkg}","name":"{name}","image":"{image}","properties":[{props}]}}"#
    )
}

fn pkg_prop(pkg: &str, version: &str) -> String {
    format!(r#"{{"type":"olm.package","value":{{"packageName":"{pkg}","version":"{version}"}}}}"#)
}

fn bundle(pkg: &str, name: &str, version: &str) -> String {
    bundle_with(
        pkg,
        name,
        &format!("quay.io/x/{pkg}:{version}"),
        &pkg_prop(pkg, version),
    )
}

/// A valid two-bundle package `p`.
fn valid() -> Vec<String> {
    vec![
        pkg("p", "stable"),
        channel(
            "p",
            "stable",
            r#"{"name":"p.v1"},{"name":"p.v2","replaces":"p.v1"}"#,
        ),
        bundle("p", "p.v1", "1.0.0"),
        bundle("p", "p.v2", "2.0.0"),
    ]
}

fn check(blobs: &[String]) -> Result<(), String> {
    let text = blobs.join("\n");
    let catalog = load_text("catalog.json", text.as_bytes(), &CatalogLimits::default())
        .map_err(|e| e.to_string())?;
    validate(&catalog).map(drop).map_err(|e| e.to_string())
}

fn fails(blobs: &[String]) -> String {
    check(blobs).expect_err("the catalog should be invalid")
}

fn replace(mut blobs: Vec<String>, i: usize, with: String) -> Vec<String> {
    blobs[i] = with;
    blobs
}

fn tree(package: &str, inner: &str) -> String {
    format!("invalid index:\n└── invalid package \"{package}\":\n{inner}")
}

#[test]
fn the_base_catalog_and_an_empty_catalog_are_valid() {
    check(&valid()).unwrap();
    check(&[]).unwrap();
}

#[test]
fn l1_to_l4_loading() {
    assert!(
        fails(&[r#"{"schema":"olm.package""#.to_owned()]).starts_with("catalog.json: invalid JSON")
    );
    assert_eq!(
        fails(&[r#"{"name":"x"}"#.to_owned()]),
        "catalog.json: object '{\"name\":\"x\"}' is missing root schema field"
    );
    assert_eq!(
        fails(&[r#"{"schema":"olm.package","name":"a","Name":"b"}"#.to_owned()]),
        "catalog.json: duplicate keys for key \"name\": [name Name]"
    );
    let bad_object = bundle_with(
        "p",
        "p.v1",
        "",
        &format!(
            "{},{}",
            pkg_prop("p", "1.0.0"),
            r#"{"type":"olm.bundle.object","value":{"data":"!!"}}"#
        ),
    );
    assert!(fails(&replace(valid(), 2, bad_object)).starts_with(
        "package \"p\", bundle \"p.v1\": parse property as bundle object at index 1: illegal base64"
    ));
}

#[test]
fn m1_to_m3_packages() {
    assert_eq!(
        fails(&[pkg("", "x")]),
        "config contains package with no name"
    );
    assert_eq!(
        fails(&[pkg("a", "x"), pkg("a", "x")]),
        "duplicate package \"a\""
    );
    let e = fails(&[pkg("Bad_Name", "x")]);
    assert!(
        e.starts_with("invalid package name \"Bad_Name\": [a lowercase RFC 1123 label"),
        "{e}"
    );
}

#[test]
fn m4_to_m7_channels() {
    let mut v = valid();
    v.push(channel("q", "alpha", ""));
    assert_eq!(fails(&v), "unknown package \"q\" for channel \"alpha\"");
    assert_eq!(
        fails(&replace(valid(), 1, channel("p", "", r#"{"name":"p.v1"}"#))),
        "package \"p\" contains channel with no name"
    );
    let mut v = valid();
    v.push(channel("p", "stable", ""));
    assert_eq!(fails(&v), "package \"p\" has duplicate channel \"stable\"");
    assert_eq!(
        fails(&replace(
            valid(),
            1,
            channel("p", "stable", r#"{"name":"p.v1"},{"name":"p.v1"}"#)
        )),
        "invalid package \"p\", channel \"stable\": duplicate entry \"p.v1\""
    );
}

#[test]
fn m8_to_m13_bundles() {
    assert_eq!(
        fails(&replace(valid(), 2, bundle("", "p.v1", "1.0.0"))),
        "package name must be set for bundle \"p.v1\""
    );
    assert_eq!(
        fails(&replace(valid(), 2, bundle("q", "p.v1", "1.0.0"))),
        "unknown package \"q\" for bundle \"p.v1\""
    );
    let mut v = valid();
    v.push(bundle("p", "p.v1", "1.0.0"));
    assert_eq!(fails(&v), "package \"p\" has duplicate bundle \"p.v1\"");
    let e = fails(&replace(
        valid(),
        2,
        bundle_with(
            "p",
            "p.v1",
            "quay.io/x/y:1",
            r#"{"type":"olm.package","value":{"packageName":1}}"#,
        ),
    ));
    assert_eq!(
        e,
        "parse properties for bundle \"p.v1\": parse property[0] of type \"olm.package\": \
         json: cannot unmarshal number into Go struct field Package.packageName of type string"
    );
    assert_eq!(
        fails(&replace(
            valid(),
            2,
            bundle_with("p", "p.v1", "quay.io/x/y:1", "")
        )),
        "package \"p\" bundle \"p.v1\" must have exactly 1 \"olm.package\" property, found 0"
    );
    assert_eq!(
        fails(&replace(
            valid(),
            2,
            bundle_with("p", "p.v1", "quay.io/x/y:1", &pkg_prop("other", "1.0.0"))
        )),
        "package \"p\" does not match \"olm.package\" property \"other\""
    );
}

#[test]
fn m14_image_references() {
    assert_eq!(
        fails(&replace(
            valid(),
            2,
            bundle_with("p", "p.v1", "Quay.io/X:1", &pkg_prop("p", "1.0.0"))
        )),
        "package \"p\" bundle \"p.v1\": invalid image reference \"Quay.io/X:1\": invalid reference format: repository name must be lowercase"
    );
    let b = bundle("p", "p.v1", "1.0.0").replace(
        r#""properties""#,
        r#""relatedImages":[{"name":"x","image":"quay.io/a/b:"}],"properties""#,
    );
    assert_eq!(
        fails(&replace(valid(), 2, b)),
        "package \"p\" bundle \"p.v1\": relatedImages[0]: invalid image reference \"quay.io/a/b:\": invalid reference format"
    );
}

#[test]
fn m15_to_m17_versions_and_channel_membership() {
    assert_eq!(
        fails(&replace(valid(), 2, bundle("p", "p.v1", "v1.0"))),
        "error parsing bundle \"p.v1\" version \"v1.0\": No Major.Minor.Patch elements found"
    );
    let mut v = valid();
    v.push(bundle("p", "p.v3", "3.0.0"));
    assert_eq!(
        fails(&v),
        "package \"p\", bundle \"p.v3\" not found in any channel entries"
    );
    // The missing bundle is named by the first channel read; upstream would only look at the last.
    let mut v = valid();
    v.insert(1, channel("p", "fast", r#"{"name":"p.v9"}"#));
    assert_eq!(
        fails(&v),
        "no olm.bundle blobs found in package \"p\" for olm.channel entries [p.v9]"
    );
}

#[test]
fn m18_deprecations() {
    let dep = |entries: &str| {
        format!(r#"{{"schema":"olm.deprecations","package":"p","entries":[{entries}]}}"#)
    };
    let with = |d: String| {
        let mut v = valid();
        v.push(d);
        v
    };
    check(&with(dep(
        r#"{"reference":{"schema":"olm.bundle","name":"p.v1"},"message":"old"}"#,
    )))
    .unwrap();
    assert_eq!(
        fails(&with(dep(
            r#"{"reference":{"schema":"olm.bundle","name":"p.v9"},"message":"m"}"#
        ))),
        "cannot deprecate bundle \"p.v9\" for package \"p\": bundle not found"
    );
    assert_eq!(
        fails(&with(dep(
            r#"{"reference":{"schema":"olm.channel","name":"nope"},"message":"m"}"#
        ))),
        "cannot deprecate channel \"nope\" for package \"p\": channel not found"
    );
    assert_eq!(
        fails(&with(dep(
            r#"{"reference":{"schema":"olm.package","name":"p"},"message":"m"}"#
        ))),
        "package name must be empty for deprecated package \"p\" (specified \"p\")"
    );
    let twice = r#"{"reference":{"schema":"olm.package"},"message":"a"},{"reference":{"schema":"olm.package"},"message":"b"}"#;
    assert_eq!(
        fails(&with(dep(twice))),
        "duplicate deprecation entry declcfg.PackageScopedReference{Schema:\"olm.package\", Name:\"\"} for package \"p\""
    );
    let mut v = with(dep(""));
    v.push(dep(""));
    assert_eq!(
        fails(&v),
        "expected a maximum of one deprecation per package: \"p\""
    );
}

#[test]
fn d1_deprecation_message_must_be_set() {
    let mut v = valid();
    v.push(r#"{"schema":"olm.deprecations","package":"p","entries":[{"reference":{"schema":"olm.channel","name":"stable"},"message":""}]}"#.to_owned());
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── invalid deprecation:\n            └── message must be set"
        )
    );
}

#[test]
fn p1_to_p3_packages() {
    assert_eq!(
        fails(&replace(valid(), 0, pkg("p", ""))),
        tree("p", "    └── default channel must be set")
    );
    assert_eq!(
        fails(&[pkg("p", "")]),
        tree(
            "p",
            "    ├── default channel must be set\n    └── package must contain at least one channel"
        )
    );
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v2","replaces":"p.v1"},{"name":"p.v2b","replaces":"p.v2"}"#,
    );
    v.push(bundle("p", "p.v2b", "2.0.0"));
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── duplicate versions found in bundles: [{2.0.0: [p.v2, p.v2b]}]"
        )
    );
}

#[test]
fn c1_empty_channel_including_a_missing_default_channel() {
    assert_eq!(
        fails(&replace(valid(), 0, pkg("p", "fast"))),
        tree(
            "p",
            "    └── invalid channel \"fast\":\n        └── channel must contain at least one bundle"
        )
    );
}

#[test]
fn c2_channel_heads() {
    assert_eq!(
        fails(&replace(
            valid(),
            1,
            channel("p", "stable", r#"{"name":"p.v1"},{"name":"p.v2"}"#)
        )),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── multiple channel heads found in graph: p.v1, p.v2"
        )
    );
    assert_eq!(
        fails(&replace(
            valid(),
            1,
            channel(
                "p",
                "stable",
                r#"{"name":"p.v1","replaces":"p.v2"},{"name":"p.v2","replaces":"p.v1"}"#
            )
        )),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── no channel head found in graph"
        )
    );
}

#[test]
fn c3_cycles_and_stranded_bundles() {
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v3","replaces":"p.v2"},{"name":"p.v2","replaces":"p.v1"},{"name":"p.v1","replaces":"p.v2"}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── detected cycle in replaces chain of upgrade graph: p.v2 -> p.v1 -> p.v2"
        )
    );
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v2","replaces":"p.v1"},{"name":"p.v3","skipRange":">=1.0.0 <3.0.0","replaces":"p.v2"},{"name":"p.v0","replaces":"gone"}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    v.push(bundle("p", "p.v0", "0.1.0"));
    // A bundle whose replaces target is missing is a second head, not stranded.
    let e = fails(&v);
    assert!(
        e.contains("multiple channel heads found in graph: p.v0, p.v3"),
        "{e}"
    );
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v0"},{"name":"p.v2","replaces":"p.v1","skips":["p.x"]},{"name":"p.v3","replaces":"p.v2","skips":["p.v0"]}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    v.push(bundle("p", "p.v0", "0.1.0"));
    check(&v).unwrap();
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v0","replaces":"p.v1"},{"name":"p.v2","replaces":"p.v1","skips":["p.v0"]},{"name":"p.v3","replaces":"p.v2"}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    v.push(bundle("p", "p.v0", "0.1.0"));
    check(&v).unwrap();
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v0","replaces":"p.v9"},{"name":"p.v2","replaces":"p.v1","skips":["p.v0"]},{"name":"p.v3","replaces":"p.v1","skips":["p.v2"]}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    v.push(bundle("p", "p.v0", "0.1.0"));
    check(&v).unwrap();
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v0","replaces":"p.v9"},{"name":"p.v2","replaces":"p.v0"},{"name":"p.v3","replaces":"p.v2","skips":["p.v1"]},{"name":"p.v4","replaces":"p.v3","skips":["p.v5"]},{"name":"p.v5"}"#,
    );
    for (n, ver) in [
        ("p.v3", "3.0.0"),
        ("p.v0", "0.1.0"),
        ("p.v4", "4.0.0"),
        ("p.v5", "5.0.0"),
    ] {
        v.push(bundle("p", n, ver));
    }
    check(&v).unwrap();
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v2","replaces":"p.v1"},{"name":"p.v3","replaces":"p.v2"},{"name":"p.v4","replaces":"p.v3","skips":["p.v2"]}"#,
    );
    v.push(bundle("p", "p.v3", "3.0.0"));
    v.push(bundle("p", "p.v4", "4.0.0"));
    // The walk stops at p.v2 (skipped), so p.v1 is stranded.
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── channel contains one or more stranded bundles: p.v1"
        )
    );
}

#[test]
fn b2_b3_b7_bundle_rules_collect_together() {
    let mut v = valid();
    v[1] = channel(
        "p",
        "stable",
        r#"{"name":"p.v1"},{"name":"p.v2","replaces":"p.v1","skips":[""],"skipRange":"~1.0"}"#,
    );
    v[3] = bundle_with("p", "p.v2", "", &pkg_prop("p", "2.0.0"));
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── invalid bundle \"p.v2\":\n            ├── skip[0] is empty\n            ├── invalid skipRange \"~1.0\": Could not parse Range \"~1.0\": Could not parse comparator \"~\" in \"~1.0\"\n            └── bundle image must be set"
        )
    );
}

#[test]
fn b5_b6_release_versions() {
    let rel = |name: &str, version: &str| {
        bundle_with(
            "p",
            name,
            "quay.io/x/p:1",
            &format!(
                r#"{{"type":"olm.package","value":{{"packageName":"p","version":"{version}","release":"2"}}}}"#
            ),
        )
    };
    let mut v = valid();
    v[1] = channel("p", "stable", r#"{"name":"p-v1.0.0-2"}"#);
    v.truncate(2);
    v.push(rel("p-v1.0.0-2", "1.0.0"));
    check(&v).unwrap();
    v[1] = channel("p", "stable", r#"{"name":"p.v1"}"#);
    v[2] = rel("p.v1", "1.0.0+build");
    assert_eq!(
        fails(&v),
        tree(
            "p",
            "    └── invalid channel \"stable\":\n        └── invalid bundle \"p.v1\":\n            ├── cannot use build metadata in version with a release version\n            └── name \"p.v1\" does not match the name required with a release: \"p-v1.0.0+build-2\""
        )
    );
}

#[test]
fn failures_carry_their_location() {
    let mut v = valid();
    v[3] = bundle_with("p", "p.v2", "", &pkg_prop("p", "2.0.0"));
    let text = v.join("\n");
    let c = load_text("c", text.as_bytes(), &CatalogLimits::default()).unwrap();
    let Err(CatalogError::Invalid(tree)) = validate(&c) else {
        panic!("expected a validation tree");
    };
    let f = tree.failures();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].package.as_deref(), Some("p"));
    assert_eq!(f[0].channel.as_deref(), Some("stable"));
    assert_eq!(f[0].bundle.as_deref(), Some("p.v2"));
    assert_eq!(f[0].message, "bundle image must be set");
}
