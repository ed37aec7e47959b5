//! `omps quay initialize` against a wiremock Quay.

mod quay_support;

use quay_support::{quay_env, server};
use serde_json::json;
use wiremock::matchers::{body_json, header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn initialize_writes_the_token_to_a_private_file_once() {
    let s = server().await;
    // No Authorization header on a fresh Quay.
    Mock::given(method("POST"))
        .and(path("/api/v1/user/initialize"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/user/initialize"))
        .and(body_json(
            json!({"username": "quayadmin", "password": "init-pa55word",
                              "email": "admin@example.com", "access_token": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "username": "quayadmin", "email": "admin@example.com", "encrypted_password": "x",
            "access_token": "first-token-abc"})))
        .expect(1)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("token.txt");
    let r = quay_env(
        &s,
        None,
        &[
            "--output",
            "json",
            "initialize",
            "--username",
            "quayadmin",
            "--email",
            "admin@example.com",
            "--token-output",
            out.to_str().unwrap(),
        ],
        &[("OMPS_QUAY_INIT_PASSWORD", "init-pa55word")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["initialized"], true);
    assert_eq!(v["token_written_to"], out.to_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        "first-token-abc"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    r.assert_no_secret("first-token-abc");
    r.assert_no_secret("init-pa55word");
    assert!(r.stderr.contains("warning"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn already_initialized_is_reported() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/user/initialize"))
        .and(body_json(
            json!({"username": "quayadmin", "password": "pw-123456789",
                              "access_token": false}),
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Cannot initialize user in a non-empty database"})))
        .expect(2)
        .mount(&s)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw-123456789\n").unwrap();
    let args = [
        "initialize",
        "--username",
        "quayadmin",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let r = quay_env(&s, None, &args, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("already initialized"), "{}", r.stdout);
    let mut json_args = vec!["--output", "json"];
    json_args.extend(args);
    let r = quay_env(&s, None, &json_args, &[]);
    let v = r.json();
    assert_eq!(v["result"], "failure");
    assert_eq!(v["error"]["kind"], "already_initialized");
    assert_eq!(
        v["error"]["quay_response"]["message"],
        "Cannot initialize user in a non-empty database"
    );
    // Without a password source: usage error, nothing sent.
    let r = quay_env(&s, None, &["initialize", "--username", "x"], &[]);
    assert_eq!(r.code, 2);
}
