//! Fault injection through the production adapters: the App Registry slow, resetting or failing,
//! Koji faults, Greenwave down. Every request ends with its documented id, in bounded time.
#![allow(
    clippy::default_trait_access,
    clippy::too_many_lines,
    clippy::many_single_char_names
)] // test tables read better long

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The local store (checked by health) lives in a temporary directory, never in the source tree.
static DATA_DIR: std::sync::LazyLock<tempfile::TempDir> =
    std::sync::LazyLock::new(|| tempfile::tempdir().unwrap());

fn state_for(extra: &str) -> omps_server::AppState {
    let config = config_from(&format!(
        "request_timeout = 1\ntransfer_timeout = 1\nconnect_timeout = 1\ndata_dir = {:?}\n{extra}",
        DATA_DIR.path().display().to_string()
    ));
    omps_server::AppState::from_config(config).unwrap()
}

async fn catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(|r: &wiremock::Request| {
            ResponseTemplate::new(418).set_body_string(format!("UNMATCHED {} {}", r.method, r.url))
        })
        .with_priority(255)
        .mount(server)
        .await;
}

/// A TCP listener that accepts and immediately drops every connection.
async fn resetting_listener() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn app_registry_timeout_is_a_bounded_500() {
    let quay = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/cnr/api/v1/packages/o/marketplace$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&quay)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&quay)
        .await;
    catch_all(&quay).await;
    let router = omps_server::app(state_for(&format!(
        "store = \"app-registry\"\nquay_url = \"{}\"",
        quay.uri()
    )));
    let started = Instant::now();
    let a = send(
        &router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&a, 500, "QuayCourierError");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to push manifest: "),
        "{}",
        a.json
    );
    assert_eq!(a.json["quay_response"], json!({}));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "bounded by transfer_timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn app_registry_connection_reset() {
    let url = resetting_listener().await;
    let router = omps_server::app(state_for(&format!(
        "store = \"app-registry\"\nquay_url = \"{url}\""
    )));
    let a = send(
        &router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&a, 500, "QuayPackageError");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .starts_with("Cannot retrieve information about package o/marketplace: "),
        "{}",
        a.json
    );
    let h = send(&router, request("GET", "/v1/health/ping", None)).await;
    assert_eq!(
        (
            h.status.as_u16(),
            h.json["services"]["quay"]["ok"].as_bool()
        ),
        (503, Some(false))
    );
}

#[tokio::test]
async fn app_registry_5xx_and_garbage() {
    let quay = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/o/marketplace"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"code": "package-not-found", "message": "not found"}}),
            ),
        )
        .mount(&quay)
        .await;
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/packages/o/marketplace"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&quay)
        .await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&quay)
        .await;
    catch_all(&quay).await;
    let router = omps_server::app(state_for(&format!(
        "store = \"app-registry\"\nquay_url = \"{}\"",
        quay.uri()
    )));
    let a = send(
        &router,
        upload("/v2/o/zipfile", Some(AUTH), multipart("m.zip", &flat_zip())),
    )
    .await;
    assert_error(&a, 500, "QuayCourierError");
    assert_eq!(
        a.json["quay_response"],
        json!({}),
        "an HTML body is not JSON"
    );
    let h = send(&router, request("GET", "/v2/health/ping", None)).await;
    assert_eq!(
        h.status.as_u16(),
        503,
        "a /cnr/version without cnr-api is unhealthy: {}",
        h.json
    );
}

fn xmlrpc_fault(code: i64, text: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>{code}</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>{text}</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n"
    )
}

#[tokio::test]
async fn koji_faults_and_outages() {
    let koji = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(xmlrpc_fault(1000, "koji.GenericError: boom"), "text/xml"),
        )
        .mount(&koji)
        .await;
    catch_all(&koji).await;
    let router = omps_server::app(state_for(&format!(
        "kojihub_url = \"{}/kojihub\"\nkojiroot_url = \"{}/kojifiles\"",
        koji.uri(),
        koji.uri()
    )));
    let a = send(&router, request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH))).await;
    assert_error(&a, 500, "KojiError");
    let h = send(&router, request("GET", "/v1/health/ping", None)).await;
    assert_eq!(h.status.as_u16(), 503);
    assert_eq!(h.json["services"]["koji"]["ok"], false);
    // The caller's token never goes to Koji.
    for r in koji.received_requests().await.unwrap() {
        assert!(
            r.headers.get("authorization").is_none(),
            "Authorization sent to Koji"
        );
    }

    let reset = resetting_listener().await;
    let router = omps_server::app(state_for(&format!(
        "kojihub_url = \"{reset}/kojihub\"\nkojiroot_url = \"{reset}/kojifiles\""
    )));
    let started = Instant::now();
    let b = send(&router, request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH))).await;
    assert_error(&b, 500, "KojiError");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn greenwave_down_is_a_500_after_the_download() {
    let koji = MockServer::start().await;
    let build = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n<member><name>id</name><value><int>7</int></value></member>\n<member><name>name</name><value><string>op</string></value></member>\n<member><name>version</name><value><string>1.0</string></value></member>\n<member><name>release</name><value><string>1</string></value></member>\n<member><name>nvr</name><value><string>op-1.0-1</string></value></member>\n<member><name>state</name><value><int>1</int></value></member>\n<member><name>volume_name</name><value><string>DEFAULT</string></value></member>\n<member><name>extra</name><value><struct><member><name>typeinfo</name><value><struct><member><name>operator-manifests</name><value><struct><member><name>archive</name><value><string>operator_manifests.zip</string></value></member></struct></value></member></struct></value></member></struct></value></member>\n</struct></value>\n</param>\n</params>\n</methodResponse>\n";
    let empty_list = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_string_contains("getBuild"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(build, "text/xml"))
        .mount(&koji)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_string_contains("listArchives"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(empty_list, "text/xml"))
        .mount(&koji)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/kojifiles/packages/op/1.0/1/files/operator-manifests/operator_manifests.zip",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(flat_zip()))
        .mount(&koji)
        .await;
    catch_all(&koji).await;
    let gw = resetting_listener().await;
    let config = format!(
        "kojihub_url = \"{k}/kojihub\"\nkojiroot_url = \"{k}/kojifiles\"\n[greenwave]\nurl = \"{gw}\"\ncontext = \"osbs_push\"\nproduct_version = \"cvp\"\n",
        k = koji.uri()
    );
    let router = omps_server::app(state_for(&config));
    let a = send(&router, request("POST", "/v2/o/koji/op-1.0-1", Some(AUTH))).await;
    assert_error(&a, 500, "GreenwaveError");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .starts_with("Request failed: "),
        "{}",
        a.json
    );
    assert_eq!(a.json["greenwave_response"], json!({}));
    let downloads = koji
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(downloads, 1, "the archive is downloaded before the gate");
}
