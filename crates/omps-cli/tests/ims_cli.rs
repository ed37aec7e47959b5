//! `omps ims …` and `ims-helper` through the real binaries, against the IMS fake
//! (`test_support::ims_fake`) and, for the uploads, a real S3 peer (moto, `OMPS_MOTO_SERVER`):
//! a full upload with mounted credentials and its golden stdout, the seed's syntax through
//! `ims-helper`, usage errors, a failure with clean-up, SIGTERM during an upload, the token
//! authentication modes, and a canary client secret absent from every output at DEBUG level.

mod run_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use run_support::{Run, command, run_and_signal, s};
use serde_json::Value;
use test_support::fixtures::patterned_file as write_file;
use test_support::ims_fake::{CLIENT_ID, ImsFake};
use test_support::moto::MotoServer;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OMPS: &str = env!("CARGO_BIN_EXE_omps");
const HELPER: &str = env!("CARGO_BIN_EXE_ims-helper");
/// The client secret of every test; it must appear in no output.
const CANARY_SECRET: &str = "canary-client-secret-3b9d0f";
const S3_CANARY: &str = "canary-s3-secret-key-81c4";
const JOB: &str = "e3a46cf3-1150-4bbf-b7c9-504993917f7d";
const BUCKET: &str = "boot-images";
const MIB: usize = 1024 * 1024;

/// The pod's mounted Keycloak secret: one file per value, with trailing newlines.
fn mounted_auth(dir: &Path, fake: &ImsFake) -> PathBuf {
    let auth = dir.join("admin-client-auth");
    std::fs::create_dir(&auth).unwrap();
    std::fs::write(auth.join("client-id"), format!("{CLIENT_ID}\n")).unwrap();
    std::fs::write(auth.join("client-secret"), format!("{CANARY_SECRET}\n")).unwrap();
    std::fs::write(auth.join("endpoint"), format!("{}\n", fake.token_url())).unwrap();
    auth
}

async fn ims_fake(moto: Option<&MotoServer>) -> ImsFake {
    let reader: test_support::ims_fake::ObjectReader = match moto {
        Some(m) => Arc::new(m.object_reader()),
        None => Arc::new(|_: &str, _: &str| None),
    };
    ImsFake::start(reader, CANARY_SECRET, Duration::from_secs(30)).await
}

/// The rootfs (17 MiB: three multipart parts), kernel and initrd of the upload tests.
struct Artifacts {
    _dir: tempfile::TempDir,
    rootfs: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    auth: PathBuf,
}

fn artifacts(fake: &ImsFake) -> Artifacts {
    let dir = tempfile::tempdir().unwrap();
    Artifacts {
        rootfs: write_file(dir.path(), "rootfs.sqsh", 17 * MIB, 1),
        kernel: write_file(dir.path(), "vmlinuz", 5000, 2),
        initrd: write_file(dir.path(), "initrd", 3000, 3),
        auth: mounted_auth(dir.path(), fake),
        _dir: dir,
    }
}

/// moto with the bucket, the IMS fake seeing it, the files and the mounted credentials.
struct Stack {
    moto: MotoServer,
    fake: ImsFake,
    files: Artifacts,
    endpoint: String,
    ims_url: String,
}

impl Stack {
    async fn start() -> Self {
        let moto = MotoServer::start();
        moto.create_bucket(BUCKET);
        let fake = ims_fake(Some(&moto)).await;
        let files = artifacts(&fake);
        Self {
            endpoint: moto.endpoint(),
            ims_url: fake.ims_url(),
            moto,
            fake,
            files,
        }
    }

    /// The pod's environment: the mounted credentials and the S3 settings.
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("OAUTH_CONFIG_DIR", s(&self.files.auth)),
            ("S3_ENDPOINT", &self.endpoint),
            ("S3_ACCESS_KEY", "testing"),
            ("S3_SECRET_KEY", S3_CANARY),
            ("S3_BUCKET", BUCKET),
        ]
    }
}

/// stdout with what changes between runs replaced: the record's creation time, and the
/// manifest's MD5 (= its single-PUT ETag), since the manifest holds its own creation time.
fn normalized(run: &Run) -> String {
    let doc = run.json();
    let created = doc["ims_image_record"]["created"].as_str().unwrap();
    let manifest = doc["ims_image_artifacts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(manifest["artifact_type"], "manifest");
    let md5 = manifest["md5"].as_str().unwrap();
    assert_eq!(manifest["link"]["etag"], md5);
    assert_eq!(doc["ims_image_record"]["link"]["etag"], md5);
    run.stdout
        .replace(created, "<created>")
        .replace(md5, "<manifest md5>")
}

fn golden(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn omps_ims_uploads_with_mounted_credentials_and_prints_the_golden_document() {
    let st = Stack::start().await;
    let (moto, fake) = (&st.moto, &st.fake);
    fake.add_job(JOB);
    let a = &st.files;
    let mut env = st.env();
    env.push(("IMS_JOB_ID", JOB));
    let r = run_support::run(
        OMPS,
        &[
            "ims",
            "--ims-url",
            &st.ims_url,
            "image",
            "upload_artifacts",
            "e2e image",
            "-r",
            s(&a.rootfs),
            "-k",
            s(&a.kernel),
            "-i",
            s(&a.initrd),
        ],
        &env,
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // One document, Python's layout, exactly the golden one.
    assert_eq!(normalized(&r), golden("ims_upload.json"));
    let doc = r.json();
    let id = doc["ims_image_record"]["id"].as_str().unwrap();
    let mut keys = moto.list_keys(BUCKET, id);
    keys.sort();
    assert_eq!(
        keys,
        ["initrd", "kernel", "manifest.json", "rootfs"].map(|k| format!("{id}/{k}"))
    );
    assert_eq!(fake.jobs()[0]["resultant_image_id"], id);
    // Logs went to stderr at INFO.
    assert!(r.stderr.contains("uploading"), "{}", r.stderr);
    r.assert_no_secret(CANARY_SECRET);
    r.assert_no_secret(S3_CANARY);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn ims_helper_takes_the_seeds_syntax_and_keeps_secrets_out_of_debug_logs() {
    let st = Stack::start().await;
    let fake = &st.fake;
    fake.add_job(JOB);
    let (a, endpoint, ims_url) = (&st.files, &st.endpoint, &st.ims_url);
    let token_url = fake.token_url();
    // Upstream's order (options after the subcommand words), every credential as a flag (the
    // worst case for leaks), DEBUG logging.
    let r = run_support::run(
        HELPER,
        &[
            "image",
            "upload_artifacts",
            "e2e image",
            JOB,
            "-r",
            s(&a.rootfs),
            "-k",
            s(&a.kernel),
            "-i",
            s(&a.initrd),
            "-l",
            "DEBUG",
            "--ims-url",
            ims_url,
            "--oauth-client-id",
            CLIENT_ID,
            "--oauth-client-secret",
            CANARY_SECRET,
            "--token-url",
            &token_url,
            "--s3-endpoint",
            endpoint,
            "--s3-access-key",
            "testing",
            "--s3-secret-key",
            S3_CANARY,
            "--s3-bucket",
            BUCKET,
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(normalized(&r), golden("ims_upload.json"));
    // DEBUG logging is on (the test would pass vacuously otherwise) and shows the redacted
    // argument list, the token request and the S3 calls, never a secret.
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
    assert!(r.stderr.contains("[REDACTED]"), "{}", r.stderr);
    r.assert_no_secret(CANARY_SECRET);
    r.assert_no_secret(S3_CANARY);
    // Nor the bearer token the fake issued (`token-<n>-<m>`).
    assert!(
        !r.stderr
            .match_indices("token-")
            .any(|(i, _)| r.stderr[i + 6..].starts_with(|c: char| c.is_ascii_digit())),
        "a bearer token in the logs:\n{}",
        r.stderr
    );
    // The secret did reach the token endpoint (as HTTP Basic, the default).
    let token_requests: Vec<_> = fake
        .log()
        .into_iter()
        .filter(|l| l.path == "/token")
        .collect();
    assert_eq!(token_requests.len(), 1);
    assert!(
        token_requests[0]
            .headers
            .to_ascii_lowercase()
            .contains("authorization: basic "),
        "{}",
        token_requests[0].headers
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn a_refused_link_cleans_up_this_runs_keys_and_record() {
    let st = Stack::start().await;
    let (moto, fake) = (&st.moto, &st.fake);
    let a = &st.files;
    fake.fail_next("PATCH", "images/", 422, 1);
    let r = run_support::run(
        OMPS,
        &[
            "ims",
            "image",
            "upload_artifacts",
            "doomed",
            "-r",
            s(&a.rootfs),
            "-k",
            s(&a.kernel),
            "--ims-url",
            &st.ims_url,
        ],
        &st.env(),
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    assert_eq!(doc["result"], "failure");
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("linking the manifest"), "{error}");
    assert_eq!(doc["cleanup_errors"], serde_json::json!([]));
    assert!(doc["ims_image_record"]["id"].is_string());
    // Everything this run wrote is gone: the keys (one by one) and the record it created.
    assert!(moto.list_keys(BUCKET, "").is_empty());
    assert!(moto.open_multipart_uploads(BUCKET).is_empty());
    assert!(fake.images().is_empty(), "{:?}", fake.images());
    r.assert_no_secret(CANARY_SECRET);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_with_a_failure_document_and_nothing_sent() {
    let fake = ims_fake(None).await;
    let dir = tempfile::tempdir().unwrap();
    let rootfs = write_file(dir.path(), "rootfs", 1000, 1);
    let kernel = write_file(dir.path(), "kernel", 1000, 2);
    let ims_url = fake.ims_url();
    for (bin, args) in [
        (
            OMPS,
            vec![
                "ims",
                "image",
                "upload_artifacts",
                "img",
                "-r",
                s(&rootfs),
                "-r",
                s(&rootfs),
            ],
        ),
        (
            HELPER,
            vec!["image", "upload_artifacts", "img", "-k", s(&kernel)],
        ),
        (HELPER, vec!["image", "set_job_status", JOB, "finished"]),
        (
            OMPS,
            vec!["ims", "image", "set_job_status", "not-a-uuid", "success"],
        ),
        (
            OMPS,
            vec![
                "ims",
                "recipe",
                "upload",
                "r",
                s(&rootfs),
                "--distro",
                "sle15",
            ],
        ),
        (OMPS, vec!["ims"]),
    ] {
        let mut args = args.clone();
        args.extend(["--ims-url", &ims_url]);
        let r = run_support::run(bin, &args, &[("OAUTH_CONFIG_DIR", "/nonexistent")]).await;
        assert_eq!(r.code, 2, "{args:?}: {}\n{}", r.stdout, r.stderr);
        let doc = r.json();
        assert_eq!(doc["result"], "failure", "{args:?}");
        assert!(doc["error"].is_string());
        assert!(!r.stderr.trim().is_empty(), "{args:?}: a message on stderr");
    }
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    let help = run_support::run(OMPS, &["ims", "--help"], &[]).await;
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Usage: omps ims"), "{}", help.stdout);
    assert!(help.stdout.contains("143"), "the exit statuses are listed");
    let help = run_support::run(HELPER, &["--help"], &[]).await;
    assert!(help.stdout.contains("Usage: ims-helper"), "{}", help.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn set_job_status_with_form_authentication_and_a_canary_secret_at_debug() {
    let fake = ims_fake(None).await;
    fake.add_job(JOB);
    let ims_url = fake.ims_url();
    let token_url = fake.token_url();
    let r = run_support::run(
        OMPS,
        &[
            "ims",
            "-l",
            "DEBUG",
            "--token-auth",
            "body",
            "--oauth-client-secret",
            CANARY_SECRET,
            "image",
            "set_job_status",
            JOB,
            "packaging_artifacts",
            "--ims-url",
            &ims_url,
        ],
        &[
            ("OAUTH_CLIENT_ID", CLIENT_ID),
            ("OAUTH_CLIENT_ENDPOINT", &token_url),
            ("OAUTH_CONFIG_DIR", "/nonexistent"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    assert_eq!(doc["result"], "success");
    assert_eq!(doc["ims_job_record"]["status"], "packaging_artifacts");
    assert!(r.stderr.contains("DEBUG"), "{}", r.stderr);
    r.assert_no_secret(CANARY_SECRET);
    let token = fake.log().into_iter().find(|l| l.path == "/token").unwrap();
    assert!(token.body.contains("client_secret="), "form authentication");
    assert!(
        !token
            .headers
            .to_ascii_lowercase()
            .contains("authorization: basic"),
        "{}",
        token.headers
    );
    // A wrong secret: exit 1 with the token endpoint's description, the secret still hidden.
    let wrong = "canary-wrong-secret-55aa";
    let r = run_support::run(
        OMPS,
        &[
            "ims",
            "-l",
            "DEBUG",
            "image",
            "set_job_status",
            JOB,
            "error",
            "--ims-url",
            &ims_url,
        ],
        &[
            ("OAUTH_CLIENT_ID", CLIENT_ID),
            ("OAUTH_CLIENT_SECRET", wrong),
            ("OAUTH_CLIENT_ENDPOINT", &token_url),
            ("OAUTH_CONFIG_DIR", "/nonexistent"),
        ],
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("invalid_client"),
        "{}",
        r.stdout
    );
    r.assert_no_secret(wrong);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_an_upload_cleans_up_and_exits_143() {
    let fake = ims_fake(None).await;
    // An S3 that accepts the connection but answers the upload only after the test is over,
    // and deletes anything.
    let s3 = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex("^/boot-images/[0-9a-f-]+/rootfs$"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&s3)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&s3)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let rootfs = write_file(dir.path(), "rootfs.sqsh", 4000, 1);
    let auth = mounted_auth(dir.path(), &fake);
    let mut cmd = command(OMPS);
    cmd.args([
        "ims",
        "image",
        "upload_artifacts",
        "interrupted image",
        "-r",
        s(&rootfs),
        "--ims-url",
        &fake.ims_url(),
    ])
    .envs([
        ("OAUTH_CONFIG_DIR", s(&auth)),
        ("S3_ENDPOINT", s3.uri().as_str()),
        ("S3_ACCESS_KEY", "testing"),
        ("S3_SECRET_KEY", S3_CANARY),
        ("S3_BUCKET", BUCKET),
    ]);
    let r = run_and_signal(cmd, "uploading", "TERM").await;
    assert_eq!(r.code, 143, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    assert_eq!(doc["result"], "failure");
    assert!(
        doc["error"].as_str().unwrap().contains("interrupted"),
        "{doc}"
    );
    assert_eq!(doc["cleanup_errors"], serde_json::json!([]));
    let id = doc["ims_image_record"]["id"].as_str().unwrap().to_owned();
    // The record this run created is gone, and so is the key it was writing.
    assert!(fake.images().is_empty(), "{:?}", fake.images());
    let deletes: Vec<String> = s3
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|q| q.method == wiremock::http::Method::DELETE)
        .map(|q| q.url.path().to_owned())
        .collect();
    assert_eq!(deletes, [format!("/boot-images/{id}/rootfs")]);
    r.assert_no_secret(CANARY_SECRET);
    r.assert_no_secret(S3_CANARY);
}

/// The golden document is the upstream layout (`json.dumps(indent=4, sort_keys=True)`): sorted
/// keys, 4 spaces, a final newline; this checks the file itself so a bad edit cannot pass.
#[test]
fn the_golden_upload_document_has_the_python_layout() {
    let text = golden("ims_upload.json");
    assert!(text.starts_with("{\n    \"ims_image_artifacts\": [\n"));
    assert!(text.ends_with("    \"result\": \"success\"\n}\n"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let kinds: Vec<&str> = doc["ims_image_artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["artifact_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rootfs", "kernel", "initrd", "manifest"]);
    assert!(
        doc["ims_image_artifacts"][0]["link"]["etag"]
            .as_str()
            .unwrap()
            .ends_with("-3"),
        "17 MiB rootfs: a three-part multipart ETag"
    );
    assert_eq!(
        doc["ims_job_record"]["resultant_image_id"],
        doc["ims_image_record"]["id"]
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn a_large_upload_shows_a_progress_bar_on_a_terminal_only() {
    let st = Stack::start().await;

    let a = &st.files;
    let args = [
        "ims",
        "image",
        "upload_artifacts",
        "bar image",
        "-r",
        s(&a.rootfs),
        "-k",
        s(&a.kernel),
        "--ims-url",
        &st.ims_url,
    ];
    let env = st.env();
    let r = run_support::run_on_terminal(OMPS, &args, &env).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The 17 MiB rootfs gets a bar (message, bar, bytes); the 5 kB kernel does not.
    assert!(
        r.stdout.contains("/rootfs [") && r.stdout.contains("MiB/17.00 MiB"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("/kernel ["), "{}", r.stdout);
    r.assert_no_secret(CANARY_SECRET);
    // Not a terminal: no bar, the document alone on stdout.
    let r = run_support::run(OMPS, &args, &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("/rootfs ["), "{}", r.stderr);
    assert_eq!(r.json()["result"], "success");
}
