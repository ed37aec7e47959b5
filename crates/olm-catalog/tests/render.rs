//! Rendering the shared bundle fixtures (spec §4, §5, worked example B).
//!
//! Expected files in `tests/data` were checked by hand: `sosreport-operator.v0.0.2.*` against
//! the spec's worked example B and the fixture's CSV; `vault-helm.v0.0.2.yaml` line by line
//! against a real opm-rendered community catalog holding the same bundle (which differs only by
//! one annotation its pipeline adds, so that line is not in the fixture's output).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use olm_catalog::write::blob_text;
use olm_catalog::{
    CatalogError, CatalogLimits, FileSet, Format, ObjectForm, RenderOptions, Value, json,
    render_bundle, render_bundle_dir,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(rel)
}

fn data(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn render(rel: &str, image: Option<&str>, form: ObjectForm) -> olm_catalog::Rendered {
    let options = RenderOptions {
        image: image.map(str::to_owned),
        form,
        ..RenderOptions::default()
    };
    render_bundle_dir(&fixture(rel), &options, &CatalogLimits::default()).unwrap()
}

#[test]
fn worked_example_b_json_and_yaml_are_byte_identical() {
    let r = render(
        "sosreport-operator/0.0.2",
        Some("registry.example/sosreport-bundle:0.0.2"),
        ObjectForm::CsvMetadata,
    );
    let v = r.bundle.to_value();
    assert_eq!(
        blob_text(&v, Format::Json),
        data("sosreport-operator.v0.0.2.json")
    );
    assert_eq!(
        blob_text(&v, Format::Yaml),
        data("sosreport-operator.v0.0.2.yaml")
    );
    assert_eq!(r.channels(), ["alpha"]);
    assert_eq!(r.default_channel(), Some("alpha"));
    assert_eq!(r.version(), "0.0.2");
}

#[test]
fn vault_helm_yaml_matches_real_opm_output() {
    let r = render(
        "vault-helm/0.0.2",
        Some(
            "quay.io/operatorhubio/vault-helm@sha256:d8032324d9197167d8d911f42bcdc9a8d2f97fafa5d3687eba48e47f35d5dc94",
        ),
        ObjectForm::CsvMetadata,
    );
    assert_eq!(
        blob_text(&r.bundle.to_value(), Format::Yaml),
        data("vault-helm.v0.0.2.yaml")
    );
}

#[test]
fn without_an_image_the_bundle_image_is_not_a_related_image() {
    let r = render("sosreport-operator/0.0.2", None, ObjectForm::CsvMetadata);
    assert_eq!(r.bundle.image, "");
    let images: Vec<&str> = r
        .bundle
        .related_images
        .iter()
        .map(|i| i.image.as_str())
        .collect();
    assert_eq!(
        images,
        [
            "gcr.io/kubebuilder/kube-rbac-proxy:v0.5.0",
            "quay.io/akaris/sosreport-operator:0.0.2"
        ]
    );
}

#[test]
fn bundle_objects_form_holds_every_manifest_ordered_by_data() {
    let r = render("sosreport-operator/0.0.2", None, ObjectForm::BundleObjects);
    let kinds: Vec<String> = r
        .bundle
        .properties
        .iter()
        .filter(|p| p.kind == "olm.bundle.object")
        .map(|p| {
            let data = p.value.get("data").and_then(Value::as_str).unwrap();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            let obj = json::parse(std::str::from_utf8(&decoded).unwrap(), 64).unwrap();
            // Compact JSON with sorted keys, as upstream marshals the objects.
            assert_eq!(json::to_compact(&obj).as_bytes(), &decoded[..]);
            obj.get("kind").and_then(Value::as_str).unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "CustomResourceDefinition",
            "ClusterServiceVersion",
            "ClusterRole",
            "Service"
        ]
    );
    assert!(
        r.bundle
            .properties
            .iter()
            .all(|p| p.kind != "olm.csv.metadata")
    );
    let types: Vec<&str> = r
        .bundle
        .properties
        .iter()
        .map(|p| p.kind.as_str())
        .collect();
    assert_eq!(&types[..2], ["olm.gvk", "olm.package"]);
}

#[test]
fn every_bundle_fixture_renders() {
    for (rel, name, gvks) in [
        ("vault-helm/0.0.1", "vault-helm.v0.0.1", 1),
        ("tackle-operator/0.0.1", "", 0),
        ("tackle-operator/1.0.0", "", 0),
    ] {
        let r = render(rel, Some("r.example/b:1"), ObjectForm::CsvMetadata);
        if !name.is_empty() {
            assert_eq!(r.bundle.name, name);
        }
        assert!(!r.bundle.name.is_empty(), "{rel}");
        assert_eq!(r.bundle.package, rel.split('/').next().unwrap());
        let n = r
            .bundle
            .properties
            .iter()
            .filter(|p| p.kind == "olm.gvk")
            .count();
        if gvks > 0 {
            assert_eq!(n, gvks, "{rel}");
        }
        let last = r.bundle.properties.last().unwrap();
        assert_eq!(last.kind, "olm.csv.metadata", "{rel}");
    }
    let t = render("tackle-operator/1.0.0", None, ObjectForm::CsvMetadata);
    assert_eq!(t.channels(), ["alpha", "stable"]);
}

fn files(entries: &[(&str, &str)]) -> FileSet {
    let mut f = FileSet::new();
    for (p, d) in entries {
        f.insert(*p, d.as_bytes().to_vec());
    }
    f
}

const ANNOTATIONS: &str =
    "annotations:\n  operators.operatorframework.io.bundle.package.v1: demo\n";
const CSV: &str = "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: demo.v1.0.0\n  annotations:\n    olm.properties: '[{\"type\":\"olm.maxOpenShiftVersion\",\"value\":\"4.9\"},{\"type\":\"olm.gvk\",\"value\":{\"version\":\"v1\",\"kind\":\"X\",\"group\":\"x.io\",\"description\":\"dropped\"}}]'\nspec:\n  version: 1.0.0\n  customresourcedefinitions:\n    required:\n    - name: things.other.io\n      kind: Thing\n      version: v2\n";

fn render_files(f: &FileSet) -> Result<olm_catalog::Rendered, CatalogError> {
    render_bundle(f, &RenderOptions::default(), &CatalogLimits::default())
}

#[test]
fn derived_properties_and_their_order() {
    let f = files(&[
        ("manifests/csv.yaml", CSV),
        ("metadata/annotations.yaml", ANNOTATIONS),
        (
            "metadata/dependencies.yaml",
            "dependencies:\n- type: olm.package\n  value: {packageName: base, version: '>=1.0.0'}\n- type: olm.gvk\n  value: {group: g.io, kind: G, version: v1}\n- type: olm.label\n  value: {label: x}\n",
        ),
        (
            "metadata/properties.yaml",
            "properties:\n- type: olm.package\n  value: {packageName: ignored, version: 9.9.9}\n- type: custom.thing\n  value: {b: 1, a: 2}\n",
        ),
    ]);
    let r = render_files(&f).unwrap();
    let got: Vec<String> = r
        .bundle
        .properties
        .iter()
        .map(|p| format!("{} {}", p.kind, json::to_compact(&p.value)))
        .collect();
    let expected = [
        r#"custom.thing {"a":2,"b":1}"#,
        r#"olm.gvk {"group":"x.io","kind":"X","version":"v1"}"#,
        r#"olm.gvk.required {"group":"g.io","kind":"G","version":"v1"}"#,
        r#"olm.gvk.required {"group":"other.io","kind":"Thing","version":"v2"}"#,
        r#"olm.label {"label":"x"}"#,
        r#"olm.maxOpenShiftVersion "4.9""#,
        r#"olm.package {"packageName":"demo","version":"1.0.0"}"#,
        r#"olm.package.required {"packageName":"base","versionRange":">=1.0.0"}"#,
    ];
    assert_eq!(&got[..expected.len()], expected);
    assert!(got.last().unwrap().starts_with("olm.csv.metadata "));
}

#[test]
fn render_failures_say_what_is_missing() {
    let e = render_files(&files(&[("metadata/annotations.yaml", ANNOTATIONS)])).unwrap_err();
    assert_eq!(e.to_string(), "no bundle objects found");
    let e = render_files(&files(&[
        ("manifests/svc.yaml", "kind: Service\napiVersion: v1\n"),
        ("metadata/annotations.yaml", ANNOTATIONS),
    ]))
    .unwrap_err();
    assert_eq!(e.to_string(), "no csv in bundle");
    let e = render_files(&files(&[
        ("manifests/csv.yaml", CSV),
        ("metadata/x.yaml", "a: 1\n"),
    ]))
    .unwrap_err();
    assert_eq!(e.to_string(), "Could not find annotations file");
    let owned = CSV.replace(
        "    required:\n",
        "    owned:\n    - name: widgets.demo.io\n      kind: Widget\n      version: v1\n    required:\n",
    );
    let e = render_files(&files(&[
        ("manifests/csv.yaml", &owned),
        ("metadata/annotations.yaml", ANNOTATIONS),
    ]))
    .unwrap_err();
    assert!(
        e.to_string().contains("owns CRD \"widgets.demo.io\""),
        "{e}"
    );
}

#[test]
fn broken_and_hidden_manifests_are_skipped_with_warnings() {
    let r = render_files(&files(&[
        ("manifests/.hidden.yaml", "kind: ["),
        ("manifests/a-broken.yaml", "kind: [\n"),
        (
            "manifests/b-multi.yaml",
            "kind: ConfigMap\napiVersion: v1\n---\nkind: Secret\n",
        ),
        ("manifests/csv.yaml", CSV),
        ("metadata/annotations.yaml", ANNOTATIONS),
    ]))
    .unwrap();
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings[0].starts_with("manifests/a-broken.yaml: cannot be decoded"));
    assert!(r.warnings[1].contains("only the first document"));
}

#[test]
fn a_bundle_image_layer_and_a_zip_render_like_the_directory() {
    use manifest_bundle::{Limits, ManifestTree, to_bundles, validate_tree};
    let dir = fixture("sosreport-operator/0.0.2");
    let options = RenderOptions {
        image: Some("registry.example/sosreport-bundle:0.0.2".into()),
        ..RenderOptions::default()
    };
    let limits = CatalogLimits::default();
    let from_dir = render_bundle_dir(&dir, &options, &limits).unwrap();

    // The layer of the bundle image manifest-bundle builds for `omps bundle push`.
    let tree = ManifestTree::from_dir(&dir, &Limits::default()).unwrap();
    let (manifests, _) = validate_tree(&tree, None, &Limits::default().yaml).unwrap();
    let bundle = to_bundles(&manifests, &tree).unwrap().remove(0);
    let image = manifest_bundle::image::build_image(&bundle).unwrap();
    let files = olm_catalog::layer::bundle_files_from_layers([&image.layer[..]], &limits).unwrap();
    let from_layer = render_bundle(&files, &options, &limits).unwrap();
    assert_eq!(from_layer.bundle, from_dir.bundle);

    // A zip of the bundle directory, read with manifest-bundle's bounded zip intake.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, data) in tree.iter() {
        zip.start_file(path, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, data).unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let zip_tree = ManifestTree::from_zip_bytes(&bytes, &Limits::default()).unwrap();
    let from_zip =
        render_bundle(&FileSet::from_manifest_tree(&zip_tree), &options, &limits).unwrap();
    assert_eq!(from_zip.bundle, from_dir.bundle);
}
