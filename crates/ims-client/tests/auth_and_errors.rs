//! Tokens (short-lived, refreshed, 401 retried once), bounded retries, problem+json errors,
//! job status, and the client secret never leaking.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{CANARY_SECRET, MemStore, fake, ims_client, write_file};
use ims_client::{
    ArtifactKind, ImsError, UploadRequest, failure_json, job_status_json, python_json,
    set_job_status, upload_artifacts,
};

const JOB: &str = "e3a46cf3-1150-4bbf-b7c9-504993917f7d";

fn count(fake: &test_support::ims_fake::ImsFake, method: &str, prefix: &str) -> usize {
    fake.log()
        .iter()
        .filter(|l| l.method == method && l.path.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn tokens_are_cached_refreshed_after_expiry_and_refetched_once_after_a_401() {
    let fake = fake(MemStore::default().reader()).await;
    let ims = ims_client(&fake);
    ims.list_images().await.unwrap();
    ims.list_images().await.unwrap();
    assert_eq!(fake.tokens_issued(), 1, "cached between calls");

    // Tokens live 2 s: the next call after that fetches a new one with the same grant.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    ims.list_images().await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);
    let grants: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|l| l.path == "/token")
        .collect();
    assert!(
        grants
            .iter()
            .all(|g| g.body.contains("grant_type=client_credentials"))
    );
    assert!(grants.iter().all(|g| !g.body.contains("refresh_token")));

    // The server forgets the token: one 401, a new token, the same request again.
    fake.revoke_tokens();
    let before = count(&fake, "GET", "/apis/ims/images");
    ims.list_images().await.unwrap();
    assert_eq!(fake.tokens_issued(), 3);
    assert_eq!(count(&fake, "GET", "/apis/ims/images") - before, 2);

    // A second 401 in a row is an error, after exactly two attempts.
    fake.fail_next("GET", "images", 401, 2);
    let before = count(&fake, "GET", "/apis/ims/images");
    let e = ims.list_images().await.unwrap_err();
    assert!(matches!(e, ImsError::Unauthorized(_)), "{e:?}");
    assert_eq!(count(&fake, "GET", "/apis/ims/images") - before, 2);
}

#[tokio::test]
async fn wrong_client_secret_fails_at_once_with_the_servers_description() {
    let fake = fake(MemStore::default().reader()).await;
    let tokens = omps_http::oauth::ClientCredentials::builder(fake.token_url())
        .client_id(test_support::ims_fake::CLIENT_ID)
        .client_secret(secrecy::SecretString::from("wrong"))
        .build()
        .unwrap();
    let ims = ims_client::ImsClient::builder(fake.ims_url())
        .http_settings(common::fast_settings())
        .token_source(Arc::new(tokens))
        .build()
        .unwrap();
    let e = ims.list_images().await.unwrap_err();
    assert!(matches!(e, ImsError::Unauthorized(_)), "{e:?}");
    assert!(e.to_string().contains("invalid_client"), "{e}");
    assert!(!e.is_retryable());
    assert_eq!(count(&fake, "POST", "/token"), 1);
    assert_eq!(count(&fake, "GET", "/apis/ims"), 0);
}

#[tokio::test]
async fn retries_are_bounded_and_posts_are_not_repeated_after_an_answer() {
    let fake = fake(MemStore::default().reader()).await;
    let ims = ims_client(&fake);
    fake.fail_next("GET", "images", 503, 3);
    assert!(ims.list_images().await.is_ok(), "3 failures then success");
    assert_eq!(count(&fake, "GET", "/apis/ims/images"), 4);

    // Exactly as many failures as attempts: the sixth request would succeed.
    fake.fail_next("GET", "images", 503, 5);
    let e = ims.list_images().await.unwrap_err();
    assert!(e.is_retryable());
    assert_eq!(count(&fake, "GET", "/apis/ims/images"), 4 + 5);

    fake.fail_next("POST", "images", 503, 1);
    let e = ims
        .create_image("x", ims_client::Arch::X86_64)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(count(&fake, "POST", "/apis/ims/images"), 1);

    // Permanent errors fail at once.
    fake.fail_next("GET", "images", 403, 1);
    let before = count(&fake, "GET", "/apis/ims/images");
    assert!(ims.list_images().await.is_err());
    assert_eq!(count(&fake, "GET", "/apis/ims/images") - before, 1);
}

#[tokio::test]
async fn problem_json_errors_are_surfaced_with_their_detail() {
    let fake = fake(MemStore::default().reader()).await;
    let ims = ims_client(&fake);
    let e = ims.get_image("no-such-id").await.unwrap_err();
    assert!(matches!(e, ImsError::NotFound(_)));
    assert_eq!(
        e.to_string(),
        "not found: IMS answered HTTP 404 (Not Found): Requested record does not exist"
    );
    let raw = ims
        .create_recipe(serde_json::json!({"name": "r", "recipe_type": "kiwi-ng", "linux_distribution": "sle15"}))
        .await
        .unwrap_err();
    assert!(matches!(raw, ImsError::Rejected(_)));
    assert!(
        raw.to_string()
            .contains("linux_distribution must be one of")
    );
}

#[tokio::test]
async fn job_status_is_checked_locally_then_set() {
    let fake = fake(MemStore::default().reader()).await;
    fake.add_job(JOB);
    let ims = ims_client(&fake);
    let e = set_job_status(&ims, JOB, "done").await.unwrap_err();
    assert!(e.is_usage());
    let e = set_job_status(&ims, &format!("{JOB}0"), "success")
        .await
        .unwrap_err();
    assert!(e.is_usage());
    assert!(fake.log().is_empty(), "nothing sent for local errors");

    let job = set_job_status(&ims, JOB, "packaging_artifacts")
        .await
        .unwrap();
    assert_eq!(job.get("status").unwrap(), "packaging_artifacts");
    let doc = job_status_json(&job);
    assert_eq!(doc["result"], "success");
    assert_eq!(doc["ims_job_record"]["id"], JOB);
}

/// Captures every log line of the current thread (the tests run on a current-thread runtime).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_client_secret_and_tokens_never_leak() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    fake.add_job(JOB);
    let ims = ims_client(&fake);
    let mut req = UploadRequest {
        name: "canary".into(),
        job_id: Some(JOB.into()),
        ..UploadRequest::default()
    };
    req.files.insert(
        ArtifactKind::Rootfs,
        write_file(dir.path(), "rootfs", 100, 1),
    );
    let ok = upload_artifacts(&ims, &mem, &req).await.unwrap();
    fake.fail_next("PATCH", "jobs/", 422, 1);
    let err = upload_artifacts(&ims, &mem, &req).await.unwrap_err();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("DEBUG") || logs.contains("TRACE"),
        "debug logs captured"
    );
    let outputs = [
        python_json(&ok.to_json()),
        python_json(&failure_json(&err)),
        err.to_string(),
        format!("{err:?}"),
        format!("{ims:?}"),
        logs,
    ];
    let ims_requests: Vec<String> = fake
        .log()
        .into_iter()
        .filter(|l| l.path != "/token")
        .map(|l| format!("{} {}\n{}\n{}", l.method, l.path, l.headers, l.body))
        .collect();
    for (i, text) in outputs.iter().chain(ims_requests.iter()).enumerate() {
        assert!(
            !text.contains(CANARY_SECRET),
            "secret leaked in output {i}: {text}"
        );
    }
    // Bearer tokens stay out of logs, outputs and errors too.
    for i in 1..=fake.tokens_issued() {
        let prefix = format!("token-{i}-");
        for text in &outputs {
            assert!(!text.contains(&prefix), "token leaked: {text}");
        }
    }
}
