//! Contract tests for the App Registry (CNR) client against wiremock.

use std::time::Duration;

use base64::Engine as _;
use quay_client::{AppRegistryClient, PushRelease, QuayError, SecretString, Visibility};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUTH: &str = "basic dXNlcjpwYXNz";

fn client(server: &MockServer) -> AppRegistryClient {
    AppRegistryClient::builder(server.uri())
        .timeout(Duration::from_secs(5))
        .retry_base_delay(Duration::from_millis(1))
        .build()
        .unwrap()
}

fn auth() -> SecretString {
    SecretString::from(AUTH)
}

fn push(release: &str) -> PushRelease {
    PushRelease {
        release: release.to_owned(),
        media_type: "helm".to_owned(),
        blob: bytes::Bytes::from_static(b"\x1f\x8bfake-tar-gz"),
        visibility: None,
        force: false,
    }
}

#[tokio::test]
async fn version_reads_both_keys() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cnr-api": "0.0.1-alpha"})))
        .expect(1)
        .mount(&server)
        .await;
    let v = client(&server).version().await.unwrap();
    assert_eq!(v.cnr_api.as_deref(), Some("0.0.1-alpha"));
    assert_eq!(v.appr_api, None);
}

#[tokio::test]
async fn base_url_path_prefix_is_kept() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/prefix/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"appr-api": "0.7.4"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = AppRegistryClient::builder(format!("{}/prefix/", server.uri()))
        .build()
        .unwrap();
    assert_eq!(
        c.version().await.unwrap().appr_api.as_deref(),
        Some("0.7.4")
    );
}

#[tokio::test]
async fn login_returns_token_and_maps_401() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/users/login"))
        .and(body_json(
            json!({"user": {"username": "user", "password": "pass"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": AUTH})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/users/login"))
        .and(body_json(json!({"user": {"username": "user", "password": "wrong"}})))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": "unauthorized-access", "message": "Invalid username or password", "details": {}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let token = c.login("user", &SecretString::from("pass")).await.unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&token), AUTH);
    let err = c
        .login("user", &SecretString::from("wrong"))
        .await
        .unwrap_err();
    let QuayError::Unauthorized(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("unauthorized-access"));
    assert_eq!(r.message(), Some("Invalid username or password"));
    assert!(!err.to_string().contains("wrong"));
}

#[tokio::test]
async fn list_packages_sends_query_and_auth_verbatim() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages"))
        .and(query_param("namespace", "myns"))
        .and(query_param("media_type", "helm"))
        .and(header("authorization", AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "myns/example", "releases": ["0.2.0", "0.1.0"], "default": "0.2.0",
             "manifests": ["helm"], "visibility": "public", "created_at": "2020-01-01T00:00:00",
             "namespace": "myns", "channels": null, "updated_at": "x"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server)
        .list_packages(Some(&auth()), "myns", Some("helm"))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "myns/example");
    assert_eq!(list[0].releases, vec!["0.2.0", "0.1.0"]);
    assert_eq!(list[0].visibility.as_deref(), Some("public"));
}

fn manifest(release: &str) -> serde_json::Value {
    json!({"package": "myns/example", "release": release, "created_at": "t", "metadata": null,
           "mediaType": "application/vnd.cnr.package-manifest.helm.v0.json",
           "content": {"mediaType": "application/vnd.cnr.package.helm.v0.tar+gzip", "size": 956,
                       "digest": "ab12", "urls": []},
           "digest": "sha256:ff"})
}

#[tokio::test]
async fn list_releases_and_not_found_envelopes() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/myns/example"))
        .and(query_param("media_type", "helm"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([manifest("1.0.0"), manifest("2.0.0")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Quay's wrapped envelope.
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/myns/quaymissing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "package-not-found",
            "message": "package myns/quaymissing doesn't exist, v: None, type: helm", "details": {}}})))
        .mount(&server)
        .await;
    // appr's bare envelope.
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/myns/apprmissing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": "package-not-found", "message": "package myns/apprmissing doesn't exist",
            "details": {"package": "myns/apprmissing"}})))
        .mount(&server)
        .await;
    let c = client(&server);
    let rels = c
        .list_releases(None, "myns", "example", Some("helm"))
        .await
        .unwrap();
    let names: Vec<_> = rels.iter().map(|r| r.release.as_str()).collect();
    assert_eq!(names, ["1.0.0", "2.0.0"]);
    assert_eq!(rels[0].media_type_word(), Some("helm"));
    assert_eq!(rels[0].content.digest, "ab12");
    assert_eq!(rels[0].content.size, Some(956));

    for pkg in ["quaymissing", "apprmissing"] {
        let err = c.list_releases(None, "myns", pkg, None).await.unwrap_err();
        let QuayError::NotFound(r) = &err else {
            panic!("{pkg}: {err:?}")
        };
        assert_eq!(r.status(), 404);
        assert_eq!(r.code(), Some("package-not-found"));
        assert!(r.message().unwrap().contains("doesn't exist"), "{r:?}");
        assert_eq!(err.remote_body(), *r.body());
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn show_release_percent_encodes_selectors() {
    let server = test_support::mock::server().await;
    let mut m = manifest("0.1.5");
    m["channels"] = json!(["stable"]);
    Mock::given(method("GET"))
        .and(path(
            "/cnr/api/v1/packages/myns/example/%3E=0.1.0,%3C0.2.0/helm",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(m))
        .expect(1)
        .mount(&server)
        .await;
    let r = client(&server)
        .show_release(None, "myns", "example", ">=0.1.0,<0.2.0", "helm")
        .await
        .unwrap();
    assert_eq!(r.release, "0.1.5");
    assert_eq!(r.channels, Some(vec!["stable".to_owned()]));
}

#[tokio::test]
async fn push_sends_exact_body_and_succeeds_on_any_2xx() {
    let server = test_support::mock::server().await;
    let blob_b64 = base64::engine::general_purpose::STANDARD.encode(b"\x1f\x8bfake-tar-gz");
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/packages/myorg/myrepo"))
        .and(query_param_is_missing("force"))
        .and(header("authorization", AUTH))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"blob": blob_b64, "release": "1.0.0", "media_type": "helm",
                              "visibility": "public"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"status": "ok"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut p = push("1.0.0");
    p.visibility = Some(Visibility::Public);
    let answer = client(&server)
        .push_release(Some(&auth()), "myorg", "myrepo", &p)
        .await
        .unwrap();
    assert_eq!(answer, json!({"status": "ok"}));
}

#[tokio::test]
async fn push_force_uses_query_parameter_and_omits_visibility() {
    let server = test_support::mock::server().await;
    let blob_b64 = base64::engine::general_purpose::STANDARD.encode(b"\x1f\x8bfake-tar-gz");
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/packages/myorg/myrepo"))
        .and(query_param("force", "true"))
        .and(body_json(
            json!({"blob": blob_b64, "release": "1.0.0", "media_type": "helm"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok, not json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut p = push("1.0.0");
    p.force = true;
    let answer = client(&server)
        .push_release(None, "myorg", "myrepo", &p)
        .await
        .unwrap();
    assert_eq!(answer, serde_json::Value::Null);
}

async fn push_error(status: u16, body: ResponseTemplate) -> QuayError {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/cnr/api/v1/packages/myorg/myrepo"))
        .respond_with(body)
        .expect(1) // never retried, even on 5xx
        .mount(&server)
        .await;
    let err = client(&server)
        .push_release(Some(&auth()), "myorg", "myrepo", &push("1.0.0"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(status), "{err:?}");
    err
}

#[tokio::test]
async fn push_409_package_exists_is_already_exists() {
    let body = json!({"error": {"code": "package-exists",
        "message": "myorg/myrepo - 1.0.0 - helm exists already", "details": {}}});
    let err = push_error(409, ResponseTemplate::new(409).set_body_json(body.clone())).await;
    let QuayError::AlreadyExists(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        r.message_or_default(),
        "myorg/myrepo - 1.0.0 - helm exists already"
    );
    assert_eq!(err.remote_body(), body);
}

#[tokio::test]
async fn push_409_resource_in_use_is_retryable_remote() {
    let body = json!({"error": {"code": "resource-in-use", "message": "locked", "details": {}}});
    let err = push_error(409, ResponseTemplate::new(409).set_body_json(body)).await;
    assert!(matches!(err, QuayError::Remote(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn push_422_invalid_release() {
    let body = json!({"code": "invalid-release", "message": "Invalid semver: 1.0", "details": {}});
    let err = push_error(422, ResponseTemplate::new(422).set_body_json(body)).await;
    let QuayError::InvalidRequest(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("invalid-release"));
}

#[tokio::test]
async fn push_403_forbidden_and_401_string_error() {
    let body = json!({"error": {"code": "forbidden", "message": "Unauthorized access for: myorg/myrepo",
        "details": {"package": "myorg/myrepo", "scopes": ["create"]}}});
    let err = push_error(403, ResponseTemplate::new(403).set_body_json(body.clone())).await;
    assert!(matches!(err, QuayError::Unauthorized(_)), "{err:?}");
    assert_eq!(err.remote_body(), body);

    let body = json!({"error": "Anonymous access is not allowed"});
    let err = push_error(401, ResponseTemplate::new(401).set_body_json(body)).await;
    let QuayError::Unauthorized(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.message(), Some("Anonymous access is not allowed"));
    assert_eq!(r.code(), None);
}

#[tokio::test]
async fn push_405_image_repository_string_body() {
    let body =
        json!({"error": "Cannot push an application to an image repository with the same name"});
    let err = push_error(405, ResponseTemplate::new(405).set_body_json(body.clone())).await;
    let QuayError::Remote(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        r.message_or_default(),
        "Cannot push an application to an image repository with the same name"
    );
    assert_eq!(err.remote_body(), body);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn push_html_500_keeps_raw_text_and_empty_body() {
    let err = push_error(
        500,
        ResponseTemplate::new(500).set_body_string("<html><h1>Internal Server Error</h1></html>"),
    )
    .await;
    let QuayError::Remote(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.body(), &json!({}));
    assert!(r.raw_body().contains("Internal Server Error"));
    assert_eq!(r.message_or_default(), "Failed to get error details.");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn pull_release_and_blob_return_raw_bytes() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/myns/example/1.0.0/helm/pull"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-gzip")
                .set_body_bytes(b"\x1f\x8bblob".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/cnr/api/v1/packages/myns/example/blobs/sha256/abcdef",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\x1f\x8bother".to_vec()))
        .expect(2)
        .mount(&server)
        .await;
    let c = client(&server);
    let b = c
        .pull_release(None, "myns", "example", "1.0.0", "helm")
        .await
        .unwrap();
    assert_eq!(&b[..], b"\x1f\x8bblob");
    for d in ["abcdef", "sha256:abcdef"] {
        let b = c.pull_blob(None, "myns", "example", d).await.unwrap();
        assert_eq!(&b[..], b"\x1f\x8bother");
    }
}

#[tokio::test]
async fn delete_release_success_and_not_found() {
    let server = test_support::mock::server().await;
    Mock::given(method("DELETE"))
        .and(path("/cnr/api/v1/packages/myorg/myrepo/1.0.0/helm"))
        .and(header("authorization", AUTH))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "deleted", "package": "myorg/myrepo", "release": "1.0.0"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/cnr/api/v1/packages/myorg/myrepo/9.0.0/helm"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "package-not-found",
            "message": "package myorg/myrepo doesn't exist, v: 9.0.0, type: helm", "details": {}}})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let d = c
        .delete_release(Some(&auth()), "myorg", "myrepo", "1.0.0", "helm")
        .await
        .unwrap();
    assert_eq!(d.status.as_deref(), Some("deleted"));
    assert_eq!(d.release.as_deref(), Some("1.0.0"));
    let err = c
        .delete_release(Some(&auth()), "myorg", "myrepo", "9.0.0", "helm")
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("doesn't exist"));
}

#[tokio::test]
async fn idempotent_get_is_retried_after_503() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cnr-api": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let v = client(&server).version().await.unwrap();
    assert_eq!(v.cnr_api.as_deref(), Some("1"));
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3) // first try + 2 retries
        .mount(&server)
        .await;
    let err = client(&server).version().await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn slow_answer_times_out() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let c = AppRegistryClient::builder(server.uri())
        .timeout(Duration::from_millis(200))
        .max_retries(0)
        .build()
        .unwrap();
    let err = c.version().await.unwrap_err();
    assert!(matches!(err, QuayError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.remote_body().as_object().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_json_and_oversized_bodies_are_typed_errors() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[{not json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/myns/example/1.0.0/helm/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![0u8; 4096]))
        .mount(&server)
        .await;
    let c = AppRegistryClient::builder(server.uri())
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let err = c.list_packages(None, "myns", None).await.unwrap_err();
    assert!(matches!(err, QuayError::InvalidResponse(_)), "{err:?}");
    let err = c
        .pull_release(None, "myns", "example", "1.0.0", "helm")
        .await
        .unwrap_err();
    assert!(
        matches!(err, QuayError::ResponseTooLarge { limit: 1024 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn catch_all_names_the_unmatched_request() {
    let server = test_support::mock::server().await;
    let err = client(&server)
        .delete_release(None, "nobody", "mocked", "this", "helm")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(418));
    assert!(
        err.to_string()
            .contains("UNMATCHED REQUEST: DELETE /cnr/api/v1/packages/nobody/mocked/this/helm"),
        "{err}"
    );
}

#[tokio::test]
async fn credentials_never_appear_in_debug_output() {
    let p = PushRelease {
        blob: bytes::Bytes::from_static(b"secret-blob-bytes"),
        ..push("1.0.0")
    };
    let dbg = format!("{p:?}");
    assert!(!dbg.contains("secret-blob-bytes"), "{dbg}");
    let token = auth();
    assert!(!format!("{token:?}").contains("dXNlcjpwYXNz"));
    let c = AppRegistryClient::builder("http://127.0.0.1:1")
        .build()
        .unwrap();
    assert!(!format!("{c:?}").contains("dXNlcjpwYXNz"));
}

#[test]
fn builder_rejects_bad_configuration() {
    for bad in [
        "not a url",
        "ftp://host",
        "https://user:pw@host",
        "mailto:x@y",
    ] {
        let err = AppRegistryClient::builder(bad).build().unwrap_err();
        assert!(matches!(err, QuayError::Config(_)), "{bad}: {err:?}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
    let err = AppRegistryClient::builder("https://host")
        .ca_bundle_pem(
            b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n".to_vec(),
        )
        .build()
        .unwrap_err();
    assert!(matches!(err, QuayError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn invalid_authorization_value_is_rejected_before_sending() {
    let server = test_support::mock::server().await;
    let err = client(&server)
        .list_packages(
            Some(&SecretString::from("basic abc\nInjected: 1")),
            "ns",
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::InvalidArgument(_)), "{err:?}");
    assert!(!err.to_string().contains("abc"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Collects log output in memory.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn disabling_tls_verification_is_logged_at_warn() {
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        AppRegistryClient::builder("https://quay.example.invalid")
            .build()
            .unwrap();
        assert!(
            buf.0.lock().unwrap().is_empty(),
            "verified TLS must not warn"
        );
        quay_client::QuayRestClient::builder("https://quay.example.invalid")
            .token(SecretString::from("tok-secret"))
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
    });
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains("TLS certificate verification is DISABLED"),
        "{log}"
    );
    assert!(log.contains("quay.example.invalid"), "{log}");
    assert!(!log.contains("tok-secret"), "{log}");
}

#[tokio::test]
async fn user_agent_is_sent_and_path_segments_are_escaped() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/cnr/api/v1/packages/a%2Fb/c%3Fd"))
        .and(header("user-agent", "omps-test/9.9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cnr/version"))
        .and(header(
            "user-agent",
            concat!("quay-client/", env!("CARGO_PKG_VERSION")),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cnr-api": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = AppRegistryClient::builder(server.uri())
        .user_agent("omps-test/9.9")
        .build()
        .unwrap();
    // A slash or question mark in a name must not change the route.
    assert!(
        c.list_releases(None, "a/b", "c?d", None)
            .await
            .unwrap()
            .is_empty()
    );
    client(&server).version().await.unwrap();
}
