//! `HttpSettings::send`, bounded reads and transport-error descriptions against real sockets on
//! 127.0.0.1 (a wiremock server, a closed port, a silent listener).

use std::time::{Duration, Instant};

use omps_http::{HttpError, HttpSettings, TransportKind, read_limited, status_error};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast() -> HttpSettings {
    HttpSettings::new()
        .retry_base_delay(Duration::from_millis(1))
        .timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn idempotent_calls_retry_transient_statuses_then_return_the_last_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    let settings = fast().max_retries(2);
    let client = settings.build_client("t").unwrap();
    let resp = settings
        .send("probe", true, || client.get(server.uri()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
}

#[tokio::test]
async fn calls_that_change_state_and_501_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(501))
        .expect(1)
        .mount(&server)
        .await;
    let settings = fast().max_retries(3);
    let client = settings.build_client("t").unwrap();
    let post = settings
        .send("push", false, || client.post(server.uri()))
        .await
        .unwrap();
    assert_eq!(post.status(), 503);
    let get = settings
        .send("probe", true, || client.get(server.uri()))
        .await
        .unwrap();
    assert_eq!(get.status(), 501);
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let settings = fast().max_retries(1);
    let client = settings.build_client("t").unwrap();
    let start = Instant::now();
    let resp = settings
        .send("probe", true, || client.get(server.uri()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The back-off alone would be 1 ms: the wait shows the header was read.
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_url_with_its_port_the_cause_and_a_hint() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let settings = fast().max_retries(0);
    let client = settings.build_client("t").unwrap();
    let url = format!("http://127.0.0.1:{port}/v2/?token=secret");
    let err = settings
        .send("tag list", true, || client.get(&url))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportKind::Connect, "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "tag list: cannot connect (http://127.0.0.1:{port}/v2/): "
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(
        text.contains(&format!(
            "hint: nothing accepts connections on 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn tls_spoken_to_a_plain_http_peer_says_so() {
    let server = MockServer::start().await;
    let https = server.uri().replace("http://", "https://");
    let settings = fast().max_retries(2);
    let client = settings.build_client("t").unwrap();
    let err = settings
        .send("blob HEAD", true, || client.head(&https))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportKind::Tls, "{err}");
    assert!(!err.is_retryable());
    let authority = https.trim_start_matches("https://");
    assert_eq!(
        err.hint(),
        Some(
            format!("{authority} answered in plain HTTP, not TLS: use an http:// URL for it")
                .as_str()
        ),
        "{err}"
    );
    // A TLS failure is not retried: the plain-HTTP server saw no request at all.
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_peer_times_out_with_a_timeout_kind() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let settings = fast().max_retries(0).timeout(Duration::from_millis(300));
    let client = settings.build_client("t").unwrap();
    let url = format!("http://{addr}/");
    let err = settings
        .send("probe", true, || client.get(&url).timeout(settings.timeout))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportKind::Timeout, "{err}");
    assert!(
        err.to_string().contains(&format!("http://{addr}/")),
        "{err}"
    );
    keep.abort();
}

#[tokio::test]
async fn bodies_are_read_within_their_limit_only() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 1000]))
        .mount(&server)
        .await;
    let client = fast().build_client("t").unwrap();
    let ok = read_limited("read", client.get(server.uri()).send().await.unwrap(), 1000)
        .await
        .unwrap();
    assert_eq!(ok.len(), 1000);
    let err = read_limited("read", client.get(server.uri()).send().await.unwrap(), 999)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::ResponseTooLarge { limit: 999, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn status_errors_keep_the_remote_body_and_say_if_retrying_helps() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(409).set_body_string("{\"error\":\"exists\"}"))
        .mount(&server)
        .await;
    let client = fast().build_client("t").unwrap();
    let resp = client
        .get(format!("{}/x?q=1", server.uri()))
        .send()
        .await
        .unwrap();
    let err = status_error("create", resp).await;
    match &err {
        HttpError::Status {
            status, body, url, ..
        } => {
            assert_eq!(*status, 409);
            assert_eq!(body, "{\"error\":\"exists\"}");
            assert!(url.ends_with("/x"), "{url}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(409));
}

#[tokio::test]
async fn the_user_agent_defaults_to_the_client_and_can_be_set() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let default = HttpSettings::new().build_client("my-client/1").unwrap();
    default.get(server.uri()).send().await.unwrap();
    let set = HttpSettings::new()
        .user_agent("svc/2")
        .build_client("my-client/1")
        .unwrap();
    set.get(server.uri()).send().await.unwrap();
    let agents: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["user-agent"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(agents, ["my-client/1", "svc/2"]);
}
