//! `omps bundle push`: against a wiremock registry (what is sent, credentials, exit codes) and,
//! ignored by default, against a real Debian `docker-registry` checked with `skopeo`
//! (`cargo xtask ci` sets `OMPS_DOCKER_REGISTRY` and `OMPS_SKOPEO` and runs them).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::Digest as _;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use test_support::fixtures::operator as fixture;

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(data))
}

/// Converts a fixture into `<tmp>/bundles/<version>/...`.
fn converted(name: &str, tmp: &Path) -> PathBuf {
    let out = tmp.join("bundles");
    Command::cargo_bin("omps")
        .unwrap()
        .args(["bundle", "convert"])
        .arg(fixture(name))
        .arg(&out)
        .assert()
        .success();
    out
}

/// Runs `omps` off the async runtime so the mock server keeps answering.
async fn omps(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::cargo_bin("omps").unwrap();
        cmd.args(&args)
            .env_remove("OMPS_REGISTRY_USERNAME")
            .env_remove("OMPS_REGISTRY_PASSWORD")
            .env_remove("OMPS_REGISTRY_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

/// Accepts pushes to `repo`, but only with `Basic dXNlcjpwYXNz` (user:pass) after a challenge.
async fn accept_basic(server: &MockServer, repo: &str) {
    Mock::given(header("authorization", "Basic dXNlcjpwYXNz"))
        .and(method("HEAD"))
        .and(path_regex(format!("^/v2/{repo}/blobs/.+$")))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(header("authorization", "Basic dXNlcjpwYXNz"))
        .and(method("POST"))
        .and(path(format!("/v2/{repo}/blobs/uploads/")))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/s"))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(header("authorization", "Basic dXNlcjpwYXNz"))
        .and(method("PUT"))
        .and(path("/upload/s"))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(header("authorization", "Basic dXNlcjpwYXNz"))
        .and(method("PUT"))
        .and(path_regex(format!("^/v2/{repo}/manifests/[^/]+$")))
        .respond_with(ResponseTemplate::new(201))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(path_regex(format!("^/v2/{repo}/.+$")))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"test\"")
                .set_body_json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})),
        )
        .with_priority(2)
        .mount(server)
        .await;
}

fn host(server: &MockServer) -> String {
    server.uri().trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_sends_the_image_with_env_credentials_and_reports_json() {
    let tmp = tempfile::tempdir().unwrap();
    let bundles = converted("ext-postgres-operator", tmp.path());
    let server = test_support::mock::server().await;
    accept_basic(&server, "ns/pg-bundle").await;
    let out = omps(
        vec![
            "bundle".into(),
            "push".into(),
            bundles.join("0.4.1").display().to_string(),
            format!("{}/ns/pg-bundle", host(&server)),
            "--plain-http".into(),
            "--output".into(),
            "json".into(),
        ],
        vec![
            ("OMPS_REGISTRY_USERNAME", "user".into()),
            ("OMPS_REGISTRY_PASSWORD", "pass".into()),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Validation warnings only: no progress bar without a terminal.
    assert!(
        stderr.lines().all(|l| l.starts_with("WARNING: ")) && !stderr.contains('\r'),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The tag defaults to the CSV version.
    assert_eq!(
        report["reference"],
        format!("{}/ns/pg-bundle:0.4.1", host(&server))
    );
    assert_eq!(report["tag"], "0.4.1");
    assert_eq!(report["package"], "ext-postgres-operator");
    let requests = server.received_requests().await.unwrap();
    let manifest = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT" && r.url.path() == "/v2/ns/pg-bundle/manifests/0.4.1")
        .expect("manifest PUT");
    assert_eq!(report["digest"], sha(&manifest.body));
    let manifest: Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(manifest["config"]["digest"], report["config_digest"]);
    assert_eq!(manifest["layers"][0]["digest"], report["layer_digest"]);
    let uploaded: Vec<String> = requests
        .iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path() == "/upload/s")
        .map(|r| {
            let d = r
                .url
                .query_pairs()
                .find(|(k, _)| k == "digest")
                .unwrap()
                .1
                .into_owned();
            assert_eq!(d, sha(&r.body), "blob bytes match their digest");
            d
        })
        .collect();
    assert_eq!(uploaded.len(), 2);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pass"));
    assert_eq!(
        report["labels"]["operators.operatorframework.io.bundle.channels.v1"],
        "alpha"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_exit_1_without_echoing_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let bundles = converted("flagsmith", tmp.path());
    let server = test_support::mock::server().await;
    accept_basic(&server, "ns/flagsmith").await;
    let out = omps(
        vec![
            "bundle".into(),
            "push".into(),
            bundles.join("0.0.1").display().to_string(),
            format!("{}/ns/flagsmith:1", host(&server)),
            "--plain-http".into(),
            "--username".into(),
            "user".into(),
            "--password-stdin".into(),
        ],
        vec![],
    )
    .await;
    // stdin is empty: the password is "", which the registry refuses.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not authorized"), "{stderr}");

    let wrong = omps(
        vec![
            "bundle".into(),
            "push".into(),
            bundles.join("0.0.1").display().to_string(),
            format!("{}/ns/flagsmith:1", host(&server)),
            "--plain-http".into(),
        ],
        vec![
            ("OMPS_REGISTRY_USERNAME", "user".into()),
            ("OMPS_REGISTRY_PASSWORD", "very-secret-password".into()),
        ],
    )
    .await;
    assert_eq!(wrong.status.code(), Some(1));
    for stream in [&wrong.stdout, &wrong.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("very-secret-password"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_failures_exit_3_and_unreachable_registries_exit_4() {
    let tmp = tempfile::tempdir().unwrap();
    let bundles = converted("flagsmith", tmp.path());
    let server = test_support::mock::server().await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(
            json!({"errors": [{"code": "UNAVAILABLE", "message": "read-only mode"}]}),
        ))
        .mount(&server)
        .await;
    let dir = bundles.join("0.0.1").display().to_string();
    let out = omps(
        vec![
            "bundle".into(),
            "push".into(),
            dir.clone(),
            format!("{}/ns/f:1", host(&server)),
            "--plain-http".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only mode"));

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = omps(
        vec![
            "bundle".into(),
            "push".into(),
            dir,
            format!("127.0.0.1:{closed}/ns/f:1"),
            "--plain-http".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn package_manifests_and_bad_references_are_refused_before_any_request() {
    Command::cargo_bin("omps")
        .unwrap()
        .args(["bundle", "push"])
        .arg(fixture("etcd"))
        .arg("127.0.0.1:9/ns/etcd:1")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("omps bundle convert"));
    Command::cargo_bin("omps")
        .unwrap()
        .args(["bundle", "push"])
        .arg(fixture("tackle-operator").join("1.0.0"))
        .arg("ns/etcd:1")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("registry host"));
}

// ---- real registry ------------------------------------------------------------------------

fn skopeo(args: &[&str]) -> Result<Value, String> {
    test_support::skopeo::try_run(args)
        .map(|out| serde_json::from_slice(&out).expect("skopeo printed JSON"))
}

fn cli_push(dir: &Path, image: &str) -> Value {
    let out = Command::cargo_bin("omps")
        .unwrap()
        .args(["bundle", "push", "--plain-http", "--output", "json"])
        .arg(dir)
        .arg(image)
        .env_remove("OMPS_REGISTRY_USERNAME")
        .env_remove("OMPS_REGISTRY_PASSWORD")
        .env_remove("OMPS_REGISTRY_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn converted_fixtures_pushed_with_the_cli_are_readable_by_skopeo() {
    let registry = test_support::registry::Registry::start();
    let host = registry.host();
    for name in ["etcd", "tackle-operator", "ext-postgres-operator-flat"] {
        let tmp = tempfile::tempdir().unwrap();
        let bundles = converted(name, tmp.path());
        // What the server's OCI store pushes for the same package (built straight from the
        // package manifests): converting and pushing with the CLI must give the same images.
        let limits = manifest_bundle::Limits::default();
        let tree = manifest_bundle::ManifestTree::from_dir(&fixture(name), &limits).unwrap();
        let (manifests, _) = manifest_bundle::validate_tree(&tree, None, &limits.yaml).unwrap();
        let direct: BTreeMap<String, String> = manifest_bundle::to_bundles(&manifests, &tree)
            .unwrap()
            .iter()
            .map(|b| {
                let image = manifest_bundle::image::build_image(b).unwrap();
                (b.version.clone(), image.manifest_digest)
            })
            .collect();
        let mut versions: Vec<String> = std::fs::read_dir(&bundles)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        versions.sort();
        for version in &versions {
            let dir = bundles.join(version);
            let image = format!("{host}/cli/{name}-bundle");
            let first = cli_push(&dir, &image);
            let reference = format!("{image}:{version}");
            assert_eq!(first["reference"], reference.as_str());
            // Same input, same digest.
            let second = cli_push(&dir, &image);
            assert_eq!(first["digest"], second["digest"]);
            assert_eq!(
                first["digest"],
                direct[version].as_str(),
                "{name} {version}"
            );

            let inspect = skopeo(&[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{reference}"),
            ])
            .unwrap();
            assert_eq!(inspect["Digest"], first["digest"], "{inspect}");
            let annotations =
                std::fs::read_to_string(dir.join("metadata/annotations.yaml")).unwrap();
            let parsed =
                manifest_bundle::yaml::parse(&annotations, &manifest_bundle::YamlLimits::default())
                    .unwrap()
                    .unwrap();
            let expected: BTreeMap<String, String> = parsed
                .get("annotations")
                .and_then(manifest_bundle::yaml::Yaml::as_map)
                .unwrap()
                .iter()
                .map(|(k, v)| (k.py_str(), v.py_str()))
                .collect();
            let labels: BTreeMap<String, String> =
                serde_json::from_value(inspect["Labels"].clone()).unwrap();
            assert_eq!(
                labels, expected,
                "{name} {version}: labels = annotations.yaml"
            );

            let raw = skopeo(&[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{reference}"),
            ])
            .unwrap();
            assert_eq!(raw["layers"][0]["digest"], first["layer_digest"]);
            assert_eq!(raw["config"]["digest"], first["config_digest"]);
            assert_eq!(
                raw["mediaType"],
                "application/vnd.oci.image.manifest.v1+json"
            );
        }
    }
}
