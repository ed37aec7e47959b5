//! Contract tests for `GET /api/v1.0/about`.

mod common;

use greenwave_client::GreenwaveError;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn about_returns_version() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1.0/about"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "2.3.0"})))
        .expect(1)
        .mount(&server)
        .await;
    let about = common::client(&server).about().await.unwrap();
    assert_eq!(about.version, "2.3.0");
    assert_eq!(about.raw, json!({"version": "2.3.0"}));
}

#[tokio::test]
async fn about_without_version_is_invalid_response() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1.0/about"))
        .respond_with(ResponseTemplate::new(200).set_body_string("Health check OK"))
        .mount(&server)
        .await;
    let err = common::client(&server).about().await.unwrap_err();
    assert!(
        matches!(err, GreenwaveError::InvalidResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn about_5xx_is_status_error() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1.0/about"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"message": "Server encountered unexpected error"})),
        )
        .mount(&server)
        .await;
    let err = common::client(&server).about().await.unwrap_err();
    match err {
        GreenwaveError::Status {
            status, message, ..
        } => {
            assert_eq!(status, 500);
            assert_eq!(
                message.as_deref(),
                Some("Server encountered unexpected error")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}
