//! The push service without HTTP: each stage alone, then whole pushes, against the fake store in
//! both shapes (App-Registry-like blobs named by version; bundle images named by CSV version or
//! by version).

#[allow(clippy::type_complexity)]
mod common;

use std::io::Write as _;

use common::{AUTH, FakePublisher, FakeStore, config_from, fixture_zip, flat_zip, harness_with};
use omps_server::backends::{
    Auth, ReleaseContent, ReleaseNaming, ReleaseShape, StoreCapabilities, StoreError,
};
use omps_server::service::{intake, prepare, publish, store, version};
use omps_server::{ErrorId, PushRequest, PushService, PushSource};
use serde_json::json;

const BUNDLES_BY_CSV: StoreCapabilities = StoreCapabilities {
    takes: ReleaseShape::BundleImages,
    naming: ReleaseNaming::FromContent,
};
const BUNDLES_BY_VERSION: StoreCapabilities = StoreCapabilities {
    takes: ReleaseShape::BundleImages,
    naming: ReleaseNaming::FromVersion,
};

fn auth() -> Auth {
    Auth::from(AUTH.to_owned())
}

fn archive(zip: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(zip).unwrap();
    file
}

fn rewrites(suffix: Option<&str>) -> manifest_bundle::Rewrites {
    manifest_bundle::Rewrites::compile(
        "o",
        &manifest_bundle::RewriteConfig {
            package_name_suffix: suffix.map(str::to_owned),
            ..Default::default()
        },
    )
    .unwrap()
}

fn limits() -> manifest_bundle::Limits {
    intake::limits(&omps_server::Config::default())
}

// ------------------------------------------------------------------------------------------------
// Stage 1: intake.

#[test]
fn intake_finds_the_package_name_and_applies_the_suffix() {
    let file = archive(&flat_zip());
    let got = intake::extract_now(
        file.path(),
        &limits(),
        &rewrites(Some("-test")),
        ReleaseShape::AppRegistryBlob,
        None,
    )
    .unwrap();
    assert_eq!(got.package_name, "marketplace-test");
    assert_eq!(got.extracted_files, ["csv.yaml", "packages.yaml"]);
    let package = String::from_utf8(got.tree.get("packages.yaml").unwrap().to_vec()).unwrap();
    assert!(
        package.contains("packageName: marketplace-test"),
        "{package}"
    );
}

#[test]
fn intake_takes_bundle_format_only_for_stores_that_take_images() {
    let file = archive(&fixture_zip("tackle-operator"));
    let refused = intake::extract_now(
        file.path(),
        &limits(),
        &rewrites(None),
        ReleaseShape::AppRegistryBlob,
        None,
    )
    .unwrap_err();
    assert_eq!(refused.id, ErrorId::PackageValidationError);
    let taken = intake::extract_now(
        file.path(),
        &limits(),
        &rewrites(Some("-x")),
        ReleaseShape::BundleImages,
        None,
    )
    .unwrap();
    assert_eq!(taken.package_name, "tackle-operator-x");
}

#[test]
fn package_names_follow_the_repository_grammar() {
    intake::check_package_name("marketplace").unwrap();
    for bad in ["Market", "my package", ".hidden"] {
        let e = intake::check_package_name(bad).unwrap_err();
        assert_eq!(e.id, ErrorId::PackageValidationError, "{bad}");
        assert!(e.message.contains("[a-z0-9]"), "{}", e.message);
    }
    let e = intake::check_package_name(&"a".repeat(256)).unwrap_err();
    assert_eq!(
        e.message,
        "Failed to push manifest: packageName is longer than 255 bytes"
    );
}

// ------------------------------------------------------------------------------------------------
// Stage 2: the version.

#[tokio::test]
async fn version_is_explicit_automatic_or_left_to_the_content() {
    let h = harness_with(
        config_from(""),
        FakeStore::with_releases("o", "marketplace", &["1.0.0", "2.3.1", "junk"]),
        None,
        None,
        FakePublisher::default(),
    );
    let store = h.store.as_ref();
    let caller = auth();
    let choose = |caps, requested| {
        version::choose(
            &h.state,
            store,
            caps,
            "o",
            "marketplace",
            requested,
            &caller,
        )
    };
    assert_eq!(
        choose(StoreCapabilities::APP_REGISTRY, None).await.unwrap(),
        Some("3.0.0".to_owned())
    );
    assert_eq!(
        choose(StoreCapabilities::APP_REGISTRY, Some("9.0.0"))
            .await
            .unwrap(),
        Some("9.0.0".to_owned())
    );
    assert_eq!(choose(BUNDLES_BY_CSV, Some("9.0.0")).await.unwrap(), None);
    // An unknown package starts at the default.
    let fresh = version::choose(
        &h.state,
        store,
        StoreCapabilities::APP_REGISTRY,
        "o",
        "new",
        None,
        &auth(),
    )
    .await
    .unwrap();
    assert_eq!(fresh.as_deref(), Some("1.0.0"));
    // A listing failure is the documented error.
    h.store
        .faults
        .lock()
        .unwrap()
        .list
        .push(StoreError::Unauthorized {
            message: "no".into(),
            body: json!({"error": "no"}),
        });
    let e = choose(StoreCapabilities::APP_REGISTRY, None)
        .await
        .unwrap_err();
    assert_eq!(e.id, ErrorId::QuayAuthorizationError);
}

// ------------------------------------------------------------------------------------------------
// Stage 3: prepare.

fn intake_of(zip: &[u8], takes: ReleaseShape) -> intake::Intake {
    let file = archive(zip);
    intake::extract_now(file.path(), &limits(), &rewrites(None), takes, None).unwrap()
}

#[test]
fn prepare_builds_exactly_the_release_the_store_takes() {
    let naming = |chosen: Option<&str>, requested: Option<&str>| prepare::Naming {
        chosen: chosen.map(str::to_owned),
        requested: requested.map(str::to_owned),
    };
    let blob = prepare::prepare_now(
        intake_of(&flat_zip(), ReleaseShape::AppRegistryBlob),
        &rewrites(None),
        "marketplace",
        StoreCapabilities::APP_REGISTRY,
        naming(Some("4.0.0"), None),
        true,
        &limits(),
    )
    .unwrap();
    assert_eq!(blob.version, "4.0.0");
    assert!(blob.public);
    assert!(
        matches!(&blob.content, ReleaseContent::AppRegistryBlob { blob, digest } if !blob.is_empty() && digest.len() == 64)
    );

    let images = prepare::prepare_now(
        intake_of(&fixture_zip("tackle-operator"), ReleaseShape::BundleImages),
        &rewrites(None),
        "tackle-operator",
        BUNDLES_BY_CSV,
        naming(None, None),
        false,
        &limits(),
    )
    .unwrap();
    let ReleaseContent::BundleImages(bundles) = &images.content else {
        panic!("bundle images expected");
    };
    let versions: Vec<&str> = bundles.iter().map(|b| b.csv_version.as_str()).collect();
    assert_eq!(versions.len(), 5, "{versions:?}");
    // Named by content: the highest CSV version.
    assert_eq!(images.version, "1.0.0");
    for b in bundles {
        assert!(b.image.manifest_digest.starts_with("sha256:"));
    }

    // An explicit version must name one of the content's releases.
    let honoured = prepare::prepare_now(
        intake_of(&fixture_zip("tackle-operator"), ReleaseShape::BundleImages),
        &rewrites(None),
        "tackle-operator",
        BUNDLES_BY_CSV,
        naming(None, Some("0.0.2")),
        false,
        &limits(),
    )
    .unwrap();
    assert_eq!(honoured.version, "0.0.2");
    let refused = prepare::prepare_now(
        intake_of(&fixture_zip("tackle-operator"), ReleaseShape::BundleImages),
        &rewrites(None),
        "tackle-operator",
        BUNDLES_BY_CSV,
        naming(None, Some("2.0.0")),
        false,
        &limits(),
    )
    .unwrap_err();
    assert_eq!(refused.id, ErrorId::OMPSVersionNotApplicable);
    assert_eq!(refused.status, 400);

    // Stores naming by version get the chosen version on images too.
    let by_version = prepare::prepare_now(
        intake_of(&flat_zip(), ReleaseShape::BundleImages),
        &rewrites(None),
        "marketplace",
        BUNDLES_BY_VERSION,
        naming(Some("7.0.0"), None),
        false,
        &limits(),
    )
    .unwrap();
    assert_eq!(by_version.version, "7.0.0");
    assert!(matches!(by_version.content, ReleaseContent::BundleImages(ref b) if b.len() == 1));
}

#[test]
fn prepare_refuses_invalid_manifests_with_the_findings() {
    let zip = common::zip_of(&[
        ("packages.yaml", common::PACKAGE.as_bytes()),
        (
            "csv.yaml",
            b"kind: ClusterServiceVersion\nmetadata: {name: x}\n",
        ),
    ]);
    let e = prepare::prepare_now(
        intake_of(&zip, ReleaseShape::AppRegistryBlob),
        &rewrites(None),
        "marketplace",
        StoreCapabilities::APP_REGISTRY,
        prepare::Naming {
            chosen: Some("1.0.0".into()),
            requested: None,
        },
        false,
        &limits(),
    )
    .unwrap_err();
    assert_eq!(e.id, ErrorId::PackageValidationError);
    assert!(e.extra["validation_info"]["errors"].is_array(), "{e:?}");
}

// ------------------------------------------------------------------------------------------------
// Stage 4: store.

fn blob_release(version: &str) -> omps_server::backends::Release {
    omps_server::backends::Release {
        version: version.into(),
        content: ReleaseContent::AppRegistryBlob {
            blob: bytes::Bytes::from_static(b"blob"),
            digest: "d".into(),
        },
        public: false,
    }
}

#[tokio::test]
async fn store_retries_a_taken_automatic_version_only_when_names_come_from_versions() {
    let h = harness_with(
        config_from(""),
        FakeStore::with_releases("o", "marketplace", &["1.0.0"]),
        None,
        None,
        FakePublisher::default(),
    );
    let store = h.store.as_ref();
    // 1.0.0 is taken: an automatic push moves on to 2.0.0.
    let (stored, _) = store::store(
        &h.state,
        store,
        StoreCapabilities::APP_REGISTRY,
        "o",
        "marketplace",
        blob_release("1.0.0"),
        &auth(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(stored.version, "2.0.0");
    // An explicit one is 409.
    let e = store::store(
        &h.state,
        store,
        StoreCapabilities::APP_REGISTRY,
        "o",
        "marketplace",
        blob_release("1.0.0"),
        &auth(),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!((e.id, e.status.as_u16()), (ErrorId::QuayReleaseExists, 409));
    // Content-named releases are never retried: another version cannot help.
    h.store
        .faults
        .lock()
        .unwrap()
        .push
        .push(StoreError::ReleaseExists {
            message: "tag exists".into(),
            body: json!({}),
        });
    let e = store::store(
        &h.state,
        store,
        BUNDLES_BY_CSV,
        "o",
        "marketplace",
        blob_release("5.0.0"),
        &auth(),
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(e.id, ErrorId::QuayReleaseExists);
    assert_eq!(h.store.versions("o", "marketplace"), ["1.0.0", "2.0.0"]);
    // Other failures keep the store's body.
    h.store.faults.lock().unwrap().push.push(StoreError::Other {
        message: "boom".into(),
        body: json!({"error": {"message": "boom"}}),
    });
    let e = store::store(
        &h.state,
        store,
        StoreCapabilities::APP_REGISTRY,
        "o",
        "marketplace",
        blob_release("9.0.0"),
        &auth(),
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(e.id, ErrorId::QuayCourierError);
    assert_eq!(
        e.extra["quay_response"],
        json!({"error": {"message": "boom"}})
    );
}

// ------------------------------------------------------------------------------------------------
// Stage 5: publish.

#[tokio::test]
async fn publish_runs_for_public_organizations_and_reports_failures() {
    let config = config_from("[organizations.pub]\npublic = true\noauth_token = \"tok\"\n");
    let publisher = FakePublisher::default();
    *publisher.failures.lock().unwrap() = 1;
    let h = harness_with(config.clone(), FakeStore::default(), None, None, publisher);
    // One failure, then success: retried, no warning.
    publish::publish(&h.state, h.store.as_ref(), "pub", "r")
        .await
        .unwrap();
    assert_eq!(h.publisher.calls.lock().unwrap().len(), 2);
    // Private organizations are not published.
    publish::publish(&h.state, h.store.as_ref(), "private", "r")
        .await
        .unwrap();
    assert_eq!(h.publisher.calls.lock().unwrap().len(), 2);
    // Every attempt failing is a warning, after `ATTEMPTS` calls.
    *h.publisher.failures.lock().unwrap() = 10;
    let warning = publish::publish(&h.state, h.store.as_ref(), "pub", "r")
        .await
        .unwrap_err();
    assert!(warning.starts_with("Release pushed but repository could not be made public"));
    assert_eq!(
        h.publisher.calls.lock().unwrap().len(),
        2 + publish::ATTEMPTS as usize
    );
    // A store without visibility is asked once and is done.
    let plain = FakeStore {
        has_visibility: false,
        ..FakeStore::default()
    };
    let h = harness_with(config, plain, None, None, FakePublisher::default());
    publish::publish(&h.state, h.store.as_ref(), "pub", "r")
        .await
        .unwrap();
    assert!(h.publisher.calls.lock().unwrap().is_empty());
}

// ------------------------------------------------------------------------------------------------
// Whole pushes.

fn zip_request(org: &str, version: Option<&str>, zip: &[u8]) -> PushRequest {
    PushRequest {
        organization: org.into(),
        repository: None,
        version: version.map(str::to_owned),
        auth: auth(),
        source: PushSource::Archive(archive(zip)),
    }
}

#[tokio::test]
async fn a_push_into_each_store_shape() {
    // App-Registry-shaped: a blob named by the automatic version, no images.
    let h = harness_with(
        config_from(""),
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    );
    let service = PushService::new(h.state.clone());
    let outcome = service
        .push(zip_request("o", None, &flat_zip()))
        .await
        .unwrap();
    assert_eq!(
        (outcome.repo.as_str(), outcome.version.as_str()),
        ("marketplace", "1.0.0")
    );
    assert!(outcome.images.is_empty() && outcome.published.is_none());
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        json!({"extracted_files": ["csv.yaml", "packages.yaml"], "organization": "o", "repo": "marketplace", "version": "1.0.0"})
    );

    // Bundle images named by CSV version: the answer names the release and its images.
    let h = harness_with(
        config_from(""),
        FakeStore::bundle_images(ReleaseNaming::FromContent),
        None,
        None,
        FakePublisher::default(),
    );
    let service = PushService::new(h.state.clone());
    let outcome = service
        .push(zip_request("o", None, &flat_zip()))
        .await
        .unwrap();
    assert_eq!(outcome.version, "0.0.1");
    assert_eq!(outcome.images.len(), 1);
    assert_eq!(outcome.images[0].tag, "0.0.1");
    assert_eq!(
        outcome.images[0].digest,
        h.store.images.lock().unwrap()[0].3
    );
    // Listing and download accept the answered version.
    let releases = service
        .list_releases("o", "marketplace", None)
        .await
        .unwrap();
    assert_eq!(releases.releases, ["0.0.1"]);
    service
        .download("o", "marketplace", &outcome.version, None)
        .await
        .unwrap();
    let e = service
        .push(zip_request("o", Some("3.0.0"), &flat_zip()))
        .await
        .unwrap_err();
    assert_eq!(e.id, ErrorId::OMPSVersionNotApplicable);

    // Bundle images named by version: an explicit version is honoured.
    let h = harness_with(
        config_from(""),
        FakeStore::bundle_images(ReleaseNaming::FromVersion),
        None,
        None,
        FakePublisher::default(),
    );
    let service = PushService::new(h.state.clone());
    let outcome = service
        .push(zip_request("o", Some("3.0.0"), &flat_zip()))
        .await
        .unwrap();
    assert_eq!(outcome.version, "3.0.0");
    assert_eq!(outcome.images[0].tag, "3.0.0");
    let deleted = service
        .delete("o", "marketplace", Some("3.0.0"), &auth())
        .await
        .unwrap();
    assert_eq!(deleted.deleted, ["3.0.0"]);
}

#[tokio::test]
async fn names_outside_the_grammar_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = omps_server::AppState::from_config(config_from(&format!(
        "data_dir = {:?}",
        dir.path().display().to_string()
    )))
    .unwrap();
    let service = PushService::new(state);
    for org in ["my org!", ".hidden", "ab/cd", "Upper", ""] {
        let e = service
            .push(zip_request(org, None, &flat_zip()))
            .await
            .unwrap_err();
        assert_eq!(
            (e.id, e.status.as_u16()),
            (ErrorId::OMPSInvalidName, 400),
            "{org}"
        );
        let e = service.list_repositories(org, None).await.unwrap_err();
        assert_eq!(e.id, ErrorId::OMPSInvalidName, "{org}");
    }
    let e = service
        .delete("o", "bad repo", None, &auth())
        .await
        .unwrap_err();
    assert_eq!(e.id, ErrorId::OMPSInvalidName);
    assert!(
        !dir.path().join("packages").exists(),
        "no organization was created"
    );
}
