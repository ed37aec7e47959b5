//! Contract tests for the OCI registry client against wiremock: authentication flows, paging,
//! error shapes, digest checks and where credentials may go.

use std::time::Duration;

use base64::Engine as _;
use quay_client::oci::{Manifest, media_types, sha256_digest};
use quay_client::{QuayError, RegistryAuth, RegistryClient, SecretString};
use serde_json::json;
use wiremock::matchers::{body_bytes, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn builder(server: &MockServer) -> quay_client::RegistryClientBuilder {
    RegistryClient::builder(server.uri())
        .timeout(Duration::from_secs(5))
        .retry_base_delay(Duration::from_millis(1))
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn manifest_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", media_types::OCI_MANIFEST)
        .insert_header("docker-content-digest", sha256_digest(MANIFEST).as_str())
        .set_body_bytes(MANIFEST.to_vec())
}

fn challenge(server: &MockServer, scope: Option<&str>) -> ResponseTemplate {
    let scope = scope
        .map(|s| format!(r#",scope="{s}""#))
        .unwrap_or_default();
    let v = format!(
        r#"Bearer realm="{}/token",service="registry.test"{scope}"#,
        server.uri()
    );
    ResponseTemplate::new(401)
        .insert_header("www-authenticate", v.as_str())
        .set_body_json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": null}]}))
}

#[tokio::test]
async fn bearer_challenge_fetches_caches_and_reuses_a_token() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .and(header("authorization", "Bearer tok1"))
        .respond_with(manifest_ok())
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .respond_with(challenge(&server, Some("repository:ns/app:pull")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("service", "registry.test"))
        .and(query_param("scope", "repository:ns/app:pull"))
        .and(header("authorization", basic("robot", "s3cret").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"token": "tok1", "expires_in": 300})),
        )
        .expect(1) // cached for the second call
        .mount(&server)
        .await;
    let c = builder(&server)
        .auth(RegistryAuth::basic("robot", SecretString::from("s3cret")))
        .build()
        .unwrap();
    for _ in 0..2 {
        let m = c.get_manifest("ns/app", "v1").await.unwrap();
        assert_eq!(&m.bytes[..], MANIFEST);
        assert_eq!(m.digest, sha256_digest(MANIFEST));
        assert_eq!(m.media_type, media_types::OCI_MANIFEST);
    }
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[tokio::test]
async fn quay_style_token_without_scope_in_challenge_and_jwt_expiry() {
    let server = test_support::mock::server().await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#));
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln");
    Mock::given(method("HEAD"))
        .and(path("/v2/org/repo/blobs/sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"))
        .and(header("authorization", format!("Bearer {jwt}").as_str()))
        .respond_with(ResponseTemplate::new(200).insert_header("content-length", "2"))
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .respond_with(challenge(&server, None))
        .expect(1)
        .mount(&server)
        .await;
    // Anonymous: the token request carries no Authorization, and our own scope is asked for.
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(query_param("scope", "repository:org/repo:pull"))
        .respond_with(move |req: &Request| {
            assert!(
                req.headers.get("authorization").is_none(),
                "anonymous token request sent credentials"
            );
            ResponseTemplate::new(200).set_body_json(json!({"token": jwt}))
        })
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    let d = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_eq!(c.blob_exists("org/repo", d).await.unwrap(), Some(2));
    assert_eq!(c.blob_exists("org/repo", d).await.unwrap(), Some(2));
}

#[tokio::test]
async fn token_server_refusal_is_unauthorized() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/tags/list"))
        .respond_with(challenge(&server, Some("repository:ns/app:pull")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"details": "Invalid username or password"})),
        )
        .mount(&server)
        .await;
    let c = builder(&server)
        .auth(RegistryAuth::basic("u", SecretString::from("wrong-pass")))
        .build()
        .unwrap();
    let err = c.list_tags("ns/app", None).await.unwrap_err();
    let QuayError::Unauthorized(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.message(), Some("Invalid username or password"));
    assert!(!err.to_string().contains("wrong-pass"));
}

#[tokio::test]
async fn basic_challenge_then_basic_up_front() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .and(header(
            "authorization",
            basic("testuser", "testpass").as_str(),
        ))
        .respond_with(manifest_ok())
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Basic realm="test-realm""#),
        )
        .expect(1) // the second call sends Basic right away
        .mount(&server)
        .await;
    let c = builder(&server)
        .auth(RegistryAuth::basic(
            "testuser",
            SecretString::from("testpass"),
        ))
        .build()
        .unwrap();
    c.get_manifest("ns/app", "v1").await.unwrap();
    c.get_manifest("ns/app", "v1").await.unwrap();
}

#[tokio::test]
async fn basic_challenge_without_credentials_is_unauthorized() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="r""#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = builder(&server)
        .build()
        .unwrap()
        .get_manifest("ns/app", "v1")
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::Unauthorized(_)), "{err:?}");
}

#[tokio::test]
async fn static_bearer_is_sent_and_not_refreshed() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .and(header("authorization", "Bearer given-token"))
        .respond_with(challenge(&server, Some("repository:ns/app:pull")))
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server)
        .auth(RegistryAuth::Bearer(SecretString::from("given-token")))
        .build()
        .unwrap();
    let err = c.get_manifest("ns/app", "v1").await.unwrap_err();
    assert!(matches!(err, QuayError::Unauthorized(_)), "{err:?}");
    assert!(!format!("{c:?}").contains("given-token"));
}

#[tokio::test]
async fn manifest_get_sends_full_accept_and_checks_digests() {
    let server = test_support::mock::server().await;
    // Every manifest and index type must be listed, or registries hide or convert manifests.
    let full_accept = |req: &Request| {
        let v = req
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        [
            media_types::OCI_MANIFEST,
            media_types::OCI_INDEX,
            media_types::DOCKER_MANIFEST,
            media_types::DOCKER_MANIFEST_LIST,
        ]
        .iter()
        .all(|mt| v.split(',').any(|p| p.trim() == *mt))
    };
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/good"))
        .and(full_accept)
        .respond_with(manifest_ok())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/lying"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", media_types::OCI_MANIFEST)
                .insert_header(
                    "docker-content-digest",
                    sha256_digest(b"something else").as_str(),
                )
                .set_body_bytes(MANIFEST.to_vec()),
        )
        .mount(&server)
        .await;
    let wrong = sha256_digest(b"wanted");
    Mock::given(method("GET"))
        .and(path(format!("/v2/ns/app/manifests/{wrong}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(MANIFEST.to_vec()))
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    c.get_manifest("ns/app", "good").await.unwrap();
    let err = c.get_manifest("ns/app", "lying").await.unwrap_err();
    assert!(matches!(err, QuayError::DigestMismatch { .. }), "{err:?}");
    let err = c.get_manifest("ns/app", &wrong).await.unwrap_err();
    let QuayError::DigestMismatch { expected, actual } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(expected, &wrong);
    assert_eq!(actual, &sha256_digest(MANIFEST));
}

#[tokio::test]
async fn manifest_media_type_falls_back_to_the_document() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_bytes(MANIFEST.to_vec()),
        )
        .mount(&server)
        .await;
    let m = builder(&server)
        .build()
        .unwrap()
        .get_manifest("ns/app", "v1")
        .await
        .unwrap();
    assert_eq!(m.media_type, media_types::OCI_MANIFEST);
}

#[tokio::test]
async fn manifest_put_sends_exact_bytes_and_checks_returned_digest() {
    let server = test_support::mock::server().await;
    let m = Manifest::new(media_types::DOCKER_MANIFEST, MANIFEST.to_vec());
    Mock::given(method("PUT"))
        .and(path("/v2/ns/app/manifests/v1"))
        .and(header("content-type", media_types::DOCKER_MANIFEST))
        .and(body_bytes(MANIFEST.to_vec()))
        .respond_with(
            ResponseTemplate::new(201).insert_header("docker-content-digest", m.digest.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/ns/app/manifests/v2"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("docker-content-digest", sha256_digest(b"x").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/ns/app/manifests/v3"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [
            {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:aa"},
            {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:bb"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    assert_eq!(c.put_manifest("ns/app", "v1", &m).await.unwrap(), m.digest);
    let err = c.put_manifest("ns/app", "v2", &m).await.unwrap_err();
    assert!(matches!(err, QuayError::DigestMismatch { .. }), "{err:?}");
    let err = c.put_manifest("ns/app", "v3", &m).await.unwrap_err();
    let QuayError::InvalidRequest(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("MANIFEST_BLOB_UNKNOWN"));
    assert_eq!(r.body()["errors"].as_array().unwrap().len(), 2);
    // Pushing by a digest that does not match the bytes is refused locally.
    let err = c
        .put_manifest("ns/app", &sha256_digest(b"y"), &m)
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::InvalidArgument(_)), "{err:?}");
}

#[tokio::test]
async fn registry_error_codes_map_to_variants() {
    let server = test_support::mock::server().await;
    let body = |code: &str| json!({"errors": [{"code": code, "message": code.to_lowercase(), "detail": {}}]});
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(body("MANIFEST_UNKNOWN")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/denied"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body("DENIED")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/manifests/busy"))
        .respond_with(ResponseTemplate::new(429).set_body_json(body("TOOMANYREQUESTS")))
        .expect(3) // GET is retried twice
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    let err = c.get_manifest("ns/app", "missing").await.unwrap_err();
    assert!(matches!(err, QuayError::NotFound(_)), "{err:?}");
    assert_eq!(err.remote().unwrap().message(), Some("manifest_unknown"));
    let err = c.get_manifest("ns/app", "denied").await.unwrap_err();
    assert!(matches!(err, QuayError::Unauthorized(_)), "{err:?}");
    let err = c.get_manifest("ns/app", "busy").await.unwrap_err();
    assert!(
        matches!(err, QuayError::Remote(_)) && err.is_retryable(),
        "{err:?}"
    );
}

#[tokio::test]
async fn tag_list_follows_link_headers_and_treats_null_as_empty() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/tags/list"))
        .and(query_param("last", "b"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "ns/app", "tags": ["c"]})),
        )
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/app/tags/list"))
        .and(query_param("n", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", r#"</v2/ns/app/tags/list?n=2&last=b>; rel="next""#)
                .set_body_json(json!({"name": "ns/app", "tags": ["a", "b"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/empty/tags/list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "ns/empty", "tags": null})),
        )
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    assert_eq!(
        c.list_tags("ns/app", Some(2)).await.unwrap(),
        ["a", "b", "c"]
    );
    assert!(c.list_tags("ns/empty", None).await.unwrap().is_empty());
}

#[tokio::test]
async fn tag_list_refuses_looping_or_foreign_links() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/loop/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", r#"</v2/ns/loop/tags/list?last=x>; rel="next""#)
                .set_body_json(json!({"tags": ["x"]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/ns/away/tags/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    r#"<http://elsewhere.invalid/v2/ns/away/tags/list?last=x>; rel="next""#,
                )
                .set_body_json(json!({"tags": ["x"]})),
        )
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    for repo in ["ns/loop", "ns/away"] {
        let err = c.list_tags(repo, None).await.unwrap_err();
        assert!(
            matches!(err, QuayError::InvalidResponse(_)),
            "{repo}: {err:?}"
        );
    }
}

#[tokio::test]
async fn monolithic_upload_keeps_location_query_and_sends_octet_stream() {
    let server = test_support::mock::server().await;
    let data = b"layer-bytes".to_vec();
    let digest = sha256_digest(&data);
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/ns/app/blobs/{digest}")))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/ns/app/blobs/uploads/"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", "/v2/ns/app/blobs/uploads/u1?_state=abc"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/ns/app/blobs/uploads/u1"))
        .and(query_param("_state", "abc"))
        .and(query_param("digest", digest.as_str()))
        .and(header("content-type", "application/octet-stream"))
        .and(body_bytes(data.clone()))
        .respond_with(
            ResponseTemplate::new(201).insert_header("docker-content-digest", digest.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    assert_eq!(c.push_blob("ns/app", data.into()).await.unwrap(), digest);
}

#[tokio::test]
async fn chunked_upload_follows_each_new_location_with_content_range() {
    let server = test_support::mock::server().await;
    let data = b"0123456789".to_vec();
    let digest = sha256_digest(&data);
    Mock::given(method("POST"))
        .and(path("/v2/ns/app/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/up/s0"))
        .expect(1)
        .mount(&server)
        .await;
    for (i, (range, body)) in [
        ("0-3", &data[0..4]),
        ("4-7", &data[4..8]),
        ("8-9", &data[8..10]),
    ]
    .into_iter()
    .enumerate()
    {
        Mock::given(method("PATCH"))
            .and(path(format!("/up/s{i}")))
            .and(header("content-range", range))
            .and(header("content-type", "application/octet-stream"))
            .and(body_bytes(body.to_vec()))
            .respond_with(
                ResponseTemplate::new(202)
                    .insert_header("location", format!("/up/s{}", i + 1).as_str()),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("PUT"))
        .and(path("/up/s3"))
        .and(query_param("digest", digest.as_str()))
        .and(body_bytes(Vec::new()))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    assert_eq!(
        c.push_blob_chunked("ns/app", data.into(), 4).await.unwrap(),
        digest
    );
}

#[tokio::test]
async fn failed_upload_is_cancelled() {
    let server = test_support::mock::server().await;
    let data = b"abc".to_vec();
    let digest = sha256_digest(&data);
    Mock::given(method("POST"))
        .and(path("/v2/ns/app/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/up/s0"))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/up/s0"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errors": [{"code": "DIGEST_INVALID", "message": "digest invalid"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/up/s0"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    let err = c
        .push_blob_monolithic("ns/app", &digest, data.into())
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().code(), Some("DIGEST_INVALID"));
}

#[tokio::test]
async fn credentials_never_follow_to_another_host() {
    let server = test_support::mock::server().await;
    let other = test_support::mock::server().await;
    let data = b"redirected".to_vec();
    let digest = sha256_digest(&data);
    // Upload Location on another origin.
    Mock::given(method("POST"))
        .and(path("/v2/ns/app/blobs/uploads/"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", format!("{}/storage/u1", other.uri()).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/storage/u1"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&other)
        .await;
    // Blob download redirected to storage on another origin.
    Mock::given(method("GET"))
        .and(path(format!("/v2/ns/app/blobs/{digest}")))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/storage/blob", other.uri()).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/blob"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(data.clone()))
        .expect(1)
        .mount(&other)
        .await;
    let c = builder(&server)
        .auth(RegistryAuth::Bearer(SecretString::from("registry-token")))
        .build()
        .unwrap();
    c.push_blob_monolithic("ns/app", &digest, data.clone().into())
        .await
        .unwrap();
    assert_eq!(c.get_blob("ns/app", &digest).await.unwrap(), data);
    for req in other.received_requests().await.unwrap() {
        assert!(
            req.headers.get("authorization").is_none(),
            "credentials sent to {}",
            req.url
        );
    }
}

#[tokio::test]
async fn blob_download_is_verified() {
    use futures_util::StreamExt as _;
    let server = test_support::mock::server().await;
    let claimed = sha256_digest(b"the real content");
    Mock::given(method("GET"))
        .and(path(format!("/v2/ns/app/blobs/{claimed}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"tampered content".to_vec()))
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    let err = c.get_blob("ns/app", &claimed).await.unwrap_err();
    assert!(matches!(err, QuayError::DigestMismatch { .. }), "{err:?}");
    let mut sink = Vec::new();
    let err = c
        .download_blob("ns/app", &claimed, &mut sink)
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::DigestMismatch { .. }), "{err:?}");
    let mut s = c.blob_stream("ns/app", &claimed).await.unwrap();
    let mut last = None;
    while let Some(item) = s.next().await {
        last = Some(item);
    }
    assert!(matches!(last, Some(Err(QuayError::DigestMismatch { .. }))));
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_request() {
    let server = test_support::mock::server().await;
    let c = builder(&server).build().unwrap();
    for repo in ["../etc", "UPPER", "a//b", "a/b?x=1"] {
        let err = c.get_manifest(repo, "v1").await.unwrap_err();
        assert!(
            matches!(err, QuayError::InvalidArgument(_)),
            "{repo}: {err:?}"
        );
    }
    let err = c.blob_exists("ns/app", "sha256:../../x").await.unwrap_err();
    assert!(matches!(err, QuayError::InvalidArgument(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn ping_reports_auth_requirement() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", r#"Basic realm="r""#),
        )
        .mount(&server)
        .await;
    let c = builder(&server).build().unwrap();
    assert_eq!(
        c.ping().await.unwrap(),
        quay_client::oci::Ping::AuthenticationRequired
    );
}

#[tokio::test]
async fn catch_all_names_the_unmatched_request() {
    let server = test_support::mock::server().await;
    let err = builder(&server)
        .build()
        .unwrap()
        .delete_manifest("ns/app", &sha256_digest(b"z"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(418));
    assert!(
        err.to_string()
            .contains("UNMATCHED REQUEST: DELETE /v2/ns/app/manifests/sha256:"),
        "{err}"
    );
}

#[tokio::test]
async fn copy_stops_on_a_tampered_source_blob_and_pushes_no_manifest() {
    // 1 KiB chunks send the 4 KiB layer down the streamed PATCH path; 1 MiB through the
    // streamed single PUT.
    for chunk_size in [1024, 1024 * 1024] {
        copy_with_tampered_blob(chunk_size).await;
    }
}

async fn copy_with_tampered_blob(chunk_size: usize) {
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    let layer = vec![7u8; 4096];
    let config = b"{}".to_vec();
    let (layer_d, config_d) = (sha256_digest(&layer), sha256_digest(&config));
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media_types::OCI_MANIFEST,
        "config": {"mediaType": media_types::OCI_CONFIG, "digest": config_d, "size": config.len()},
        "layers": [{"mediaType": media_types::OCI_LAYER_GZIP, "digest": layer_d, "size": layer.len()}],
    }))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/v2/src/app/manifests/v1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", media_types::OCI_MANIFEST)
                .set_body_bytes(manifest),
        )
        .mount(&src)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/app/blobs/{config_d}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(config))
        .mount(&src)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/src/app/blobs/{layer_d}")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![8u8; 4096]))
        .mount(&src)
        .await;
    Mock::given(method("HEAD"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&dst)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/dst/app/blobs/uploads/"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/up/x"))
        .mount(&dst)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/up/x"))
        .respond_with(ResponseTemplate::new(202).insert_header("location", "/up/x"))
        .mount(&dst)
        .await;
    Mock::given(method("PUT"))
        .and(path("/up/x"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&dst)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/up/x"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1..)
        .mount(&dst)
        .await;
    let s = builder(&src).build().unwrap();
    let d = builder(&dst).chunk_size(chunk_size).build().unwrap();
    let err = quay_client::copy_image(
        &s,
        "src/app",
        "v1",
        &d,
        "dst/app",
        "v1",
        &quay_client::CopyOptions::default(),
    )
    .await
    .unwrap_err();
    let QuayError::DigestMismatch { expected, .. } = &err else {
        panic!("chunk size {chunk_size}: {err:?}")
    };
    assert_eq!(expected, &layer_d);
    let manifest_puts = dst
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().contains("/manifests/"))
        .count();
    assert_eq!(manifest_puts, 0, "a manifest was pushed despite a bad blob");
    let completed = dst
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT" && r.body.len() == 4096)
        .count();
    assert_eq!(
        completed, 0,
        "a complete tampered blob reached the registry"
    );
}

/// `https://` to a registry that answers in plain HTTP: with verification off the client moves
/// to HTTP (skopeo's `--tls-verify=false`), with verification on it stays on TLS and the first
/// call fails naming the URL with its port and the cause.
#[tokio::test]
async fn verification_off_falls_back_to_plain_http_and_on_does_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/team/app/tags/list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "team/app", "tags": ["1"]})),
        )
        .mount(&server)
        .await;
    let https = server.uri().replacen("http://", "https://", 1);
    let port = server.address().port();

    let off = RegistryClient::builder(&https)
        .timeout(Duration::from_secs(5))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .with_plain_http_fallback()
        .await;
    assert_eq!(off.base_url().scheme(), "http");
    assert_eq!(off.list_tags("team/app", None).await.unwrap(), ["1"]);

    let on = RegistryClient::builder(&https)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .with_plain_http_fallback()
        .await;
    assert_eq!(on.base_url().scheme(), "https");
    let e = on.list_tags("team/app", None).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!("https://127.0.0.1:{port}/v2/team/app/tags/list"))
            && text.contains("InvalidContentType"),
        "{text}"
    );
    assert!(matches!(e, QuayError::Transport { .. }), "{e:?}");
}
