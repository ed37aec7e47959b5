//! Secrets never leak: the real `omps-server` binary runs every error path it can reach (App
//! Registry store answering 401/403/500/garbage/too slowly, Koji faults, garbage and timeouts,
//! Greenwave failures, publish failures with a canary `oauth_token`, hostile requests) with a
//! canary `Authorization` value, at debug log level in text and in JSON. The canaries must not
//! appear in any response (body or header), in `/metrics` or in the logs, and each credential
//! may only travel to where it belongs (§3: the caller's token to the App Registry only, the
//! OAuth token to the visibility endpoint only).

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{BOUNDARY, flat_zip, multipart};
use koji_client::Value as Xv;
use koji_client::xmlrpc::{self, Response};
use serde_json::{Value, json};
use test_support::server::OmpsServer;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The common part of both canaries; it must never show up anywhere the client or an operator
/// can read it.
const CANARY: &str = "OMPS-CANARY-7f3a9c1e5b2d";
const AUTH: &str = "Bearer OMPS-CANARY-7f3a9c1e5b2d-caller-token";
const OAUTH: &str = "OMPS-CANARY-7f3a9c1e5b2d-oauth-token";
const NVR_OK: &str = "gwok-1.0-1";

// ------------------------------------------------------------------------------------------------
// Upstream fakes.

fn slow() -> ResponseTemplate {
    // request_timeout and transfer_timeout are 1 s in this test.
    ResponseTemplate::new(200)
        .set_delay(Duration::from_secs(3))
        .set_body_json(json!({}))
}

/// A Quay whose behaviour is chosen by the organization in the path.
struct FakeQuay;

impl Respond for FakeQuay {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let path = r.url.path().to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let namespace = r
            .url
            .query_pairs()
            .find(|(k, _)| k == "namespace")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let org = match segments.as_slice() {
            ["cnr", "api", "v1", "packages"] => namespace.as_str(),
            ["cnr", "api", "v1", "packages", org, ..] | ["api", "v1", "repository", org, ..] => {
                *org
            }
            ["cnr", "version"] => {
                return ResponseTemplate::new(200).set_body_json(json!({"cnr-api": "0.0.1"}));
            }
            _ => return ResponseTemplate::new(418).set_body_string(format!("no fake for {path}")),
        };
        let visibility = path.ends_with("/changevisibility");
        let method = r.method.as_str();
        match org {
            "q401" => ResponseTemplate::new(401).set_body_json(
                json!({"error": {"code": "unauthorized-access", "message": "Unauthorized access"}}),
            ),
            "q403" => ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"code": "forbidden", "message": "Forbidden"}})),
            "q500" => ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"code": "internal", "message": "boom"}})),
            "qtext" => ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"),
            "qgarbage" => ResponseTemplate::new(200).set_body_string("\u{0}\u{1}not json at all"),
            "qslow" => slow(),
            "pubfail" if visibility => ResponseTemplate::new(401).set_body_json(
                json!({"error_message": "Invalid token", "detail": "Invalid token"}),
            ),
            "pubslow" if visibility => slow(),
            "pubgarbage" if visibility => ResponseTemplate::new(500).set_body_string("garbage"),
            _ if visibility => ResponseTemplate::new(200).set_body_json(json!({"success": true})),
            _ => match method {
                "GET" if segments.len() == 4 => ResponseTemplate::new(200).set_body_json(json!([])),
                "GET" => ResponseTemplate::new(404).set_body_json(
                    json!({"error": {"code": "package-not-found", "message": "package not found"}}),
                ),
                "POST" => ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})),
                "DELETE" => ResponseTemplate::new(404).set_body_json(
                    json!({"error": {"code": "package-not-found", "message": "no such release"}}),
                ),
                _ => ResponseTemplate::new(418)
                    .set_body_string(format!("no fake for {method} {path}")),
            },
        }
    }
}

fn xml(response: &Response) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(xmlrpc::encode_response(response), "text/xml")
}

fn build(nvr: &str) -> Xv {
    Xv::structure([
        ("id", Xv::Int(build_id(nvr))),
        ("build_id", Xv::Int(build_id(nvr))),
        ("name", Xv::from("op")),
        ("version", Xv::from("1.0")),
        ("release", Xv::from("1")),
        ("nvr", Xv::from(nvr)),
        ("state", Xv::Int(1)),
        ("volume_name", Xv::from("DEFAULT")),
        (
            "extra",
            Xv::structure([(
                "operator_manifests_archive",
                Xv::from("operator_manifests.zip"),
            )]),
        ),
    ])
}

/// Builds whose archive download fails get id 404.
fn build_id(nvr: &str) -> i64 {
    if nvr.starts_with("dl404") { 404 } else { 4242 }
}

/// A Koji hub and file root whose behaviour is chosen by the NVR.
struct FakeKoji;

impl Respond for FakeKoji {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let path = r.url.path();
        if let Some(file) = path.strip_prefix("/kojiroot/") {
            return if file.contains("dl404") {
                ResponseTemplate::new(404).set_body_string("Not Found")
            } else {
                ResponseTemplate::new(200).set_body_bytes(flat_zip())
            };
        }
        let Ok(call) = xmlrpc::decode_call(&r.body, &koji_client::Limits::default()) else {
            return ResponseTemplate::new(418).set_body_string("not an XML-RPC call");
        };
        let nvr = call
            .params
            .first()
            .and_then(Xv::as_str)
            .unwrap_or_default()
            .to_owned();
        match call.method.as_str() {
            "getAPIVersion" => xml(&Response::Value(Xv::Int(1))),
            "getBuild" => match nvr.split('-').next().unwrap_or_default() {
                "kfault" => xml(&Response::Fault(xmlrpc::Fault {
                    code: 1000,
                    string: "GenericError: boom".into(),
                })),
                "kgarbage" => ResponseTemplate::new(200).set_body_string("<<<not xml"),
                "k500" => ResponseTemplate::new(500).set_body_string("Internal Server Error"),
                "kslow" => slow(),
                "kmissing" => xml(&Response::Value(Xv::Nil)),
                _ => xml(&Response::Value(build(&nvr))),
            },
            "getBuildLogs" => {
                let dir = if call.params.first().and_then(Xv::as_i64) == Some(404) {
                    "dl404"
                } else {
                    "noarch"
                };
                xml(&Response::Value(Xv::Array(vec![Xv::structure([
                    ("name", Xv::from("operator_manifests.zip")),
                    ("dir", Xv::from(dir)),
                    (
                        "path",
                        Xv::from(format!(
                            "packages/op/1.0/1/data/logs/{dir}/operator_manifests.zip"
                        )),
                    ),
                ])])))
            }
            other => ResponseTemplate::new(418).set_body_string(format!("no fake for {other}")),
        }
    }
}

/// Greenwave: the decision depends on the subject.
struct FakeGreenwave;

impl Respond for FakeGreenwave {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        if r.url.path().ends_with("/about") {
            return ResponseTemplate::new(200).set_body_json(json!({"version": "1.0"}));
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let subject = body["subject_identifier"].as_str().unwrap_or_default();
        match subject.split('-').next().unwrap_or_default() {
            "gwok" => ResponseTemplate::new(200)
                .set_body_json(json!({"policies_satisfied": true, "summary": "ok"})),
            "gwno" => ResponseTemplate::new(200)
                .set_body_json(json!({"policies_satisfied": false, "summary": "1 of 2 failed"})),
            "gw500" => ResponseTemplate::new(500).set_body_string("boom"),
            "gwgarbage" => ResponseTemplate::new(200).set_body_string("not json"),
            "gwmissing" => ResponseTemplate::new(200).set_body_json(json!({"summary": "?"})),
            "gwslow" => slow(),
            _ => ResponseTemplate::new(418).set_body_string(format!("no fake for {subject}")),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The server.

/// One exchange, everything the client can see.
struct Seen {
    what: String,
    status: u16,
    error: String,
    text: String,
}

async fn exchange(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: Option<&str>,
    upload: Option<Vec<u8>>,
) -> Seen {
    let what = format!("{method} {url}");
    let started = std::time::Instant::now();
    let mut request = client.request(method, &url);
    if let Some(a) = auth {
        request = request.header("authorization", a);
    }
    if let Some(zip) = upload {
        request = request
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(multipart("m.zip", &zip));
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status().as_u16();
    let mut text = String::new();
    for (name, value) in response.headers() {
        let _ = writeln!(
            text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let body = response.bytes().await.unwrap();
    text.push_str(&String::from_utf8_lossy(&body));
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_default();
    eprintln!(
        "{what} -> {status} {error} in {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&body)
            .chars()
            .take(300)
            .collect::<String>()
    );
    Seen {
        what,
        status,
        error,
        text,
    }
}

const QUAY_ORGS: [&str; 10] = [
    "q401",
    "q403",
    "q500",
    "qtext",
    "qgarbage",
    "qslow",
    "ok",
    "pubfail",
    "pubslow",
    "pubgarbage",
];

const NVRS: [&str; 12] = [
    "kfault-1.0-1",
    "kgarbage-1.0-1",
    "k500-1.0-1",
    "kslow-1.0-1",
    "kmissing-1.0-1",
    "dl404-1.0-1",
    "gwno-1.0-1",
    "gw500-1.0-1",
    "gwgarbage-1.0-1",
    "gwmissing-1.0-1",
    "gwslow-1.0-1",
    NVR_OK,
];

/// Runs every reachable path once; returns what the client saw.
async fn run_all_paths(base: &str) -> Vec<Seen> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let delete = reqwest::Method::DELETE;
    let mut seen = Vec::new();
    for org in QUAY_ORGS {
        let mut calls = vec![
            (post.clone(), format!("/v2/{org}/zipfile/5.0.0"), true),
            (get.clone(), format!("/v2/{org}/marketplace"), false),
        ];
        // Timeouts cost seconds each; the slow fakes get the two calls above only.
        if !org.ends_with("slow") {
            calls.extend([
                (post.clone(), format!("/v2/{org}/zipfile"), true),
                (post.clone(), format!("/v1/{org}/marketplace/zipfile"), true),
                (delete.clone(), format!("/v2/{org}/marketplace"), false),
                (
                    delete.clone(),
                    format!("/v1/{org}/marketplace/1.0.0"),
                    false,
                ),
                (get.clone(), format!("/v2/{org}/marketplace/1.0.0"), false),
                (get.clone(), format!("/v2/{org}"), false),
            ]);
        }
        for (method, path, upload) in calls {
            let zip = upload.then(flat_zip);
            seen.push(exchange(&client, method, format!("{base}{path}"), Some(AUTH), zip).await);
        }
    }
    for nvr in NVRS {
        seen.push(
            exchange(
                &client,
                post.clone(),
                format!("{base}/v2/ok/koji/{nvr}"),
                Some(AUTH),
                None,
            )
            .await,
        );
    }
    // Greenwave passes, then each store failure on the Koji path.
    for org in ["q401", "q500", "pubfail"] {
        seen.push(
            exchange(
                &client,
                post.clone(),
                format!("{base}/v1/{org}/marketplace/koji/{NVR_OK}/7.0.0"),
                Some(AUTH),
                None,
            )
            .await,
        );
    }
    // Hostile requests carrying the token.
    for (method, path, upload) in [
        (post.clone(), "/v2/ok/zipfile/01.0.0", None),
        (post.clone(), "/v2/ok/zipfile", Some(b"not a zip".to_vec())),
        (post.clone(), "/v2/ok/zipfile", None),
        (delete.clone(), "/v2/ok/marketplace/not-semver", None),
        (delete.clone(), "/v1/health/ping", None),
        (get.clone(), "/v3/nothing", None),
        (post.clone(), "/v2/%2e%2e/zipfile", None),
    ] {
        seen.push(exchange(&client, method, format!("{base}{path}"), Some(AUTH), upload).await);
    }
    // The token in other spellings (a request id is echoed as sent, so it is not a secret).
    for auth in [
        "basic T01QUy1DQU5BUlktN2YzYTljMWU1YjJkOnBhc3N3b3Jk OMPS-CANARY-7f3a9c1e5b2d",
        "OMPS-CANARY-7f3a9c1e5b2d",
    ] {
        seen.push(
            exchange(
                &client,
                post.clone(),
                format!("{base}/v2/q401/zipfile"),
                Some(auth),
                Some(flat_zip()),
            )
            .await,
        );
    }
    for path in ["/v1/health/ping", "/v2/about", "/openapi.json", "/metrics"] {
        seen.push(
            exchange(
                &client,
                get.clone(),
                format!("{base}{path}"),
                Some(AUTH),
                None,
            )
            .await,
        );
    }
    seen
}

fn error_of<'a>(seen: &'a [Seen], what_ends: &str) -> (u16, &'a str) {
    let s = seen
        .iter()
        .find(|s| s.what.ends_with(what_ends))
        .unwrap_or_else(|| panic!("no exchange {what_ends}"));
    (s.status, s.error.as_str())
}

#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
async fn scenario(log_format: &str) {
    let quay = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(FakeQuay)
        .mount(&quay)
        .await;
    let koji = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(FakeKoji)
        .mount(&koji)
        .await;
    let greenwave = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(FakeGreenwave)
        .mount(&greenwave)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("omps.toml");
    let mut text = format!(
        "store = \"app-registry\"\nquay_url = \"{}\"\nkojihub_url = \"{}/kojihub\"\nkojiroot_url = \"{}/kojiroot\"\nrequest_timeout = 1\ntransfer_timeout = 1\nconnect_timeout = 1\nlog_level = \"DEBUG\"\n\n[greenwave]\nurl = \"{}\"\ncontext = \"osbs_push_cvp_default\"\nproduct_version = \"cvp\"\n",
        quay.uri(),
        koji.uri(),
        koji.uri(),
        greenwave.uri()
    );
    for org in ["ok", "pubfail", "pubslow", "pubgarbage", "q401", "q500"] {
        let _ = write!(
            text,
            "\n[organizations.{org}]\npublic = true\noauth_token = \"{OAUTH}\"\n"
        );
    }
    std::fs::write(&config, text).unwrap();

    let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
        .config(&config)
        .env("OMPS_LOG", "debug")
        .env("OMPS_LOG_FORMAT", log_format)
        .start();
    let seen = run_all_paths(server.base()).await;
    let (_, logs) = server.stop();

    // The paths were really reached (not all 404s): spot-check the documented outcomes.
    assert_eq!(
        error_of(&seen, "/v2/q401/zipfile"),
        (403, "QuayAuthorizationError")
    );
    assert_eq!(
        error_of(&seen, "/v2/q403/zipfile/5.0.0"),
        (403, "QuayAuthorizationError")
    );
    assert_eq!(
        error_of(&seen, "/v2/q500/zipfile/5.0.0"),
        (500, "QuayCourierError")
    );
    assert_eq!(
        error_of(&seen, "/v2/q500/zipfile"),
        (500, "QuayPackageError")
    );
    assert_eq!(
        error_of(&seen, "/v2/qslow/zipfile/5.0.0"),
        (500, "QuayCourierError")
    );
    assert_eq!(error_of(&seen, "/v2/ok/zipfile/5.0.0"), (200, ""));
    assert_eq!(error_of(&seen, "/v2/pubfail/zipfile/5.0.0"), (200, ""));
    assert_eq!(error_of(&seen, "/koji/kfault-1.0-1"), (500, "KojiError"));
    assert_eq!(error_of(&seen, "/koji/kslow-1.0-1"), (500, "KojiError"));
    assert_eq!(
        error_of(&seen, "/koji/kmissing-1.0-1"),
        (404, "KojiNVRBuildNotFound")
    );
    assert_eq!(error_of(&seen, "/koji/dl404-1.0-1"), (500, "KojiError"));
    assert_eq!(
        error_of(&seen, "/koji/gwno-1.0-1"),
        (400, "GreenwaveUnsatisfiedError")
    );
    assert_eq!(
        error_of(&seen, "/koji/gw500-1.0-1"),
        (500, "GreenwaveError")
    );
    assert_eq!(
        error_of(&seen, "/koji/gwslow-1.0-1"),
        (500, "GreenwaveError")
    );
    assert_eq!(error_of(&seen, "/koji/gwok-1.0-1"), (200, ""));
    assert_eq!(
        error_of(&seen, &format!("/v1/q401/marketplace/koji/{NVR_OK}/7.0.0")),
        (403, "QuayAuthorizationError")
    );
    let published = seen
        .iter()
        .find(|s| s.what.ends_with("/v2/pubfail/zipfile/5.0.0"))
        .unwrap();
    assert!(
        published.text.contains("\"published\":false"),
        "{}",
        published.text
    );

    // The canaries are nowhere the client or an operator can read.
    for s in &seen {
        assert!(
            !s.text.contains(CANARY),
            "{} ({}) echoes a credential:\n{}",
            s.what,
            s.status,
            s.text
        );
    }
    let metrics = seen.iter().find(|s| s.what.ends_with("/metrics")).unwrap();
    assert!(metrics.text.contains("omps_"), "{}", metrics.text);
    assert!(logs.lines().count() > 100, "debug logs expected:\n{logs}");
    if log_format == "json" {
        assert!(
            logs.lines().filter(|l| l.starts_with('{')).count() > 100,
            "JSON log lines expected"
        );
    }
    assert!(logs.contains("QuayAuthorizationError") && logs.contains("GreenwaveError"));
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(CANARY)).collect();
    assert!(
        leaks.is_empty(),
        "credential in the logs:\n{}",
        leaks.join("\n")
    );

    // Each credential went only where it belongs.
    for r in quay.received_requests().await.unwrap() {
        let auth = r
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        if r.url.path().ends_with("/changevisibility") {
            assert_eq!(auth, format!("Bearer {OAUTH}"), "{}", r.url);
        } else if r.url.path().starts_with("/cnr/api/") {
            assert!(
                auth.contains(CANARY),
                "{} without the caller's token",
                r.url
            );
            assert!(!auth.contains("oauth-token"), "{}", r.url);
        } else {
            assert!(!auth.contains(CANARY), "{} got a credential", r.url);
        }
    }
    for upstream in [&koji, &greenwave] {
        for r in upstream.received_requests().await.unwrap() {
            let everything = format!("{:?} {}", r.headers, String::from_utf8_lossy(&r.body));
            assert!(
                !everything.contains(CANARY),
                "{} received a credential",
                r.url
            );
        }
    }
}

#[tokio::test]
async fn no_credential_in_text_logs_responses_or_metrics() {
    scenario("text").await;
}

#[tokio::test]
async fn no_credential_in_json_logs_responses_or_metrics() {
    scenario("json").await;
}
