//! `omps catalog ...` through the binary: local inputs here; ignored by default, against a real
//! Debian `docker-registry` checked with `skopeo` (`cargo xtask ci` sets `OMPS_DOCKER_REGISTRY`
//! and `OMPS_SKOPEO` and runs them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use test_support::fixtures::operator as fixture;

mod run_support;

/// `omps` without registry credentials from the environment.
fn omps() -> Command {
    let mut cmd = Command::cargo_bin("omps").unwrap();
    cmd.env_remove("OMPS_REGISTRY_USERNAME")
        .env_remove("OMPS_REGISTRY_PASSWORD")
        .env_remove("OMPS_REGISTRY_TOKEN");
    cmd
}

/// `omps catalog ARGS...`.
fn run(args: Vec<OsString>) -> Output {
    omps().arg("catalog").args(args).output().unwrap()
}

/// Arguments of any string or path type.
macro_rules! os {
    ($($a:expr),* $(,)?) => {
        vec![$(OsString::from(&$a)),*]
    };
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
fn code(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

fn ok(o: &Output) -> String {
    code(o, 0);
    stdout(o)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\nstderr: {}", stdout(o), stderr(o)))
}

/// olm-catalog's hand-checked data files.
fn lib_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../olm-catalog/tests/data")
        .join(name)
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sosreport() -> PathBuf {
    fixture("sosreport-operator").join("0.0.2")
}

/// `etcd` migrated into `<tmp>/<name>` (JSON files, bundle objects: no image template).
fn migrated_etcd(tmp: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp.join(name);
    let mut args = os!["migrate", fixture("etcd"), &out];
    args.extend(extra.iter().map(OsString::from));
    let o = run(args);
    code(&o, 0);
    out
}

/// A catalog whose one channel has two heads (no edges between its two bundles).
fn two_heads(tmp: &Path) -> PathBuf {
    let dir = tmp.join("two-heads");
    std::fs::create_dir_all(dir.join("demo")).unwrap();
    std::fs::write(
        dir.join("demo/catalog.json"),
        r#"{"schema":"olm.package","name":"demo","defaultChannel":"stable"}
{"schema":"olm.channel","name":"stable","package":"demo","entries":[{"name":"demo.v1.0.0"},{"name":"demo.v1.1.0"}]}
{"schema":"olm.bundle","name":"demo.v1.0.0","package":"demo","image":"registry.example/demo:1.0.0","properties":[{"type":"olm.package","value":{"packageName":"demo","version":"1.0.0"}}]}
{"schema":"olm.bundle","name":"demo.v1.1.0","package":"demo","image":"registry.example/demo:1.1.0","properties":[{"type":"olm.package","value":{"packageName":"demo","version":"1.1.0"}}]}
"#,
    )
    .unwrap();
    dir
}

fn zip_dir(dir: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let mut stack = vec![(dir.to_owned(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = format!("{rel}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                stack.push((e.path(), format!("{name}/")));
            } else {
                zip.start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                std::io::Write::write_all(&mut zip, &std::fs::read(e.path()).unwrap()).unwrap();
            }
        }
    }
    zip.finish().unwrap();
}

// ------------------------------------------------------------------------------------------------
// render

#[test]
fn render_of_a_bundle_directory_and_its_zip_is_worked_example_b() {
    let image = "registry.example/sosreport-bundle:0.0.2";
    let dir = sosreport();
    let o = run(os!["render", dir, "--image", &image]);
    assert_eq!(ok(&o), read(lib_data("sosreport-operator.v0.0.2.json")));
    let o = run(os!["render", dir, "--image", &image, "-o", "yaml",]);
    assert_eq!(ok(&o), read(lib_data("sosreport-operator.v0.0.2.yaml")));

    let tmp = tempfile::tempdir().unwrap();
    let zip = tmp.path().join("bundle.zip");
    zip_dir(&dir, &zip);
    let o = run(os!["render", zip, "--image", &image]);
    assert_eq!(ok(&o), read(lib_data("sosreport-operator.v0.0.2.json")));

    // Without an image: `image` empty, and --bundle-objects swaps csv metadata for objects.
    let o = run(os!["render", dir, "--bundle-objects"]);
    let text = ok(&o);
    assert!(text.contains("\"image\": \"\",\n"), "{text}");
    assert_eq!(
        text.matches("\"type\": \"olm.bundle.object\"").count(),
        4,
        "{text}"
    );
    assert!(!text.contains("olm.csv.metadata"), "{text}");
}

#[test]
fn render_of_a_catalog_prints_its_blobs_and_package_manifests_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let o = run(os!["render", catalog]);
    assert_eq!(ok(&o), read(catalog.join("etcd/catalog.json")));

    let o = run(os!["render", fixture("etcd")]);
    code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("holds package manifests (a *.package.yaml), not a bundle"),
        "{err}"
    );
    assert!(
        err.contains("hint: migrate it with `omps catalog migrate"),
        "{err}"
    );

    // --image names one bundle.
    let o = run(os![
        "render",
        sosreport(),
        catalog,
        "--image",
        "registry.example/x:1",
    ]);
    code(&o, 2);
    // Neither a path nor an image reference.
    let o = run(os!["render", "./no-such-bundle"]);
    code(&o, 2);
    assert!(
        stderr(&o).contains("./no-such-bundle: no such file or directory"),
        "{}",
        stderr(&o)
    );
}

// ------------------------------------------------------------------------------------------------
// migrate and validate

#[test]
fn migrate_writes_worked_example_a_and_it_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let files: Vec<String> = std::fs::read_dir(&catalog)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["etcd"]);
    assert!(catalog.join("etcd/catalog.json").is_file());

    let o = run(os!["validate", catalog]);
    assert_eq!(
        ok(&o),
        format!(
            "{}: valid (1 packages, 3 channels, 6 bundles)\n",
            catalog.display()
        )
    );
    let o = run(os!["validate", catalog, "-o", "json"]);
    code(&o, 0);
    let report = json(&o);
    assert_eq!(report["valid"], true);
    assert_eq!(report["bundles"], 6);
    assert_eq!(report["failures"], serde_json::json!([]));

    // To stdout in YAML: worked example A's channel, byte for byte.
    let o = run(os!["migrate", fixture("etcd"), "-", "-o", "yaml",]);
    let yaml = ok(&o);
    assert!(
        yaml.starts_with("---\ndefaultChannel: singlenamespace-alpha\nicon:\n  base64data: "),
        "{}",
        &yaml[..200.min(yaml.len())]
    );
    assert!(yaml.contains(
        "---\nentries:\n- name: etcdoperator.v0.9.0\n- name: etcdoperator.v0.9.2-clusterwide\n  replaces: etcdoperator.v0.9.0\n- name: etcdoperator.v0.9.4-clusterwide\n  replaces: etcdoperator.v0.9.2-clusterwide\nname: clusterwide-alpha\npackage: etcd\nschema: olm.channel\n"
    ));
    assert_eq!(yaml.matches("\nschema: olm.bundle\n").count(), 6);

    // An image template gives csv metadata and the images.
    let templated = migrated_etcd(
        tmp.path(),
        "templated",
        &[
            "--image-template",
            "registry.example/{{.Package}}-bundle:{{.Version}}",
        ],
    );
    let text = read(templated.join("etcd/catalog.json"));
    assert!(
        text.contains("\"image\": \"registry.example/etcd-bundle:0.9.4\""),
        "{text}"
    );
    assert!(!text.contains("olm.bundle.object"));
}

#[test]
fn migrate_names_bundles_and_catalogs_and_keeps_existing_output() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(os!["migrate", sosreport(), tmp.path().join("o")]);
    code(&o, 1);
    assert!(
        stderr(&o).contains(
            "is a bundle directory (manifests/ and metadata/), not a package-manifest directory"
        ),
        "{}",
        stderr(&o)
    );
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let o = run(os!["migrate", catalog, tmp.path().join("o")]);
    code(&o, 1);
    assert!(stderr(&o).contains("it is read as a catalog, which needs no migration"));
    // A non-empty output directory is never written into.
    let o = run(os!["migrate", fixture("etcd"), catalog]);
    code(&o, 2);
    assert!(stderr(&o).contains("output directory exists and is not empty"));
}

#[test]
fn validate_prints_the_failure_tree_and_json_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = two_heads(tmp.path());
    let o = run(os!["validate", bad]);
    code(&o, 1);
    assert_eq!(
        stdout(&o),
        "invalid index:\n└── invalid package \"demo\":\n    └── invalid channel \"stable\":\n        └── multiple channel heads found in graph: demo.v1.0.0, demo.v1.1.0\n"
    );
    let o = run(os!["validate", bad, "-o", "json"]);
    code(&o, 1);
    let report = json(&o);
    assert_eq!(report["result"], "failure");
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["failures"],
        serde_json::json!([{"package": "demo", "channel": "stable", "bundle": null,
            "message": "multiple channel heads found in graph: demo.v1.0.0, demo.v1.1.0"}])
    );
    // YAML report: the same document.
    let o = run(os!["validate", bad, "-o", "yaml"]);
    code(&o, 1);
    assert!(stdout(&o).contains("\nvalid: false\n"), "{}", stdout(&o));
    // A single catalog file is a catalog too.
    let o = run(os!["validate", bad.join("demo/catalog.json")]);
    code(&o, 1);
}

#[test]
fn validate_and_graph_say_when_they_get_a_bundle_or_package_manifests() {
    for cmd in ["validate", "graph"] {
        let o = run(os![&cmd, sosreport()]);
        code(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains("is a bundle (manifests/ and metadata/), not a catalog"),
            "{cmd}: {err}"
        );
        assert!(
            err.contains("hint: render it with `omps catalog render`"),
            "{err}"
        );
        let o = run(os![&cmd, fixture("etcd")]);
        code(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains("holds package manifests (a *.package.yaml), not a catalog"),
            "{cmd}: {err}"
        );
        assert!(err.contains("hint: migrate it into a catalog"), "{err}");
    }
    // JSON asked for: the failure is one JSON document on stdout.
    let o = run(os!["validate", sosreport(), "-o", "json",]);
    code(&o, 1);
    let doc = json(&o);
    assert_eq!(doc["result"], "failure");
    assert_eq!(doc["error"]["kind"], "invalid");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("omps catalog render")
    );
}

// ------------------------------------------------------------------------------------------------
// template

#[test]
fn template_refuses_the_other_kind_and_catalogs() {
    let tmp = tempfile::tempdir().unwrap();
    let semver = tmp.path().join("semver.yaml");
    std::fs::write(
        &semver,
        "schema: olm.semver\nstable:\n  bundles:\n  - image: registry.example/demo:1.0.0\n",
    )
    .unwrap();
    let o = run(os!["template", "basic", semver]);
    code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("has schema \"olm.semver\", not \"olm.template.basic\""),
        "{err}"
    );
    assert!(
        err.contains("hint: expand it with `omps catalog template semver"),
        "{err}"
    );

    let catalog = lib_data("graph/demo.yaml");
    let o = run(os!["template", "basic", catalog]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("is a file-based catalog, not a template"),
        "{}",
        stderr(&o)
    );
    // A basic template without bundles needs no registry.
    let basic = tmp.path().join("basic.yaml");
    std::fs::write(
        &basic,
        "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: demo\n  defaultChannel: stable\n",
    )
    .unwrap();
    let o = run(os!["template", "basic", basic]);
    assert_eq!(
        ok(&o),
        "{\n    \"schema\": \"olm.package\",\n    \"name\": \"demo\",\n    \"defaultChannel\": \"stable\"\n}\n"
    );
}

// ------------------------------------------------------------------------------------------------
// add

#[test]
fn add_local_bundles_edits_only_that_package_and_keeps_the_catalog_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let etcd_before = read(catalog.join("etcd/catalog.json"));
    let tackle = fixture("tackle-operator");
    let add = |version: &str, extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "add".into(),
            catalog.clone().into(),
            "--bundle".into(),
            tackle.join(version).into(),
            "--image".into(),
            format!("registry.example/tackle-bundle:{version}").into(),
            "-o".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(Into::into));
        run(args)
    };
    let o = add("0.0.1", &[]);
    code(&o, 0);
    let r = json(&o);
    assert_eq!(r["package"], "tackle-operator");
    assert_eq!(r["bundle"], "tackle-operator.v0.0.1");
    assert_eq!(r["package_created"], true);
    assert_eq!(r["channels_created"], serde_json::json!(["alpha"]));
    assert_eq!(
        r["files"],
        serde_json::json!(["tackle-operator/catalog.json"])
    );
    let o = add("0.0.2", &[]);
    code(&o, 0);
    assert_eq!(json(&o)["package_created"], false);
    // Only the new package's file was written: etcd's is untouched.
    assert_eq!(read(catalog.join("etcd/catalog.json")), etcd_before);
    let text = read(catalog.join("tackle-operator/catalog.json"));
    assert!(
        text.contains("\"name\": \"tackle-operator.v0.0.2\",\n            \"replaces\": \"tackle-operator.v0.0.1\""),
        "{text}"
    );
    let o = run(os!["validate", catalog]);
    code(&o, 0);
    // The same bundle again replaces it.
    let o = add("0.0.2", &[]);
    code(&o, 0);
    assert_eq!(json(&o)["bundle_replaced"], true);
    // A bundle that would leave two heads is refused, nothing written.
    let before = read(catalog.join("tackle-operator/catalog.json"));
    let o = run(os![
        "add",
        catalog,
        "--bundle",
        tackle.join("0.0.4"),
        "--image",
        "registry.example/tackle-bundle:0.0.4",
    ]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("would leave package tackle-operator invalid; nothing written"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("multiple channel heads"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(catalog.join("tackle-operator/catalog.json")), before);
    // Unless the channel is chained by version.
    let o = run(os![
        "add",
        catalog,
        "--bundle",
        tackle.join("0.0.4"),
        "--image",
        "registry.example/tackle-bundle:0.0.4",
        "--semver-chain",
    ]);
    assert!(
        ok(&o).starts_with("added tackle-operator.v0.0.4 (registry.example/tackle-bundle:0.0.4) to package tackle-operator in channels alpha"),
        "{}",
        stdout(&o)
    );
    code(&run(os!["validate", catalog]), 0);
}

#[test]
fn add_says_what_is_not_a_bundle_or_not_a_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    // A catalog given as the bundle.
    let o = run(os![
        "add",
        tmp.path().join("new"),
        "--bundle",
        catalog,
        "--image",
        "registry.example/x:1",
    ]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("is not a bundle (no manifests/ and metadata/)"),
        "{}",
        stderr(&o)
    );
    // Package manifests given as the bundle.
    let o = run(os![
        "add",
        tmp.path().join("new"),
        "--bundle",
        fixture("etcd"),
        "--image",
        "registry.example/x:1",
    ]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("holds package manifests, not a bundle"),
        "{}",
        stderr(&o)
    );
    // A bundle given as the catalog.
    let o = run(os![
        "add",
        sosreport(),
        "--bundle",
        sosreport(),
        "--image",
        "registry.example/x:1",
    ]);
    code(&o, 1);
    assert!(stderr(&o).contains("is a bundle (manifests/ and metadata/), not a catalog"));
    // A local bundle needs its image.
    let o = run(os!["add", tmp.path().join("new"), "--bundle", sosreport(),]);
    code(&o, 2);
    assert!(stderr(&o).contains("give its image reference with --image"));
    assert!(
        !tmp.path().join("new").exists(),
        "nothing written on failure"
    );
}

// ------------------------------------------------------------------------------------------------
// push and pull before any network

#[test]
fn push_refuses_invalid_catalogs_and_wrong_inputs_before_any_network() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = two_heads(tmp.path());
    // Port 9 on loopback: a connection attempt would fail with 4, not 1.
    let o = run(os![
        "push",
        bad,
        "127.0.0.1:9/ops/catalog:v1",
        "--base",
        "scratch",
        "--plain-http",
    ]);
    code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("is not a valid catalog; nothing pushed"),
        "{err}"
    );
    assert!(
        err.contains("multiple channel heads found in graph"),
        "{err}"
    );
    let o = run(os!["push", sosreport(), "127.0.0.1:9/ops/catalog:v1",]);
    code(&o, 1);
    assert!(stderr(&o).contains("not a catalog"), "{}", stderr(&o));
    let digest = format!("127.0.0.1:9/ops/catalog@sha256:{}", "a".repeat(64));
    let o = run(os!["push", bad, &digest]);
    code(&o, 2);
    assert!(
        stderr(&o).contains("a push needs a tag, not a digest"),
        "{}",
        stderr(&o)
    );
    let o = run(os![
        "push",
        bad,
        "127.0.0.1:9/ops/catalog:v1",
        "--label",
        "novalue",
    ]);
    code(&o, 2);
    // An unreachable registry is 4.
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let o = run(os![
        "push",
        catalog,
        "127.0.0.1:9/ops/catalog:v1",
        "--base",
        "scratch",
        "--plain-http",
        "-o",
        "json",
    ]);
    code(&o, 4);
    assert_eq!(json(&o)["result"], "failure");
    // pull never writes into a non-empty directory.
    let o = run(os!["pull", "127.0.0.1:9/ops/catalog:v1", catalog,]);
    code(&o, 2);
    assert!(stderr(&o).contains("output directory exists and is not empty"));
}

// ------------------------------------------------------------------------------------------------
// graph

fn graph_golden(name: &str) -> String {
    read(lib_data("graph").join(name))
}

#[test]
fn graph_of_the_shared_etcd_fixture_is_the_hand_written_mermaid_and_dot() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let o = run(os!["graph", catalog]);
    assert_eq!(ok(&o), graph_golden("etcd.mmd"));
    let o = run(os![
        "graph",
        catalog,
        "--package",
        "etcd",
        "--format",
        "dot",
    ]);
    assert_eq!(ok(&o), graph_golden("etcd.dot"));

    let demo = lib_data("graph/demo.yaml");
    let o = run(os!["graph", demo]);
    assert_eq!(ok(&o), graph_golden("demo.mmd"));
    let o = run(os!["graph", demo, "--format", "dot"]);
    assert_eq!(ok(&o), graph_golden("demo.dot"));
    let o = run(os!["graph", demo, "--package", "nope"]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("no package \"nope\" (packages: demo)"),
        "{}",
        stderr(&o)
    );
}

// ------------------------------------------------------------------------------------------------
// Against the real docker-registry, read back by skopeo

/// `omps bundle push DIR IMAGE` to the plain-HTTP test registry.
fn bundle_push(dir: &Path, image: &str) {
    let o = omps()
        .args(["bundle", "push", "--plain-http"])
        .arg(dir)
        .arg(image)
        .output()
        .unwrap();
    code(&o, 0);
}

fn push_json(dir: &Path, image: &str) -> Value {
    let o = run(os![
        "push",
        dir,
        &image,
        "--base",
        "scratch",
        "--plain-http",
        "-o",
        "json",
    ]);
    code(&o, 0);
    json(&o)
}

/// The files of every layer of `image`, copied by skopeo into a `dir:` layout.
fn layer_files_via_skopeo(image: &str) -> olm_catalog::FileSet {
    let out = tempfile::tempdir().unwrap();
    let target = format!("dir:{}", out.path().display());
    test_support::skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{image}"),
        &target,
    ]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let mut files = olm_catalog::FileSet::new();
    for l in manifest["layers"].as_array().unwrap() {
        let digest = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let blob = std::fs::read(out.path().join(digest)).unwrap();
        olm_catalog::layer::apply_layer(
            &mut files,
            &blob[..],
            "",
            &olm_catalog::CatalogLimits::default(),
        )
        .unwrap();
    }
    files
}

/// The JSON text of the `olm.bundle` blob named `name` in a catalog stream.
fn bundle_blob<'a>(text: &'a str, name: &str) -> &'a str {
    let start = text
        .find(&format!(
            "{{\n    \"schema\": \"olm.bundle\",\n    \"name\": \"{name}\""
        ))
        .unwrap_or_else(|| panic!("no bundle {name} in {text}"));
    let end = start + text[start..].find("\n}\n").unwrap() + 3;
    &text[start..end]
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn pushed_catalogs_are_read_by_skopeo_reproducible_and_pull_back() {
    let registry = test_support::registry::Registry::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(
        tmp.path(),
        "catalog",
        &[
            "--image-template",
            &format!("{host}/ops/{{{{.Package}}}}-bundle:{{{{.Version}}}}"),
        ],
    );
    let image = format!("{host}/ops/catalog:v1");
    let first = push_json(&catalog, &image);
    assert_eq!(first["reference"], image.as_str());
    let digest = first["digest"].as_str().unwrap().to_owned();

    // skopeo: the label, no Entrypoint on scratch, the digest.
    let inspect = test_support::skopeo::inspect(&registry, "ops/catalog:v1");
    assert_eq!(inspect["Digest"], digest.as_str());
    assert_eq!(
        inspect["Labels"]["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );
    // The layer holds /configs/etcd/catalog.json: the catalog file, byte for byte.
    let files = layer_files_via_skopeo(&image);
    assert_eq!(
        files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        ["configs/etcd/catalog.json"]
    );
    assert_eq!(
        String::from_utf8_lossy(files.get("configs/etcd/catalog.json").unwrap()),
        read(catalog.join("etcd/catalog.json"))
    );

    // Same input, same digest (another tag).
    let again = push_json(&catalog, &format!("{host}/ops/catalog:v1-again"));
    assert_eq!(again["digest"], digest.as_str());

    // Pull round trip: the files come back, and pushing them again gives the same image.
    let pulled_dir = tmp.path().join("pulled");
    let o = run(os![
        "pull",
        &image,
        pulled_dir,
        "--plain-http",
        "-o",
        "json",
    ]);
    code(&o, 0);
    let pulled = json(&o);
    assert_eq!(pulled["digest"], digest.as_str());
    assert_eq!(pulled["files"], serde_json::json!(["etcd/catalog.json"]));
    assert_eq!(
        read(pulled_dir.join("etcd/catalog.json")),
        read(catalog.join("etcd/catalog.json"))
    );
    let repushed = push_json(&pulled_dir, &format!("{host}/ops/catalog:v1-repushed"));
    assert_eq!(repushed["digest"], digest.as_str());

    // validate and graph read the image.
    let o = run(os!["validate", &image, "--plain-http", "-o", "json",]);
    code(&o, 0);
    let v = json(&o);
    assert_eq!(v["valid"], true);
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["bundles"], 6);
    let o = run(os!["graph", &image, "--plain-http"]);
    assert_eq!(ok(&o), graph_golden("etcd.mmd"));
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn bundle_images_render_add_to_catalogs_and_are_not_catalogs() {
    let registry = test_support::registry::Registry::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let sos = format!("{host}/ops/sosreport-bundle:0.0.2");
    bundle_push(&sosreport(), &sos);

    // render of the pushed image = render of the directory with that image.
    let o = run(os!["render", &sos, "--plain-http"]);
    let from_image = ok(&o);
    let o = run(os!["render", sosreport(), "--image", &sos]);
    assert_eq!(from_image, ok(&o));
    assert!(from_image.contains(&format!("\"image\": \"{sos}\"")));

    // A bundle image is not a catalog, and says so.
    for cmd in ["validate", "graph"] {
        let o = run(os![cmd, sos.as_str(), "--plain-http"]);
        code(&o, 1);
        let err = stderr(&o);
        assert!(
            err.contains("is a bundle image, not a catalog"),
            "{cmd}: {err}"
        );
        assert!(
            err.contains(&format!("hint: render it with `omps catalog render {sos}`")),
            "{err}"
        );
    }
    let o = run(os!["pull", &sos, tmp.path().join("p"), "--plain-http"]);
    code(&o, 1);

    // add from images: the chain of tackle 0.0.1 → 0.0.2, then pushed and validated.
    let tackle = fixture("tackle-operator");
    let catalog = tmp.path().join("catalog");
    for v in ["0.0.1", "0.0.2"] {
        let image = format!("{host}/ops/tackle-bundle:{v}");
        bundle_push(&tackle.join(v), &image);
        let o = run(os!["add", catalog, "--bundle", &image, "--plain-http",]);
        code(&o, 0);
    }
    let text = read(catalog.join("tackle-operator/catalog.json"));
    assert!(
        text.contains(&format!("\"image\": \"{host}/ops/tackle-bundle:0.0.2\"")),
        "{text}"
    );
    let pushed = push_json(&catalog, &format!("{host}/ops/tackle-catalog:v1"));
    let o = run(os![
        "validate",
        &format!("{host}/ops/tackle-catalog:v1"),
        "--plain-http",
    ]);
    code(&o, 0);
    assert!(pushed["digest"].as_str().unwrap().starts_with("sha256:"));
    // A catalog image given as the bundle to add.
    let o = run(os![
        "add",
        tmp.path().join("other"),
        "--bundle",
        &format!("{host}/ops/tackle-catalog:v1"),
        "--plain-http",
    ]);
    code(&o, 1);
    assert!(
        stderr(&o).contains("is a catalog image, not a bundle image"),
        "{}",
        stderr(&o)
    );
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn templates_expand_with_bundles_pulled_from_the_registry() {
    let registry = test_support::registry::Registry::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let tackle = fixture("tackle-operator");
    for v in ["0.0.1", "0.0.2"] {
        bundle_push(&tackle.join(v), &format!("{host}/ops/tackle-bundle:{v}"));
    }
    let rendered = ok(&run(os![
        "render",
        format!("{host}/ops/tackle-bundle:0.0.1"),
        format!("{host}/ops/tackle-bundle:0.0.2"),
        "--plain-http"
    ]));
    // Templates: basic (package and channel by hand) and semver (channels generated).
    let basic = tmp.path().join("basic.yaml");
    std::fs::write(
        &basic,
        format!(
            "schema: olm.template.basic\nentries:\n- schema: olm.package\n  name: tackle-operator\n  defaultChannel: alpha\n\
             - schema: olm.channel\n  package: tackle-operator\n  name: alpha\n  entries:\n  - name: tackle-operator.v0.0.1\n  - name: tackle-operator.v0.0.2\n    replaces: tackle-operator.v0.0.1\n\
             - schema: olm.bundle\n  image: {host}/ops/tackle-bundle:0.0.1\n- schema: olm.bundle\n  image: {host}/ops/tackle-bundle:0.0.2\n"
        ),
    )
    .unwrap();
    let o = run(os!["template", "basic", basic, "--plain-http"]);
    let expanded = ok(&o);
    let out = tmp.path().join("expanded");
    std::fs::create_dir_all(out.join("tackle-operator")).unwrap();
    std::fs::write(out.join("tackle-operator/catalog.json"), &expanded).unwrap();
    // The same bundles as rendered from the images.
    for name in ["tackle-operator.v0.0.1", "tackle-operator.v0.0.2"] {
        assert_eq!(bundle_blob(&expanded, name), bundle_blob(&rendered, name));
    }
    code(&run(os!["validate", out]), 0);

    let semver = tmp.path().join("semver.yaml");
    std::fs::write(
        &semver,
        format!(
            "schema: olm.semver\nstable:\n  bundles:\n  - image: {host}/ops/tackle-bundle:0.0.1\n  - image: {host}/ops/tackle-bundle:0.0.2\n"
        ),
    )
    .unwrap();
    let o = run(os![
        "template",
        "semver",
        semver,
        "--plain-http",
        "-o",
        "yaml",
    ]);
    let yaml = ok(&o);
    assert!(
        yaml.contains("---\nentries:\n- name: tackle-operator.v0.0.1\n- name: tackle-operator.v0.0.2\n  skips:\n  - tackle-operator.v0.0.1\nname: stable-v0.0\npackage: tackle-operator\nschema: olm.channel\n"),
        "{yaml}"
    );
    assert!(
        yaml.starts_with("---\ndefaultChannel: stable-v0.0\n"),
        "{yaml}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn push_shows_its_steps_on_a_terminal_and_nothing_without_one() {
    let registry = test_support::registry::Registry::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let image = format!("{host}/ops/catalog:tty");
    let r = run_support::run_on_terminal(
        env!("CARGO_BIN_EXE_omps"),
        &[
            "catalog",
            "push",
            catalog.to_str().unwrap(),
            &image,
            "--base",
            "scratch",
            "--plain-http",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The spinner line with the current step, drawn with terminal escapes, then cleared.
    assert!(
        r.stdout.contains("building the catalog image"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains('\u{1b}'), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("pushed {image}@sha256:")),
        "{}",
        r.stdout
    );
    // Without a terminal: the result on stdout, nothing on stderr.
    let o = run(os![
        "push",
        catalog,
        image,
        "--base",
        "scratch",
        "--plain-http"
    ]);
    assert!(ok(&o).starts_with(&format!("pushed {image}@sha256:")));
    assert_eq!(stderr(&o), "");
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn credentials_reach_a_locked_registry_and_a_base_image_keeps_its_layers() {
    use test_support::registry::{PASSWORD, Registry, RegistryOptions, USER};
    let registry = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let host = registry.host();
    let creds = [
        ("OMPS_REGISTRY_USERNAME", USER),
        ("OMPS_REGISTRY_PASSWORD", PASSWORD),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let image = format!("{host}/ops/catalog:v1");
    let push = |base: &str, with_creds: bool| {
        let mut cmd = omps();
        cmd.args(["catalog", "push"]).arg(&catalog).args([
            image.as_str(),
            "--base",
            base,
            "--plain-http",
            "-o",
            "json",
        ]);
        if with_creds {
            cmd.envs(creds);
        }
        cmd.output().unwrap()
    };
    // No credentials: the registry's 401 is a refusal (1), reported as JSON.
    let o = push("scratch", false);
    code(&o, 1);
    assert_eq!(json(&o)["error"]["kind"], "unauthorized", "{}", stdout(&o));

    // A bundle image as the base, on the same registry: the credentials go to both.
    let base = format!("{host}/ops/sosreport-bundle:0.0.2");
    let o = omps()
        .args(["bundle", "push", "--plain-http"])
        .arg(sosreport())
        .arg(&base)
        .envs(creds)
        .output()
        .unwrap();
    code(&o, 0);
    let o = push(&base, true);
    code(&o, 0);
    let pushed = json(&o);
    assert_eq!(pushed["base"], base.as_str());
    let login = format!("{USER}:{PASSWORD}");
    let skopeo = |extra: &str, reference: &str| -> Value {
        serde_json::from_slice(&test_support::skopeo::run(&[
            "inspect",
            extra,
            "--tls-verify=false",
            "--creds",
            &login,
            &format!("docker://{reference}"),
        ]))
        .unwrap()
    };
    let config = skopeo("--config", &image);
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/bin/opm"])
    );
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["serve", "/configs"])
    );
    assert_eq!(
        config["config"]["Labels"]["operators.operatorframework.io.index.configs.v1"],
        "/configs"
    );
    let raw = skopeo("--raw", &image);
    let base_raw = skopeo("--raw", &base);
    let layers = raw["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["digest"], base_raw["layers"][0]["digest"]);
    assert_eq!(layers[1]["digest"], pushed["layer_digest"]);

    // The password from standard input.
    let out = tmp.path().join("pulled");
    let o = omps()
        .args(["catalog", "pull", image.as_str()])
        .arg(&out)
        .args(["--plain-http", "--username", USER, "--password-stdin"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    code(&o, 0);
    assert_eq!(
        read(out.join("etcd/catalog.json")),
        read(catalog.join("etcd/catalog.json"))
    );
    assert!(!stdout(&o).contains(PASSWORD) && !stderr(&o).contains(PASSWORD));
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn a_base_on_another_local_registry_is_read_over_plain_http_without_credentials() {
    use test_support::registry::{PASSWORD, Registry, RegistryOptions, USER};
    // The base on an open registry, the target on a locked one: the target's credentials must
    // not be needed (nor sent) for the base, and --plain-http reaches both (loopback).
    let bases = Registry::start();
    let target = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let base = format!("{}/ops/sosreport-bundle:0.0.2", bases.host());
    bundle_push(&sosreport(), &base);
    let tmp = tempfile::tempdir().unwrap();
    let catalog = migrated_etcd(tmp.path(), "catalog", &[]);
    let image = format!("{}/ops/catalog:v1", target.host());
    let o = omps()
        .args(["catalog", "push"])
        .arg(&catalog)
        .args([
            image.as_str(),
            "--base",
            base.as_str(),
            "--plain-http",
            "-o",
            "json",
        ])
        .envs([
            ("OMPS_REGISTRY_USERNAME", USER),
            ("OMPS_REGISTRY_PASSWORD", PASSWORD),
        ])
        .output()
        .unwrap();
    code(&o, 0);
    let raw: Value = serde_json::from_slice(&test_support::skopeo::raw_manifest(
        &target,
        "ops/catalog:v1",
    ))
    .unwrap();
    let base_raw: Value = serde_json::from_slice(&test_support::skopeo::raw_manifest(
        &bases,
        "ops/sosreport-bundle:0.0.2",
    ))
    .unwrap();
    assert_eq!(raw["layers"][0]["digest"], base_raw["layers"][0]["digest"]);
    assert_eq!(raw["layers"][1]["digest"], json(&o)["layer_digest"]);
    // No request of the base registry carried the target's credentials.
    assert!(!bases.log().contains(USER), "{}", bases.log());
}
