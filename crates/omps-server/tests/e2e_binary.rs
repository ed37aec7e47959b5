//! The real `omps-server` binary on 127.0.0.1:0: with the local store, and with the App Registry
//! store against a wiremock App Registry that behaves like Quay (409 on duplicates).
#![allow(
    clippy::default_trait_access,
    clippy::too_many_lines,
    clippy::many_single_char_names
)] // test tables read better long

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{AUTH, BOUNDARY, fixture_zip, flat_zip, multipart};
use serde_json::{Value, json};
use test_support::server::OmpsServer;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn push(base: &str, path: &str, zip: &[u8]) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header("authorization", AUTH)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart("m.zip", zip))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn call(method: reqwest::Method, url: String) -> (u16, Value) {
    let r = client()
        .request(method, url)
        .header("authorization", AUTH)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn local_store_end_to_end() {
    let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server")).start();
    let (data, tmp) = (server.data_dir().to_owned(), server.tmp_dir());
    let base = server.base().to_owned();

    let (status, body) = push(&base, "/v2/myorg/zipfile", &fixture_zip("etcd")).await;
    assert_eq!(
        (status, body["version"].as_str()),
        (200, Some("1.0.0")),
        "{body}"
    );
    let (status, body) = push(&base, "/v1/myorg/etcd/zipfile/7.0.0", &fixture_zip("etcd")).await;
    assert_eq!(
        (status, body["version"].as_str()),
        (200, Some("7.0.0")),
        "{body}"
    );
    // Failures on every path: not a zip, invalid package, a bomb.
    let (status, body) = push(&base, "/v2/myorg/zipfile", b"not a zip").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("OMPSUploadedFileError"))
    );
    let (status, _) = push(
        &base,
        "/v2/myorg/zipfile",
        &fixture_zip("flagsmith-owned-crd-mismatch"),
    )
    .await;
    assert_eq!(status, 400);
    let bomb = common::zip_of(&[("zeros.yaml", &vec![0u8; 30 * 1024 * 1024])]);
    assert!(
        bomb.len() < 2 * 1024 * 1024,
        "the bomb fits in the body limit"
    );
    let (status, body) = push(&base, "/v2/myorg/zipfile", &bomb).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("OMPSUploadedFileError")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Uncompressed archive is larger than limit")
    );
    let (status, body) = push(&base, "/v2/myorg/zipfile", &vec![7u8; 3 * 1024 * 1024]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("RequestEntityTooLarge")),
        "{body}"
    );

    let (status, body) = call(reqwest::Method::GET, format!("{base}/v2/myorg/etcd")).await;
    assert_eq!(
        (status, body["releases"].clone()),
        (200, json!(["1.0.0", "7.0.0"]))
    );
    let blob = client()
        .get(format!("{base}/v2/myorg/etcd/7.0.0"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&blob[..2], &[0x1f, 0x8b]);
    let (status, body) = call(reqwest::Method::GET, format!("{base}/v1/health/ping")).await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));

    // Nothing left in the temporary directory; releases are where the data dir says.
    assert_eq!(leftovers(&tmp), Vec::<String>::new());
    assert_eq!(
        test_support::server::files_under(&data.join("packages/myorg/etcd")),
        [
            "1.0.0/release.json",
            "1.0.0/release.tar.gz",
            "7.0.0/release.json",
            "7.0.0/release.tar.gz"
        ]
    );

    let (status, body) = call(reqwest::Method::DELETE, format!("{base}/v2/myorg/etcd")).await;
    assert_eq!(
        (status, body["deleted"].clone()),
        (200, json!(["1.0.0", "7.0.0"]))
    );

    let (exit, logs) = server.stop();
    assert!(exit.success(), "{exit:?}\n{logs}");
    assert!(logs.contains("request_id"), "request ids in log lines");
    assert!(
        !logs.contains("dXNlcjpwYXNz"),
        "the Authorization value is never logged"
    );
}

/// An App Registry that keeps releases in memory and answers like Quay.
#[derive(Clone, Default)]
struct FakeQuay {
    releases: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
}

impl Respond for FakeQuay {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let segments: Vec<&str> = path
            .trim_start_matches("/cnr/api/v1/packages/")
            .split('/')
            .collect();
        let mut releases = self.releases.lock().unwrap();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", [ns, pkg]) => match releases.get(&format!("{ns}/{pkg}")) {
                Some(list) => ResponseTemplate::new(200).set_body_json(
                    list.iter()
                        .map(|r| json!({"package": format!("{ns}/{pkg}"), "release": r, "mediaType": "application/vnd.cnr.package-manifest.helm.v0.json", "content": {"digest": "abc", "mediaType": "application/vnd.cnr.package.helm.v0.tar+gzip", "size": 1}}))
                        .collect::<Vec<_>>(),
                ),
                None => ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "package-not-found", "message": "package not found"}})),
            },
            ("POST", [ns, pkg]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                let release = body["release"].as_str().unwrap_or_default().to_owned();
                let list = releases.entry(format!("{ns}/{pkg}")).or_default();
                if list.contains(&release) {
                    return ResponseTemplate::new(409).set_body_json(json!({"error": {"code": "package-exists", "message": "package exists already"}}));
                }
                list.push(release);
                ResponseTemplate::new(200).set_body_json(json!({"status": "ok"}))
            }
            ("DELETE", [ns, pkg, version, "helm"]) => {
                let list = releases.entry(format!("{ns}/{pkg}")).or_default();
                if let Some(i) = list.iter().position(|r| r == version) {
                    list.remove(i);
                    ResponseTemplate::new(200).set_body_json(json!({"status": "deleted", "package": format!("{ns}/{pkg}"), "release": version}))
                } else {
                    ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "package-not-found", "message": format!("package {ns}/{pkg} doesn't exist, v: {version}, type: helm")}}))
                }
            }
            _ => ResponseTemplate::new(418).set_body_string(format!("unexpected {} {path}", request.method)),
        }
    }
}

#[tokio::test]
async fn app_registry_store_end_to_end() {
    let quay = MockServer::start().await;
    let fake = FakeQuay::default();
    Mock::given(wiremock::matchers::path("/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cnr-api": "0.0.1"})))
        .mount(&quay)
        .await;
    Mock::given(wiremock::matchers::path_regex("^/cnr/api/v1/packages/"))
        .respond_with(fake.clone())
        .mount(&quay)
        .await;
    // Catch-all: anything else is a missed expectation, named in the body.
    Mock::given(wiremock::matchers::any())
        .respond_with(|r: &Request| {
            ResponseTemplate::new(418)
                .set_body_string(format!("no mock for {} {}", r.method, r.url))
        })
        .mount(&quay)
        .await;

    let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
        .env("OMPS_STORE", "app-registry")
        .env("OMPS_QUAY_URL", quay.uri())
        .start();
    let tmp = server.tmp_dir();
    let base = server.base().to_owned();

    // Concurrent automatic pushes: distinct versions, no 409 reaches the client.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            push(&base, "/v2/org/zipfile", &flat_zip()).await
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        versions.push(body["version"].as_str().unwrap().to_owned());
    }
    versions.sort_by_key(|v| v.split('.').next().unwrap().parse::<u32>().unwrap());
    assert_eq!(
        versions,
        (1..=8).map(|i| format!("{i}.0.0")).collect::<Vec<_>>()
    );

    let (status, body) = push(&base, "/v2/org/zipfile/3.0.0", &flat_zip()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("QuayReleaseExists")),
        "{body}"
    );
    assert_eq!(body["quay_response"]["error"]["code"], "package-exists");

    let (status, body) = call(
        reqwest::Method::DELETE,
        format!("{base}/v2/org/marketplace/9.0.0"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("QuayPackageNotFound"))
    );
    assert!(body["message"].as_str().unwrap().contains("doesn't exist"));
    let (status, body) = call(reqwest::Method::GET, format!("{base}/v2/health/ping")).await;
    assert_eq!(
        (status, body["store"].as_str()),
        (200, Some("app-registry")),
        "{body}"
    );

    // The caller's token went to the App Registry verbatim.
    let requests = quay.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .filter(|r| r.url.path().starts_with("/cnr/api"))
            .all(|r| r.headers.get("authorization").is_some_and(|v| v == AUTH))
    );
    assert!(
        requests.iter().all(|r| r.url.path() != "/"),
        "no unexpected calls"
    );
    assert_eq!(leftovers(&tmp), Vec::<String>::new());
    let (exit, logs) = server.stop();
    assert!(exit.success(), "{logs}");
}

const BINARY: &str = env!("CARGO_BIN_EXE_omps-server");

/// An unknown key at any level (top, table, array of tables) stops the start: exit 2, one line
/// on stderr naming the full key path.
#[test]
fn unknown_keys_at_every_level_refuse_to_start_and_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key)) in [
        ("max_content_lenght = 5\n", "max_content_lenght"),
        (
            "[greenwave]\nurl = \"https://g\"\ncontext = \"c\"\nproduct_version = \"p\"\nproduct = 1\n",
            "greenwave.product",
        ),
        ("[organizations.o]\npublik = true\n", "organizations.o.publik"),
        (
            "[organizations.o]\nreplace_registry = [ { old = \"a\", new = \"b\", regex = true } ]\n",
            "organizations.o.replace_registry[0].regex",
        ),
        (
            "[[organizations.o.csv_annotations]]\nname = \"a\"\nvalue = \"b\"\nvalu = \"c\"\n",
            "organizations.o.csv_annotations[0].valu",
        ),
        ("[oci]\nregistry = \"https://r\"\n", "oci.registry"),
    ]
    .into_iter()
    .enumerate()
    {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = OmpsServer::builder(BINARY)
            .config(&file)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(&format!("unknown key `{key}`")),
            "{text}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "it never listened");
    }
    // A typo gets a suggestion.
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, "[organizations.o]\npublik = true\n").unwrap();
    let out = OmpsServer::builder(BINARY).config(&file).output();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `public`?"),
        "{out:?}"
    );
}

/// `--check-config` prints the effective configuration as TOML, secrets redacted; that output
/// is itself a valid configuration printing the same, and the start-up log shows the same TOML.
#[test]
fn check_config_round_trips_and_matches_the_start_up_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dir.path().join("omps.toml");
    std::fs::write(
        &first,
        "log_level = \"debug\"\nmax_content_length = 4096\n\
         [organizations.o]\npublic = true\noauth_token = \"very-secret-token\"\n\
         replace_registry = [ { old = \"a\", new = \"b\" } ]\n\
         [oci]\nregistry_url = \"https://registry.example/\"\ntoken = \"registry-secret\"\n",
    )
    .unwrap();
    let check = |file: &std::path::Path| {
        let out = OmpsServer::builder(BINARY)
            .config(file)
            .data_dir(&data)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--check-config")
            .output();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = check(&first);
    assert!(!printed.contains("very-secret-token") && !printed.contains("registry-secret"));
    assert!(printed.contains("log_level = \"DEBUG\""), "{printed}");
    assert!(
        printed.contains("registry_url = \"https://registry.example\""),
        "{printed}"
    );
    let second = dir.path().join("printed.toml");
    std::fs::write(&second, &printed).unwrap();
    assert_eq!(check(&second), printed);

    let server = OmpsServer::builder(BINARY)
        .config(&first)
        .data_dir(&data)
        .env("OMPS_LOG", "info")
        .start();
    let (_, logs) = server.stop();
    // One text log line per event: the TOML's line breaks are escaped.
    assert!(
        logs.contains(&printed.replace('\n', "\\n")),
        "start-up log:\n{logs}"
    );
    assert!(!logs.contains("very-secret-token"));

    // An invalid configuration is exit 2 for --check-config too.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = 5\n").unwrap();
    let out = OmpsServer::builder(BINARY)
        .config(&bad)
        .arg("--check-config")
        .output();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

/// Files left in a server's `TMPDIR`, but the lock of its own spool directory.
fn leftovers(tmp: &Path) -> Vec<String> {
    test_support::server::files_under(tmp)
        .into_iter()
        .filter(|f| !test_support::server::is_spool_lock(f))
        .collect()
}
