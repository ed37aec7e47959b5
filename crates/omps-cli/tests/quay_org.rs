//! `omps quay org ...` against a wiremock Quay: calls, output, exit codes, no token echo, and
//! the OAuth2 client-credentials path.

mod quay_support;

use quay_support::{TOKEN, bearer, quay, quay_env, server};
use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn org_get_prints_the_organization() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a"))
        .and(header("authorization", bearer().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "team-a", "email": "a@example.com", "is_admin": true, "is_member": true,
            "tag_expiration_s": 1_209_600})))
        .expect(2)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "org", "get", "team-a"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["result"], "success");
    assert_eq!(v["organization"]["name"], "team-a");
    assert_eq!(v["organization"]["tag_expiration_s"], 1_209_600);
    let r = quay(&s, Some(TOKEN), &["org", "get", "team-a"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("organization team-a"), "{}", r.stdout);
    assert!(r.stdout.contains("admin: true"), "{}", r.stdout);
    r.assert_no_secret(TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_org_is_not_found_with_quay_response() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/nope"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error_message": "Not Found", "error_type": "not_found", "status": 404})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(&s, Some(TOKEN), &["org", "get", "nope", "--output", "json"]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["result"], "failure");
    assert_eq!(v["error"]["kind"], "not_found");
    assert_eq!(v["error"]["status"], 404);
    assert_eq!(v["error"]["quay_response"]["error_type"], "not_found");
    r.assert_no_secret(TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn org_create_posts_with_trailing_slash_and_existing_is_refused() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/"))
        .and(header("authorization", bearer().as_str()))
        .and(body_json(
            json!({"name": "team-a", "email": "a@example.com"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/"))
        .and(body_json(json!({"name": "taken"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "A user or organization with this name already exists"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["org", "create", "team-a", "--email", "a@example.com"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "created organization team-a");
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "org", "create", "taken"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["error"]["kind"], "already_exists");
}

#[tokio::test(flavor = "multi_thread")]
async fn org_delete() {
    let s = server().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/old"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "org", "delete", "old"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["deleted"]["organization"], "old");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_by_category() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/boom"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/secret"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error_message": "Unauthorized", "error_type": "insufficient_scope"})))
        .mount(&s)
        .await;
    assert_eq!(quay(&s, Some(TOKEN), &["org", "get", "boom"]).code, 3);
    let r = quay(&s, Some(TOKEN), &["org", "get", "secret"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not authorized"), "{}", r.stderr);
    // No token at all: a usage error before any call.
    let r = quay(&s, None, &["org", "get", "x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no Quay API token"), "{}", r.stderr);
    // Nothing listens: unreachable.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("omps"))
        .args([
            "quay",
            "--quay-url",
            &format!("http://127.0.0.1:{port}"),
            "org",
            "get",
            "x",
        ])
        .env("OMPS_QUAY_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_from_file_and_oauth_client_credentials() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let secret_file = dir.path().join("client-secret");
    std::fs::write(&secret_file, "client-s3cret\n").unwrap();
    Mock::given(method("POST"))
        .and(path("/sso/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=omps"))
        .and(body_string_contains("client_secret=client-s3cret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "from-sso", "token_type": "Bearer", "expires_in": 300})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a"))
        .and(header("authorization", "Bearer from-sso"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "team-a"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a"))
        .and(header("authorization", bearer().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "team-a"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        None,
        &[
            "--token-file",
            token_file.to_str().unwrap(),
            "org",
            "get",
            "team-a",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sso = format!("{}/sso/token", s.uri());
    let r = quay_env(
        &s,
        None,
        &[
            "--oauth-token-url",
            &sso,
            "--oauth-client-id",
            "omps",
            "org",
            "get",
            "team-a",
        ],
        &[(
            "OMPS_OAUTH_CLIENT_SECRET_FILE",
            secret_file.to_str().unwrap(),
        )],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_no_secret("client-s3cret");
    r.assert_no_secret("from-sso");
}
