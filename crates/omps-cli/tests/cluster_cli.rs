//! `omps cluster …` through the real binary against the stateful fake API server
//! (`test_support::kube_api`): the seed's three sample directories, failures and their exit
//! statuses, dry runs, the JSON report, each login method, and secrets never in the output.

mod run_support;

use std::path::{Path, PathBuf};

use run_support::{Run, command, run_and_signal, s};
use serde_json::{Value, json};
use test_support::fixtures::write_dir;
use test_support::kube_api::{
    ADMIN_PASSWORD, ADMIN_TOKEN, ADMIN_USER, FakeKube, INFRA_NAME, Script,
};

const OMPS: &str = env!("CARGO_BIN_EXE_omps");

/// The seed's sample directories, shared with the library's tests.
fn samples(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cluster-apply/tests/fixtures")
        .join(name)
}

/// `omps cluster --server <fake> <args>` with the admin token in `OMPS_CLUSTER_TOKEN`, and fast
/// polling for `apply` (generous timeouts: the machine is loaded; the fake's scripts bound the
/// polls by count).
async fn cluster(fake: &FakeKube, args: &[&str]) -> Run {
    cluster_env(fake, args, &[("OMPS_CLUSTER_TOKEN", ADMIN_TOKEN)]).await
}

async fn cluster_env(fake: &FakeKube, args: &[&str], env: &[(&str, &str)]) -> Run {
    let url = fake.url();
    let mut all = vec!["cluster", "--server", url.as_str()];
    all.extend_from_slice(args);
    if args.contains(&"apply") {
        all.extend(["--poll-interval", "10ms", "--fail-grace", "300ms"]);
    }
    run_support::run(OMPS, &all, env).await
}

/// `(file, [(kind/name, action, ready)])` per file of a JSON report.
type FileObjects = Vec<(String, Vec<(String, String, bool)>)>;

fn report_objects(report: &Value) -> FileObjects {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        (
                            format!(
                                "{}/{}",
                                o["kind"].as_str().unwrap(),
                                o["name"].as_str().unwrap()
                            ),
                            o["action"].as_str().unwrap().to_owned(),
                            o["ready"].as_bool().unwrap(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Deployments stay at 0 available replicas.
fn never_available(fake: &FakeKube) {
    fake.script(
        "apps",
        "Deployment",
        Script::stuck(json!({"replicas": 1, "updatedReplicas": 1, "availableReplicas": 0})),
    );
}

/// Jobs fail at once (a fail-fast state).
fn jobs_fail(fake: &FakeKube) {
    fake.script(
        "batch",
        "Job",
        Script::stuck(json!({"failed": 6, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})),
    );
}

fn sorted_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_sample_directories_apply_in_byte_order_and_wait_per_file() {
    let machineset = format!("MachineSet/{INFRA_NAME}-odf-workers-0");
    let odf: Vec<(&str, &str)> = vec![
        ("0001-ODF_machineset.yaml", machineset.as_str()),
        ("0002-odf_namespace.yaml", "Namespace/openshift-storage"),
        (
            "0003-odf_og.yaml",
            "OperatorGroup/openshift-storage-operatorgroup",
        ),
        ("0003-odf_sub.yaml", "Subscription/odf-operator"),
        (
            "0004-odf_storagecluster.yaml",
            "StorageCluster/ocs-storagecluster",
        ),
        (
            "0005_ceph_storageclass.yaml",
            "StorageClass/ocs-storagecluster-ceph-rbd-default",
        ),
        ("0006_rook_cm.yaml", "ConfigMap/rook-ceph-operator-config"),
    ];
    let quay: Vec<(&str, &str)> = vec![
        ("001-quay_namespace.yaml", "Namespace/quay"),
        ("002-quay_og.yaml", "OperatorGroup/quay-operator-group"),
        ("002-quay_sub.yaml", "Subscription/quay-operator"),
        ("003-quay_registry.yaml", "QuayRegistry/central"),
    ];
    let mut odf_quay = odf.clone();
    odf_quay.push(("0007-odf_console_patch.yaml", "Console/cluster"));
    odf_quay.extend(quay.iter().copied());
    for (sample, expected) in [
        ("odf_only_manifests", odf),
        ("odf_quay_manifests", odf_quay),
        ("quay_only_manifests", quay),
    ] {
        let fake = FakeKube::start().await;
        let dir = samples(sample);
        let r = cluster(&fake, &["apply", s(&dir), "-o", "json"]).await;
        assert_eq!(r.code, 0, "{sample}: {}\n{}", r.stdout, r.stderr);
        let report = r.json();
        assert_eq!(report["result"], "success", "{sample}");
        assert_eq!(report["dry_run"], "none");
        assert!(report.get("error").is_none());
        // Byte order of the names, printed before anything is applied.
        let listing = sorted_listing(&dir);
        assert_eq!(
            r.stderr.lines().next().unwrap(),
            format!("apply order: {}", listing.join(", ")),
            "{sample}"
        );
        // Every file waited for exactly the objects it applied, each of them ready.
        let objects = report_objects(&report);
        let got: Vec<(String, Vec<String>)> = objects
            .iter()
            .map(|(f, o)| (f.clone(), o.iter().map(|(k, _, _)| k.clone()).collect()))
            .collect();
        let want: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(f, o)| ((*f).to_owned(), vec![(*o).to_owned()]))
            .collect();
        assert_eq!(got, want, "{sample}");
        for (file, objs) in &objects {
            for (object, action, ready) in objs {
                assert!(*ready, "{sample}: {file}: {object} not ready");
                let expected_action = if object == "Console/cluster" {
                    "configured"
                } else {
                    "created"
                };
                assert_eq!(action, expected_action, "{sample}: {file}: {object}");
            }
        }
        // Applied in that order, and each waited file said so on stderr.
        let names: Vec<String> = expected
            .iter()
            .map(|(_, o)| o.split('/').nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(fake.patched_names(), names, "{sample}");
        for (file, _) in &expected {
            assert!(
                r.stderr.contains(&format!("{file}: ready in ")),
                "{sample}: {file}:\n{}",
                r.stderr
            );
        }
        // Progress lines name the file, the object and what it waits for.
        if sample == "quay_only_manifests" {
            assert!(
                r.stderr.lines().any(|l| l
                    .starts_with("003-quay_registry.yaml: QuayRegistry/central (quay): ")
                    && l.contains("MigrationsInProgress")),
                "{}",
                r.stderr
            );
        }
        if sample == "odf_quay_manifests" {
            assert!(r.stderr.contains("--order numeric"), "{}", r.stderr);
            assert!(
                r.stderr.contains("Console/cluster is cluster-scoped"),
                "{}",
                r.stderr
            );
        }
        r.assert_no_secret(ADMIN_TOKEN);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_puts_results_on_stdout_and_a_second_run_changes_nothing() {
    let fake = FakeKube::start().await;
    let dir = samples("quay_only_manifests");
    let r = cluster(&fake, &["apply", s(&dir)]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "001-quay_namespace.yaml: Namespace/quay created",
            "002-quay_og.yaml: OperatorGroup/quay-operator-group (quay) created",
            "002-quay_sub.yaml: Subscription/quay-operator (quay) created",
            "003-quay_registry.yaml: QuayRegistry/central (quay) created",
            "applied 4 objects from 4 files: 4 created; all ready",
        ]
    );
    assert!(
        r.stderr
            .contains("003-quay_registry.yaml: waiting for 1 object …")
    );
    let again = cluster(&fake, &["apply", s(&dir)]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.lines().last(),
        Some("applied 4 objects from 4 files: 4 unchanged; all ready")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_object_exits_4_and_stops_unless_keep_going() {
    let fake = FakeKube::start().await;
    jobs_fail(&fake);
    let dir = write_dir(&[
        (
            "01-job.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: default}\n",
        ),
        (
            "02-cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after, namespace: default}\n",
        ),
    ]);
    let r = cluster(&fake, &["apply", s(dir.path())]).await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("error: 01-job.yaml: Job/migrate (default) failed:")
            && r.stderr.contains("BackoffLimitExceeded"),
        "{}",
        r.stderr
    );
    assert_eq!(
        fake.patched_names(),
        ["migrate"],
        "nothing after the failure"
    );

    let fake = FakeKube::start().await;
    jobs_fail(&fake);
    let r = cluster(
        &fake,
        &["apply", s(dir.path()), "--keep-going", "-o", "json"],
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["result"], "failure");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("BackoffLimitExceeded")
    );
    assert_eq!(
        report_objects(&report),
        [
            (
                "01-job.yaml".to_owned(),
                vec![("Job/migrate".to_owned(), "created".to_owned(), false)]
            ),
            (
                "02-cm.yaml".to_owned(),
                vec![("ConfigMap/after".to_owned(), "created".to_owned(), true)]
            ),
        ]
    );
    assert_eq!(fake.patched_names(), ["migrate", "after"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_apply_exits_1_with_each_field_and_a_timeout_exits_3() {
    let fake = FakeKube::start().await;
    fake.reject(
        "ConfigMap",
        "bad",
        vec![json!({"reason": "FieldValueInvalid", "field": "data.key",
            "message": "Invalid value: a valid config key must consist of alphanumeric characters"})],
    );
    let dir = write_dir(&[
        (
            "01-bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: default}\ndata: {'k y': v}\n",
        ),
        (
            "02-later.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later, namespace: default}\n",
        ),
    ]);
    let r = cluster(&fake, &["apply", s(dir.path())]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("data.key: Invalid value: a valid config key"),
        "{}",
        r.stderr
    );
    assert_eq!(fake.patched_names(), ["bad"]);

    never_available(&fake);
    let dir = write_dir(&[(
        "01-app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n",
    )]);
    let r = cluster(&fake, &["apply", s(dir.path()), "--timeout", "500ms"]).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    // The summary names every object that was not ready, with its deciding status.
    assert!(
        r.stderr.contains("01-app.yaml: timed out after")
            && r.stderr.contains("Deployment/web (default): ")
            && r.stderr.contains("0 available"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_before_any_call() {
    let fake = FakeKube::start().await;
    let dir = write_dir(&[
        (
            "01-ok.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: default}\n",
        ),
        (
            "02-noname.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
        ),
        ("notes.txt", "not a manifest"),
    ]);
    let r = cluster(&fake, &["apply", s(dir.path()), "-o", "json"]).await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["result"], "failure");
    assert!(
        report["error"].as_str().unwrap().contains("notes.txt"),
        "{report}"
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());

    // Usage errors are clap's, also exit 2.
    let r = cluster(
        &fake,
        &["apply", s(dir.path()), "--timeout-for", "Subscription"],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cluster(&fake, &["apply", s(dir.path()), "--poll-interval", "1ms"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_runs_change_nothing_and_never_show_secret_values() {
    let secret_value = "hunter2-cluster-secret-value";
    let manifests = write_dir(&[
        (
            "01-ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: newns}\n",
        ),
        (
            "02-secret.yaml",
            &format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: default}}\nstringData: {{password: {secret_value}}}\n"
            ),
        ),
    ]);
    // `--dry-run` alone: server side, every PATCH with dryRun=All, nothing stored, no waits.
    let fake = FakeKube::start().await;
    let r = cluster(
        &fake,
        &["apply", s(manifests.path()), "--dry-run", "-o", "json"],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["dry_run"], "server");
    assert_eq!(fake.patches().len(), 2);
    assert!(
        fake.patches()
            .iter()
            .all(|p| p.param("dryRun").as_deref() == Some("All"))
    );
    assert!(fake.object("", "namespaces", "", "newns").is_none());
    assert!(
        r.stderr.contains("Namespace/newns created (dry run)"),
        "{}",
        r.stderr
    );
    r.assert_no_secret(secret_value);

    // Client side: nothing but reads; the would-be bodies with the secret's value redacted.
    let fake = FakeKube::start().await;
    let r = cluster(&fake, &["apply", s(manifests.path()), "--dry-run=client"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(fake.requests().iter().all(|q| q.method == "GET"));
    assert!(
        r.stdout.contains("02-secret.yaml: would apply:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("redacted, 28 bytes"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("client dry run: nothing sent\n"),
        "{}",
        r.stdout
    );
    r.assert_no_secret(secret_value);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_token_flag_token_file_and_a_refused_token() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    for login in [
        vec!["--token", ADMIN_TOKEN],
        vec!["--token-file", s(&token_file)],
    ] {
        let mut args = login.clone();
        args.push("infrastructure-name");
        let r = cluster_env(&fake, &args, &[]).await;
        assert_eq!(r.code, 0, "{login:?}: {}", r.stderr);
        assert_eq!(r.stdout, format!("{INFRA_NAME}\n"));
        r.assert_no_secret(ADMIN_TOKEN);
    }
    let r = cluster_env(
        &fake,
        &["infrastructure-name", "-o", "json"],
        &[("OMPS_CLUSTER_TOKEN", "sha256~not-a-known-token")],
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["result"], "failure");
    assert_eq!(doc["error"]["kind"], "unauthorized");
    r.assert_no_secret("sha256~not-a-known-token");
    // A token without --server, or --server without credentials: usage errors.
    let r = run_support::run(
        OMPS,
        &["cluster", "--token", "x", "infrastructure-name"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = cluster_env(&fake, &["infrastructure-name"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    // Not OpenShift: exit 1, said so.
    fake.remove_openshift_config();
    let r = cluster(&fake, &["infrastructure-name"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("not an OpenShift cluster"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_username_and_password_through_oauth() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).unwrap();
    let manifests = samples("quay_only_manifests");
    let r = cluster_env(
        &fake,
        &[
            "--username",
            ADMIN_USER,
            "--password-file",
            s(&password_file),
            "apply",
            s(&manifests),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("logged in as {ADMIN_USER}")),
        "{}",
        r.stderr
    );
    r.assert_no_secret(ADMIN_PASSWORD);
    // The token the OAuth server issued (`sha256~oauth-…`) is not printed either.
    r.assert_no_secret("sha256~");

    let r = cluster_env(
        &fake,
        &[
            "--username",
            ADMIN_USER,
            "--password-env",
            "OMPS_TEST_PASSWORD",
            "infrastructure-name",
        ],
        &[("OMPS_TEST_PASSWORD", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{INFRA_NAME}\n"));
    r.assert_no_secret(ADMIN_PASSWORD);

    let wrong = "wrong-Pa55word-canary";
    let r = cluster_env(
        &fake,
        &[
            "--username",
            ADMIN_USER,
            "--password-env",
            "OMPS_TEST_PASSWORD",
            "infrastructure-name",
        ],
        &[("OMPS_TEST_PASSWORD", wrong)],
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("wrong user name or password"),
        "{}",
        r.stderr
    );
    r.assert_no_secret(wrong);
    // Never a password as a plain flag value.
    let r = cluster_env(
        &fake,
        &[
            "--username",
            ADMIN_USER,
            "--password",
            ADMIN_PASSWORD,
            "infrastructure-name",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2);
    let r = cluster_env(
        &fake,
        &["--username", ADMIN_USER, "infrastructure-name"],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--password-env"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_kubeconfig_uses_the_context_and_its_namespace() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: broken\nclusters:\n- name: fake\n  cluster:\n    server: {url}\ncontexts:\n- name: admin\n  context: {{cluster: fake, user: admin, namespace: openshift-config}}\n- name: broken\n  context: {{cluster: fake, user: nobody}}\nusers:\n- name: admin\n  user: {{token: {ADMIN_TOKEN}}}\n- name: nobody\n  user: {{token: sha256~unknown-token}}\n",
            url = fake.url()
        ),
    )
    .unwrap();
    let manifests = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-context}\ndata: {a: b}\n",
    )]);
    let r = run_support::run(
        OMPS,
        &[
            "cluster",
            "--kubeconfig",
            s(&kubeconfig),
            "--context",
            "admin",
            "apply",
            s(manifests.path()),
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        fake.object("", "configmaps", "openshift-config", "from-context")
            .is_some(),
        "the context's namespace is the default"
    );
    r.assert_no_secret(ADMIN_TOKEN);
    // KUBECONFIG and its current context (whose user is refused): exit 5; -n wins over the
    // context's namespace.
    let r = run_support::run(
        OMPS,
        &["cluster", "infrastructure-name"],
        &[("KUBECONFIG", s(&kubeconfig))],
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stderr);
    r.assert_no_secret("sha256~unknown-token");
    let r = run_support::run(
        OMPS,
        &[
            "cluster",
            "--context",
            "admin",
            "-n",
            "default",
            "apply",
            s(manifests.path()),
        ],
        &[("KUBECONFIG", s(&kubeconfig))],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        fake.object("", "configmaps", "default", "from-context")
            .is_some()
    );
    // A kubeconfig that does not exist: exit 2.
    let r = run_support::run(
        OMPS,
        &[
            "cluster",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "infrastructure-name",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_from_file_creates_refuses_to_overwrite_replaces_and_never_prints_values() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let canary = "DATABASE_SECRET_KEY: canary-db-key-7d1e";
    let content = format!("SERVER_HOSTNAME: quay.example\n{canary}\n");
    std::fs::write(&config, &content).unwrap();
    let size = content.len();
    let from = format!("config.yaml={}", s(&config));
    let base = [
        "secret-from-file",
        "init-config-bundle-secret",
        "-n",
        "default",
        "--from-file",
        from.as_str(),
    ];

    let r = cluster(&fake, &[&base[..], &["--dry-run"]].concat()).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_no_secret("canary-db-key-7d1e");
    assert_eq!(
        r.stdout,
        format!(
            "secret default/init-config-bundle-secret would create: config.yaml ({size} bytes)\n"
        )
    );
    assert!(fake.requests().iter().all(|q| q.method == "GET"));

    let r = cluster(&fake, &base).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_no_secret("canary-db-key-7d1e");
    assert!(
        r.stdout
            .contains(&format!("created: config.yaml ({size} bytes)")),
        "{}",
        r.stdout
    );
    let stored = fake
        .object("", "secrets", "default", "init-config-bundle-secret")
        .unwrap();
    assert_eq!(stored["type"], "Opaque");
    assert!(stored["data"]["config.yaml"].is_string());

    let r = cluster(&fake, &[&base[..], &["-o", "json"]].concat()).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("exists (use --replace)"), "{}", r.stderr);
    assert_eq!(r.json()["result"], "failure");

    let r = cluster(&fake, &[&base[..], &["--replace", "-o", "json"]].concat()).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.assert_no_secret("canary-db-key-7d1e");
    let doc = r.json();
    assert_eq!(doc["action"], "replaced");
    assert_eq!(doc["keys"], json!([{"key": "config.yaml", "bytes": size}]));
    r.assert_no_secret("canary-db-key-7d1e");
    // Bad keys are refused before any call.
    let before = fake.requests().len();
    let bad = format!("bad/key={}", s(&config));
    let r = cluster(&fake, &["secret-from-file", "x", "--from-file", &bad]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_the_run_with_130_and_reports_what_was_applied() {
    let fake = FakeKube::start().await;
    never_available(&fake);
    let dir = write_dir(&[
        (
            "01-app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n",
        ),
        (
            "02-later.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later, namespace: default}\n",
        ),
    ]);
    let mut cmd = command(OMPS);
    cmd.args([
        "cluster",
        "--server",
        &fake.url(),
        "apply",
        s(dir.path()),
        "-o",
        "json",
        "--poll-interval",
        "50ms",
    ])
    .env("OMPS_CLUSTER_TOKEN", ADMIN_TOKEN);
    let r = run_and_signal(cmd, "Deployment/web (default): ", "INT").await;
    assert_eq!(r.code, 130, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["result"], "failure");
    assert!(report["error"].as_str().unwrap().starts_with("interrupted"));
    assert_eq!(
        report_objects(&report),
        [(
            "01-app.yaml".to_owned(),
            vec![
                ("ConfigMap/cfg".to_owned(), "created".to_owned(), true),
                ("Deployment/web".to_owned(), "created".to_owned(), false),
            ]
        )]
    );
    assert_eq!(
        fake.patched_names(),
        ["cfg", "web"],
        "nothing after the interrupt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_the_wait_is_a_live_line_with_object_status_and_time() {
    let fake = FakeKube::start().await;
    never_available(&fake);
    let dir = write_dir(&[(
        "01-app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n",
    )]);
    let url = fake.url();
    let r = run_support::run_on_terminal(
        OMPS,
        &[
            "cluster",
            "--server",
            &url,
            "apply",
            s(dir.path()),
            "--poll-interval",
            "100ms",
            "--timeout",
            "2s",
        ],
        &[("OMPS_CLUSTER_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    // script(1) passes the command's status on; the run timed out (3) as asked.
    assert_eq!(r.code, 3, "{}", r.stdout);
    // The live line: file, object, its status and the elapsed time, redrawn in place (plain
    // output has no such line: it prints "waiting for 1 object …" and one line per status).
    assert!(
        r.stdout
            .contains("01-app.yaml: waiting for 1 object: Deployment/web (default): "),
        "{}",
        r.stdout
    );
    // … with the elapsed time after the status: "… 1 total [1s]".
    assert!(
        r.stdout.contains("0 available, 1 total [") && r.stdout.contains("s]"),
        "elapsed time shown: {}",
        r.stdout
    );
    assert!(r.stdout.contains('\u{1b}'), "drawn with terminal escapes");
    assert!(!r.stdout.contains("waiting for 1 object …"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("01-app.yaml: Deployment/web (default) created")
    );
    assert!(r.stdout.contains("timed out after"), "{}", r.stdout);
}
