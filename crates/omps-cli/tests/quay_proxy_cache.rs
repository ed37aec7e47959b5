//! `omps quay proxy-cache ...` against a wiremock Quay.

mod quay_support;

use quay_support::{TOKEN, quay, server};
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn get_empty_and_configured() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/plain/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "", "expiration_s": "", "insecure": ""})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "registry.example.com", "expiration_s": 3600, "insecure": false})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "proxy-cache", "get", "plain"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["proxy_cache"], json!({"configured": false}));
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "proxy-cache", "get", "cache"],
    );
    assert_eq!(
        r.json()["proxy_cache"],
        json!({"configured": true, "upstream_registry": "registry.example.com", "expiration_s": 3600, "insecure": false})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_sends_password_from_file_and_never_prints_it() {
    let s = server().await;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "upstream-pa55\n").unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "", "expiration_s": "", "insecure": ""})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .and(body_json(
            json!({"upstream_registry": "registry.example.com", "insecure": false,
                              "upstream_registry_username": "reader",
                              "upstream_registry_password": "upstream-pa55", "expiration_s": 600}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "proxy-cache",
            "create",
            "cache",
            "--upstream",
            "registry.example.com",
            "--upstream-username",
            "reader",
            "--upstream-password-file",
            pw.to_str().unwrap(),
            "--expiration-s",
            "600",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        "created proxy cache of cache -> registry.example.com"
    );
    r.assert_no_secret("upstream-pa55");
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_config_needs_overwrite_which_deletes_then_creates() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "old.example.com", "expiration_s": 86400, "insecure": false})))
        .expect(2)
        .mount(&s)
        .await;
    // Quay's code answers 201 "Deleted" for the delete.
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(201).set_body_json("Deleted"))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(1)
        .mount(&s)
        .await;
    let args = [
        "proxy-cache",
        "create",
        "cache",
        "--upstream",
        "new.example.com",
    ];
    let r = quay(&s, Some(TOKEN), &args);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--overwrite"), "{}", r.stderr);
    let mut with = args.to_vec();
    with.extend(["--overwrite", "--output", "json"]);
    let r = quay(&s, Some(TOKEN), &with);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["created"]["replaced"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_accepts_any_2xx() {
    let s = server().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/cache/proxycache"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(&s, Some(TOKEN), &["proxy-cache", "delete", "cache"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}
