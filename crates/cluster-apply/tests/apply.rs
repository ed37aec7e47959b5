//! Ordered apply against the stateful fake API server (`test_support::kube_api`): the seed's three
//! sample directories, a failure variant per readiness rule, conflicts, dry runs, faults.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use cluster_apply::{
    Action, ApplyOptions, Cluster, DryRun, Error, Event, Outcome, RetryPolicy, SecretFromFiles,
    apply_dir,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use test_support::fixtures::write_dir;
use test_support::kube_api::{ADMIN_TOKEN, FakeKube, Fault, FaultKind, INFRA_NAME, Script};

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(2),
    }
}

async fn connect(fake: &FakeKube) -> Cluster {
    Cluster::builder(fake.url().parse().unwrap())
        .token(SecretString::from(ADMIN_TOKEN))
        .retry(fast_retry())
        .build()
        .await
        .unwrap()
}

/// Fast polling; generous deadlines (the machine is loaded), bounded by counts in the fake.
fn fast() -> ApplyOptions {
    ApplyOptions {
        poll_interval: Duration::from_millis(10),
        poll_max: Duration::from_millis(40),
        timeout: Duration::from_secs(60),
        fail_grace: Duration::from_millis(150),
        ..ApplyOptions::default()
    }
}

struct Run {
    outcome: Outcome,
    events: Vec<Event>,
}

async fn run(cluster: &Cluster, dir: &Path, options: &ApplyOptions) -> Run {
    let events = Mutex::new(Vec::new());
    let outcome = apply_dir(cluster, dir, options, &|e| events.lock().unwrap().push(e)).await;
    Run {
        outcome,
        events: events.into_inner().unwrap(),
    }
}

/// What each file of a report waited for: `(file, [Kind/name])`, all ready.
fn waited(outcome: &Outcome) -> Vec<(String, Vec<String>)> {
    outcome
        .report
        .files
        .iter()
        .map(|f| {
            assert!(
                f.objects.iter().all(|o| o.ready),
                "{}: not all ready: {:?}",
                f.file,
                f.objects
            );
            (
                f.file.clone(),
                f.objects
                    .iter()
                    .map(|o| format!("{}/{}", o.kind, o.name))
                    .collect(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(f, objs)| {
            (
                (*f).to_owned(),
                objs.iter().map(|o| (*o).to_owned()).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn odf_only_sample_applies_in_order_and_waits_per_file() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let run = run(&cluster, &fixtures("odf_only_manifests"), &fast()).await;
    assert_eq!(run.outcome.exit_code(), 0, "{:?}", run.outcome.error);
    let machineset = format!("MachineSet/{INFRA_NAME}-odf-workers-0");
    assert_eq!(
        waited(&run.outcome),
        owned(&[
            ("0001-ODF_machineset.yaml", &[machineset.as_str()]),
            ("0002-odf_namespace.yaml", &["Namespace/openshift-storage"]),
            (
                "0003-odf_og.yaml",
                &["OperatorGroup/openshift-storage-operatorgroup"]
            ),
            ("0003-odf_sub.yaml", &["Subscription/odf-operator"]),
            (
                "0004-odf_storagecluster.yaml",
                &["StorageCluster/ocs-storagecluster"]
            ),
            (
                "0005_ceph_storageclass.yaml",
                &["StorageClass/ocs-storagecluster-ceph-rbd-default"]
            ),
            (
                "0006_rook_cm.yaml",
                &["ConfigMap/rook-ceph-operator-config"]
            ),
        ])
    );
    // <INFRAID> was replaced before sending, never sent as is.
    let stored = fake
        .object(
            "machine.openshift.io",
            "machinesets",
            "openshift-machine-api",
            &format!("{INFRA_NAME}-odf-workers-0"),
        )
        .expect("machineset stored");
    assert_eq!(
        stored.pointer("/spec/template/spec/providerSpec/value/workspace/folder"),
        Some(&json!(format!("/dc1/vm/{INFRA_NAME}")))
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.body.contains("<INFRAID>"))
    );
    // Every apply is server-side with the stable manager and no force.
    for p in fake.patches() {
        assert_eq!(
            p.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(
            p.param("fieldManager").as_deref(),
            Some("omps-cluster-apply")
        );
        assert_eq!(p.param("force").as_deref(), Some("false"));
        assert_eq!(p.param("dryRun"), None);
    }
    // The StorageCluster kind only appeared once the ODF CSV succeeded; the wait on the
    // subscription covered the CSV walking through its phases.
    let statuses: Vec<String> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Status { object, status, .. } if object.starts_with("Subscription/") => {
                Some(status.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        statuses.iter().any(|s| s.contains("phase Installing")),
        "{statuses:?}"
    );
    assert!(
        statuses.last().unwrap().contains("Succeeded"),
        "{statuses:?}"
    );
    assert!(matches!(&run.events[0], Event::Order(files) if files.len() == 7));
}

#[tokio::test]
async fn odf_quay_sample_uses_byte_order_and_the_config_secret() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "SERVER_HOSTNAME: quay.example\nDATABASE_SECRET_KEY: abc\n",
    )
    .unwrap();
    // The quay namespace does not exist yet: creating the secret first fails with 404 …
    let spec = SecretFromFiles {
        name: "init-config-bundle-secret".into(),
        namespace: Some("quay".into()),
        files: vec![(Some("config.yaml".into()), config.clone())],
        secret_type: None,
        replace: false,
    };
    let err = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 404, .. }), "{err}");
    let run = run(&cluster, &fixtures("odf_quay_manifests"), &fast()).await;
    assert_eq!(run.outcome.exit_code(), 0, "{:?}", run.outcome.error);
    let files: Vec<&str> = run
        .outcome
        .report
        .files
        .iter()
        .map(|f| f.file.as_str())
        .collect();
    assert_eq!(
        files,
        [
            "0001-ODF_machineset.yaml",
            "0002-odf_namespace.yaml",
            "0003-odf_og.yaml",
            "0003-odf_sub.yaml",
            "0004-odf_storagecluster.yaml",
            "0005_ceph_storageclass.yaml",
            "0006_rook_cm.yaml",
            "0007-odf_console_patch.yaml",
            "001-quay_namespace.yaml",
            "002-quay_og.yaml",
            "002-quay_sub.yaml",
            "003-quay_registry.yaml",
        ]
    );
    // Mixed widths: the numeric reading would interleave ODF and Quay, so a warning says so.
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Event::Warning(w) if w.contains("--order numeric")))
    );
    // The console object is cluster-scoped: its namespace was dropped with a warning.
    assert!(run.events.iter().any(
        |e| matches!(e, Event::Warning(w) if w.contains("Console/cluster is cluster-scoped"))
    ));
    assert!(
        fake.patches()
            .iter()
            .any(|p| p.path == "/apis/operator.openshift.io/v1/consoles/cluster")
    );
    // Now the namespace exists: the secret is created.
    let created = cluster_apply::create_secret_from_files(&cluster, &spec, false)
        .await
        .unwrap();
    assert_eq!(created.keys, vec![("config.yaml".to_owned(), 55)]);
    let registry = run.outcome.report.files.last().unwrap();
    assert_eq!(registry.objects[0].kind, "QuayRegistry");
    assert_eq!(registry.objects[0].action, Action::Created);
    assert!(
        registry.objects[0]
            .message
            .as_deref()
            .unwrap()
            .contains("Available at https://central-quay-quay")
    );
}

#[tokio::test]
async fn quay_only_sample_then_reapply_changes_nothing() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let first = run(&cluster, &fixtures("quay_only_manifests"), &fast()).await;
    assert_eq!(first.outcome.exit_code(), 0, "{:?}", first.outcome.error);
    assert_eq!(
        waited(&first.outcome),
        owned(&[
            ("001-quay_namespace.yaml", &["Namespace/quay"]),
            ("002-quay_og.yaml", &["OperatorGroup/quay-operator-group"]),
            ("002-quay_sub.yaml", &["Subscription/quay-operator"]),
            ("003-quay_registry.yaml", &["QuayRegistry/central"]),
        ])
    );
    let json = serde_json::to_value(&first.outcome.report).unwrap();
    assert_eq!(json["result"], "success");
    assert_eq!(json["dry_run"], "none");
    assert_eq!(
        json["files"][3]["objects"][0]["apiVersion"],
        "quay.redhat.com/v1"
    );
    assert_eq!(json["files"][3]["objects"][0]["namespace"], "quay");
    assert_eq!(json["files"][3]["objects"][0]["action"], "created");
    assert!(json["files"][3]["objects"][0]["waited_s"].is_f64());
    // The QuayRegistry waited through MigrationsInProgress.
    assert!(first.events.iter().any(|e| matches!(e,
        Event::Status { status, .. } if status.contains("MigrationsInProgress"))));
    let before = fake.patches().len();
    let second = run(&cluster, &fixtures("quay_only_manifests"), &fast()).await;
    assert_eq!(second.outcome.exit_code(), 0, "{:?}", second.outcome.error);
    let actions: Vec<Action> = second
        .outcome
        .report
        .files
        .iter()
        .flat_map(|f| f.objects.iter().map(|o| o.action))
        .collect();
    assert_eq!(actions, vec![Action::Unchanged; 4]);
    assert_eq!(fake.patches().len(), before + 4);
}

#[tokio::test]
async fn kind_never_served_times_out_with_exit_3() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-registry.yaml",
        "apiVersion: quay.redhat.com/v1\nkind: QuayRegistry\nmetadata: {name: r, namespace: default}\n",
    )]);
    let options = ApplyOptions {
        timeout: Duration::from_millis(300),
        ..fast()
    };
    let run = run(&cluster, dir.path(), &options).await;
    assert_eq!(run.outcome.exit_code(), 3);
    assert_eq!(
        run.outcome.error.unwrap().to_string(),
        "01-registry.yaml: kind not served: quay.redhat.com/v1 QuayRegistry"
    );
    // Discovery was asked more than once (with back-off), and nothing was applied.
    let asked = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/apis/quay.redhat.com/v1")
        .count();
    assert!(asked >= 2, "{asked}");
    assert!(fake.patches().is_empty());
}

#[tokio::test]
async fn crd_then_its_custom_resource_in_the_next_file() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[
        (
            "01-crd.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n  versions: [{name: v1, served: true, storage: true}]\n",
        ),
        (
            "02-widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 2}\n",
        ),
    ]);
    let options = ApplyOptions {
        namespace: Some("openshift-config".into()),
        ..fast()
    };
    let run = run(&cluster, dir.path(), &options).await;
    assert_eq!(run.outcome.exit_code(), 0, "{:?}", run.outcome.error);
    // Namespace defaulting from the options.
    assert!(
        fake.object("example.com", "widgets", "openshift-config", "w")
            .is_some()
    );
    // Before the CRD was established the group was not served.
    assert!(run.outcome.report.files[1].objects[0].ready);
}

/// One readiness rule's failure: the object, the status the fake gives it, the message.
struct FailCase {
    yaml: &'static str,
    group: &'static str,
    kind: &'static str,
    script: Script,
    exit: u8,
    message: &'static str,
}

#[allow(clippy::too_many_lines)]
fn fail_cases() -> Vec<FailCase> {
    let st = |v: Value| Script::stuck(v);
    vec![
        FailCase {
            yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: gone}\n",
            group: "",
            kind: "Namespace",
            script: Script::stuck(json!({"phase": "Terminating"})),
            exit: 4,
            message: "namespace is Terminating",
        },
        FailCase {
            yaml: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 2}\n",
            group: "apps",
            kind: "Deployment",
            script: st(
                json!({"replicas": 2, "updatedReplicas": 1, "conditions": [{"type": "Progressing",
                "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"web-5d4\" has timed out progressing."}]}),
            ),
            exit: 4,
            message: "has timed out progressing",
        },
        FailCase {
            yaml: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: default}\n",
            group: "batch",
            kind: "Job",
            script: st(
                json!({"failed": 6, "conditions": [{"type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
            ),
            exit: 4,
            message: "BackoffLimitExceeded",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: crash, namespace: default}\n",
            group: "",
            kind: "Pod",
            script: st(
                json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false,
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container"}}}]}),
            ),
            exit: 4,
            message: "container app: CrashLoopBackOff: back-off 5m0s",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: Pod\nmetadata: {name: oom, namespace: default}\n",
            group: "",
            kind: "Pod",
            script: st(json!({"phase": "Failed", "message": "OOMKilled"})),
            exit: 4,
            message: "phase Failed: OOMKilled",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n",
            group: "",
            kind: "PersistentVolumeClaim",
            script: Script::phases(&["Pending", "Lost"]),
            exit: 4,
            message: "phase Lost",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv1}\n",
            group: "",
            kind: "PersistentVolume",
            script: st(json!({"phase": "Failed", "message": "recycler failed"})),
            exit: 4,
            message: "recycler failed",
        },
        FailCase {
            yaml: "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\nspec: {group: example.com, scope: Namespaced, names: {kind: Thing, plural: things}, versions: [{name: v1}]}\n",
            group: "apiextensions.k8s.io",
            kind: "CustomResourceDefinition",
            script: st(
                json!({"conditions": [{"type": "NamesAccepted", "status": "False",
                "reason": "MultipleNameConflict", "message": "\"things\" is already in use"}]}),
            ),
            exit: 4,
            message: "MultipleNameConflict",
        },
        FailCase {
            yaml: "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata: {name: op.v1, namespace: default}\n",
            group: "operators.coreos.com",
            kind: "ClusterServiceVersion",
            script: Script::statuses(vec![
                json!({"phase": "Installing"}),
                json!({"phase": "Failed", "reason": "InstallComponentFailed",
                    "message": "install strategy failed: deployment op not ready"}),
            ]),
            exit: 4,
            message: "install strategy failed",
        },
        FailCase {
            yaml: "apiVersion: operators.coreos.com/v1alpha1\nkind: Subscription\nmetadata: {name: manual, namespace: default}\nspec: {name: manual, installPlanApproval: Manual}\n",
            group: "operators.coreos.com",
            kind: "Subscription",
            script: st(
                json!({"state": "UpgradePending", "installPlanRef": {"name": "install-xyz12"}}),
            ),
            exit: 4,
            message: "InstallPlan install-xyz12 needs approval",
        },
        FailCase {
            yaml: "apiVersion: operators.coreos.com/v1alpha1\nkind: Subscription\nmetadata: {name: unresolvable, namespace: default}\nspec: {name: nope}\n",
            group: "operators.coreos.com",
            kind: "Subscription",
            script: st(
                json!({"conditions": [{"type": "ResolutionFailed", "status": "True",
                "reason": "ConstraintsNotSatisfiable", "message": "no operators found in channel stable"}]}),
            ),
            exit: 4,
            message: "no operators found in channel stable",
        },
        FailCase {
            yaml: "apiVersion: operators.coreos.com/v1alpha1\nkind: InstallPlan\nmetadata: {name: ip, namespace: default}\n",
            group: "operators.coreos.com",
            kind: "InstallPlan",
            script: st(json!({"phase": "Failed", "message": "bundle unpacking failed"})),
            exit: 4,
            message: "bundle unpacking failed",
        },
        FailCase {
            yaml: "apiVersion: machine.openshift.io/v1beta1\nkind: MachineSet\nmetadata: {name: ms, namespace: openshift-machine-api}\nspec: {replicas: 2}\n",
            group: "machine.openshift.io",
            kind: "MachineSet",
            script: st(json!({"replicas": 2, "readyReplicas": 1, "availableReplicas": 1})),
            exit: 3,
            message: "1/2 machines ready",
        },
        FailCase {
            yaml: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: default}\nspec: {replicas: 3}\n",
            group: "apps",
            kind: "StatefulSet",
            script: st(json!({"readyReplicas": 2})),
            exit: 3,
            message: "2/3 ready",
        },
        FailCase {
            yaml: "apiVersion: operators.coreos.com/v1alpha1\nkind: CatalogSource\nmetadata: {name: cs, namespace: openshift-marketplace}\n",
            group: "operators.coreos.com",
            kind: "CatalogSource",
            script: st(json!({"connectionState": {"lastObservedState": "TRANSIENT_FAILURE"}})),
            exit: 3,
            message: "connection TRANSIENT_FAILURE",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: placeholder-for-generic, namespace: default}\n",
            group: "",
            kind: "ConfigMap",
            script: st(json!({"conditions": [{"type": "Ready", "status": "False",
                "reason": "ReconcileFailed", "message": "cannot reconcile"}]})),
            exit: 4,
            message: "Ready=False (reason ReconcileFailed): cannot reconcile",
        },
        FailCase {
            yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: phase-error, namespace: default}\n",
            group: "",
            kind: "Service",
            script: st(json!({"phase": "Error", "message": "load balancer quota"})),
            exit: 4,
            message: "load balancer quota",
        },
    ]
}

#[tokio::test]
async fn every_readiness_rule_reports_the_failure_and_stops() {
    for case in fail_cases() {
        let fake = FakeKube::start().await;
        fake.script(case.group, case.kind, case.script.clone());
        let cluster = connect(&fake).await;
        let dir = write_dir(&[
            ("01-object.yaml", case.yaml),
            (
                "02-after.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: must-not-be-applied, namespace: default}\n",
            ),
        ]);
        // Stuck objects time out quickly; failing ones get a generous deadline so that a slow
        // machine cannot turn a failure into a timeout.
        let timeout = if case.exit == 3 { 400 } else { 20_000 };
        let options = ApplyOptions {
            timeout: Duration::from_millis(timeout),
            ..fast()
        };
        let run = run(&cluster, dir.path(), &options).await;
        let error = run.outcome.error.as_ref().expect("failure");
        assert_eq!(run.outcome.exit_code(), case.exit, "{}: {error}", case.kind);
        assert!(
            error.to_string().contains(case.message),
            "{}: {error}",
            case.kind
        );
        assert_eq!(run.outcome.report.result, "failure");
        assert_eq!(run.outcome.report.files.len(), 1, "{}", case.kind);
        assert!(!run.outcome.report.files[0].objects[0].ready);
        assert!(
            !fake
                .patched_names()
                .contains(&"must-not-be-applied".to_owned()),
            "{}: applied after the failure",
            case.kind
        );
    }
}

#[tokio::test]
async fn quay_and_storage_failures_wait_out_the_grace_period() {
    let cases = [
        (
            "quay.redhat.com",
            "QuayRegistry",
            "apiVersion: quay.redhat.com/v1\nkind: QuayRegistry\nmetadata: {name: q, namespace: default}\n",
            json!({"conditions": [{"type": "RolloutBlocked", "status": "True",
                "reason": "ObjectStorageComponentDependencyError",
                "message": "no ObjectBucketClaim CRD: install ODF or configure storage"}]}),
            "ObjectStorageComponentDependencyError",
        ),
        (
            "quay.redhat.com",
            "QuayRegistry",
            "apiVersion: quay.redhat.com/v1\nkind: QuayRegistry\nmetadata: {name: m, namespace: default}\n",
            json!({"conditions": [{"type": "Available", "status": "False",
                "reason": "MigrationsFailed", "message": "alembic upgrade failed"}]}),
            "alembic upgrade failed",
        ),
        (
            "ocs.openshift.io",
            "StorageCluster",
            "apiVersion: ocs.openshift.io/v1\nkind: StorageCluster\nmetadata: {name: sc, namespace: default}\n",
            json!({"phase": "Error", "conditions": [{"type": "ReconcileComplete", "status": "False",
                "reason": "ReconcileFailed", "message": "no storage nodes labelled"}]}),
            "no storage nodes labelled",
        ),
    ];
    for (group, kind, yaml, status, message) in cases {
        let fake = FakeKube::start().await;
        fake.script(group, kind, Script::stuck(status));
        // The operator kinds are served once their operator is installed; serve them directly.
        fake.script(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            Script::stuck(json!({})),
        );
        let cluster = connect(&fake).await;
        let sub = if group == "quay.redhat.com" {
            "quay-operator"
        } else {
            "odf-operator"
        };
        let dir = write_dir(&[
            (
                "00-sub.yaml",
                &*Box::leak(
                    format!(
                        "apiVersion: operators.coreos.com/v1alpha1\nkind: Subscription\nmetadata: {{name: {sub}, namespace: default}}\nspec: {{name: {sub}}}\n"
                    )
                    .into_boxed_str(),
                ),
            ),
            ("01-object.yaml", yaml),
        ]);
        let options = ApplyOptions {
            fail_grace: Duration::from_millis(300),
            ..fast()
        };
        let started = std::time::Instant::now();
        let run = run(&cluster, dir.path(), &options).await;
        let error = run.outcome.error.expect("failure");
        assert_eq!(error.exit_code(), 4, "{kind}: {error}");
        assert!(error.to_string().contains(message), "{error}");
        // Not before the grace period (a transient bad state must not fail the run).
        assert!(started.elapsed() >= Duration::from_millis(300));
    }
}

#[tokio::test]
async fn timeout_lists_every_object_not_ready() {
    let fake = FakeKube::start().await;
    fake.script(
        "apps",
        "Deployment",
        Script::stuck(json!({"replicas": 1, "updatedReplicas": 1, "availableReplicas": 0})),
    );
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: default}\n",
    )]);
    let options = ApplyOptions {
        timeout: Duration::from_millis(300),
        ..fast()
    };
    let run = run(&cluster, dir.path(), &options).await;
    let Some(Error::Timeout {
        file, not_ready, ..
    }) = &run.outcome.error
    else {
        panic!("{:?}", run.outcome.error)
    };
    assert_eq!(file, "01-app.yaml");
    let objects: Vec<&str> = not_ready.iter().map(|n| n.object.as_str()).collect();
    assert_eq!(
        objects,
        ["Deployment/web (default)", "Deployment/api (default)"]
    );
    assert!(not_ready[0].status.contains("0 available"));
    let objs = &run.outcome.report.files[0].objects;
    assert_eq!(
        objs.iter().map(|o| o.ready).collect::<Vec<_>>(),
        [true, false, false]
    );
}

#[tokio::test]
async fn an_interrupt_stops_the_run_and_reports_what_was_applied() {
    let fake = FakeKube::start().await;
    fake.script(
        "apps",
        "Deployment",
        Script::stuck(json!({"replicas": 1, "updatedReplicas": 1, "availableReplicas": 0})),
    );
    let cluster = connect(&fake).await;
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
    // The interrupt fires once the Deployment's status has been seen (the wait is under way).
    let waiting = tokio::sync::Notify::new();
    let events = Mutex::new(Vec::new());
    let progress = |e: Event| {
        if matches!(&e, Event::Status { object, .. } if object.starts_with("Deployment/web")) {
            waiting.notify_one();
        }
        events.lock().unwrap().push(e);
    };
    let outcome = cluster_apply::apply_dir_until(
        &cluster,
        dir.path(),
        &fast(),
        &progress,
        waiting.notified(),
    )
    .await;
    assert!(
        matches!(outcome.error, Some(Error::Interrupted)),
        "{:?}",
        outcome.error
    );
    assert_eq!(outcome.exit_code(), 130);
    assert_eq!(outcome.report.result, "failure");
    let files = &outcome.report.files;
    assert_eq!(files.len(), 1, "nothing after the interrupted file");
    let objects: Vec<(&str, Action, bool)> = files[0]
        .objects
        .iter()
        .map(|o| (o.name.as_str(), o.action, o.ready))
        .collect();
    assert_eq!(
        objects,
        [
            ("cfg", Action::Created, true),
            ("web", Action::Created, false)
        ]
    );
    assert!(
        files[0].objects[1]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("0 available")),
        "{:?}",
        files[0].objects[1]
    );
    assert_eq!(fake.patched_names(), ["cfg", "web"]);
}

#[tokio::test]
async fn conflicts_list_every_field_and_force_takes_them_over() {
    let fake = FakeKube::start().await;
    fake.insert_applied(
        "other-tool",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "shared", "namespace": "default"},
            "data": {"a": "1", "b": "2", "c": "3"}}),
    );
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\ndata: {a: changed, b: also, c: '3'}\n",
    )]);
    let run1 = run(&cluster, dir.path(), &fast()).await;
    let Some(Error::Conflict { object, conflicts }) = &run1.outcome.error else {
        panic!("{:?}", run1.outcome.error)
    };
    assert_eq!(object, "ConfigMap/shared (default)");
    let fields: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [".data.a", ".data.b"]);
    assert!(conflicts.iter().all(|c| c.message.contains("other-tool")));
    assert_eq!(run1.outcome.exit_code(), 1);
    assert_eq!(
        fake.object("", "configmaps", "default", "shared").unwrap()["data"]["a"],
        "1"
    );
    let forced = ApplyOptions {
        force_conflicts: true,
        ..fast()
    };
    let run2 = run(&cluster, dir.path(), &forced).await;
    assert_eq!(run2.outcome.exit_code(), 0, "{:?}", run2.outcome.error);
    assert_eq!(
        run2.outcome.report.files[0].objects[0].action,
        Action::Configured
    );
    assert_eq!(
        fake.patches().last().unwrap().param("force").as_deref(),
        Some("true")
    );
    assert_eq!(
        fake.object("", "configmaps", "default", "shared").unwrap()["data"]["a"],
        "changed"
    );
}

#[tokio::test]
async fn fields_dropped_from_the_manifest_are_removed() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\ndata: {keep: '1', drop: '2'}\n",
    )]);
    assert_eq!(
        run(&cluster, dir.path(), &fast()).await.outcome.exit_code(),
        0
    );
    std::fs::write(
        dir.path().join("01-cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\ndata: {keep: '1'}\n",
    )
    .unwrap();
    let again = run(&cluster, dir.path(), &fast()).await;
    assert_eq!(
        again.outcome.report.files[0].objects[0].action,
        Action::Configured
    );
    assert_eq!(
        fake.object("", "configmaps", "default", "cm").unwrap()["data"],
        json!({"keep": "1"})
    );
}

#[tokio::test]
async fn server_dry_run_persists_nothing_and_waits_for_nothing() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let options = ApplyOptions {
        dry_run: DryRun::Server,
        ..fast()
    };
    let run = run(&cluster, &fixtures("quay_only_manifests"), &options).await;
    // The QuayRegistry kind is only served after the operator installs: a server dry run cannot
    // map it, and says so once its timeout passes. The files before it were validated.
    assert!(
        fake.patches()
            .iter()
            .all(|p| p.param("dryRun").as_deref() == Some("All"))
    );
    assert!(fake.object("", "namespaces", "", "quay").is_none());
    let files = &run.outcome.report.files;
    assert_eq!(files[0].objects[0].action, Action::Created);
    assert_eq!(
        serde_json::to_value(&run.outcome.report).unwrap()["dry_run"],
        "server"
    );
    // No readiness polling: only discovery, the GET before apply, and the PATCH.
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.path.contains("clusterserviceversions"))
    );
    // With the kinds served, it succeeds.
    let fake2 = FakeKube::start().await;
    let cluster2 = connect(&fake2).await;
    let dir = write_dir(&[
        (
            "01-ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: newns}\n",
        ),
        (
            "02-dep.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 2}\n",
        ),
    ]);
    let ok = self::run(&cluster2, dir.path(), &options).await;
    assert_eq!(ok.outcome.exit_code(), 0, "{:?}", ok.outcome.error);
    assert!(
        fake2
            .object("apps", "deployments", "default", "web")
            .is_none()
    );
    assert!(
        ok.events
            .iter()
            .any(|e| matches!(e, Event::Applied { dry_run: true, .. }))
    );
}

#[tokio::test]
async fn client_dry_run_sends_nothing_mutating_and_redacts_secrets() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: {password: hunter2-very-secret}\n",
    )]);
    let options = ApplyOptions {
        dry_run: DryRun::Client,
        ..fast()
    };
    let run = run(&cluster, dir.path(), &options).await;
    assert_eq!(run.outcome.exit_code(), 0);
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
    let shown = format!("{:?}", run.events);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("redacted, 19 bytes"), "{shown}");
    assert_eq!(
        run.outcome.report.files[0].objects[0].action,
        Action::Skipped
    );
}

#[tokio::test]
async fn invalid_object_fails_with_causes_and_keep_going_continues() {
    let fake = FakeKube::start().await;
    fake.reject(
        "Deployment",
        "bad",
        vec![
            json!({"reason": "FieldValueInvalid", "field": "spec.replicas",
            "message": "Invalid value: -1: must be greater than or equal to 0"}),
        ],
    );
    let cluster = connect(&fake).await;
    let dir = write_dir(&[
        (
            "01-bad.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad, namespace: default}\nspec: {replicas: -1}\n",
        ),
        (
            "02-next.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: next, namespace: default}\n",
        ),
    ]);
    let stop = run(&cluster, dir.path(), &fast()).await;
    let error = stop.outcome.error.as_ref().unwrap();
    assert_eq!(error.exit_code(), 1);
    let text = error.to_string();
    assert!(text.contains("01-bad.yaml document 1"), "{text}");
    assert!(text.contains("422 Invalid"), "{text}");
    assert!(text.contains("spec.replicas: Invalid value: -1"), "{text}");
    assert!(!fake.patched_names().contains(&"next".to_owned()));
    let keep = ApplyOptions {
        keep_going: true,
        ..fast()
    };
    let go_on = run(&cluster, dir.path(), &keep).await;
    assert_eq!(go_on.outcome.exit_code(), 1);
    assert!(fake.patched_names().contains(&"next".to_owned()));
    assert_eq!(go_on.outcome.report.files.len(), 2);
}

#[tokio::test]
async fn missing_namespace_is_the_apis_404_with_file_and_document() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: orphan, namespace: nowhere}\n",
    )]);
    let run = run(&cluster, dir.path(), &fast()).await;
    let error = run.outcome.error.unwrap();
    assert!(matches!(error, Error::Api { status: 404, .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("01-cm.yaml document 2"), "{text}");
    assert!(text.contains("namespaces \"nowhere\" not found"), "{text}");
}

#[tokio::test]
async fn force_namespace_overrides_the_manifest() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: moved, namespace: default}\n",
    )]);
    let options = ApplyOptions {
        namespace: Some("openshift-config".into()),
        force_namespace: true,
        ..fast()
    };
    assert_eq!(
        run(&cluster, dir.path(), &options)
            .await
            .outcome
            .exit_code(),
        0
    );
    assert!(
        fake.object("", "configmaps", "openshift-config", "moved")
            .is_some()
    );
    assert!(fake.object("", "configmaps", "default", "moved").is_none());
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let patch = Some(http::Method::PATCH);
    fake.inject(Fault {
        method: patch.clone(),
        path_contains: "/configmaps/".into(),
        times: 1,
        kind: FaultKind::Status(500),
    });
    fake.inject(Fault {
        method: patch.clone(),
        path_contains: "/configmaps/".into(),
        times: 1,
        kind: FaultKind::Status(503),
    });
    fake.inject(Fault {
        method: patch.clone(),
        path_contains: "/configmaps/".into(),
        times: 1,
        kind: FaultKind::TooManyRequests { retry_after_s: 1 },
    });
    fake.inject(Fault {
        method: patch,
        path_contains: "/configmaps/".into(),
        times: 1,
        kind: FaultKind::Drop,
    });
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flaky, namespace: default}\n",
    )]);
    let started = std::time::Instant::now();
    let run = run(&cluster, dir.path(), &fast()).await;
    assert_eq!(run.outcome.exit_code(), 0, "{:?}", run.outcome.error);
    assert_eq!(fake.patches().len(), 5);
    // Retry-After: 1 was honoured.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(fake.object("", "configmaps", "default", "flaky").is_some());
}

#[tokio::test]
async fn persistent_faults_fail_after_the_retries() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    fake.inject(Fault {
        method: Some(http::Method::PATCH),
        path_contains: "/configmaps/".into(),
        times: 100,
        kind: FaultKind::Status(503),
    });
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: down, namespace: default}\n",
    )]);
    let run = run(&cluster, dir.path(), &fast()).await;
    let error = run.outcome.error.unwrap();
    assert!(matches!(error, Error::Api { status: 503, .. }), "{error}");
    assert!(error.is_retryable());
    assert_eq!(fake.patches().len(), 6, "one try and five retries");
    // A 410 is not a transient error: reported at once.
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    fake.inject(Fault {
        method: Some(http::Method::GET),
        path_contains: "/configmaps/gone".into(),
        times: 100,
        kind: FaultKind::Gone,
    });
    let dir = write_dir(&[(
        "01-cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone, namespace: default}\n",
    )]);
    let run = self::run(&cluster, dir.path(), &fast()).await;
    assert!(matches!(
        run.outcome.error,
        Some(Error::Api { status: 410, .. })
    ));
}

#[tokio::test]
async fn bad_input_fails_before_any_call() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    let dir = write_dir(&[
        (
            "01-ok.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n",
        ),
        (
            "02-bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n",
        ),
        (
            "03-noname.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
        ),
    ]);
    let run = run(&cluster, dir.path(), &fast()).await;
    let Some(Error::Input { problems }) = &run.outcome.error else {
        panic!("{:?}", run.outcome.error)
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(run.outcome.exit_code(), 2);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn infraid_on_plain_kubernetes_is_an_input_error() {
    let fake = FakeKube::start().await;
    fake.remove_openshift_config();
    let cluster = connect(&fake).await;
    let run = run(&cluster, &fixtures("odf_only_manifests"), &fast()).await;
    assert_eq!(run.outcome.exit_code(), 2, "{:?}", run.outcome.error);
    assert!(
        run.outcome
            .error
            .unwrap()
            .to_string()
            .contains("0001-ODF_machineset.yaml: uses <INFRAID>")
    );
    assert!(fake.patches().is_empty());
    let err = cluster_apply::infrastructure_name(&cluster)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 1);
    assert!(
        err.to_string().contains("not an OpenShift cluster"),
        "{err}"
    );
}

#[tokio::test]
async fn infrastructure_name_is_read() {
    let fake = FakeKube::start().await;
    let cluster = connect(&fake).await;
    assert_eq!(
        cluster_apply::infrastructure_name(&cluster).await.unwrap(),
        INFRA_NAME
    );
}

/// The fake's own protocol behaviour, checked directly (a client bug must not be hidden by a
/// lenient fake).
#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn fake_api_server_is_strict_where_the_real_one_is() {
    let fake = FakeKube::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = fake.url();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"default"},"data":{"a":"1"}}"#;
    let path = format!("{url}/api/v1/namespaces/default/configmaps/x");
    let send = |query: &str, ct: &str, body: &str| {
        http.patch(format!("{path}{query}"))
            .header("Authorization", &auth)
            .header("Content-Type", ct)
            .body(body.to_owned())
            .send()
    };
    // No fieldManager: 400; wrong content type: 415.
    assert_eq!(
        send("", "application/apply-patch+yaml", cm)
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        send("?fieldManager=m", "application/merge-patch+json", cm)
            .await
            .unwrap()
            .status(),
        415
    );
    // Dry run creates nothing; a real apply creates with generation 1.
    let dry = send(
        "?fieldManager=m&dryRun=All",
        "application/apply-patch+yaml",
        cm,
    )
    .await
    .unwrap();
    assert_eq!(dry.status(), 201);
    assert!(fake.object("", "configmaps", "default", "x").is_none());
    let created: Value = send("?fieldManager=m", "application/apply-patch+yaml", cm)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["metadata"]["generation"], 1);
    let rv1: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let changed = cm.replace(r#""a":"1""#, r#""a":"2""#);
    let updated: Value = send("?fieldManager=m", "application/apply-patch+yaml", &changed)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rv2: u64 = updated["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    assert_eq!(updated["metadata"]["generation"], 2);
    // Unknown token: 401.
    let res = http
        .get(&path)
        .header("Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // OAuth: without X-CSRF-Token, 401 and no Basic challenge; with it, a challenge.
    let authorize =
        format!("{url}/oauth/authorize?response_type=token&client_id=openshift-challenging-client");
    let res = http.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_none());
    let res = http
        .get(&authorize)
        .header("X-CSRF-Token", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"openshift\""
    );
    // Discovery changes when a CRD is established (on the read that establishes it).
    let group = format!("{url}/apis/example.com/v1");
    let get = |u: String| http.get(u).header("Authorization", &auth).send();
    assert_eq!(get(group.clone()).await.unwrap().status(), 404);
    let crd = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"gizmos.example.com"},"spec":{"group":"example.com","scope":"Cluster","names":{"kind":"Gizmo","plural":"gizmos"},"versions":[{"name":"v1"}]}}"#;
    let res = http
        .patch(format!("{url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.com?fieldManager=m"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/apply-patch+yaml")
        .body(crd)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(
        get(group.clone()).await.unwrap().status(),
        404,
        "not before it is established"
    );
    let read: Value = get(format!(
        "{url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.com"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(read["status"]["conditions"][1]["type"], "Established");
    let list: Value = get(group).await.unwrap().json().await.unwrap();
    assert_eq!(list["resources"][0]["kind"], "Gizmo");
    assert_eq!(list["resources"][0]["namespaced"], false);
}
