//! `omps quay robot ...` against a wiremock Quay.

mod quay_support;

use quay_support::{TOKEN, quay, server};
use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn list_and_get_hide_tokens_unless_asked() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a/robots"))
        .and(query_param("token", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"robots": [
            {"name": "team-a+builder", "description": "CI", "token": "robot-secret-1"},
            {"name": "team-a+deployer", "token": "robot-secret-2"}]})))
        .expect(2)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a/robots/builder"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "team-a+builder", "description": "CI", "token": "robot-secret-1"})))
        .expect(2)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "robot", "list", "team-a"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["robots"][1]["name"], "team-a+deployer");
    r.assert_no_secret("robot-secret");
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "robot",
            "list",
            "team-a",
            "--show-token",
            "--output",
            "json",
        ],
    );
    assert_eq!(r.json()["robots"][0]["token"], "robot-secret-1");
    let r = quay(&s, Some(TOKEN), &["robot", "get", "team-a+builder"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("robot team-a+builder"), "{}", r.stdout);
    r.assert_no_secret("robot-secret");
    let r = quay(
        &s,
        Some(TOKEN),
        &["robot", "get", "team-a+builder", "--show-token"],
    );
    assert!(r.stdout.contains("token: robot-secret-1"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_robot_400_is_not_found() {
    let s = server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team-a/robots/ghost"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Could not find robot with specified username"})))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "robot", "get", "team-a+ghost"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["error"]["kind"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_and_delete_org_and_personal_robots() {
    let s = server().await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/organization/team-a/robots/builder"))
        .and(body_json(json!({"description": "CI builds"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "name": "team-a+builder", "description": "CI builds", "token": "new-robot-secret"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/user/robots/mine"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"name": "admin+mine"})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/team-a/robots/builder"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/user/robots/mine"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    let r = quay(
        &s,
        Some(TOKEN),
        &[
            "robot",
            "create",
            "team-a+builder",
            "--description",
            "CI builds",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_no_secret("new-robot-secret");
    let r = quay(
        &s,
        Some(TOKEN),
        &["--output", "json", "robot", "create", "mine"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["created"]["robot"]["name"], "admin+mine");
    assert_eq!(
        quay(&s, Some(TOKEN), &["robot", "delete", "team-a+builder"]).code,
        0
    );
    assert_eq!(quay(&s, Some(TOKEN), &["robot", "delete", "mine"]).code, 0);
    assert_eq!(quay(&s, Some(TOKEN), &["robot", "delete", "+x"]).code, 2);
}
