//! The OCI bundle store against a wiremock registry: what it sends, and how registry answers map
//! onto the OMPS error envelope. Every unmatched request gets a 418 naming it, so a missed
//! expectation shows in the answer.

#[allow(clippy::type_complexity)]
mod common;

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::Arc;

use common::{AUTH, assert_error, flat_zip, multipart, request, send, upload};
use omps_server::backends::ManifestStore;
use omps_server::config::StoreKind;
use omps_server::oci_store::{ClientOptions, OciStore};
use omps_server::{AppState, Backends, Config, app};
use serde_json::{Value, json};
use sha2::Digest as _;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers 418 with the unmatched request in the body.
struct Unexpected;

impl Respond for Unexpected {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        ResponseTemplate::new(418).set_body_json(json!({
            "errors": [{"code": "UNEXPECTED", "message": format!("unexpected request {} {}", req.method, req.url)}]
        }))
    }
}

async fn registry() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Unexpected)
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

fn config(registry: &MockServer, extra: &str) -> Config {
    let text = format!(
        "store = \"oci\"\n[oci]\nregistry_url = \"{}\"\n{extra}",
        registry.uri()
    );
    Config::from_toml_str(&text).unwrap()
}

fn router(config: Config) -> axum::Router {
    let store = OciStore::new(&config, ClientOptions::default()).unwrap();
    let stores: HashMap<StoreKind, Arc<dyn ManifestStore>> =
        HashMap::from([(StoreKind::Oci, Arc::new(store) as Arc<dyn ManifestStore>)]);
    let state = AppState::new(
        config,
        Backends {
            stores,
            build_system: None,
            gate: None,
        },
    )
    .unwrap();
    app(state)
}

/// A registry that accepts every upload of `repo` and has none of its tags or blobs.
async fn accept_pushes(server: &MockServer, repo: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v2/{repo}/tags/list")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}),
        ))
        .mount(server)
        .await;
    Mock::given(method("HEAD"))
        .and(path_regex(format!("^/v2/{repo}/(manifests|blobs)/.+$")))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/{repo}/blobs/uploads/")))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/upload/session"))
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/upload/session"))
        .respond_with(ResponseTemplate::new(201))
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^/v2/{repo}/manifests/[^/]+$")))
        .respond_with(ResponseTemplate::new(201))
        .mount(server)
        .await;
}

async fn received(server: &MockServer, m: &str, path_start: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == m && r.url.path().starts_with(path_start))
        .collect()
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(data))
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn push_uploads_a_bundle_image_built_after_the_org_rewrites() {
    let server = registry().await;
    accept_pushes(&server, "team/marketplace-test-bundle").await;
    let router = router(config(
        &server,
        "[organizations.myorg]\nstore = \"oci\"\npackage_name_suffix = \"-test\"\nreplace_registry = [ { old = \"registry.stage.example.com\", new = \"registry.example.com\" } ]\noci = { namespace = \"team\", repository = \"{repo}-bundle\" }",
    ));
    let a = send(
        &router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    // The OMPS fields are unchanged; `images` is additive.
    assert_eq!(a.json["repo"], "marketplace-test");
    // The release is the CSV version: the one GET and DELETE accept (was "1.0.0").
    assert_eq!(a.json["version"], "0.0.1");
    let host = server.uri().trim_start_matches("http://").to_owned();
    let images = a.json["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0]["reference"],
        format!("{host}/team/marketplace-test-bundle:0.0.1")
    );
    assert_eq!(images[0]["csv_version"], "0.0.1");

    let manifests = received(
        &server,
        "PUT",
        "/v2/team/marketplace-test-bundle/manifests/",
    )
    .await;
    assert_eq!(manifests.len(), 1);
    assert_eq!(
        manifests[0].url.path(),
        "/v2/team/marketplace-test-bundle/manifests/0.0.1"
    );
    assert_eq!(
        manifests[0].headers.get("content-type").unwrap(),
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(images[0]["digest"], sha(&manifests[0].body));
    let manifest: Value = serde_json::from_slice(&manifests[0].body).unwrap();

    // Two blobs were uploaded, each with the digest its bytes have.
    let blobs = received(&server, "PUT", "/upload/session").await;
    assert_eq!(blobs.len(), 2);
    let by_digest: HashMap<String, Vec<u8>> = blobs
        .iter()
        .map(|r| {
            let d = r
                .url
                .query_pairs()
                .find(|(k, _)| k == "digest")
                .unwrap()
                .1
                .into_owned();
            assert_eq!(d, sha(&r.body));
            (d, r.body.clone())
        })
        .collect();
    let config_blob = &by_digest[manifest["config"]["digest"].as_str().unwrap()];
    let image_config: Value = serde_json::from_slice(config_blob).unwrap();
    assert_eq!(
        image_config["config"]["Labels"]["operators.operatorframework.io.bundle.package.v1"],
        "marketplace-test",
        "the package-name suffix is in the labels"
    );
    let layer = gunzip(&by_digest[manifest["layers"][0]["digest"].as_str().unwrap()]);
    let mut archive = tar::Archive::new(&layer[..]);
    let mut csv = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == "manifests/csv.yaml" {
            entry.read_to_string(&mut csv).unwrap();
        }
    }
    assert!(csv.contains("registry.example.com/op:1"), "{csv}");
    assert!(!csv.contains("registry.stage.example.com"), "{csv}");
}

#[tokio::test]
async fn refused_credentials_are_403_with_the_registry_body() {
    let server = registry().await;
    let body = json!({"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]});
    // The first call of a csv-version push is the tag check (no release listing any more).
    Mock::given(method("HEAD"))
        .and(path("/v2/myorg/marketplace/manifests/0.0.1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path_regex("^/v2/myorg/marketplace/blobs/.+$"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/myorg/marketplace/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body.clone()))
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "")),
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 403, "QuayAuthorizationError");
    assert_eq!(a.json["quay_response"], body);
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .contains("requested access to the resource is denied")
    );
}

#[tokio::test]
async fn existing_tag_with_another_image_is_409_without_uploading() {
    let server = registry().await;
    Mock::given(method("HEAD"))
        .and(path("/v2/myorg/marketplace/manifests/0.0.1"))
        .respond_with(ResponseTemplate::new(200).insert_header(
            "docker-content-digest",
            format!("sha256:{}", "a".repeat(64)),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "")),
        upload(
            // The explicit version names the content's release (was ignored before).
            "/v2/myorg/zipfile/0.0.1",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 409, "QuayReleaseExists");
    assert!(a.json["message"].as_str().unwrap().contains("tag 0.0.1"));
    assert!(received(&server, "POST", "/").await.is_empty());
    assert!(received(&server, "PUT", "/").await.is_empty());
}

#[tokio::test]
async fn explicit_version_that_is_no_csv_version_is_refused_before_any_registry_call() {
    let server = registry().await;
    let a = send(
        &router(config(&server, "")),
        upload(
            "/v2/myorg/zipfile/5.0.0",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 400, "OMPSVersionNotApplicable");
    let message = a.json["message"].as_str().unwrap();
    assert!(
        message.contains("5.0.0") && message.contains("0.0.1"),
        "{message}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn csv_version_policy_does_not_retry_with_other_release_versions() {
    let server = registry().await;
    // Releases named by content need no automatic version, so no listing (was one).
    Mock::given(method("GET"))
        .and(path("/v2/myorg/marketplace/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "myorg/marketplace", "tags": ["0.0.1"]})),
        )
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/v2/myorg/marketplace/manifests/0.0.1"))
        .respond_with(ResponseTemplate::new(200).insert_header(
            "docker-content-digest",
            format!("sha256:{}", "b".repeat(64)),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "")),
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 409, "QuayReleaseExists");
}

#[tokio::test]
async fn invalid_manifest_is_500_with_the_registry_body() {
    let server = registry().await;
    accept_pushes(&server, "myorg/marketplace").await;
    let body = json!({"errors": [{"code": "MANIFEST_INVALID", "message": "manifest invalid", "detail": {}}]});
    Mock::given(method("PUT"))
        .and(path("/v2/myorg/marketplace/manifests/0.0.1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(body.clone()))
        .with_priority(1)
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "")),
        upload(
            "/v2/myorg/zipfile/0.0.1",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 500, "QuayCourierError");
    assert_eq!(a.json["quay_response"], body);
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .contains("manifest invalid")
    );
}

#[tokio::test]
async fn configured_token_is_sent_instead_of_the_callers_header() {
    let server = registry().await;
    Mock::given(method("GET"))
        .and(path("/v2/myorg/marketplace/tags/list"))
        .and(header("authorization", "Bearer configured-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "myorg/marketplace", "tags": ["0.2.0", "0.1.0"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "token = \"configured-token\"")),
        request("GET", "/v2/myorg/marketplace", Some(AUTH)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["releases"], json!(["0.1.0", "0.2.0"]));
}

#[tokio::test]
async fn forwarded_basic_credentials_answer_a_basic_challenge() {
    let server = registry().await;
    Mock::given(method("GET"))
        .and(path("/v2/myorg/marketplace/tags/list"))
        .and(header("authorization", "Basic dXNlcjpwYXNz"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"name": "myorg/marketplace", "tags": ["1.0.0", "1.0.0-x", "latest", "2.0.0-0.9.2-clusterwide"]}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/myorg/marketplace/tags/list"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"test\"")
                .set_body_json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})),
        )
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "tag_policy = \"release\"")),
        request("GET", "/v2/myorg/marketplace", Some(AUTH)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    // Release policy: tags map back to the OMPS release versions.
    assert_eq!(a.json["releases"], json!(["1.0.0", "2.0.0"]));
}

#[tokio::test]
async fn unknown_repository_is_404() {
    let server = registry().await;
    Mock::given(method("GET"))
        .and(path("/v2/myorg/nothing/tags/list"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]}),
        ))
        .mount(&server)
        .await;
    let router = router(config(&server, ""));
    let a = send(&router, request("GET", "/v2/myorg/nothing", Some(AUTH))).await;
    assert_error(&a, 404, "QuayPackageNotFound");
    let d = send(&router, request("DELETE", "/v2/myorg/nothing", Some(AUTH))).await;
    assert_error(&d, 404, "QuayPackageNotFound");
}

#[tokio::test]
async fn delete_by_digest_puts_back_tags_of_other_releases() {
    let server = registry().await;
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
    let manifest_digest = sha(manifest);
    Mock::given(method("GET"))
        .and(path("/v2/myorg/op/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "myorg/op", "tags": ["1.0.0", "2.0.0", "3.0.0"]})),
        )
        .mount(&server)
        .await;
    for (tag, digest) in [
        ("1.0.0", manifest_digest.clone()),
        ("2.0.0", manifest_digest.clone()),
        ("3.0.0", format!("sha256:{}", "d".repeat(64))),
    ] {
        Mock::given(method("HEAD"))
            .and(path(format!("/v2/myorg/op/manifests/{tag}")))
            .respond_with(ResponseTemplate::new(200).insert_header("docker-content-digest", digest))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/v2/myorg/op/manifests/{manifest_digest}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .set_body_bytes(manifest.to_vec()),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v2/myorg/op/manifests/{manifest_digest}")))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/myorg/op/manifests/2.0.0"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let a = send(
        &router(config(&server, "tag_policy = \"release\"")),
        request("DELETE", "/v2/myorg/op/1.0.0", Some(AUTH)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["deleted"], json!(["1.0.0"]));
    let put = received(&server, "PUT", "/v2/myorg/op/manifests/2.0.0").await;
    assert_eq!(
        put[0].body,
        manifest.to_vec(),
        "the same bytes, so the same digest"
    );
}

#[tokio::test]
async fn health_accepts_200_and_401_and_reports_other_answers() {
    let server = registry().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", "Bearer realm=\"x\""),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let router = router(config(&server, ""));
    let a = send(&router, request("GET", "/v2/health/ping", None)).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["store"], "oci");
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let b = send(&router, request("GET", "/v2/health/ping", None)).await;
    assert_eq!(b.status, 503, "{}", b.json);
    assert!(
        b.json["services"]["quay"]["details"]
            .as_str()
            .unwrap()
            .contains("unhealthy"),
        "{}",
        b.json
    );
}

#[tokio::test]
async fn public_org_on_quay_changes_visibility_and_reports_failures() {
    let server = registry().await;
    accept_pushes(&server, "myorg/marketplace").await;
    Mock::given(method("POST"))
        .and(path(
            "/api/v1/repository/myorg/marketplace/changevisibility",
        ))
        .and(header("authorization", "Bearer oauth-secret"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error_message": "Unauthorized"})),
        )
        // The publish stage retries like for the App Registry (was one attempt).
        .expect(3)
        .mount(&server)
        .await;
    let a = send(
        &router(config(
            &server,
            "quay = true\n[organizations.myorg]\npublic = true\noauth_token = \"oauth-secret\"",
        )),
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["published"], false);
    assert_eq!(
        a.json["warnings"],
        json!(["Release pushed but repository could not be made public: Unauthorized"])
    );
    assert!(!a.json.to_string().contains("oauth-secret"));
    assert_eq!(a.json["images"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bundle_format_uploads_become_one_image_per_bundle_with_the_suffix() {
    let server = registry().await;
    accept_pushes(&server, "myorg/tackle-operator-test").await;
    let router = router(config(
        &server,
        "[organizations.myorg]\npackage_name_suffix = \"-test\"",
    ));
    let a = send(
        &router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("t.zip", &common::fixture_zip("tackle-operator")),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["repo"], "tackle-operator-test");
    let tags: Vec<&str> = a.json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["0.0.1", "0.0.2", "0.0.3", "0.0.4", "1.0.0"]);
    // Every config carries the suffixed package; the layers hold the rewritten annotations.yaml.
    let blobs = received(&server, "PUT", "/upload/session").await;
    let mut configs = 0;
    for blob in &blobs {
        if let Ok(config) = serde_json::from_slice::<Value>(&blob.body) {
            configs += 1;
            assert_eq!(
                config["config"]["Labels"]["operators.operatorframework.io.bundle.package.v1"],
                "tackle-operator-test"
            );
            continue;
        }
        let layer = gunzip(&blob.body);
        let mut archive = tar::Archive::new(&layer[..]);
        let mut annotations = String::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_string_lossy() == "metadata/annotations.yaml" {
                entry.read_to_string(&mut annotations).unwrap();
            }
        }
        assert!(
            annotations
                .contains("operators.operatorframework.io.bundle.package.v1: tackle-operator-test"),
            "{annotations}"
        );
    }
    assert_eq!(configs, 5);
}

#[tokio::test]
async fn bundle_format_upload_naming_two_packages_is_refused() {
    let server = registry().await;
    let annotations = |package: &str| {
        format!(
            "annotations:\n  operators.operatorframework.io.bundle.mediatype.v1: registry+v1\n  operators.operatorframework.io.bundle.manifests.v1: manifests/\n  operators.operatorframework.io.bundle.metadata.v1: metadata/\n  operators.operatorframework.io.bundle.package.v1: {package}\n  operators.operatorframework.io.bundle.channels.v1: alpha\n"
        )
    };
    let (a, b) = (annotations("one"), annotations("two"));
    let zip = common::zip_of(&[
        ("1/manifests/csv.yaml", common::CSV.as_bytes()),
        ("1/metadata/annotations.yaml", a.as_bytes()),
        ("2/manifests/csv.yaml", common::CSV.as_bytes()),
        ("2/metadata/annotations.yaml", b.as_bytes()),
    ]);
    let answer = send(
        &router(config(&server, "")),
        upload("/v2/myorg/zipfile", Some(AUTH), multipart("b.zip", &zip)),
    )
    .await;
    assert_error(&answer, 400, "PackageValidationError");
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("different packages: one, two"),
        "{}",
        answer.json
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
