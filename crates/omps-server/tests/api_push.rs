//! Zip pushes through `oneshot`, against fakes: the conformance checklist of the OMPS spec.
#![allow(
    clippy::default_trait_access,
    clippy::too_many_lines,
    clippy::many_single_char_names
)] // test tables read better long

mod common;

use common::*;
use omps_server::backends::StoreError;
use serde_json::json;

#[tokio::test]
async fn nested_fixture_push_v2_automatic_then_bumped() {
    let h = harness();
    let a = send(
        &h.router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("etcd.zip", &fixture_zip("etcd")),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json,
        json!({"extracted_files": fixture_files("etcd"), "organization": "myorg", "repo": "etcd", "version": "1.0.0"})
    );
    let b = send(
        &h.router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("etcd.zip", &fixture_zip("etcd")),
        ),
    )
    .await;
    assert_eq!(b.json["version"], "2.0.0");
    assert_eq!(h.store.versions("myorg", "etcd"), ["1.0.0", "2.0.0"]);
    // The caller's token reached the store verbatim.
    assert!(h.store.auth_seen.lock().unwrap().iter().all(|a| a == AUTH));
}

#[tokio::test]
async fn flat_push_v1_with_explicit_version() {
    let h = harness();
    let a = send(
        &h.router,
        upload(
            "/v1/myorg/marketplace/zipfile/1.2.3",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json,
        json!({"extracted_files": ["csv.yaml", "packages.yaml"], "organization": "myorg", "repo": "marketplace", "version": "1.2.3"})
    );
    assert_eq!(h.store.versions("myorg", "marketplace"), ["1.2.3"]);
}

#[tokio::test]
async fn automatic_version_bumps_the_highest_valid_release() {
    let h = harness_with(
        Default::default(),
        FakeStore::with_releases("o", "marketplace", &["1.0.0", "4.3.2", "9.9.9-rc1", "junk"]),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_eq!(a.json["version"], "5.0.0", "{}", a.json);
    let only_invalid = harness_with(
        config_from("default_release_version = \"3.1.4\""),
        FakeStore::with_releases("o", "marketplace", &["1.0.0-invalid"]),
        None,
        None,
        FakePublisher::default(),
    );
    let b = send(
        &only_invalid.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_eq!(b.json["version"], "3.1.4");
}

#[tokio::test]
async fn authorization_is_checked_before_anything_else() {
    let h = harness();
    for auth in [None, Some(""), Some("   ")] {
        let a = send(
            &h.router,
            upload("/v2/o/zipfile", auth, b"garbage".to_vec()),
        )
        .await;
        assert_error(&a, 403, "OMPSAuthorizationHeaderRequired");
        assert_eq!(
            a.json["message"],
            "Request contains no 'Authorization' header"
        );
    }
    let no_body = send(&h.router, request("POST", "/v1/o/r/zipfile/1.0.0", None)).await;
    assert_error(&no_body, 403, "OMPSAuthorizationHeaderRequired");
}

#[tokio::test]
async fn explicit_versions_use_the_strict_rule() {
    let h = harness();
    let long = format!("1.0.{}", "1".repeat(100));
    for bad in [
        "1",
        "1.2",
        "1.2.3.4",
        "nope",
        "-1.2.3",
        "1.01.0",
        "1.0.0-2",
        "1.0.0%0A",
        "0x1.0.0",
        // Components are bounded, so an automatic bump can never overflow.
        "18446744073709551615.0.0",
        "1000000000.0.0",
        &long,
    ] {
        let a = send(
            &h.router,
            upload(
                &format!("/v2/o/zipfile/{bad}"),
                Some(AUTH),
                multipart("m.zip", &flat_zip()),
            ),
        )
        .await;
        assert_error(&a, 400, "OMPSInvalidVersionFormat");
        let message = a.json["message"].as_str().unwrap();
        // Short printable versions are quoted as they are; control characters only escaped;
        // overlong ones not at all.
        let shown = omps_server::names::shown(&bad.replace("%0A", "\n"));
        assert!(message.contains(&shown), "{bad}: {}", a.json);
        assert!(!message.contains('\n'), "{bad}: {}", a.json);
        assert!(!message.contains(&long), "{bad}: overlong version echoed");
    }
    assert!(
        h.store.versions("o", "marketplace").is_empty(),
        "nothing pushed"
    );
}

#[tokio::test]
async fn upload_errors() {
    let h = harness();
    let other_field = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n").into_bytes();
    let cases: [(Vec<u8>, &str, &str); 4] = [
        (
            other_field,
            "OMPSExpectedFileError",
            "No field \"file\" in uploaded data",
        ),
        (
            multipart("", b"x"),
            "OMPSExpectedFileError",
            "No selected \"file\" in uploaded data",
        ),
        (
            multipart("archive.tar.gz", b"x"),
            "OMPSUploadedFileError",
            "Uploaded file extension \".gz\" is not supported: upload a .zip archive",
        ),
        (
            multipart("x.zip", b"definitely not a zip"),
            "OMPSUploadedFileError",
            "File is not a zip file",
        ),
    ];
    for (body, id, message) in cases {
        let a = send(&h.router, upload("/v2/o/zipfile", Some(AUTH), body)).await;
        assert_error(&a, 400, id);
        assert_eq!(a.json["message"], message);
    }

    let mut not_multipart = request("POST", "/v2/o/zipfile", Some(AUTH));
    not_multipart
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    assert_error(
        &send(&h.router, not_multipart).await,
        400,
        "OMPSExpectedFileError",
    );
}

#[tokio::test]
async fn body_limit_is_413_in_the_envelope() {
    let h = harness_with(
        config_from("max_content_length = 1000"),
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart("big.zip", &vec![b'x'; 5000]),
        ),
    )
    .await;
    assert_error(&a, 413, "RequestEntityTooLarge");
    assert_eq!(
        a.json["message"],
        "The data value transmitted exceeds the capacity limit (1000 bytes; the server's \
         max_content_length setting)."
    );
}

#[tokio::test]
async fn uncompressed_limit_is_enforced() {
    let h = harness_with(
        config_from("zipfile_max_uncompressed_size = 100"),
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&a, 400, "OMPSUploadedFileError");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .starts_with("Uncompressed archive is larger than limit ("),
        "{}",
        a.json
    );
}

#[tokio::test]
async fn package_validation_errors() {
    let h = harness();
    let no_package = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart("m.zip", &zip_of(&[("csv.yaml", CSV.as_bytes())])),
        ),
    )
    .await;
    assert_error(&no_package, 400, "PackageValidationError");
    assert_eq!(
        no_package.json["message"],
        "Could not find packageName in manifests."
    );
    assert_eq!(no_package.json["validation_info"], json!({}));

    let nested_dir = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart(
                "m.zip",
                &zip_of(&[
                    ("dir/packages.yaml", PACKAGE.as_bytes()),
                    ("dir/csv.yaml", CSV.as_bytes()),
                ]),
            ),
        ),
    )
    .await;
    assert_eq!(
        nested_dir.json["message"],
        "Could not find packageName in manifests."
    );

    let broken_first = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart(
                "m.zip",
                &zip_of(&[
                    ("a.yaml", b"x: [".as_slice()),
                    ("packages.yaml", PACKAGE.as_bytes()),
                ]),
            ),
        ),
    )
    .await;
    assert_error(&broken_first, 400, "PackageValidationError");
    assert_eq!(
        broken_first.json["message"],
        "Failed to process yaml file /a.yaml"
    );

    let no_csv = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart("m.zip", &zip_of(&[("packages.yaml", PACKAGE.as_bytes())])),
        ),
    )
    .await;
    assert!(
        no_csv.json["message"]
            .as_str()
            .unwrap()
            .contains("no valid CSV file is found"),
        "{}",
        no_csv.json
    );
    assert_eq!(no_csv.json["validation_info"], json!({}));

    let bad_csv = CSV.replace("  installModes: []\n", "");
    let invalid = send(
        &h.router,
        upload(
            "/v2/o/zipfile",
            Some(AUTH),
            multipart(
                "m.zip",
                &zip_of(&[
                    ("packages.yaml", PACKAGE.as_bytes()),
                    ("csv.yaml", bad_csv.as_bytes()),
                ]),
            ),
        ),
    )
    .await;
    assert_error(&invalid, 400, "PackageValidationError");
    assert_eq!(
        invalid.json["message"],
        "Failed to push manifest: Resulting bundle is invalid, input yaml is improperly defined."
    );
    assert_eq!(
        invalid.json["validation_info"],
        json!({"warnings": [], "errors": ["csv spec.installModes not defined"]})
    );
    assert!(
        h.store.versions("o", "marketplace").is_empty(),
        "nothing pushed"
    );
}

#[tokio::test]
async fn v1_repository_must_equal_the_package_name() {
    let h = harness();
    let a = send(
        &h.router,
        upload(
            "/v1/o/other-repo/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_error(&a, 400, "PackageValidationError");
    assert_eq!(
        a.json["validation_info"]["errors"],
        json!([
            "The packageName (marketplace) in bundle does not match repository name (other-repo) provided as command line argument."
        ])
    );
}

#[tokio::test]
async fn organization_rewrites() {
    let config = config_from(
        r#"
[organizations.suffixed]
package_name_suffix = "-test-suffix"
csv_annotations = [ { name = "package", value = "package.{package_name}" } ]
replace_registry = [ { old = "registry.stage.example.com", new = "registry.example.com" } ]
"#,
    );
    let h = harness_with(
        config,
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload(
            "/v2/suffixed/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["repo"], "marketplace-test-suffix");
    // v1 answers with the URL repository, which must already be the suffixed name.
    let b = send(
        &h.router,
        upload(
            "/v1/suffixed/marketplace-test-suffix/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(
        (b.status.as_u16(), b.json["repo"].as_str()),
        (200, Some("marketplace-test-suffix"))
    );
    // The stored blob carries every rewrite.
    let blob = h.store.releases.lock().unwrap()
        [&("suffixed".to_owned(), "marketplace-test-suffix".to_owned())][0]
        .1
        .clone();
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&blob[..]), &mut tar).unwrap();
    let text = String::from_utf8_lossy(&tar);
    assert!(
        text.contains("packageName: marketplace-test-suffix"),
        "suffix"
    );
    assert!(
        text.contains("package: package.marketplace-test-suffix"),
        "annotation"
    );
    assert!(
        text.contains("registry.example.com/op:1") && !text.contains("registry.stage.example.com"),
        "replacement"
    );
}

#[tokio::test]
async fn store_errors_map_to_documented_ids() {
    let store = FakeStore::default();
    store.faults.lock().unwrap().push = vec![
        StoreError::Unauthorized {
            message: "Unauthorized access".into(),
            body: json!({"error": {"code": "unauthorized-access", "message": "Unauthorized access"}}),
        },
        StoreError::Other {
            message: "boom".into(),
            body: json!({"error": {"message": "boom"}}),
        },
        StoreError::Other {
            message: "Cannot push an application to an image repository with the same name".into(),
            body: json!({"error": "Cannot push an application to an image repository with the same name"}),
        },
    ];
    let h = harness_with(
        Default::default(),
        store,
        None,
        None,
        FakePublisher::default(),
    );
    let push = || {
        upload(
            "/v2/o/zipfile/1.0.0",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        )
    };
    let a = send(&h.router, push()).await;
    assert_error(&a, 403, "QuayAuthorizationError");
    assert_eq!(
        a.json["message"],
        "Failed to push manifest: Unauthorized access"
    );
    assert_eq!(
        a.json["quay_response"]["error"]["code"],
        "unauthorized-access"
    );
    let b = send(&h.router, push()).await;
    assert_error(&b, 500, "QuayCourierError");
    assert_eq!(
        b.json["quay_response"],
        json!({"error": {"message": "boom"}})
    );
    let c = send(&h.router, push()).await;
    assert_eq!(
        c.json["message"],
        "Failed to push manifest: Cannot push an application to an image repository with the same name"
    );
    // Explicit version that exists: 409, never overwritten.
    send(&h.router, push()).await;
    let d = send(&h.router, push()).await;
    assert_error(&d, 409, "QuayReleaseExists");
    assert_eq!(d.json["quay_response"]["error"]["code"], "package-exists");
}

#[tokio::test]
async fn automatic_version_retries_when_the_store_says_exists() {
    let store = FakeStore::default();
    // Another replica took 1.0.0 between our listing and our push.
    store.faults.lock().unwrap().push = vec![StoreError::ReleaseExists {
        message: "package exists already".into(),
        body: json!({}),
    }];
    let h = harness_with(
        Default::default(),
        store,
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["version"], "2.0.0");
}

#[tokio::test]
async fn listing_errors_for_automatic_versions() {
    let store = FakeStore::default();
    store.faults.lock().unwrap().list = vec![
        StoreError::Unauthorized {
            message: "no".into(),
            body: json!({"error": {"message": "no"}}),
        },
        StoreError::Other {
            message: "500 Server Error".into(),
            body: json!({}),
        },
    ];
    let h = harness_with(
        Default::default(),
        store,
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&a, 403, "QuayAuthorizationError");
    let b = send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&b, 500, "QuayPackageError");
    assert_eq!(
        b.json["message"],
        "Cannot retrieve information about package o/marketplace: 500 Server Error"
    );
}

fn public_config() -> omps_server::Config {
    config_from(
        "store = \"app-registry\"\n[organizations.pub]\npublic = true\noauth_token = \"oauth-secret\"\n",
    )
}

#[tokio::test]
async fn public_organizations_are_published_after_push() {
    let h = harness_with(
        public_config(),
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        upload(
            "/v2/pub/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert!(a.json.get("published").is_none());
    assert_eq!(
        h.publisher.calls.lock().unwrap().as_slice(),
        [(
            "pub".to_owned(),
            "marketplace".to_owned(),
            "oauth-secret".to_owned()
        )]
    );
    // The push itself asked for a public repository.
    assert!(h.store.pushes.lock().unwrap()[0].3);
}

#[tokio::test]
async fn publish_failure_keeps_the_release_and_says_so() {
    let publisher = FakePublisher::default();
    *publisher.failures.lock().unwrap() = 3;
    let h = harness_with(public_config(), FakeStore::default(), None, None, publisher);
    let a = send(
        &h.router,
        upload(
            "/v2/pub/zipfile",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["published"], false);
    assert_eq!(
        a.json["warnings"],
        json!([
            "Release pushed but repository could not be made public: Unauthorized: token lacks admin scope"
        ])
    );
    assert_eq!(h.publisher.calls.lock().unwrap().len(), 3, "retried");
    assert_eq!(h.store.versions("pub", "marketplace"), ["1.0.0"]);
    assert!(
        !a.bytes.windows(12).any(|w| w == b"oauth-secret"),
        "token never echoed"
    );
}

/// Pushes `count` times at once, round-robin over `routers`; returns the distinct versions.
async fn concurrent_versions(routers: &[axum::Router], count: usize) -> Vec<String> {
    let zip = flat_zip();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (router, zip) = (routers[i % routers.len()].clone(), zip.clone());
        tasks.push(tokio::spawn(async move {
            send(
                &router,
                upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &zip)),
            )
            .await
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status, 200, "{}", a.json);
        versions.push(a.json["version"].as_str().unwrap().to_owned());
    }
    versions.sort();
    versions.dedup();
    versions
}

fn local_store_config(dir: &std::path::Path) -> omps_server::Config {
    config_from(&format!("data_dir = {:?}", dir.display().to_string()))
}

#[tokio::test]
async fn fifty_concurrent_automatic_pushes_get_fifty_versions() {
    let dir = tempfile::tempdir().unwrap();
    let router = omps_server::app(
        omps_server::AppState::from_config(local_store_config(dir.path())).unwrap(),
    );
    assert_eq!(concurrent_versions(&[router], 50).await.len(), 50);
}

#[tokio::test]
async fn two_replicas_sharing_a_store_never_collide() {
    // Two independent app states (no shared lock) over one data directory: the store's atomic
    // create and the retry on "exists" keep versions distinct.
    let dir = tempfile::tempdir().unwrap();
    let config = local_store_config(dir.path());
    let a = omps_server::app(omps_server::AppState::from_config(config.clone()).unwrap());
    let b = omps_server::app(omps_server::AppState::from_config(config).unwrap());
    assert_eq!(concurrent_versions(&[a, b], 20).await.len(), 20);
}

#[tokio::test]
async fn organization_and_repository_names_outside_the_grammar_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let router = omps_server::app(
        omps_server::AppState::from_config(local_store_config(dir.path())).unwrap(),
    );
    for path in [
        "/v2/my%20org!/zipfile",
        "/v2/.hidden/zipfile",
        "/v2/ab%2Fcd/zipfile",
        "/v1/o/Bad%20Repo/zipfile",
    ] {
        let a = send(
            &router,
            upload(path, Some(AUTH), multipart("m.zip", &flat_zip())),
        )
        .await;
        assert_error(&a, 400, "OMPSInvalidName");
        assert!(
            a.json["message"].as_str().unwrap().contains("[a-z0-9]"),
            "{path}: {}",
            a.json
        );
    }
    for (method, path) in [
        ("GET", "/v2/.hidden"),
        ("GET", "/v2/ab%2Fcd/repo"),
        ("DELETE", "/v2/my%20org!/repo"),
    ] {
        let a = send(&router, request(method, path, Some(AUTH))).await;
        assert_error(&a, 400, "OMPSInvalidName");
    }
    assert!(
        !dir.path().join("packages").exists(),
        "no organization was created on the local store"
    );
}
