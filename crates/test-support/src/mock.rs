//! wiremock helpers: a catch-all that names every request no expectation matched.
//!
//! The catch-all answers `418` with a JSON body carrying the description in every error shape
//! our clients read (App Registry `error.message`, Quay REST `error_message`, registry
//! `errors[].message`), so a missed expectation shows up in the test's failure as
//! `UNMATCHED REQUEST: <METHOD> <path>?<query>` instead of as a bare 404.

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// `UNMATCHED REQUEST: <METHOD> <path>[?<query>]`.
pub fn describe(req: &Request) -> String {
    format!(
        "UNMATCHED REQUEST: {} {}{}",
        req.method,
        req.url.path(),
        req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
    )
}

/// The catch-all's answer for a request described by `message`.
pub fn unmatched(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(418).set_body_json(serde_json::json!({
        "error": {"code": "unmatched", "message": message},
        "error_message": message,
        "errors": [{"code": "UNMATCHED", "message": message}],
    }))
}

/// Mounts the catch-all at the lowest priority.
pub async fn catch_all(server: &MockServer) {
    catch_all_describing(server, describe).await;
}

/// Mounts the catch-all with a custom description (e.g. one that decodes an XML-RPC body).
pub async fn catch_all_describing<F>(server: &MockServer, describe: F)
where
    F: Fn(&Request) -> String + Send + Sync + 'static,
{
    Mock::given(any())
        .respond_with(move |req: &Request| unmatched(&describe(req)))
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

/// A started mock server with the catch-all mounted.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    catch_all(&server).await;
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unmatched_requests_are_named_in_every_error_shape() {
        let server = server().await;
        let host = server.address().to_string();
        let (status, body) = tokio::task::spawn_blocking(move || {
            crate::http::get(&host, "/v2/ns/app/tags/list?n=5")
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(status, 418);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let want = "UNMATCHED REQUEST: GET /v2/ns/app/tags/list?n=5";
        assert_eq!(v["error"]["message"], want);
        assert_eq!(v["error_message"], want);
        assert_eq!(v["errors"][0]["message"], want);
    }
}
