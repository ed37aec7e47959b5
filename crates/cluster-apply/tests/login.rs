//! Login by token, by OpenShift username/password (OAuth) and by kubeconfig against the fake API
//! server; secrets (passwords, tokens, secret data) never reach output or logs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use cluster_apply::{
    ApplyOptions, Cluster, Error, KubeconfigSource, Limits, RetryPolicy, SecretFromFiles,
};
use secrecy::SecretString;
use test_support::kube_api::{ADMIN_PASSWORD, ADMIN_TOKEN, ADMIN_USER, FakeKube, INFRA_NAME};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}

fn builder(fake: &FakeKube) -> cluster_apply::ClusterBuilder {
    Cluster::builder(fake.url().parse().unwrap()).retry(fast_retry())
}

#[tokio::test]
async fn token_login_and_a_refused_token() {
    let fake = FakeKube::start().await;
    let cluster = builder(&fake)
        .token(SecretString::from(ADMIN_TOKEN))
        .build()
        .await
        .unwrap();
    assert_eq!(cluster.whoami().await.unwrap(), ADMIN_USER);
    assert_eq!(
        cluster_apply::infrastructure_name(&cluster).await.unwrap(),
        INFRA_NAME
    );
    let bad = builder(&fake)
        .token(SecretString::from("sha256~not-a-token"))
        .build()
        .await
        .unwrap();
    let err = cluster_apply::infrastructure_name(&bad).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err}");
    assert_eq!(err.exit_code(), 5);
}

#[tokio::test]
async fn password_login_through_oauth() {
    let fake = FakeKube::start().await;
    let tokens_before = fake.token_count();
    let cluster = builder(&fake)
        .password(ADMIN_USER, SecretString::from(ADMIN_PASSWORD))
        .build()
        .await
        .unwrap();
    assert_eq!(fake.token_count(), tokens_before + 1, "a token was issued");
    assert_eq!(cluster.whoami().await.unwrap(), ADMIN_USER);
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths[..3],
        [
            "/.well-known/oauth-authorization-server",
            "/oauth/authorize",
            "/apis/user.openshift.io/v1/users/~"
        ]
    );
    let authorize = &fake.requests()[1];
    assert_eq!(
        authorize.param("client_id").as_deref(),
        Some("openshift-challenging-client")
    );
    assert_eq!(authorize.param("response_type").as_deref(), Some("token"));
}

#[tokio::test]
async fn wrong_password_and_locked_user_are_exit_5() {
    let fake = FakeKube::start().await;
    let err = builder(&fake)
        .password(ADMIN_USER, SecretString::from("wrong"))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 5);
    assert!(
        err.to_string().contains("wrong user name or password"),
        "{err}"
    );
    fake.lock_user(ADMIN_USER);
    let err = builder(&fake)
        .password(ADMIN_USER, SecretString::from(ADMIN_PASSWORD))
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 5);
    assert!(
        err.to_string()
            .contains("access_denied: user kubeadmin is locked"),
        "{err}"
    );
}

#[tokio::test]
async fn expired_token_after_password_login_logs_in_once_more() {
    let fake = FakeKube::start().await;
    let cluster = builder(&fake)
        .password(ADMIN_USER, SecretString::from(ADMIN_PASSWORD))
        .build()
        .await
        .unwrap();
    fake.expire_tokens();
    assert_eq!(
        cluster_apply::infrastructure_name(&cluster).await.unwrap(),
        INFRA_NAME
    );
    let authorizations = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth/authorize")
        .count();
    assert_eq!(authorizations, 2);
    // A token-only connection cannot log in again: the 401 is final.
    let token_only = builder(&fake)
        .token(SecretString::from(ADMIN_TOKEN))
        .build()
        .await
        .unwrap();
    let err = token_only.whoami().await.unwrap_err();
    assert_eq!(err.exit_code(), 5);
}

#[tokio::test]
async fn kubeconfig_with_context_namespace_and_token() {
    let fake = FakeKube::start().await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        "apiVersion: v1\nkind: Config\ncurrent-context: broken\nclusters:\n- name: fake\n  cluster:\n    server: {url}\ncontexts:\n- name: admin\n  context: {{cluster: fake, user: admin, namespace: openshift-config}}\n- name: broken\n  context: {{cluster: fake, user: nobody}}\nusers:\n- name: admin\n  user: {{token: {ADMIN_TOKEN}}}\n- name: nobody\n  user: {{token: sha256~unknown}}\n",
        url = fake.url()
    )
    .unwrap();
    let source = KubeconfigSource {
        path: Some(file.path().to_owned()),
        context: Some("admin".into()),
    };
    let cluster = Cluster::from_kubeconfig(&source, Limits::default(), fast_retry())
        .await
        .unwrap();
    assert_eq!(cluster.default_namespace(), "openshift-config");
    assert_eq!(cluster.whoami().await.unwrap(), ADMIN_USER);
    // The current context's user is refused.
    let current = KubeconfigSource {
        path: Some(file.path().to_owned()),
        context: None,
    };
    let cluster = Cluster::from_kubeconfig(&current, Limits::default(), fast_retry())
        .await
        .unwrap();
    assert_eq!(cluster.whoami().await.unwrap_err().exit_code(), 5);
    // A missing file is a configuration error.
    let missing = KubeconfigSource {
        path: Some("/nonexistent/kubeconfig".into()),
        context: None,
    };
    let err = Cluster::from_kubeconfig(&missing, Limits::default(), fast_retry())
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn secret_from_files_create_exists_replace_and_dry_run() {
    let fake = FakeKube::start().await;
    let cluster = builder(&fake)
        .token(SecretString::from(ADMIN_TOKEN))
        .namespace("openshift-config")
        .build()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("config.yaml");
    let b = dir.path().join("extra.pem");
    std::fs::write(&a, "FEATURE_USER_INITIALIZE: true\n").unwrap();
    std::fs::write(&b, "-----BEGIN-----\n").unwrap();
    let spec = SecretFromFiles {
        name: "init-config-bundle-secret".into(),
        namespace: None,
        files: vec![(None, a.clone()), (None, b.clone())],
        secret_type: None,
        replace: false,
    };
    let dry = cluster_apply::create_secret_from_files(&cluster, &spec, true)
        .await
        .unwrap();
    assert_eq!(dry.action, "would create");
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    let created = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap();
    assert_eq!(created.action, "created");
    assert_eq!(created.namespace, "openshift-config");
    let stored = fake
        .object(
            "",
            "secrets",
            "openshift-config",
            "init-config-bundle-secret",
        )
        .unwrap();
    assert_eq!(stored["type"], "Opaque");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(stored["data"]["config.yaml"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, b"FEATURE_USER_INITIALIZE: true\n");
    let err = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SecretExists { .. }), "{err}");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("(use --replace)"));
    let replace = SecretFromFiles {
        files: vec![(Some("config.yaml".into()), b.clone())],
        replace: true,
        ..spec
    };
    let replaced = cluster_apply::create_secret_from_files(&cluster, &replace, false)
        .await
        .unwrap();
    assert_eq!(replaced.action, "replaced");
    let stored = fake
        .object(
            "",
            "secrets",
            "openshift-config",
            "init-config-bundle-secret",
        )
        .unwrap();
    let keys: Vec<&String> = stored["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["config.yaml"], "the old key is gone");
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn passwords_tokens_and_secret_data_never_reach_output_or_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeKube::start().await;
    let mut output = String::new();
    // A failed login, then a good one and a re-login.
    let err = builder(&fake)
        .password(ADMIN_USER, SecretString::from("Wr0ng-Pa55word-xyz"))
        .build()
        .await
        .unwrap_err();
    let _ = write!(output, "{err}\n{err:?}\n");
    let cluster = builder(&fake)
        .password(ADMIN_USER, SecretString::from(ADMIN_PASSWORD))
        .build()
        .await
        .unwrap();
    let _ = writeln!(output, "{cluster:?}");
    fake.expire_tokens();
    // An apply with a Secret manifest and a secret from a file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("01-secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: default}\nstringData: {password: Db-Secret-Value-42}\n",
    )
    .unwrap();
    let events = Mutex::new(Vec::new());
    let options = ApplyOptions {
        poll_interval: Duration::from_millis(10),
        ..ApplyOptions::default()
    };
    let outcome = cluster_apply::apply_dir(&cluster, dir.path(), &options, &|e| {
        events.lock().unwrap().push(format!("{e:?}"));
    })
    .await;
    assert_eq!(outcome.exit_code(), 0, "{:?}", outcome.error);
    output.push_str(&serde_json::to_string(&outcome.report).unwrap());
    output.push_str(&events.into_inner().unwrap().join("\n"));
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "DATABASE_SECRET_KEY: File-Secret-Value-77\n").unwrap();
    let spec = SecretFromFiles {
        name: "from-file".into(),
        namespace: Some("default".into()),
        files: vec![(None, file)],
        secret_type: None,
        replace: false,
    };
    let made = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap();
    let _ = write!(output, "{made:?}");
    let exists = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap_err();
    let _ = write!(output, "{exists}\n{exists:?}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("logged in as kubeadmin"),
        "the capture works: {logs}"
    );
    assert!(logs.contains("logging in again"), "{logs}");
    let secret_file_b64 = base64::engine::general_purpose::STANDARD
        .encode("DATABASE_SECRET_KEY: File-Secret-Value-77\n");
    for (what, text) in [("logs", &logs), ("output", &output)] {
        for secret in [
            ADMIN_PASSWORD,
            "Wr0ng-Pa55word-xyz",
            "sha256~",
            "Db-Secret-Value-42",
            "File-Secret-Value-77",
            secret_file_b64.as_str(),
        ] {
            assert!(!text.contains(secret), "{what} contain {secret:?}:\n{text}");
        }
    }
    // The fake did receive them (the checks above could fail).
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.body.contains("Db-Secret-Value-42"))
    );
}
