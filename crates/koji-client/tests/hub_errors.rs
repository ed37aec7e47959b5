//! Contract tests: hub error paths and the retry policy.

mod common;

use std::time::{Duration, Instant};

use common::{call, expect, fast_retries, fixture, ok};
use koji_client::{Client, HttpSettings, Idempotency, KojiError, Limits, Value};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client_with(server: &MockServer, retry: HttpSettings, timeout: Duration) -> Client {
    Client::builder(common::hub_url(server))
        .http_settings(retry.timeout(timeout))
        .build()
        .unwrap()
}

#[tokio::test]
async fn fault_is_typed_keeps_code_and_string_and_is_not_retried() {
    let hub = common::hub().await;
    expect(&hub, call("getBuild"), fixture("fault_python_exception"), 1).await;
    let err = common::client(&hub).get_build("a-b-c").await.unwrap_err();
    let fault = err.fault().expect("a fault");
    assert_eq!(fault.code, 1);
    assert!(fault.string.starts_with("<class 'TypeError'>"));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("getBuild"), "{err}");
}

#[tokio::test]
async fn server_offline_fault_is_retried_until_success() {
    let hub = common::hub().await;
    Mock::given(call("getAPIVersion"))
        .respond_with(fixture("fault_server_offline"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&hub)
        .await;
    expect(&hub, call("getAPIVersion"), fixture("getapiversion"), 1).await;
    assert_eq!(common::client(&hub).get_api_version().await.unwrap(), 1);
}

#[tokio::test]
async fn server_offline_fault_gives_up_after_max_retries() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getAPIVersion"),
        fixture("fault_server_offline"),
        3,
    )
    .await;
    let err = common::client(&hub).get_api_version().await.unwrap_err();
    assert_eq!(err.fault().unwrap().code, koji_client::FAULT_SERVER_OFFLINE);
    assert!(err.is_retryable());
    assert!(err.to_string().contains("ServerOffline"), "{err}");
}

#[tokio::test]
async fn http_5xx_html_from_proxy_is_retried_then_reported_with_body() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getBuild"),
        ResponseTemplate::new(502).set_body_raw(
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
        ),
        3,
    )
    .await;
    let err = common::client(&hub).get_build("a-1-1").await.unwrap_err();
    match &err {
        KojiError::Http {
            status,
            body,
            method,
        } => {
            assert_eq!(*status, 502);
            assert!(body.contains("502 Bad Gateway"));
            assert_eq!(method, "getBuild");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn http_405_text_body_is_typed_and_not_retried() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("hello"),
        ResponseTemplate::new(405)
            .insert_header("content-type", "text/plain")
            .insert_header("allow", "POST")
            .set_body_string("This is an XML-RPC server. Only POST requests are accepted."),
        1,
    )
    .await;
    let err = common::client(&hub).hello().await.unwrap_err();
    assert!(
        matches!(&err, KojiError::Http { status: 405, body, .. } if body == "This is an XML-RPC server. Only POST requests are accepted."),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn http_400_is_not_retried_but_408_is() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("hello"),
        ResponseTemplate::new(400).set_body_string("Invalid request: junk"),
        1,
    )
    .await;
    expect(
        &hub,
        call("getAPIVersion"),
        ResponseTemplate::new(408).set_body_string("Request timeout"),
        3,
    )
    .await;
    let koji = common::client(&hub);
    let e400 = koji.hello().await.unwrap_err();
    assert!(
        matches!(e400, KojiError::Http { status: 400, .. }),
        "{e400:?}"
    );
    let e408 = koji.get_api_version().await.unwrap_err();
    assert!(
        matches!(e408, KojiError::Http { status: 408, .. }),
        "{e408:?}"
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("getAPIVersion"),
        fixture("getapiversion").set_delay(Duration::from_secs(10)),
        1,
    )
    .await;
    let koji = client_with(
        &hub,
        HttpSettings::new().max_retries(0),
        Duration::from_millis(200),
    );
    let started = Instant::now();
    let err = koji.get_api_version().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("timed out"), "{text}");
}

#[tokio::test]
async fn timeouts_of_reads_are_retried() {
    let hub = common::hub().await;
    Mock::given(call("getAPIVersion"))
        .respond_with(fixture("getapiversion").set_delay(Duration::from_secs(10)))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&hub)
        .await;
    expect(&hub, call("getAPIVersion"), fixture("getapiversion"), 1).await;
    let koji = client_with(&hub, fast_retries(1), Duration::from_millis(300));
    assert_eq!(koji.get_api_version().await.unwrap(), 1);
}

#[tokio::test]
async fn garbage_xml_body_is_invalid_response_and_not_retried() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("hello"),
        ResponseTemplate::new(200).set_body_raw(
            "<methodResponse><params><param><value><int>1</i4>",
            "text/xml",
        ),
        1,
    )
    .await;
    let err = common::client(&hub).hello().await.unwrap_err();
    assert!(
        matches!(
            &err,
            KojiError::InvalidResponse {
                source: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn non_xml_content_type_is_refused_before_parsing() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("hello"),
        ResponseTemplate::new(200).set_body_raw("<html>login page</html>", "text/html"),
        1,
    )
    .await;
    let err = common::client(&hub).hello().await.unwrap_err();
    assert!(
        matches!(&err, KojiError::InvalidResponse { source: None, reason, .. } if reason.contains("text/html")),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_answer_hits_the_size_limit() {
    let hub = common::hub().await;
    expect(&hub, call("hello"), ok(Value::from("x".repeat(10_000))), 1).await;
    let koji = Client::builder(common::hub_url(&hub))
        .limits(Limits {
            max_size: 1000,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let err = koji.hello().await.unwrap_err();
    assert!(
        matches!(err, KojiError::TooLarge { limit: 1000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn non_idempotent_calls_are_never_retried() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("createSomething"),
        ResponseTemplate::new(503).set_body_string("busy"),
        1,
    )
    .await;
    expect(
        &hub,
        call("editSomething"),
        fixture("fault_server_offline"),
        1,
    )
    .await;
    let koji = common::client(&hub);
    let e1 = koji
        .call(
            "createSomething",
            &[Value::Int(1)],
            Idempotency::NonIdempotent,
        )
        .await
        .unwrap_err();
    assert!(matches!(e1, KojiError::Http { status: 503, .. }), "{e1:?}");
    assert!(
        e1.is_retryable(),
        "retryable in itself, but the caller said not to"
    );
    let e3 = koji
        .call("editSomething", &[], Idempotency::NonIdempotent)
        .await
        .unwrap_err();
    assert_eq!(e3.fault().unwrap().code, 1014);
}

#[tokio::test]
async fn non_idempotent_multicall_is_sent_once() {
    let hub = common::hub().await;
    expect(
        &hub,
        call("multiCall"),
        ResponseTemplate::new(500).set_body_string("oops"),
        1,
    )
    .await;
    let err = common::client(&hub)
        .multicall(
            &[koji_client::MethodCall::new("hello", vec![])],
            Idempotency::NonIdempotent,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, KojiError::Http { status: 500, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let koji = Client::builder(format!("http://127.0.0.1:{port}/kojihub"))
        .http_settings(fast_retries(1))
        .build()
        .unwrap();
    let err = koji.hello().await.unwrap_err();
    assert!(matches!(err, KojiError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    // The message names the cause, not only the URL.
    let text = err.to_string();
    assert!(text.contains("Connection refused"), "{text}");
    assert!(
        text.starts_with("Koji request hello: cannot connect"),
        "{text}"
    );
}

#[test]
fn builder_rejects_bad_configuration() {
    for url in [
        "not a url",
        "ftp://example.invalid/kojihub",
        "mailto:x@example.invalid",
    ] {
        assert!(
            matches!(
                Client::builder(url).build(),
                Err(KojiError::InvalidConfig { .. })
            ),
            "{url}"
        );
    }
    assert!(matches!(
        Client::builder("https://koji.example.invalid/kojihub")
            .topurl("::nope")
            .build(),
        Err(KojiError::InvalidConfig { .. })
    ));
    assert!(matches!(
        Client::builder("https://koji.example.invalid/kojihub")
            .ca_bundle_pem("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
            .build(),
        Err(KojiError::InvalidConfig { .. })
    ));
}

#[tokio::test]
async fn custom_ca_bundle_is_accepted() {
    let pem = test_support::certs::CA_PEM;
    let hub = common::hub().await;
    expect(&hub, call("hello"), fixture("hello"), 1).await;
    let koji = Client::builder(common::hub_url(&hub))
        .ca_bundle_pem(pem)
        .build()
        .unwrap();
    assert_eq!(koji.hello().await.unwrap(), "Hello World");
}

#[tokio::test]
async fn the_builder_takes_the_shared_settings() {
    let hub = common::hub().await;
    expect(&hub, call("hello"), fixture("hello"), 1).await;
    // Every setter of the workspace's shared HTTP settings, on top of a settings value.
    let koji = Client::builder(common::hub_url(&hub))
        .http_settings(HttpSettings::new())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(5))
        .ca_bundle_pem(test_support::certs::CA_PEM)
        .danger_accept_invalid_certs(false)
        .user_agent("test/1")
        .max_retries(0)
        .retry_base_delay(Duration::from_millis(1))
        .max_response_bytes(64)
        .build()
        .unwrap();
    // The 64-byte cap applies to the hub's answer (the fixture is larger).
    let err = koji.hello().await.unwrap_err();
    assert!(
        matches!(err, KojiError::TooLarge { limit: 64, .. }),
        "{err:?}"
    );
}
