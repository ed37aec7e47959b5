//! Shared test helpers.

use std::time::Duration;

use wiremock::MockServer;

/// Starts a mock server with the shared catch-all (418 naming any unmatched request), so a
/// missed expectation shows up clearly in the failure.
pub async fn server() -> MockServer {
    test_support::mock::server().await
}

pub fn client(server: &MockServer) -> greenwave_client::Client {
    greenwave_client::Client::builder(server.uri())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client builds")
}
