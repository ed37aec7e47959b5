//! Shared test helpers.

use std::time::Duration;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Starts a mock server whose fallback answers 418 naming the unmatched request, so a missed
/// expectation shows up clearly in the failure.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|req: &Request| {
            ResponseTemplate::new(418).set_body_string(format!(
                "no mock matched {} {} body={}",
                req.method,
                req.url,
                String::from_utf8_lossy(&req.body)
            ))
        })
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

pub fn client(server: &MockServer) -> greenwave_client::Client {
    greenwave_client::Client::builder(server.uri())
        .request_timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
}
