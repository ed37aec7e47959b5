//! The OAuth2 client-credentials token source against a wiremock token endpoint.

use std::time::Duration;

use omps_http::oauth::{ClientAuth, ClientCredentials};
use omps_http::{HttpError, HttpSettings};
use secrecy::{ExposeSecret, SecretString};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "s3cr3t-canary-value";

fn source(server: &MockServer) -> ClientCredentials {
    ClientCredentials::builder(format!("{}/realms/x/token", server.uri()))
        .client_id("omps-cli")
        .client_secret(SecretString::from(SECRET))
        .scope("quay")
        .http_settings(HttpSettings::new().retry_base_delay(Duration::from_millis(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_grant_is_sent_and_the_token_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/x/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        // RFC 6749 §2.3.1: Basic credentials, not the form body.
        .and(header(
            "authorization",
            "Basic b21wcy1jbGk6czNjcjN0LWNhbmFyeS12YWx1ZQ==",
        ))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=quay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = source(&server);
    assert_eq!(tokens.token().await.unwrap().expose_secret(), "tok-1");
    // Served from the cache: the mock expects exactly one request.
    assert_eq!(tokens.token().await.unwrap().expose_secret(), "tok-1");
    assert!(!format!("{tokens:?}").contains(SECRET));
    let body = &server.received_requests().await.unwrap()[0].body;
    assert!(!String::from_utf8_lossy(body).contains(SECRET));
}

#[tokio::test]
async fn body_client_auth_puts_the_credentials_in_the_form_only() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=omps-cli"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "tok-body"})))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = ClientCredentials::builder(format!("{}/token", server.uri()))
        .client_id("omps-cli")
        .client_secret(SecretString::from(SECRET))
        .client_auth(ClientAuth::Body)
        .build()
        .unwrap();
    assert_eq!(tokens.token().await.unwrap().expose_secret(), "tok-body");
    let request = &server.received_requests().await.unwrap()[0];
    assert!(!request.headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_token_without_expires_in_is_renewed_after_at_most_a_minute() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "no-expiry"})))
        .expect(2)
        .mount(&server)
        .await;
    let tokens = source(&server);
    tokens.token().await.unwrap();
    // 60 s assumed, renewed 30 s early: paused time moves past that without waiting.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(31)).await;
    tokio::time::resume();
    tokens.token().await.unwrap();
}

#[tokio::test]
async fn an_expiring_token_is_fetched_again_and_invalidate_forces_a_fetch() {
    let server = MockServer::start().await;
    // expires_in 1 s: with the margin (half the lifetime) it is stale after 0.5 s.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "short", "expires_in": 1})))
        .expect(3)
        .mount(&server)
        .await;
    let tokens = source(&server);
    tokens.token().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokens.token().await.unwrap();
    tokens.invalidate().await;
    tokens.token().await.unwrap();
}

#[tokio::test]
async fn refused_credentials_keep_the_answer_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": "Invalid client credentials"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = source(&server).token().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!format!("{err:?}{err}").contains(SECRET));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn transient_token_endpoint_failures_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "after-retry"})))
        .mount(&server)
        .await;
    assert_eq!(
        source(&server).token().await.unwrap().expose_secret(),
        "after-retry"
    );
}

#[tokio::test]
async fn malformed_answers_are_invalid_responses() {
    for body in [
        serde_json::json!({"access_token": "x", "token_type": "mac"}),
        serde_json::json!({"access_token": ""}),
        serde_json::json!({"token": "x"}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let err = source(&server).token().await.unwrap_err();
        assert!(
            matches!(err, HttpError::InvalidResponse { .. }),
            "{body}: {err:?}"
        );
    }
}

#[test]
fn the_builder_requires_an_id_a_secret_and_a_usable_url() {
    let e = ClientCredentials::builder("https://sso.example.com/token")
        .client_secret(SecretString::from("x"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("client id"), "{e}");
    let e = ClientCredentials::builder("https://sso.example.com/token")
        .client_id("a")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("client secret"), "{e}");
    let e = ClientCredentials::builder("sso.example.com/token")
        .client_id("a")
        .client_secret(SecretString::from("x"))
        .build()
        .unwrap_err();
    assert!(matches!(e, HttpError::Config(_)), "{e:?}");
}
