//! Contract tests for the OAuth2 client-credentials token client against wiremock.

use std::time::Duration;

use quay_client::oauth::OAuthClient;
use quay_client::{ExposeSecret, QuayError, SecretString};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> OAuthClient {
    OAuthClient::builder(format!("{}/realms/x/token", server.uri()))
        .client_id("omps-cli")
        .client_secret(SecretString::from("s3cr3t-value"))
        .scope("quay")
        .retry_base_delay(Duration::from_millis(1))
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_credentials_grant_is_sent_and_token_cached() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/realms/x/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=omps-cli"))
        .and(body_string_contains("client_secret=s3cr3t-value"))
        .and(body_string_contains("scope=quay"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(c.token().await.unwrap().expose_secret(), "tok-1");
    // Second call is served from the cache: the mock expects exactly one request.
    assert_eq!(c.token().await.unwrap().expose_secret(), "tok-1");
    assert!(!format!("{c:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn expired_token_is_fetched_again() {
    let server = test_support::mock::server().await;
    // expires_in 1 s: with the refresh margin (a tenth of the lifetime) it is stale after 0.9 s.
    Mock::given(method("POST"))
        .and(path("/realms/x/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "short", "expires_in": 1})))
        .expect(2)
        .mount(&server)
        .await;
    let c = client(&server);
    c.token().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.token().await.unwrap();
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_without_the_secret() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .and(path("/realms/x/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": "Invalid client credentials"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).token().await.unwrap_err();
    assert!(matches!(err, QuayError::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!format!("{err:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn non_bearer_or_empty_tokens_are_rejected() {
    let server = test_support::mock::server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "x", "token_type": "mac"})))
        .mount(&server)
        .await;
    let err = client(&server).token().await.unwrap_err();
    assert!(matches!(err, QuayError::InvalidResponse(_)), "{err:?}");
}

#[test]
fn builder_requires_id_and_secret() {
    let e = OAuthClient::builder("https://sso.example.com/token")
        .client_secret(SecretString::from("x"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("client id"), "{e}");
    let e = OAuthClient::builder("https://sso.example.com/token")
        .client_id("a")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("client secret"), "{e}");
}
