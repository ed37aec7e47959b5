//! Routing, delete, read endpoints, health, about, Koji and Greenwave flows, OpenAPI and metrics.
#![allow(
    clippy::default_trait_access,
    clippy::too_many_lines,
    clippy::many_single_char_names
)] // test tables read better long

mod common;

use common::*;
use omps_server::backends::{BuildError, GateDecision, GateError, StoreError};
use serde_json::json;

#[tokio::test]
async fn literal_routes_win_and_push_shaped_deletes_are_405() {
    let h = harness_with(
        Default::default(),
        FakeStore::with_releases("health", "ping", &["1.0.0"]),
        None,
        None,
        FakePublisher::default(),
    );
    for (path, allow) in [
        ("/v1/health/ping", "GET,HEAD"),
        ("/v2/health/ping", "GET,HEAD"),
        ("/v1/about", "GET,HEAD"),
        ("/v1/o/r/zipfile", "POST"),
        ("/v2/o/zipfile", "POST"),
        ("/v2/o/zipfile/1.0.0", "POST"),
        ("/v2/o/koji/nvr-1-1", "POST"),
        ("/v2/o/koji/nvr-1-1/1.0.0", "POST"),
    ] {
        let a = send(&h.router, request("DELETE", path, Some(AUTH))).await;
        assert_error(&a, 405, "MethodNotAllowed");
        assert_eq!(
            a.headers
                .get("allow")
                .unwrap()
                .to_str()
                .unwrap()
                .replace(' ', ""),
            allow,
            "{path}"
        );
    }
    assert_eq!(
        h.store.versions("health", "ping"),
        ["1.0.0"],
        "nothing deleted"
    );
}

#[tokio::test]
async fn unknown_paths_dot_segments_and_trailing_slashes_are_404() {
    let h = harness();
    for path in [
        "/",
        "/v1",
        "/v2",
        "/v1/o/",
        "/v1/o/r/zipfile/",
        "/v3/o/zipfile",
        "/v1/o/./zipfile",
        "/v2/o/%2e%2e/1.0.0",
    ] {
        let a = send(&h.router, request("POST", path, Some(AUTH))).await;
        assert_error(&a, 404, "NotFound");
        assert_eq!(
            a.json["message"],
            "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
        );
    }
}

#[tokio::test]
async fn every_response_has_a_request_id_and_keeps_a_given_one() {
    let h = harness();
    let a = send(&h.router, request("GET", "/v1/about", None)).await;
    assert!(a.headers.get("x-request-id").is_some_and(|v| v.len() >= 8));
    let mut r = request("GET", "/v1/about", None);
    r.headers_mut()
        .insert("x-request-id", "trace-me-123".parse().unwrap());
    assert_eq!(
        send(&h.router, r).await.headers["x-request-id"],
        "trace-me-123"
    );
}

#[tokio::test]
async fn delete_one_and_all() {
    let h = harness_with(
        Default::default(),
        FakeStore::with_releases("o", "r", &["1.0.0", "1.0.0-rc1", "2.0.0"]),
        None,
        None,
        FakePublisher::default(),
    );
    let a = send(
        &h.router,
        request("DELETE", "/v1/o/r/1.0.0-rc1", Some(AUTH)),
    )
    .await;
    assert_eq!(
        a.json,
        json!({"organization": "o", "repo": "r", "deleted": ["1.0.0-rc1"]})
    );
    let b = send(&h.router, request("DELETE", "/v2/o/r", Some(AUTH))).await;
    assert_eq!(
        b.json,
        json!({"organization": "o", "repo": "r", "deleted": ["1.0.0", "2.0.0"]})
    );
    let empty = send(&h.router, request("DELETE", "/v2/o/r", Some(AUTH))).await;
    assert_eq!(
        empty.json["deleted"],
        json!([]),
        "a known package with no releases"
    );
    let unknown = send(&h.router, request("DELETE", "/v2/o/missing", Some(AUTH))).await;
    assert_error(&unknown, 404, "QuayPackageNotFound");
    assert_eq!(unknown.json["message"], "Package o/missing not found");
    let gone = send(&h.router, request("DELETE", "/v2/o/r/9.9.9", Some(AUTH))).await;
    assert_error(&gone, 404, "QuayPackageNotFound");
    assert!(
        gone.json["message"]
            .as_str()
            .unwrap()
            .contains("doesn't exist")
    );
}

#[tokio::test]
async fn delete_errors() {
    let h = harness();
    assert_error(
        &send(&h.router, request("DELETE", "/v2/o/r", None)).await,
        403,
        "OMPSAuthorizationHeaderRequired",
    );
    assert_error(
        &send(&h.router, request("DELETE", "/v1/o/r/koji", Some(AUTH))).await,
        400,
        "OMPSInvalidVersionFormat",
    );
    assert_error(
        &send(&h.router, request("DELETE", "/v1/o/r/1.0", Some(AUTH))).await,
        400,
        "OMPSInvalidVersionFormat",
    );

    let h = harness_with(
        Default::default(),
        FakeStore::with_releases("o", "r", &["1.0.0", "2.0.0", "3.0.0"]),
        None,
        None,
        FakePublisher::default(),
    );
    h.store.faults.lock().unwrap().list = vec![StoreError::Unauthorized {
        message: "denied".into(),
        body: json!({"error": {"message": "denied"}}),
    }];
    let a = send(&h.router, request("DELETE", "/v2/o/r", Some(AUTH))).await;
    assert_error(&a, 403, "QuayAuthorizationError");
    assert_eq!(a.json["quay_response"]["error"]["message"], "denied");

    h.store.faults.lock().unwrap().delete = vec![Some(StoreError::Unauthorized {
        message: "no".into(),
        body: json!({}),
    })];
    assert_error(
        &send(&h.router, request("DELETE", "/v2/o/r/1.0.0", Some(AUTH))).await,
        403,
        "QuayAuthorizationError",
    );

    // A delete failing part-way lists what is gone already.
    h.store.faults.lock().unwrap().delete = vec![
        None,
        Some(StoreError::Other {
            message: String::new(),
            body: json!({}),
        }),
    ];
    let p = send(&h.router, request("DELETE", "/v2/o/r", Some(AUTH))).await;
    assert_error(&p, 500, "QuayPackageError");
    assert_eq!(p.json["deleted"], json!(["1.0.0"]));
    assert_eq!(p.json["message"], "Unknown error");
    assert_eq!(h.store.versions("o", "r"), ["2.0.0", "3.0.0"]);
}

#[tokio::test]
async fn read_endpoints() {
    let h = harness();
    send(
        &h.router,
        upload(
            "/v2/o/zipfile/1.0.0",
            Some(AUTH),
            multipart("m.zip", &flat_zip()),
        ),
    )
    .await;
    let list = send(&h.router, request("GET", "/v2/o/marketplace", None)).await;
    assert_eq!(
        list.json,
        json!({"organization": "o", "repo": "marketplace", "releases": ["1.0.0"]})
    );
    let blob = send(&h.router, request("GET", "/v2/o/marketplace/1.0.0", None)).await;
    assert_eq!(blob.status, 200);
    assert_eq!(blob.headers["content-type"], "application/gzip");
    assert_eq!(&blob.bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let repos = send(&h.router, request("GET", "/v2/o", None)).await;
    assert_eq!(
        repos.json,
        json!({"organization": "o", "repositories": ["marketplace"]})
    );
    assert_error(
        &send(&h.router, request("GET", "/v2/o/none", None)).await,
        404,
        "QuayPackageNotFound",
    );
    assert_error(
        &send(&h.router, request("GET", "/v2/o/marketplace/9.9.9", None)).await,
        404,
        "QuayPackageNotFound",
    );
}

#[tokio::test]
async fn health_and_about() {
    let h = harness();
    let ok = send(&h.router, request("GET", "/v1/health/ping", None)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.json,
        json!({"ok": true, "services": {"greenwave": null, "koji": null, "quay": {"details": "It works!", "ok": true}}, "status": 200, "store": "fake"})
    );
    let head = send(&h.router, request("HEAD", "/v2/health/ping", None)).await;
    assert_eq!(head.status, 200);

    h.store.faults.lock().unwrap().health =
        Some("500 Server Error: None for url: https://quay.example.com/cnr/version".into());
    let koji = FakeKoji {
        health: Some("connection refused".into()),
        ..FakeKoji::default()
    };
    let bad = harness_with(
        Default::default(),
        FakeStore::default(),
        Some(koji),
        None,
        FakePublisher::default(),
    );
    bad.store.faults.lock().unwrap().health = Some("down".into());
    let a = send(&bad.router, request("GET", "/v2/health/ping", None)).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.json["status"], 503);
    assert_eq!(a.json["ok"], false);
    assert_eq!(
        a.json["services"]["quay"],
        json!({"details": "down", "ok": false})
    );
    assert_eq!(
        a.json["services"]["koji"],
        json!({"details": "connection refused", "ok": false})
    );

    let about = send(&h.router, request("GET", "/v2/about", None)).await;
    assert_eq!(about.json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about.json["operatorcourier"], manifest_bundle::VERSION);
    assert_eq!(about.json["courier_compat"], "2.1.11");
}

fn koji_harness(result: Result<Vec<u8>, BuildError>, gate: Option<FakeGate>) -> Harness {
    let koji = FakeKoji::default();
    koji.builds
        .lock()
        .unwrap()
        .insert("op-1.0-1".into(), result);
    harness_with(
        Default::default(),
        FakeStore::default(),
        Some(koji),
        gate,
        FakePublisher::default(),
    )
}

#[tokio::test]
async fn koji_push_success_carries_the_nvr() {
    let h = koji_harness(
        Ok(flat_zip()),
        Some(FakeGate(Ok(GateDecision {
            satisfied: true,
            raw: json!({"policies_satisfied": true}),
        }))),
    );
    let a = send(
        &h.router,
        request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(
        a.json,
        json!({"extracted_files": ["csv.yaml", "packages.yaml"], "organization": "o", "repo": "marketplace", "version": "1.0.0", "nvr": "op-1.0-1"})
    );
    let b = send(
        &h.router,
        request("POST", "/v1/o/marketplace/koji/op-1.0-1/3.0.0", Some(AUTH)),
    )
    .await;
    assert_eq!(
        (b.json["version"].as_str(), b.json["repo"].as_str()),
        (Some("3.0.0"), Some("marketplace"))
    );
}

#[tokio::test]
async fn koji_errors() {
    type Case = (Result<Vec<u8>, BuildError>, u16, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            Err(BuildError::NotFound {
                nvr: "op-1.0-1".into(),
            }),
            404,
            "KojiNVRBuildNotFound",
            "NVR not found: op-1.0-1",
        ),
        (
            Err(BuildError::NotComplete {
                nvr: "op-1.0-1".into(),
                state: "FAILED".into(),
            }),
            400,
            "KojiBuildNotComplete",
            "Build op-1.0-1 is not complete (state FAILED)",
        ),
        (
            Err(BuildError::NotOperatorImage {
                nvr: "op-1.0-1".into(),
            }),
            400,
            "KojiNotAnOperatorImage",
            "Not an operator image: op-1.0-1",
        ),
        (
            Err(BuildError::ArchiveMissing {
                file: "operator_manifests.zip".into(),
                nvr: "op-1.0-1".into(),
            }),
            500,
            "KojiManifestsArchiveNotFound",
            "Expected archive 'operator_manifests.zip' with manifests not found in build: op-1.0-1",
        ),
        (
            Err(BuildError::Other(
                "Checksum mismatch for operator_manifests.zip".into(),
            )),
            500,
            "KojiError",
            "Checksum mismatch for operator_manifests.zip",
        ),
        (
            Ok(b"not a zip".to_vec()),
            400,
            "OMPSUploadedFileError",
            "File is not a zip file",
        ),
    ];
    for (result, status, id, message) in cases {
        let h = koji_harness(result, None);
        let a = send(
            &h.router,
            request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH)),
        )
        .await;
        assert_error(&a, status, id);
        assert_eq!(a.json["message"], message);
    }
    let unconfigured = harness();
    let a = send(
        &unconfigured.router,
        request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH)),
    )
    .await;
    assert_error(&a, 500, "KojiError");
    assert_eq!(a.json["message"], "Koji is not configured");
}

#[tokio::test]
async fn greenwave_gate() {
    let decision =
        json!({"policies_satisfied": false, "summary": "1 of 1 required test results missing"});
    let h = koji_harness(
        Ok(flat_zip()),
        Some(FakeGate(Ok(GateDecision {
            satisfied: false,
            raw: decision.clone(),
        }))),
    );
    let a = send(
        &h.router,
        request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH)),
    )
    .await;
    assert_error(&a, 400, "GreenwaveUnsatisfiedError");
    assert_eq!(
        a.json["message"],
        "Policies for nvr op-1.0-1 were not satisfied"
    );
    assert_eq!(a.json["greenwave_response"], decision);
    assert!(h.store.versions("o", "marketplace").is_empty());

    let down = koji_harness(
        Ok(flat_zip()),
        Some(FakeGate(Err(GateError {
            message: "Request failed: connection refused".into(),
            body: json!({}),
        }))),
    );
    let b = send(
        &down.router,
        request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH)),
    )
    .await;
    assert_error(&b, 500, "GreenwaveError");
    assert_eq!(b.json["greenwave_response"], json!({}));

    // Uploads are never gated.
    let gated = koji_harness(
        Ok(flat_zip()),
        Some(FakeGate(Ok(GateDecision {
            satisfied: false,
            raw: json!({}),
        }))),
    );
    let c = send(
        &gated.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_eq!(c.status, 200);
}

#[tokio::test]
async fn openapi_matches_the_router_and_the_committed_copy() {
    let h = harness();
    for op in omps_server::openapi::OPERATIONS {
        let path = op
            .path
            .replace("{org}", "o")
            .replace("{repo}", "r")
            .replace("{version}", "1.0.0")
            .replace("{nvr}", "n-1-1");
        let a = send(
            &h.router,
            request(&op.method.to_uppercase(), &path, Some(AUTH)),
        )
        .await;
        assert!(
            a.status != 404 || a.json["error"] != "NotFound",
            "{} {} is not routed",
            op.method,
            op.path
        );
        assert_ne!(a.status, 405, "{} {} is not routed", op.method, op.path);
    }
    let served = send(&h.router, request("GET", "/openapi.json", None)).await;
    assert_eq!(served.json, omps_server::openapi::document());
    let committed_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&committed_path)
            .expect("docs/openapi.json: run `cargo xtask openapi`"),
    )
    .unwrap();
    assert_eq!(
        committed,
        omps_server::openapi::document(),
        "docs/openapi.json is stale: run `cargo xtask openapi`"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_pushes_by_outcome() {
    let h = harness();
    send(
        &h.router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    send(&h.router, upload("/v2/o/zipfile", None, vec![])).await;
    let text = String::from_utf8(
        send(&h.router, request("GET", "/metrics", None))
            .await
            .bytes,
    )
    .unwrap();
    assert!(
        text.contains(
            "omps_http_requests_total{method=\"POST\",route=\"/v2/{org}/zipfile\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "omps_http_requests_total{method=\"POST\",route=\"/v2/{org}/zipfile\",status=\"403\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("omps_pushes_total{organization=\"(unconfigured)\",outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "omps_upstream_duration_seconds_count{service=\"store\",operation=\"push\"} 1"
        ),
        "{text}"
    );
    assert!(!text.contains(AUTH));
}

#[test]
fn api_md_error_table_is_generated_from_error_id() {
    let api = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"),
    )
    .unwrap();
    let (start, end) = omps_server::openapi::ERROR_TABLE_MARKERS;
    let table = api
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table.trim_start_matches('\n'))
        .expect("docs/api.md has the error-id markers");
    assert_eq!(
        table,
        omps_server::openapi::error_table(),
        "run `cargo xtask openapi`"
    );
    for id in omps_server::ErrorId::ALL {
        assert!(table.contains(&format!("`{}`", id.as_str())));
    }
    // The catalog errors of push answers are not HTTP errors; their table is written by hand.
    for id in omps_server::service::catalog::CatalogErrorId::ALL {
        assert!(
            api.contains(&format!("| `{}` |", id.as_str())),
            "{} is not documented in docs/api.md",
            id.as_str()
        );
    }
}
