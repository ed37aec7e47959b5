//! Contract tests for the Quay REST API v1 client against wiremock.

use std::time::Duration;

use quay_client::{
    ExposeSecret, NewProxyCache, NewRepository, QuayError, QuayRestClient, RepositoryQuery,
    SecretString, TagQuery, Visibility,
};
use serde_json::json;
use wiremock::matchers::{
    body_json, header, header_exists, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "oauth-token-123";

fn client(server: &MockServer) -> QuayRestClient {
    QuayRestClient::builder(server.uri())
        .token(SecretString::from(TOKEN))
        .timeout(Duration::from_secs(5))
        .retry_base_delay(Duration::from_millis(1))
        .build()
        .unwrap()
}

fn bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

#[tokio::test]
async fn initialize_user_without_token_returns_secret_access_token() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/user/initialize"))
        .and(body_json(
            json!({"username": "admin", "password": "pw12345678",
                              "email": "a@example.com", "access_token": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "username": "admin", "email": "a@example.com", "encrypted_password": "x",
            "access_token": "fresh-token"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = QuayRestClient::builder(server.uri()).build().unwrap();
    let u = c
        .initialize_user(
            "admin",
            &SecretString::from("pw12345678"),
            Some("a@example.com"),
            true,
        )
        .await
        .unwrap();
    assert_eq!(u.username, "admin");
    assert_eq!(
        u.access_token.as_ref().unwrap().expose_secret(),
        "fresh-token"
    );
    assert!(!format!("{u:?}").contains("fresh-token"));
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn initialize_user_refused_is_invalid_request_with_message() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/user/initialize"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Cannot initialize user in a non-empty database"})))
        .mount(&server)
        .await;
    let err = client(&server)
        .initialize_user("admin", &SecretString::from("pw"), None, false)
        .await
        .unwrap_err();
    let QuayError::InvalidRequest(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        r.message(),
        Some("Cannot initialize user in a non-empty database")
    );
    assert!(!err.to_string().contains("pw"));
}

#[tokio::test]
async fn organization_get_create_delete() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/myorg"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "myorg", "email": "o@example.com", "avatar": {"kind": "org"},
            "is_admin": true, "is_member": true, "teams": {}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": 404, "error_message": "Not Found", "title": "not_found",
            "error_type": "not_found", "detail": "Not Found"})))
        .mount(&server)
        .await;
    // The trailing slash matters to Quay.
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/"))
        .and(bearer())
        .and(body_json(
            json!({"name": "neworg", "email": "n@example.com"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/"))
        .and(body_json(json!({"name": "myorg"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400, "error_message": "A user or organization with this name already exists",
            "error_type": "invalid_request", "detail": "A user or organization with this name already exists"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/myorg"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(&server);
    let org = c.get_organization("myorg").await.unwrap();
    assert_eq!(org.name, "myorg");
    assert!(org.is_admin);
    assert!(org.extra.contains_key("avatar"));
    let err = c.get_organization("missing").await.unwrap_err();
    let QuayError::NotFound(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("not_found"));
    c.create_organization("neworg", Some("n@example.com"))
        .await
        .unwrap();
    let err = c.create_organization("myorg", None).await.unwrap_err();
    assert!(matches!(err, QuayError::AlreadyExists(_)), "{err:?}");
    c.delete_organization("myorg").await.unwrap();
}

#[tokio::test]
async fn repository_create_get_delete() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository"))
        .and(bearer())
        .and(body_json(
            json!({"namespace": "myorg", "repository": "myrepo",
                              "visibility": "private", "description": ""}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "namespace": "myorg", "name": "myrepo", "kind": "image"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository"))
        .and(body_json(json!({"namespace": "myorg", "repository": "dup",
                              "visibility": "public", "description": "d", "repo_kind": "image"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_message": "Repository already exists", "error_type": "invalid_request"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository/myorg/myrepo"))
        .and(query_param("includeTags", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "namespace": "myorg", "name": "myrepo", "kind": "image", "description": "",
            "is_public": false, "state": "NORMAL", "can_admin": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/repository/myorg/myrepo"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(&server);
    c.create_repository(&NewRepository {
        namespace: "myorg".into(),
        repository: "myrepo".into(),
        visibility: Visibility::Private,
        description: String::new(),
        repo_kind: None,
    })
    .await
    .unwrap();
    let err = c
        .create_repository(&NewRepository {
            namespace: "myorg".into(),
            repository: "dup".into(),
            visibility: Visibility::Public,
            description: "d".into(),
            repo_kind: Some("image".into()),
        })
        .await
        .unwrap_err();
    let QuayError::AlreadyExists(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.message(), Some("Repository already exists"));
    let repo = c.get_repository("myorg", "myrepo").await.unwrap();
    assert_eq!(repo.state.as_deref(), Some("NORMAL"));
    assert!(!repo.is_public);
    assert_eq!(repo.extra.get("can_admin"), Some(&json!(true)));
    c.delete_repository("myorg", "myrepo").await.unwrap();
}

#[tokio::test]
async fn repository_list_follows_next_page() {
    let server = test_support::mock::server().await;
    let repo =
        |n: &str| json!({"namespace": "myorg", "name": n, "is_public": true, "kind": "image"});
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("namespace", "myorg"))
        .and(query_param_is_missing("next_page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [repo("a"), repo("b")], "next_page": "tok1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("next_page", "tok1"))
        .and(query_param("namespace", "myorg"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [repo("c")], "next_page": "tok2"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("next_page", "tok2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"repositories": [repo("d")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let list = client(&server)
        .list_repositories(&RepositoryQuery {
            namespace: Some("myorg".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = list.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn repository_list_detects_a_looping_next_page() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [], "next_page": "same"})))
        .mount(&server)
        .await;
    let err = client(&server)
        .list_repositories(&RepositoryQuery {
            public: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, QuayError::InvalidResponse(_)), "{err:?}");
}

#[tokio::test]
async fn change_visibility_accepts_200_and_201() {
    for status in [200, 201] {
        let server = test_support::mock::server().await;
        Mock::given(method("POST"))
            .and(path("/api/v1/repository/myorg/myrepo/changevisibility"))
            .and(bearer())
            .and(body_json(json!({"visibility": "public"})))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"success": true})))
            .expect(1)
            .mount(&server)
            .await;
        client(&server)
            .change_visibility("myorg", "myrepo", Visibility::Public)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn change_visibility_errors_take_rest_message_fields() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/myorg/denied/changevisibility"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "status": 403, "error_message": "Unauthorized", "detail": "Unauthorized",
            "error_type": "insufficient_scope", "title": "insufficient_scope"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/myorg/mirror/changevisibility"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"detail": "only detail"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/myorg/ro/changevisibility"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "message": "System is currently read-only", "is_readonly": true})))
        .expect(1) // POST is not retried
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/myorg/down/changevisibility"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .change_visibility("myorg", "denied", Visibility::Public)
        .await
        .unwrap_err();
    let QuayError::Unauthorized(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.message(), Some("Unauthorized"));
    assert_eq!(r.code(), Some("insufficient_scope"));
    assert_eq!(r.body()["status"], json!(403));
    assert!(!err.to_string().contains(TOKEN));

    let err = c
        .change_visibility("myorg", "mirror", Visibility::Private)
        .await
        .unwrap_err();
    assert_eq!(err.remote().unwrap().message(), Some("only detail"));

    let err = c
        .change_visibility("myorg", "ro", Visibility::Public)
        .await
        .unwrap_err();
    assert_eq!(
        err.remote().unwrap().message(),
        Some("System is currently read-only")
    );
    assert!(!err.is_retryable(), "read-only is not transient");

    let err = c
        .change_visibility("myorg", "down", Visibility::Public)
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.remote_body(), json!({}));
}

#[tokio::test]
async fn robots_list_get_create_delete_regenerate() {
    let server = test_support::mock::server().await;
    let robot = |tok: &str| {
        json!({"name": "myorg+bot", "created": "t", "last_accessed": null,
        "description": "d", "token": tok, "unstructured_metadata": {}})
    };
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/myorg/robots"))
        .and(query_param("token", "true"))
        .and(query_param("permissions", "false"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"robots": [robot("t1")]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/myorg/robots/bot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(robot("t1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/myorg/robots/ghost"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Could not find robot with specified username"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/organization/myorg/robots/bot"))
        .and(body_json(json!({"description": "d"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(robot("t1")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/organization/myorg/robots/dup"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_message": "Existing robot with name: myorg+dup", "error_type": "invalid_request"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/myorg/robots/bot/regenerate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(robot("t2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/myorg/robots/bot"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(&server);
    let robots = c.list_robots("myorg").await.unwrap();
    assert_eq!(robots.len(), 1);
    assert_eq!(robots[0].name, "myorg+bot");
    assert_eq!(robots[0].token.as_ref().unwrap().expose_secret(), "t1");
    assert!(
        !format!("{robots:?}").contains("t1\""),
        "token leaked in Debug"
    );
    assert_eq!(
        c.get_robot("myorg", "bot")
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("d")
    );
    let err = c.get_robot("myorg", "ghost").await.unwrap_err();
    assert!(matches!(err, QuayError::NotFound(_)), "{err:?}");
    let created = c.create_robot("myorg", "bot", Some("d")).await.unwrap();
    assert_eq!(created.name, "myorg+bot");
    let err = c.create_robot("myorg", "dup", None).await.unwrap_err();
    assert!(matches!(err, QuayError::AlreadyExists(_)), "{err:?}");
    let regen = c.regenerate_robot_token("myorg", "bot").await.unwrap();
    assert_eq!(regen.token.unwrap().expose_secret(), "t2");
    c.delete_robot("myorg", "bot").await.unwrap();
}

#[tokio::test]
async fn proxy_cache_get_create_delete() {
    let server = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/empty/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "", "expiration_s": "", "insecure": ""})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/cached/proxycache"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "upstream_registry": "registry.example.com/lib", "expiration_s": 3600, "insecure": false})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/cached/proxycache"))
        .and(body_json(
            json!({"upstream_registry": "registry.example.com/lib",
            "upstream_registry_username": "u", "upstream_registry_password": "upstream-pw",
            "expiration_s": 3600, "insecure": false}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/dup/proxycache"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_message": "Proxy Cache Configuration already exists"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/organization/cached/proxycache"))
        .respond_with(ResponseTemplate::new(201).set_body_json("Deleted"))
        .expect(1)
        .mount(&server)
        .await;

    let c = client(&server);
    assert_eq!(c.get_proxy_cache("empty").await.unwrap(), None);
    let cfg = c.get_proxy_cache("cached").await.unwrap().unwrap();
    assert_eq!(cfg.upstream_registry, "registry.example.com/lib");
    assert_eq!(cfg.expiration_s, Some(3600));
    let new = NewProxyCache {
        upstream_registry: "registry.example.com/lib".into(),
        username: Some("u".into()),
        password: Some(SecretString::from("upstream-pw")),
        expiration_s: Some(3600),
        insecure: false,
    };
    assert!(!format!("{new:?}").contains("upstream-pw"));
    c.create_proxy_cache("cached", &new).await.unwrap();
    let err = c.create_proxy_cache("dup", &new).await.unwrap_err();
    assert!(matches!(err, QuayError::AlreadyExists(_)), "{err:?}");
    c.delete_proxy_cache("cached").await.unwrap();
}

#[tokio::test]
async fn tags_are_paged_until_has_additional_is_false() {
    let server = test_support::mock::server().await;
    let tag = |n: &str| {
        json!({"name": n, "reversion": false, "start_ts": 1_700_000_000,
        "manifest_digest": format!("sha256:{n}"), "is_manifest_list": false, "size": 1234})
    };
    for (page, tags, more) in [
        ("1", vec![tag("a"), tag("b")], true),
        ("2", vec![tag("c")], false),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/v1/repository/myorg/myrepo/tag/"))
            .and(query_param("page", page))
            .and(query_param("limit", "2"))
            .and(query_param("onlyActiveTags", "true"))
            .and(header_exists("authorization"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "tags": tags, "page": page.parse::<u32>().unwrap(), "has_additional": more})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let tags = client(&server)
        .list_tags(
            "myorg",
            "myrepo",
            &TagQuery {
                page_size: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let names: Vec<_> = tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(tags[2].manifest_digest.as_deref(), Some("sha256:c"));
}

#[tokio::test]
async fn with_token_switches_the_bearer_and_hides_it_in_debug() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository/org2/repo/changevisibility"))
        .and(header("authorization", "Bearer org2-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    let base = client(&server);
    let other = base.with_token(&SecretString::from("org2-token")).unwrap();
    other
        .change_visibility("org2", "repo", Visibility::Public)
        .await
        .unwrap();
    for c in [&base, &other] {
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(TOKEN) && !dbg.contains("org2-token"), "{dbg}");
    }
}

#[tokio::test]
async fn catch_all_names_the_unmatched_request() {
    let server = test_support::mock::server().await;
    let err = client(&server)
        .get_robot("nobody", "bot")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(418));
    assert!(
        err.to_string()
            .contains("UNMATCHED REQUEST: GET /api/v1/organization/nobody/robots/bot"),
        "{err}"
    );
}

#[tokio::test]
async fn user_robots_and_team_membership() {
    let server = test_support::mock::server().await;
    let robot = json!({"name": "admin+mine", "description": "", "token": "user-robot-token"});
    Mock::given(method("PUT"))
        .and(path("/api/v1/user/robots/mine"))
        .and(body_json(json!({"description": ""})))
        .respond_with(ResponseTemplate::new(201).set_body_json(robot.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/user/robots/mine"))
        .respond_with(ResponseTemplate::new(200).set_body_json(robot))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/user/robots/mine"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/organization/myorg/team/owners/members/alice"))
        .and(bearer())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"name": "alice", "kind": "user"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let r = c.create_user_robot("mine", None).await.unwrap();
    assert_eq!(r.token.unwrap().expose_secret(), "user-robot-token");
    assert_eq!(c.get_user_robot("mine").await.unwrap().name, "admin+mine");
    c.delete_user_robot("mine").await.unwrap();
    c.add_team_member("myorg", "owners", "alice").await.unwrap();
}
