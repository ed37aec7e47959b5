//! Contract tests for `POST /api/v1.0/decision`.

mod common;

use std::time::Duration;

use greenwave_client::{Client, DecisionRequest, GreenwaveError};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, ResponseTemplate};

const NVR: &str = "foo-operator-bundle-container-1.0-3";

fn omps_request() -> DecisionRequest {
    DecisionRequest::koji_build("omps_push", "cvp", NVR)
}

fn unsatisfied_body() -> serde_json::Value {
    json!({"policies_satisfied": false,
      "summary": "1 of 1 required test results missing",
      "applicable_policies": ["example_policy"],
      "satisfied_requirements": [],
      "unsatisfied_requirements": [
        {"type": "test-result-missing", "testcase": "example.test", "subject_type": "koji_build",
         "subject_identifier": NVR, "scenario": null, "item": {"nvr": NVR}}]})
}

#[tokio::test]
async fn sends_exactly_the_omps_body_and_parses_unsatisfied_decision() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"decision_context": "omps_push", "product_version": "cvp",
            "subject_type": "koji_build", "subject_identifier": NVR}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(unsatisfied_body()))
        .expect(1)
        .mount(&server)
        .await;

    let decision = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap();
    assert!(!decision.policies_satisfied);
    assert_eq!(decision.summary, "1 of 1 required test results missing");
    assert_eq!(
        decision.applicable_policies,
        vec!["example_policy".to_owned()]
    );
    assert!(decision.satisfied_requirements.is_empty());
    let req = &decision.unsatisfied_requirements[0];
    assert_eq!(req.kind, "test-result-missing");
    assert_eq!(req.testcase.as_deref(), Some("example.test"));
    assert_eq!(req.scenario, None);
    assert_eq!(req.extra["item"], json!({"nvr": NVR}));
    // The raw JSON is kept unchanged for `greenwave_response`.
    assert_eq!(decision.raw, unsatisfied_body());
}

#[tokio::test]
async fn satisfied_decision_with_verbose_and_context_list() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/greenwave/api/v1.0/decision"))
        .and(body_json(json!({"decision_context": ["a", "b"], "product_version": "cvp",
            "subject_type": "koji_build", "subject_identifier": NVR, "verbose": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "policies_satisfied": true,
            "summary": "All required tests (1 total) have passed or been waived",
            "satisfied_requirements": [{"type": "test-result-passed", "testcase": "t", "result_id": 7}],
            "unsatisfied_requirements": [], "results": [], "waivers": []})))
        .expect(1)
        .mount(&server)
        .await;
    // Base URL with a path prefix and no trailing slash: exactly one `/` is inserted.
    let client = Client::builder(format!("{}/greenwave", server.uri()))
        .build()
        .unwrap();
    let mut request = DecisionRequest::koji_build(vec!["a".to_owned(), "b".to_owned()], "cvp", NVR);
    request.verbose = Some(true);
    let decision = client.decision(&request).await.unwrap();
    assert!(decision.policies_satisfied);
    assert!(decision.applicable_policies.is_empty());
    assert_eq!(
        decision.satisfied_requirements[0].kind,
        "test-result-passed"
    );
    assert_eq!(
        decision.satisfied_requirements[0].extra["result_id"],
        json!(7)
    );
    assert_eq!(decision.raw["waivers"], json!([]));
}

#[tokio::test]
async fn non_200_keeps_parsed_body_and_message() {
    let server = common::server().await;
    let body = json!({"message": "Found no applicable policies for koji_build subjects at gating point(s) omps_push in cvp"});
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(ResponseTemplate::new(404).set_body_json(body.clone()))
        .mount(&server)
        .await;
    let err = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap_err();
    match &err {
        GreenwaveError::Status {
            status,
            message,
            body: got,
        } => {
            assert_eq!(*status, 404);
            assert!(
                message
                    .as_deref()
                    .unwrap()
                    .starts_with("Found no applicable")
            );
            assert_eq!(got, &body);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(err.to_string(), "Greenwave unexpected response code: 404");
    assert!(!err.is_retryable());
    assert_eq!(err.response_body(), Some(&body));
}

#[tokio::test]
async fn non_json_5xx_body_becomes_empty_object_and_is_retryable() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><body>Bad Gateway</body></html>"),
        )
        .mount(&server)
        .await;
    let err = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenwaveError::Status { status: 502, .. }),
        "{err:?}"
    );
    assert_eq!(err.response_body(), Some(&json!({})));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn missing_policies_satisfied_is_typed_and_keeps_body() {
    let server = common::server().await;
    let body = json!({"summary": "weird"});
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
        .mount(&server)
        .await;
    let err = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenwaveError::MissingPoliciesSatisfied { .. }),
        "{err:?}"
    );
    assert_eq!(err.response_body(), Some(&body));
}

#[tokio::test]
async fn garbage_200_body_is_missing_policies_satisfied_with_empty_object() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json at all"))
        .mount(&server)
        .await;
    let err = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenwaveError::MissingPoliciesSatisfied { .. }),
        "{err:?}"
    );
    assert_eq!(err.response_body(), Some(&json!({})));
}

#[tokio::test]
async fn non_boolean_policies_satisfied_is_invalid_response() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"policies_satisfied": "yes"})),
        )
        .mount(&server)
        .await;
    let err = common::client(&server)
        .decision(&omps_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenwaveError::InvalidResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out_as_retryable_transport_error() {
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(unsatisfied_body())
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client.decision(&omps_request()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().starts_with("Request failed: "), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(err.response_body(), None);
}

#[tokio::test]
async fn connection_refused_is_transport_error() {
    // Bind then drop a listener so the port is very likely closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = client.decision(&omps_request()).await.unwrap_err();
    assert!(matches!(err, GreenwaveError::Transport { .. }), "{err:?}");
    // The message names the cause, not only the URL.
    assert!(err.to_string().contains("Connection refused"), "{err}");
}

#[tokio::test]
async fn oversized_body_is_rejected() {
    let server = common::server().await;
    let big = format!(
        "{{\"policies_satisfied\": true, \"summary\": \"{}\"}}",
        "x".repeat(4096)
    );
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let err = client.decision(&omps_request()).await.unwrap_err();
    assert!(
        matches!(err, GreenwaveError::ResponseTooLarge { limit: 1024 }),
        "{err:?}"
    );
}

#[test]
fn builder_rejects_bad_url_and_bad_ca_bundle() {
    assert!(matches!(
        Client::builder("not a url").build(),
        Err(GreenwaveError::InvalidConfig { .. })
    ));
    assert!(matches!(
        Client::builder("ftp://example.invalid").build(),
        Err(GreenwaveError::InvalidConfig { .. })
    ));
    assert!(matches!(
        Client::builder("https://example.invalid")
            .ca_bundle_pem("no certificate here")
            .build(),
        Err(GreenwaveError::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn custom_ca_bundle_is_accepted_and_plain_http_still_works() {
    let pem = test_support::certs::CA_PEM;
    let server = common::server().await;
    Mock::given(method("POST"))
        .and(path("/api/v1.0/decision"))
        .respond_with(ResponseTemplate::new(200).set_body_json(unsatisfied_body()))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .ca_bundle_pem(pem)
        .build()
        .unwrap();
    assert!(
        !client
            .decision(&omps_request())
            .await
            .unwrap()
            .policies_satisfied
    );
}

#[tokio::test]
async fn shared_settings_and_retries_when_asked() {
    let server = common::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1.0/about"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    // Every setter of the workspace's shared HTTP settings, then two retries.
    let client = Client::builder(server.uri())
        .http_settings(greenwave_client::HttpSettings::new())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(5))
        .ca_bundle_pem(test_support::certs::CA_PEM)
        .danger_accept_invalid_certs(false)
        .user_agent("test/1")
        .max_retries(2)
        .retry_base_delay(Duration::from_millis(1))
        .max_response_bytes(4096)
        .build()
        .unwrap();
    let err = client.about().await.unwrap_err();
    assert!(
        matches!(err, GreenwaveError::Status { status: 503, .. }),
        "{err:?}"
    );
}
