//! Helpers shared by the wiremock contract tests.
#![allow(dead_code)]

use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers::any};

/// Mounts a lowest-priority mock that answers every unmatched request with 418 and a body naming
/// the request, so a missed expectation shows up in the test's error instead of as a bare 404.
pub async fn catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(|req: &Request| {
            let msg = format!(
                "UNMATCHED REQUEST: {} {}{}",
                req.method,
                req.url.path(),
                req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
            );
            ResponseTemplate::new(418).set_body_json(serde_json::json!({
                "error": {"code": "unmatched", "message": msg.clone()},
                "error_message": msg.clone(),
                "errors": [{"code": "UNMATCHED", "message": msg}],
            }))
        })
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// Starts a mock server with the catch-all mounted.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    catch_all(&server).await;
    server
}
