//! `omps quay repo ...` against a wiremock Quay.

mod quay_support;

use quay_support::{TOKEN, bearer, quay, server};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn list_follows_next_page() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("namespace", "team-a"))
        .and(query_param_is_missing("next_page"))
        .and(header("authorization", bearer().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [{"namespace": "team-a", "name": "app", "is_public": true}],
            "next_page": "p2"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("next_page", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [{"namespace": "team-a", "name": "db", "is_public": false}]})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "repo", "list", "team-a"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let names: Vec<&str> = v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "db"]);
    assert_eq!(v["repositories"][0]["is_public"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_visibility_and_delete() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository"))
        .and(body_json(
            json!({"namespace": "team-a", "repository": "app",
                              "visibility": "public", "description": "the app"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "namespace": "team-a", "name": "app", "kind": "image"})))
        .expect(1)
        .mount(&s)
        .await;
    // Quay's code answers 200, Red Hat's documentation 201: both are success.
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/team-a/app/changevisibility"))
        .and(body_json(json!({"visibility": "private"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/repository/team-a/app"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "repo",
            "create",
            "team-a/app",
            "--visibility",
            "public",
            "--description",
            "the app",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "created repository team-a/app (public)");
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "--output",
            "json",
            "repo",
            "visibility",
            "team-a/app",
            "private",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["changed"]["visibility"], "private");
    let r = quay(&s, Some(TOKEN), &["repo", "delete", "team-a/app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_repository_argument_and_quota_error() {
    let s = server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/team-a/app/changevisibility"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "message": "Private repository quota exceeded"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(&s, Some(TOKEN), &["repo", "delete", "no-slash"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("<namespace>/<repository>"),
        "{}",
        r.stderr
    );
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "--output",
            "json",
            "repo",
            "visibility",
            "team-a/app",
            "private",
        ],
    );
    assert_ne!(r.code, 0);
    assert_eq!(
        r.json()["error"]["quay_response"]["message"],
        "Private repository quota exceeded"
    );
}
