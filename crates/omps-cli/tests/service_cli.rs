//! `omps push|list|delete` against `omps serve` on 127.0.0.1:0 (local store), and `--direct`.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use test_support::fixtures::operator as fixture;
use test_support::server::OmpsServer;

/// `omps serve` on the local store in `data` (the shared server harness).
fn start(data: &Path) -> OmpsServer {
    OmpsServer::builder(assert_cmd::cargo::cargo_bin("omps"))
        .subcommand("serve")
        .data_dir(data)
        .start()
}

fn omps(server: &OmpsServer) -> Command {
    let mut c = Command::cargo_bin("omps").unwrap();
    c.env("OMPS_URL", server.base())
        .env("OMPS_AUTH", "basic c2VjcmV0LXRva2Vu")
        .env_remove("OMPS_CONFIG");
    c
}

#[test]
fn push_list_delete_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));

    omps(&server)
        .args(["push"])
        .arg(fixture("etcd"))
        .args(["--org", "myorg"])
        .assert()
        .success()
        .stdout("pushed myorg/etcd 1.0.0\n");
    let out = omps(&server)
        .args(["push"])
        .arg(fixture("etcd"))
        .args([
            "--org",
            "myorg",
            "--repo",
            "etcd",
            "--version",
            "5.0.0",
            "--output",
            "json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (json["version"].as_str(), json["repo"].as_str()),
        (Some("5.0.0"), Some("etcd"))
    );
    assert_eq!(json["extracted_files"].as_array().unwrap().len(), 24);

    omps(&server)
        .args(["list", "--org", "myorg"])
        .assert()
        .success()
        .stdout("etcd\n");
    omps(&server)
        .args(["list", "--org", "myorg", "--repo", "etcd"])
        .assert()
        .success()
        .stdout("1.0.0\n5.0.0\n");
    omps(&server)
        .args([
            "delete",
            "--org",
            "myorg",
            "--repo",
            "etcd",
            "--version",
            "1.0.0",
        ])
        .assert()
        .success();
    omps(&server)
        .args([
            "delete", "--org", "myorg", "--repo", "etcd", "--output", "json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"deleted\":[\"5.0.0\"]"));
}

#[test]
fn errors_print_the_id_and_exit_by_category() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    // Validation failure: 1, with the courier errors.
    omps(&server)
        .args(["push"])
        .arg(fixture("flagsmith-owned-crd-mismatch"))
        .args(["--org", "o"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ERROR: custom resource definition flagsmith.charts.flagsmith.com referenced in csv not defined in root list of crds"))
        .stderr(predicate::str::contains("error: PackageValidationError: Failed to push manifest"));
    // Conflict: 1.
    omps(&server)
        .args(["push"])
        .arg(fixture("flagsmith"))
        .args(["--org", "o", "--version", "1.0.0"])
        .assert()
        .success();
    omps(&server)
        .args(["push"])
        .arg(fixture("flagsmith"))
        .args(["--org", "o", "--version", "1.0.0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("QuayReleaseExists"));
    // No credentials: 1, and the JSON envelope on stdout with --output json.
    omps(&server)
        .env_remove("OMPS_AUTH")
        .args([
            "delete",
            "--org",
            "o",
            "--repo",
            "flagsmith",
            "--output",
            "json",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "\"error\":\"OMPSAuthorizationHeaderRequired\"",
        ));
    // Koji not configured: a service-side failure, 3.
    omps(&server)
        .args(["push", "--koji", "x-1-1", "--org", "o"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("KojiError"));
    // Unreadable input: 2. Unreachable service: 4.
    omps(&server)
        .args(["push", "/nonexistent.zip", "--org", "o"])
        .assert()
        .code(2);
    omps(&server)
        .env("OMPS_URL", "http://127.0.0.1:1")
        .args(["list", "--org", "o"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "error: calling the OMPS service: cannot connect (http://127.0.0.1:1/v2/o): ",
        ))
        .stderr(predicate::str::contains(
            "\nhint: nothing accepts connections on 127.0.0.1:1: is the service running, and is \
             the port right?\n",
        ));
}

#[test]
fn the_token_is_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "basic c2VjcmV0LXRva2Vu\n").unwrap();
    for args in [
        vec!["list", "--org", "o", "--repo", "missing"],
        vec!["delete", "--org", "o", "--repo", "missing"],
    ] {
        let out = omps(&server)
            .env_remove("OMPS_AUTH")
            .args(&args)
            .arg("--auth-file")
            .arg(&token_file)
            .output()
            .unwrap();
        let all = [out.stdout, out.stderr].concat();
        assert!(!String::from_utf8_lossy(&all).contains("c2VjcmV0LXRva2Vu"));
        assert_eq!(out.status.code(), Some(1));
    }
}

#[test]
fn direct_mode_needs_no_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("direct");
    let mut push = Command::cargo_bin("omps").unwrap();
    push.env_remove("OMPS_CONFIG")
        .args(["push"])
        .arg(fixture("ext-postgres-operator-flat"))
        .args(["--org", "o", "--direct", "--auth", "x", "--data-dir"])
        .arg(&data);
    push.assert()
        .success()
        .stdout("pushed o/ext-postgres-operator 1.0.0\n");
    let mut list = Command::cargo_bin("omps").unwrap();
    list.env_remove("OMPS_CONFIG")
        .args([
            "list",
            "--org",
            "o",
            "--repo",
            "ext-postgres-operator",
            "--direct",
            "--data-dir",
        ])
        .arg(&data);
    list.assert().success().stdout("1.0.0\n");
    assert!(
        data.join("packages/o/ext-postgres-operator/1.0.0/release.tar.gz")
            .exists()
    );
}

/// `omps push --direct` into an OCI-store organization (a wiremock registry that accepts
/// uploads) prints each image's reference and digest, in text and in JSON.
#[test]
fn direct_push_to_an_oci_store_prints_image_references_and_digests() {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("HEAD"))
            .and(path_regex("^/v2/o/.+/(manifests|blobs)/.+$"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/v2/o/.+/blobs/uploads/$"))
            .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/session"))
            .mount(&server)
            .await;
        Mock::given(method("PUT"))
            .and(path("/upload/session"))
            .respond_with(ResponseTemplate::new(201))
            .mount(&server)
            .await;
        Mock::given(method("PUT"))
            .and(path_regex("^/v2/o/.+/manifests/[^/]+$"))
            .respond_with(ResponseTemplate::new(201))
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("omps.toml");
    std::fs::write(
        &config,
        format!(
            "store = \"oci\"\n[oci]\nregistry_url = \"{}\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let host = server.uri().trim_start_matches("http://").to_owned();
    let run = |output: &str| {
        let out = Command::cargo_bin("omps")
            .unwrap()
            .env_remove("OMPS_CONFIG")
            .args(["push"])
            .arg(fixture("ext-postgres-operator-flat"))
            .args(["--org", "o", "--direct", "--auth", "x", "--output", output])
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let image = &json["images"][0];
    let reference = image["reference"].as_str().unwrap();
    let digest = image["digest"].as_str().unwrap();
    assert!(
        reference.starts_with(&format!("{host}/o/ext-postgres-operator:")),
        "{json}"
    );
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{json}"
    );
    assert!(reference.ends_with(&format!(":{}", json["version"].as_str().unwrap())));
    let text = run("text");
    assert!(
        text.lines()
            .any(|l| l == format!("image {reference} {digest}")),
        "{text}"
    );
    // The image was really sent: one manifest per push.
    let manifests = runtime
        .block_on(server.received_requests())
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT" && r.url.path().contains("/manifests/"))
        .count();
    assert_eq!(manifests, 2);
}
