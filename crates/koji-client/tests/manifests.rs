//! Contract tests: operator-manifests lookup (getBuild, listArchives, getBuildLogs) and the
//! streamed archive download from the file root.

mod common;

use common::{call, expect, fixture, ok, ok_json};
use koji_client::{
    ArchiveSource, BuildState, ChecksumType, KojiError, ManifestsArchive, Value, kwargs,
    typeinfo_archive_url,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NVR: &str = "foo-operator-bundle-container-1.0-3";
const ZIP_PATH: &str = "/kojiroot/packages/foo-operator-bundle-container/1.0/3/files/operator-manifests/operator_manifests.zip";

fn zip_bytes() -> Vec<u8> {
    b"PK\x03\x04 not really a zip, but bytes to verify\n".repeat(40)
}
// Digests of zip_bytes(), computed independently with Python's hashlib.
const ZIP_MD5: &str = "72b92075b3c12fe093d1f09949edadc0";
const ZIP_SHA1: &str = "98c9e0aa5a9fb45df6d679d36aba65bb748fa09c";
const ZIP_SHA256: &str = "26287354e4b085ed3afa9360b5f12dae4e20c13284a1b8e2a85ba6d3b1004958";

#[allow(clippy::needless_pass_by_value)] // call sites read better with json!(...)
fn build_json(extra: serde_json::Value) -> serde_json::Value {
    json!({"id": 1_234_567, "build_id": 1_234_567, "name": "foo-operator-bundle-container",
        "version": "1.0", "release": "3", "nvr": NVR, "epoch": null, "state": 1,
        "volume_name": "DEFAULT", "extra": extra})
}

fn archives_kwargs() -> Value {
    kwargs([
        ("buildID", Value::Int(1_234_567)),
        ("type", Value::from("operator-manifests")),
        ("filename", Value::from("operator_manifests.zip")),
    ])
}

fn archive_row(checksum: &str, checksum_type: i64, size: usize) -> serde_json::Value {
    json!([{"id": 55, "build_id": 1_234_567, "filename": "operator_manifests.zip",
        "size": size, "checksum": checksum, "checksum_type": checksum_type,
        "btype": "operator-manifests", "type_name": "zip"}])
}

async fn serve_zip(server: &MockServer, at: &str, body: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/zip"))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn preferred_location_with_md5_checksum_downloads_and_verifies() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild").params(vec![Value::from(NVR)]),
        fixture("getbuild_operator"),
        1,
    )
    .await;
    expect(
        &hub,
        call("listArchives").params(vec![archives_kwargs()]),
        ok_json(archive_row(ZIP_MD5, 0, zip_bytes().len())),
        1,
    )
    .await;
    serve_zip(&hub, ZIP_PATH, zip_bytes()).await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    assert_eq!(
        archive.source,
        ArchiveSource::Typeinfo {
            filename: "operator_manifests.zip".into()
        }
    );
    assert_eq!(archive.url.as_str(), format!("{}{ZIP_PATH}", hub.uri()));
    assert_eq!(archive.size, Some(zip_bytes().len() as u64));
    let sum = archive.checksum.as_ref().unwrap();
    assert_eq!((sum.kind, sum.hex.as_str()), (ChecksumType::Md5, ZIP_MD5));
    let bytes = koji.download_to_vec(&archive, 1024 * 1024).await.unwrap();
    assert_eq!(bytes, zip_bytes());
}

#[tokio::test]
async fn sha1_and_sha256_checksums_are_verified_too() {
    for (kind, hex) in [(1, ZIP_SHA1), (2, ZIP_SHA256)] {
        let hub = common::hub().await;
        expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
        expect(
            &hub,
            call("listArchives"),
            ok_json(archive_row(&hex.to_uppercase(), kind, 1720)),
            1,
        )
        .await;
        serve_zip(&hub, ZIP_PATH, zip_bytes()).await;
        let koji = common::client(&hub);
        let archive = koji.find_operator_manifests(NVR).await.unwrap();
        assert_eq!(
            koji.download_to_vec(&archive, 4096).await.unwrap().len(),
            1720
        );
    }
}

#[tokio::test]
async fn checksum_mismatch_is_reported() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
    expect(
        &hub,
        call("listArchives"),
        ok_json(archive_row(ZIP_MD5, 0, 1720)),
        1,
    )
    .await;
    let mut tampered = zip_bytes();
    tampered[100] ^= 1;
    serve_zip(&hub, ZIP_PATH, tampered).await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    let err = koji.download_to_vec(&archive, 4096).await.unwrap_err();
    match &err {
        KojiError::ChecksumMismatch {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, "operator_manifests.zip");
            assert_eq!(expected, ZIP_MD5);
            assert_ne!(actual, ZIP_MD5);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "Checksum mismatch for operator_manifests.zip"
    );
}

#[tokio::test]
async fn list_archives_fault_only_disables_verification() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
    expect(
        &hub,
        call("listArchives"),
        common::fault(1000, "unsupported archive type: operator-manifests"),
        1,
    )
    .await;
    serve_zip(&hub, ZIP_PATH, zip_bytes()).await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    assert_eq!((archive.size, archive.checksum.clone()), (None, None));
    assert_eq!(
        koji.download_to_vec(&archive, 4096).await.unwrap(),
        zip_bytes()
    );
}

#[tokio::test]
async fn legacy_location_uses_build_logs_and_encodes_the_volume() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_legacy_volume"), 1).await;
    expect(
        &hub,
        call("getBuildLogs").params(vec![Value::Int(1_234_567)]),
        fixture("getbuildlogs"),
        1,
    )
    .await;
    let at =
        "/kojiroot/vol/archive%2Bvol/packages/foo/1.0/3/data/logs/noarch/operator_manifests.zip";
    serve_zip(&hub, at, zip_bytes()).await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    assert!(matches!(archive.source, ArchiveSource::LegacyLog { .. }));
    assert_eq!(archive.url.path(), at);
    assert_eq!(archive.checksum, None);
    assert_eq!(
        koji.download_to_vec(&archive, 4096).await.unwrap(),
        zip_bytes()
    );
}

#[tokio::test]
async fn legacy_archive_missing_from_logs() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_legacy_volume"), 1).await;
    expect(
        &hub,
        call("getBuildLogs"),
        ok_json(json!([{"name": "x86_64.log", "dir": "x86_64", "path": "packages/foo/1.0/3/data/logs/x86_64/x86_64.log"}])),
        1,
    )
    .await;
    let err = common::client(&hub)
        .find_operator_manifests(NVR)
        .await
        .unwrap_err();
    assert!(matches!(err, KojiError::ArchiveNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "Expected archive 'operator_manifests.zip' with manifests not found in build: {NVR}"
        )
    );
}

#[tokio::test]
async fn unknown_and_malformed_nvrs_are_not_found() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild").params(vec![Value::from(NVR)]),
        fixture("getbuild_unknown"),
        1,
    )
    .await;
    expect(
        &hub,
        call("getBuild").params(vec![Value::from("nodashes")]),
        fixture("fault_invalid_format"),
        1,
    )
    .await;
    let koji = common::client(&hub);
    let err = koji.find_operator_manifests(NVR).await.unwrap_err();
    assert!(matches!(err, KojiError::BuildNotFound { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("NVR not found: {NVR}"));
    let err = koji.find_operator_manifests("nodashes").await.unwrap_err();
    assert!(
        matches!(err, KojiError::BuildNotFound { ref nvr } if nvr == "nodashes"),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_faults_stay_faults() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild"),
        common::fault(1002, "auth needed"),
        1,
    )
    .await;
    let err = common::client(&hub)
        .find_operator_manifests(NVR)
        .await
        .unwrap_err();
    assert_eq!(err.fault().unwrap().code, 1002);
}

#[tokio::test]
async fn null_extra_and_missing_keys_are_not_operator_images() {
    for extra in [
        json!(null),
        json!({}),
        json!("a string"),
        json!({"typeinfo": {"image": {}}}),
        json!({"typeinfo": {"operator-manifests": {}}, "operator_manifests_archive": ""}),
        json!({"typeinfo": {"operator-manifests": {"archive": 5}}}),
    ] {
        let hub = common::hub().await;
        expect(
            &hub,
            call("getBuild"),
            ok_json(build_json(extra.clone())),
            1,
        )
        .await;
        let err = common::client(&hub)
            .find_operator_manifests(NVR)
            .await
            .unwrap_err();
        assert!(
            matches!(err, KojiError::NotAnOperatorImage { .. }),
            "{extra}: {err:?}"
        );
        assert_eq!(err.to_string(), format!("Not an operator image: {NVR}"));
    }
    // Also the Python-generated build whose extra is nil.
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_extra_nil"), 1).await;
    let err = common::client(&hub)
        .find_operator_manifests(NVR)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KojiError::NotAnOperatorImage { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn incomplete_builds_are_refused() {
    for (state, want, name) in [
        (0, BuildState::Building, "BUILDING"),
        (3, BuildState::Failed, "FAILED"),
        (4, BuildState::Canceled, "CANCELED"),
        (2, BuildState::Deleted, "DELETED"),
    ] {
        let hub = common::hub().await;
        let mut b = build_json(
            json!({"typeinfo": {"operator-manifests": {"archive": "operator_manifests.zip"}}}),
        );
        b["state"] = json!(state);
        expect(&hub, call("getBuild"), ok_json(b), 1).await;
        let err = common::client(&hub)
            .find_operator_manifests(NVR)
            .await
            .unwrap_err();
        assert!(
            matches!(err, KojiError::BuildNotComplete { state: s, .. } if s == want),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("Build {NVR} is not complete (state {name})")
        );
    }
}

#[tokio::test]
async fn typeinfo_wins_over_legacy_key_and_volume_goes_in_front() {
    let hub = common::hub().await;
    let mut b = build_json(json!({
        "operator_manifests_archive": "legacy.zip",
        "typeinfo": {"operator-manifests": {"archive": "operator_manifests.zip"}}}));
    b["volume_name"] = json!("vol2");
    b["release"] = json!("3.el9+1~rc^x");
    expect(&hub, call("getBuild"), ok_json(b), 1).await;
    expect(&hub, call("listArchives"), ok_json(json!([])), 1).await;
    let archive = common::client(&hub)
        .find_operator_manifests(NVR)
        .await
        .unwrap();
    assert_eq!(
        archive.url.path(),
        "/kojiroot/vol/vol2/packages/foo-operator-bundle-container/1.0/3.el9%2B1~rc%5Ex/files/operator-manifests/operator_manifests.zip"
    );
}

#[tokio::test]
async fn download_errors_status_and_size_caps() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
    expect(&hub, call("listArchives"), ok_json(json!([])), 1).await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();

    // 404 from the file root.
    let err = koji.download_to_vec(&archive, 4096).await.unwrap_err();
    assert!(
        matches!(err, KojiError::DownloadStatus { status: 418, .. }),
        "catch-all answers 418: {err:?}"
    );

    Mock::given(method("GET"))
        .and(path(ZIP_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hub)
        .await;
    let err = koji.download_to_vec(&archive, 4096).await.unwrap_err();
    assert!(
        matches!(err, KojiError::DownloadStatus { status: 404, .. }),
        "{err:?}"
    );

    // Body bigger than the cap.
    Mock::given(method("GET"))
        .and(path(ZIP_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(zip_bytes(), "application/zip"))
        .mount(&hub)
        .await;
    let err = koji.download_to_vec(&archive, 1000).await.unwrap_err();
    assert!(
        matches!(err, KojiError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    assert_eq!(
        koji.download_to_vec(&archive, 1720).await.unwrap().len(),
        1720
    );

    // Size known from listArchives: refused before any request.
    let known = ManifestsArchive {
        size: Some(10_000),
        ..archive.clone()
    };
    let err = koji.download_to_vec(&known, 5000).await.unwrap_err();
    assert!(
        matches!(err, KojiError::TooLarge { limit: 5000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_download_hits_the_transfer_timeout() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
    expect(&hub, call("listArchives"), ok_json(json!([])), 1).await;
    Mock::given(method("GET"))
        .and(path(ZIP_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(zip_bytes(), "application/zip")
                .set_delay(std::time::Duration::from_secs(10)),
        )
        .mount(&hub)
        .await;
    let koji = koji_client::Client::builder(common::hub_url(&hub))
        .topurl(format!("{}/kojiroot", hub.uri()))
        .transfer_timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    let err = koji.download_to_vec(&archive, 4096).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn download_to_file_writes_and_cleans_up_on_failure() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("getbuild_operator"), 1).await;
    expect(
        &hub,
        call("listArchives"),
        ok_json(archive_row(ZIP_MD5, 0, 1720)),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(ZIP_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(zip_bytes(), "application/zip"))
        .mount(&hub)
        .await;
    let koji = common::client(&hub);
    let archive = koji.find_operator_manifests(NVR).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.zip");
    assert_eq!(
        koji.download_to_file(&archive, 4096, &good).await.unwrap(),
        1720
    );
    assert_eq!(std::fs::read(&good).unwrap(), zip_bytes());

    let bad = dir.path().join("bad.zip");
    let mut wrong = archive.clone();
    wrong.checksum.as_mut().unwrap().hex = "00".repeat(16);
    let err = koji.download_to_file(&wrong, 4096, &bad).await.unwrap_err();
    assert!(matches!(err, KojiError::ChecksumMismatch { .. }), "{err:?}");
    assert!(!bad.exists(), "partial file must be removed");
}

#[tokio::test]
async fn lookup_needs_a_topurl() {
    let hub = common::hub().await;
    let koji = koji_client::Client::builder(common::hub_url(&hub))
        .build()
        .unwrap();
    let err = koji.find_operator_manifests(NVR).await.unwrap_err();
    assert!(matches!(err, KojiError::InvalidConfig { .. }), "{err:?}");
    let _ = ok(Value::Nil);
}

#[test]
fn url_rules_single_slash_and_encoding() {
    let build: koji_client::Build =
        koji_client::from_value(&Value::from_json(&build_json(json!(null)))).unwrap();
    for top in [
        "https://koji-files.example.com/kojiroot",
        "https://koji-files.example.com/kojiroot/",
        "https://koji-files.example.com/kojiroot//",
    ] {
        assert_eq!(
            typeinfo_archive_url(top, &build, "operator_manifests.zip")
                .unwrap()
                .as_str(),
            "https://koji-files.example.com/kojiroot/packages/foo-operator-bundle-container/1.0/3/files/operator-manifests/operator_manifests.zip"
        );
    }
    assert_eq!(
        koji_client::relative_url("https://h/root/", "/packages//a b/x.zip")
            .unwrap()
            .as_str(),
        "https://h/root/packages/a%20b/x.zip"
    );
    assert!(koji_client::relative_url("https://h/root", "packages/../../etc/passwd").is_err());
    // getBuildLogs answers `dir: "."` and a `/./` path for a file directly in the logs dir.
    assert_eq!(
        koji_client::relative_url(
            "https://h/root",
            "packages/foo/1.0/3/data/logs/./operator_manifests.zip"
        )
        .unwrap()
        .as_str(),
        "https://h/root/packages/foo/1.0/3/data/logs/operator_manifests.zip"
    );
    assert!(koji_client::relative_url("https://h/root", "packages/./../x.zip").is_err());
}
