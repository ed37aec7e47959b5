//! Push from Koji, gated by Greenwave, through the real `omps-server` binary started with a
//! configuration file, against the Python peers of `test-support`: the Koji hub answering
//! through the `koji` package's marshaller with its file root (`koji_hub`), and the released
//! Greenwave with WaiverDB and a ResultsDB stand-in (`greenwave_stack`).
//!
//! Every answer is checked against the error table of `spec/omps-api.md` §4.2 (status, `error`,
//! `message`, extra fields).
//!
//! Ignored by default: they need `OMPS_KOJI_PYTHON` and `OMPS_GREENWAVE_PYTHON`, set by
//! `cargo xtask ci`, and panic without them.
#![allow(clippy::too_many_lines)] // test tables read better long

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::AUTH;
use serde_json::{Value, json};
use test_support::greenwave_stack::{self, GreenwaveStack, Seed};
use test_support::koji_hub::{HubOptions, KojiHub};
use test_support::python_peer::{operator_fixtures, refused_url};
use test_support::server::{Log, OmpsServer as Harness};

const TYPEINFO: &str = "foo-operator-bundle-container-1.0-3";
const LEGACY_DOT: &str = "etcd-operator-metadata-container-0.9.4-7";
const LEGACY_NOARCH: &str = "noarch-operator-metadata-container-1.2-1";
const VOLUME: &str = "vol+operator-container-2.0~rc1-1^git.5";
const BIG_ID: &str = "big-id-operator-container-3.1-2";
const UNGATED: &str = "ungated-operator-container-1.0-1";

/// The shared harness's `omps-server` with a configuration file written for it.
struct OmpsServer {
    base: String,
    _server: Harness,
    _dir: tempfile::TempDir,
}

impl OmpsServer {
    fn start(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("omps.toml");
        std::fs::write(&file, config).unwrap();
        let server = Harness::builder(env!("CARGO_BIN_EXE_omps-server"))
            .config(&file)
            .log(Log::Null)
            .start();
        Self {
            base: server.base().to_owned(),
            _server: server,
            _dir: dir,
        }
    }
}

fn config(
    hub: &str,
    topurl: &str,
    greenwave: Option<(&str, &str)>,
    request_timeout: u64,
) -> String {
    let mut c = format!(
        "kojihub_url = {hub:?}\nkojiroot_url = {topurl:?}\nrequest_timeout = {request_timeout}\n\
         connect_timeout = 5\ntransfer_timeout = 60\n"
    );
    if let Some((url, context)) = greenwave {
        let _ = write!(
            c,
            "\n[greenwave]\nurl = {url:?}\ncontext = {context:?}\nproduct_version = {:?}\n",
            greenwave_stack::PRODUCT_VERSION
        );
    }
    c
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// A path segment as a client writes it (`^` is not allowed raw in a URI).
fn segment(s: &str) -> String {
    s.replace('^', "%5E")
}

async fn post(server: &OmpsServer, path: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", server.base))
        .header("authorization", AUTH)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(server: &OmpsServer, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The files of an operator fixture as `extracted_files` lists them.
fn fixture_files(name: &str) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let root = operator_fixtures().join(name);
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn error(id: &str, status: u16, message: &str) -> Value {
    json!({"error": id, "message": message, "status": status})
}

#[tokio::test]
#[ignore = "needs the Koji and Greenwave peers (OMPS_KOJI_PYTHON, OMPS_GREENWAVE_PYTHON)"]
async fn koji_builds_are_pushed_or_refused_as_the_error_table_says() {
    let hub = KojiHub::start();
    let mut seed = Seed::default();
    for nvr in [TYPEINFO, LEGACY_DOT, LEGACY_NOARCH, VOLUME, BIG_ID] {
        seed = seed.result(nvr, "PASSED");
    }
    let gw = GreenwaveStack::start(&seed);
    let server = OmpsServer::start(&config(
        &hub.hub_url,
        &hub.topurl,
        Some((&gw.greenwave_url, greenwave_stack::CONTEXT)),
        30,
    ));

    let (status, health) = get(&server, "/v2/health/ping").await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        health["services"]["koji"],
        json!({"details": "It works!", "ok": true})
    );
    assert_eq!(
        health["services"]["greenwave"],
        json!({"details": "It works!", "ok": true})
    );

    // Pushed: the typeinfo archive, both legacy layouts (the one in the logs directory itself
    // was refused before), another volume with encoded NVR parts, an i8 build id; v1 and v2.
    let files = fixture_files("etcd");
    let pushes = [
        ("/v2/typeinfo/koji/", TYPEINFO, "", "1.0.0"),
        // The next automatic version bumps the major number (spec omps-api.md §7.2).
        ("/v2/typeinfo/koji/", TYPEINFO, "", "2.0.0"),
        ("/v1/legacy/etcd/koji/", LEGACY_DOT, "/3.1.4", "3.1.4"),
        ("/v2/legacy/koji/", LEGACY_NOARCH, "", "4.0.0"),
        ("/v2/volume/koji/", VOLUME, "/2.0.0", "2.0.0"),
        ("/v2/bigid/koji/", BIG_ID, "", "1.0.0"),
    ];
    for (route, nvr, version_part, version) in pushes {
        let path = format!("{route}{}{version_part}", segment(nvr));
        let (status, body) = post(&server, &path).await;
        let org = route.split('/').nth(2).unwrap();
        assert_eq!(
            (status, body),
            (
                200,
                json!({
                    "extracted_files": files,
                    "nvr": nvr,
                    "organization": org,
                    "repo": "etcd",
                    "version": version,
                })
            ),
            "{path}"
        );
    }
    let (status, releases) = get(&server, "/v2/legacy/etcd").await;
    assert_eq!(
        (status, releases["releases"].clone()),
        (200, json!(["3.1.4", "4.0.0"]))
    );

    // Refused, each as the table says.
    let refusals = [
        (
            "failed-operator-container-1.0-1",
            error(
                "KojiBuildNotComplete",
                400,
                "Build failed-operator-container-1.0-1 is not complete (state FAILED)",
            ),
        ),
        (
            "building-operator-container-1.0-1",
            error(
                "KojiBuildNotComplete",
                400,
                "Build building-operator-container-1.0-1 is not complete (state BUILDING)",
            ),
        ),
        (
            "plain-container-1.0-1",
            error(
                "KojiNotAnOperatorImage",
                400,
                "Not an operator image: plain-container-1.0-1",
            ),
        ),
        (
            "base-image-container-8.10-1",
            error(
                "KojiNotAnOperatorImage",
                400,
                "Not an operator image: base-image-container-8.10-1",
            ),
        ),
        (
            "no-such-build-1.0-1",
            error(
                "KojiNVRBuildNotFound",
                404,
                "NVR not found: no-such-build-1.0-1",
            ),
        ),
        (
            "nodashes",
            error("KojiNVRBuildNotFound", 404, "NVR not found: nodashes"),
        ),
        (
            "missing-log-operator-container-1.0-1",
            error(
                "KojiManifestsArchiveNotFound",
                500,
                "Expected archive 'operator_manifests.zip' with manifests not found in build: \
                 missing-log-operator-container-1.0-1",
            ),
        ),
        (
            "badsum-operator-container-1.0-1",
            error(
                "KojiError",
                500,
                "Checksum mismatch for operator_manifests.zip",
            ),
        ),
        (
            "missing-file-operator-container-1.0-1",
            error(
                "KojiError",
                500,
                &format!(
                    "download of {}/packages/missing-file-operator-container/1.0/1/files/\
                     operator-manifests/operator_manifests.zip failed with HTTP 404",
                    hub.topurl
                ),
            ),
        ),
    ];
    for (nvr, want) in refusals {
        let (status, body) = post(&server, &format!("/v2/refused/koji/{nvr}")).await;
        assert_eq!(
            (status, &body),
            (
                u16::try_from(want["status"].as_u64().unwrap()).unwrap(),
                &want
            ),
            "{nvr}"
        );
    }

    // The gate: no result for this build, so Greenwave says no; its answer is echoed whole.
    let (status, body) = post(&server, &format!("/v2/gated/koji/{UNGATED}")).await;
    let direct = http()
        .post(format!("{}/api/v1.0/decision", gw.greenwave_url))
        .json(&json!({
            "decision_context": greenwave_stack::CONTEXT,
            "product_version": greenwave_stack::PRODUCT_VERSION,
            "subject_type": "koji_build",
            "subject_identifier": UNGATED,
        }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(direct["policies_satisfied"], false, "{direct}");
    assert_eq!(
        (status, body),
        (
            400,
            json!({
                "error": "GreenwaveUnsatisfiedError",
                "greenwave_response": direct,
                "message": format!("Policies for nvr {UNGATED} were not satisfied"),
                "status": 400,
            })
        )
    );
    let (status, _) = get(&server, "/v2/gated/etcd").await;
    assert_eq!(status, 404, "nothing was pushed for the ungated build");
}

#[tokio::test]
#[ignore = "needs the Koji peer (OMPS_KOJI_PYTHON)"]
async fn koji_faults_slow_and_absent_hubs_are_koji_errors_naming_the_cause() {
    // Hub maintenance: fault 1014, retried (the default schedule), then reported.
    let offline = KojiHub::start_with(&HubOptions {
        offline: true,
        ..HubOptions::default()
    });
    let server = OmpsServer::start(&config(&offline.hub_url, &offline.topurl, None, 30));
    let (status, body) = post(&server, &format!("/v2/org/koji/{TYPEINFO}")).await;
    assert_eq!(
        (status, body),
        (
            500,
            error(
                "KojiError",
                500,
                "Koji fault 1014 (ServerOffline) in getBuild: Server disabled for maintenance"
            )
        )
    );
    let (status, health) = get(&server, "/v2/health/ping").await;
    assert_eq!(status, 503);
    assert_eq!(health["services"]["koji"]["ok"], false);
    assert_eq!(health["services"]["greenwave"], Value::Null);
    drop(server);

    // A hub slower than request_timeout (1 s): every attempt times out.
    let slow = KojiHub::start_with(&HubOptions {
        delay_secs: 30.0,
        ..HubOptions::default()
    });
    let server = OmpsServer::start(&config(&slow.hub_url, &slow.topurl, None, 1));
    let started = Instant::now();
    let (status, body) = post(&server, &format!("/v2/org/koji/{TYPEINFO}")).await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the timeouts"
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("KojiError")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Koji request getBuild: timed out ({})",
            slow.hub_url
        )),
        "{message}"
    );
    drop(server);

    // Nothing listening.
    let down = format!("{}/kojihub", refused_url());
    let server = OmpsServer::start(&config(&down, "http://127.0.0.1:9/kojifiles", None, 30));
    let (status, body) = post(&server, &format!("/v1/org/etcd/koji/{TYPEINFO}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("KojiError")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Koji request getBuild: cannot connect ({down})")),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
}

#[tokio::test]
#[ignore = "needs the Koji and Greenwave peers (OMPS_KOJI_PYTHON, OMPS_GREENWAVE_PYTHON)"]
async fn greenwave_down_or_refusing_is_a_greenwave_error() {
    let hub = KojiHub::start();
    // Greenwave not listening: the transport error, with an empty greenwave_response.
    let down = refused_url();
    let server = OmpsServer::start(&config(
        &hub.hub_url,
        &hub.topurl,
        Some((&down, greenwave_stack::CONTEXT)),
        30,
    ));
    let (status, body) = post(&server, &format!("/v2/org/koji/{TYPEINFO}")).await;
    assert_eq!(
        (status, body["error"].as_str(), &body["greenwave_response"]),
        (500, Some("GreenwaveError"), &json!({})),
        "{body}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Request failed: Greenwave: cannot connect ({down}/api/v1.0/decision)"
        )),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    let (status, health) = get(&server, "/v2/health/ping").await;
    assert_eq!(
        (status, &health["services"]["greenwave"]["ok"]),
        (503, &json!(false))
    );
    drop(server);

    // Greenwave up, but no policy for the configured context: its 404 body is kept.
    let gw = GreenwaveStack::start(&Seed::default().result(TYPEINFO, "PASSED"));
    let server = OmpsServer::start(&config(
        &hub.hub_url,
        &hub.topurl,
        Some((&gw.greenwave_url, "no_such_context")),
        30,
    ));
    let (status, body) = post(&server, &format!("/v2/org/koji/{TYPEINFO}")).await;
    assert_eq!(
        (status, body),
        (
            500,
            json!({
                "error": "GreenwaveError",
                "greenwave_response": {
                    "message": "Cannot find any applicable policies for koji_build subjects \
                                at gating point no_such_context in cvp"
                },
                "message": "Greenwave unexpected response code: 404",
                "status": 500,
            })
        )
    );
}
