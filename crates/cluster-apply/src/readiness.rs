//! When an applied object is ready, per kind (`cluster-apply.md` §5). Pure functions of the
//! object's JSON (and, for some kinds, one related object the waiter reads first).

use std::fmt::Write as _;

use serde_json::Value;

/// What an object's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// Ready; the text says why (`phase Active`, `waiting for first consumer`).
    Ready(String),
    /// Not yet; the text is the deciding field or condition.
    Pending(String),
    /// A state that waiting will not fix: fail now.
    Failed(String),
    /// A bad state that may clear by itself: fail if it lasts longer than the grace period.
    Failing(String),
}

/// A related object a rule needs (read by the waiter, `None` when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Related {
    /// The `ClusterServiceVersion` a `Subscription` installed (same namespace).
    Csv(String),
    /// The `StorageClass` of a pending `PersistentVolumeClaim`.
    StorageClass(String),
}

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn i(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn conditions(obj: &Value) -> &[Value] {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A condition by type, ignoring one whose own `observedGeneration` is behind the object's.
fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    let generation = i(obj, "/metadata/generation");
    conditions(obj).iter().find(|c| {
        c.get("type").and_then(Value::as_str) == Some(kind)
            && match (
                c.get("observedGeneration").and_then(Value::as_i64),
                generation,
            ) {
                (Some(seen), Some(generation)) => seen >= generation,
                _ => true,
            }
    })
}

fn condition_is(obj: &Value, kind: &str, status: &str) -> bool {
    condition(obj, kind)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(status)
}

/// `Type=Status (reason R): message` for reports.
fn describe(c: &Value) -> String {
    let t = c.get("type").and_then(Value::as_str).unwrap_or("?");
    let st = c.get("status").and_then(Value::as_str).unwrap_or("?");
    let mut out = format!("{t}={st}");
    if let Some(r) = c
        .get("reason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        let _ = write!(out, " (reason {r})");
    }
    if let Some(m) = c
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
    {
        let _ = write!(out, ": {m}");
    }
    out
}

fn describe_condition(obj: &Value, kind: &str) -> String {
    condition(obj, kind).map_or_else(|| format!("no {kind} condition yet"), describe)
}

fn phase(obj: &Value) -> Option<&str> {
    s(obj, "/status/phase")
}

fn phase_text(obj: &Value) -> String {
    let mut out = format!("phase {}", phase(obj).unwrap_or("(none)"));
    if let Some(m) = s(obj, "/status/message").filter(|m| !m.is_empty()) {
        let _ = write!(out, ": {m}");
    } else if let Some(r) = s(obj, "/status/reason").filter(|r| !r.is_empty()) {
        let _ = write!(out, " (reason {r})");
    }
    out
}

/// The related object a rule needs before it can decide, if any.
pub fn related(group: &str, kind: &str, obj: &Value) -> Option<Related> {
    match (group, kind) {
        ("operators.coreos.com", "Subscription") => {
            s(obj, "/status/installedCSV").map(|c| Related::Csv(c.to_owned()))
        }
        ("", "PersistentVolumeClaim") if phase(obj) == Some("Pending") => {
            s(obj, "/spec/storageClassName").map(|c| Related::StorageClass(c.to_owned()))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_lines)] // one arm per kind, as the rule table reads
/// The readiness of `obj` (of `group`/`kind`); `related` is what [`related`] asked for.
pub fn assess(group: &str, kind: &str, obj: &Value, related: Option<&Value>) -> Assessment {
    // A status written for an older generation says nothing about the current spec.
    if let (Some(seen), Some(generation)) = (
        i(obj, "/status/observedGeneration"),
        i(obj, "/metadata/generation"),
    ) {
        if seen < generation {
            return Assessment::Pending(format!(
                "status not yet observed (observedGeneration {seen} < generation {generation})"
            ));
        }
    }
    match (group, kind) {
        ("", "Namespace") => match phase(obj) {
            Some("Active") => Assessment::Ready("phase Active".into()),
            Some("Terminating") => Assessment::Failed("namespace is Terminating".into()),
            _ => Assessment::Pending(phase_text(obj)),
        },
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => {
            let desired = i(obj, "/status/desiredNumberScheduled");
            let updated = i(obj, "/status/updatedNumberScheduled").unwrap_or(0);
            let available = i(obj, "/status/numberAvailable").unwrap_or(0);
            match desired {
                Some(d) if updated == d && available == d => {
                    Assessment::Ready(format!("{available}/{d} available"))
                }
                _ => Assessment::Pending(format!(
                    "{updated} updated, {available} available of {} desired",
                    desired.map_or("?".into(), |d| d.to_string())
                )),
            }
        }
        ("apps", "ReplicaSet") => {
            let want = i(obj, "/spec/replicas").unwrap_or(1);
            let ready = i(obj, "/status/readyReplicas").unwrap_or(0);
            if ready == want {
                Assessment::Ready(format!("{ready}/{want} ready"))
            } else {
                Assessment::Pending(format!("{ready}/{want} ready"))
            }
        }
        ("batch", "Job") => {
            if condition_is(obj, "Complete", "True") {
                Assessment::Ready("Complete".into())
            } else if condition_is(obj, "Failed", "True") {
                Assessment::Failed(describe_condition(obj, "Failed"))
            } else {
                Assessment::Pending("not complete yet".into())
            }
        }
        ("", "Pod") => pod(obj),
        ("", "PersistentVolumeClaim") => match phase(obj) {
            Some("Bound") => Assessment::Ready("Bound".into()),
            Some("Lost") => Assessment::Failed(phase_text(obj)),
            Some("Pending")
                if related
                    .and_then(|sc| sc.get("volumeBindingMode"))
                    .and_then(Value::as_str)
                    == Some("WaitForFirstConsumer") =>
            {
                Assessment::Ready("waiting for first consumer".into())
            }
            _ => Assessment::Pending(phase_text(obj)),
        },
        ("", "PersistentVolume") => match phase(obj) {
            Some(p @ ("Available" | "Bound")) => Assessment::Ready(p.into()),
            Some("Failed") => Assessment::Failed(phase_text(obj)),
            _ => Assessment::Pending(phase_text(obj)),
        },
        ("", "Node") => {
            if condition_is(obj, "Ready", "True") {
                Assessment::Ready("Ready".into())
            } else {
                Assessment::Pending(describe_condition(obj, "Ready"))
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition_is(obj, "NamesAccepted", "False") {
                Assessment::Failed(describe_condition(obj, "NamesAccepted"))
            } else if condition_is(obj, "Established", "True")
                && condition_is(obj, "NamesAccepted", "True")
            {
                Assessment::Ready("Established".into())
            } else {
                Assessment::Pending(describe_condition(obj, "Established"))
            }
        }
        ("operators.coreos.com", "Subscription") => subscription(obj, related),
        ("operators.coreos.com", "ClusterServiceVersion") => match phase(obj) {
            Some("Succeeded") => Assessment::Ready("phase Succeeded".into()),
            Some("Failed") => Assessment::Failed(phase_text(obj)),
            _ => Assessment::Pending(phase_text(obj)),
        },
        ("operators.coreos.com", "OperatorGroup") => {
            if obj
                .pointer("/status/lastUpdated")
                .is_some_and(|v| !v.is_null())
            {
                Assessment::Ready("processed by OLM".into())
            } else {
                Assessment::Pending("not yet processed by OLM (no status.lastUpdated)".into())
            }
        }
        ("operators.coreos.com", "CatalogSource") => {
            match s(obj, "/status/connectionState/lastObservedState") {
                Some("READY") => Assessment::Ready("connection READY".into()),
                other => Assessment::Pending(format!("connection {}", other.unwrap_or("(none)"))),
            }
        }
        ("operators.coreos.com", "InstallPlan") => match phase(obj) {
            Some("Complete") => Assessment::Ready("phase Complete".into()),
            Some("Failed") => Assessment::Failed(phase_text(obj)),
            _ => Assessment::Pending(phase_text(obj)),
        },
        ("quay.redhat.com", "QuayRegistry") => quay(obj),
        ("machine.openshift.io", "MachineSet") => {
            let want = i(obj, "/spec/replicas").unwrap_or(1);
            let ready = i(obj, "/status/readyReplicas").unwrap_or(0);
            let available = i(obj, "/status/availableReplicas").unwrap_or(0);
            if want == 0 || (ready == want && available == want) {
                Assessment::Ready(format!("{ready}/{want} machines ready"))
            } else {
                Assessment::Pending(format!(
                    "{ready}/{want} machines ready, {available} available"
                ))
            }
        }
        ("ocs.openshift.io", "StorageCluster") => match phase(obj) {
            Some("Ready") => Assessment::Ready("phase Ready".into()),
            Some("Error") => Assessment::Failing(storage_cluster_message(obj)),
            _ => Assessment::Pending(phase_text(obj)),
        },
        _ => generic(obj),
    }
}

fn deployment(obj: &Value) -> Assessment {
    if let Some(c) = condition(obj, "Progressing") {
        if c.get("status").and_then(Value::as_str) == Some("False")
            && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
        {
            return Assessment::Failed(describe(c));
        }
    }
    let want = i(obj, "/spec/replicas").unwrap_or(1);
    let updated = i(obj, "/status/updatedReplicas").unwrap_or(0);
    let total = i(obj, "/status/replicas").unwrap_or(0);
    let available = i(obj, "/status/availableReplicas").unwrap_or(0);
    let text = format!("{updated}/{want} updated, {available} available, {total} total");
    if updated == want && total == updated && available >= want {
        Assessment::Ready(text)
    } else {
        Assessment::Pending(text)
    }
}

fn statefulset(obj: &Value) -> Assessment {
    let want = i(obj, "/spec/replicas").unwrap_or(1);
    let ready = i(obj, "/status/readyReplicas").unwrap_or(0);
    let rolling = s(obj, "/spec/updateStrategy/type").unwrap_or("RollingUpdate") == "RollingUpdate";
    let partitioned = i(obj, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0) > 0;
    let updated = i(obj, "/status/updatedReplicas").unwrap_or(0);
    let revisions_match = s(obj, "/status/currentRevision").is_some()
        && s(obj, "/status/currentRevision") == s(obj, "/status/updateRevision");
    let text = format!("{ready}/{want} ready, {updated} updated");
    if ready == want && (!rolling || partitioned || (updated == want && revisions_match)) {
        Assessment::Ready(text)
    } else {
        Assessment::Pending(text)
    }
}

/// Container states that mean a pod will not start without a change.
const BAD_WAITING: [&str; 4] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
];

fn pod(obj: &Value) -> Assessment {
    match phase(obj) {
        Some("Succeeded") => return Assessment::Ready("phase Succeeded".into()),
        Some("Failed") => return Assessment::Failed(phase_text(obj)),
        Some("Running") if condition_is(obj, "Ready", "True") => {
            return Assessment::Ready("Running and Ready".into());
        }
        _ => {}
    }
    for key in ["/status/initContainerStatuses", "/status/containerStatuses"] {
        for c in obj
            .pointer(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let reason = s(c, "/state/waiting/reason").unwrap_or("");
            if BAD_WAITING.contains(&reason) {
                let name = s(c, "/name").unwrap_or("?");
                let message = s(c, "/state/waiting/message").unwrap_or("");
                return Assessment::Failing(format!("container {name}: {reason}: {message}"));
            }
        }
    }
    Assessment::Pending(format!(
        "{}, {}",
        phase_text(obj),
        describe_condition(obj, "Ready")
    ))
}

fn subscription(obj: &Value, csv: Option<&Value>) -> Assessment {
    let approval = s(obj, "/spec/installPlanApproval").unwrap_or("Automatic");
    if s(obj, "/status/state") == Some("UpgradePending") && approval == "Manual" {
        let plan = s(obj, "/status/installPlanRef/name")
            .or_else(|| s(obj, "/status/installplan/name"))
            .unwrap_or("?");
        return Assessment::Failed(format!("InstallPlan {plan} needs approval"));
    }
    if condition_is(obj, "ResolutionFailed", "True") {
        return Assessment::Failing(describe_condition(obj, "ResolutionFailed"));
    }
    let Some(name) = s(obj, "/status/installedCSV") else {
        return Assessment::Pending(format!(
            "no installed CSV yet (state {})",
            s(obj, "/status/state").unwrap_or("(none)")
        ));
    };
    match csv {
        None => Assessment::Pending(format!("ClusterServiceVersion {name} not found yet")),
        Some(csv) => match phase(csv) {
            Some("Succeeded") => Assessment::Ready(format!("CSV {name} Succeeded")),
            Some("Failed") => Assessment::Failed(format!("CSV {name} {}", phase_text(csv))),
            _ => Assessment::Pending(format!("CSV {name} {}", phase_text(csv))),
        },
    }
}

fn quay(obj: &Value) -> Assessment {
    if condition_is(obj, "RolloutBlocked", "True") {
        return Assessment::Failing(describe_condition(obj, "RolloutBlocked"));
    }
    if let Some(c) = condition(obj, "Available") {
        if c.get("status").and_then(Value::as_str) == Some("False")
            && c.get("reason").and_then(Value::as_str) == Some("MigrationsFailed")
        {
            return Assessment::Failing(describe(c));
        }
    }
    let endpoint = s(obj, "/status/registryEndpoint").unwrap_or("");
    if condition_is(obj, "Available", "True") && !endpoint.is_empty() {
        Assessment::Ready(format!("Available at {endpoint}"))
    } else {
        Assessment::Pending(describe_condition(obj, "Available"))
    }
}

fn storage_cluster_message(obj: &Value) -> String {
    let failing = conditions(obj)
        .iter()
        .find(|c| {
            c.get("type").and_then(Value::as_str) == Some("ReconcileComplete")
                && c.get("status").and_then(Value::as_str) == Some("False")
        })
        .map(describe);
    match failing {
        Some(c) => format!("phase Error, {c}"),
        None => phase_text(obj),
    }
}

/// Phases that mean "ready" for kinds without their own rule.
const READY_PHASES: [&str; 7] = [
    "Ready",
    "Active",
    "Bound",
    "Succeeded",
    "Running",
    "Available",
    "Complete",
];

fn generic(obj: &Value) -> Assessment {
    let all = conditions(obj);
    if !all.is_empty() {
        for kind in ["Ready", "Available", "Established", "Succeeded"] {
            if all
                .iter()
                .any(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            {
                let Some(c) = condition(obj, kind) else {
                    return Assessment::Pending(format!("{kind} condition is stale"));
                };
                return match c.get("status").and_then(Value::as_str) {
                    Some("True") => Assessment::Ready(describe(c)),
                    Some("False")
                        if c.get("reason")
                            .and_then(Value::as_str)
                            .is_some_and(|r| r.contains("Failed") || r.contains("Error")) =>
                    {
                        Assessment::Failing(describe(c))
                    }
                    _ => Assessment::Pending(describe(c)),
                };
            }
        }
    }
    match phase(obj) {
        Some(p) if READY_PHASES.contains(&p) => Assessment::Ready(format!("phase {p}")),
        Some("Failed" | "Error") => Assessment::Failed(phase_text(obj)),
        Some(_) => Assessment::Pending(phase_text(obj)),
        // No status (ConfigMap, Secret, RBAC, …), or conditions none of the rule's types: ready
        // once applied.
        None => Assessment::Ready("applied".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ready(a: &Assessment) -> bool {
        matches!(a, Assessment::Ready(_))
    }

    #[test]
    fn stale_observed_generation_is_pending_whatever_else_it_says() {
        let d = json!({"metadata": {"generation": 3}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
        assert!(
            matches!(assess("apps", "Deployment", &d, None), Assessment::Pending(m) if m.contains("observedGeneration 2 < generation 3"))
        );
        let d = json!({"metadata": {"generation": 3}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
        assert!(ready(&assess("apps", "Deployment", &d, None)));
    }

    #[test]
    fn deployment_with_old_pods_is_not_ready_and_deadline_fails() {
        let d = json!({"spec": {"replicas": 2},
            "status": {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}});
        assert!(!ready(&assess("apps", "Deployment", &d, None)));
        let d = json!({"status": {"conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet web-1 has timed out"}]}});
        assert!(
            matches!(assess("apps", "Deployment", &d, None), Assessment::Failed(m) if m.contains("has timed out"))
        );
    }

    #[test]
    fn condition_with_its_own_stale_generation_is_ignored() {
        let crd = json!({"metadata": {"generation": 2}, "status": {"conditions": [
            {"type": "Established", "status": "True", "observedGeneration": 1},
            {"type": "NamesAccepted", "status": "True"}]}});
        assert!(!ready(&assess(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &crd,
            None
        )));
    }

    #[test]
    fn subscription_needs_its_csv_succeeded() {
        let sub = json!({"spec": {}, "status": {"installedCSV": "op.v1"}});
        assert_eq!(
            related("operators.coreos.com", "Subscription", &sub),
            Some(Related::Csv("op.v1".into()))
        );
        assert!(!ready(&assess(
            "operators.coreos.com",
            "Subscription",
            &sub,
            None
        )));
        let csv = json!({"status": {"phase": "Installing"}});
        assert!(!ready(&assess(
            "operators.coreos.com",
            "Subscription",
            &sub,
            Some(&csv)
        )));
        let csv = json!({"status": {"phase": "Succeeded"}});
        assert!(ready(&assess(
            "operators.coreos.com",
            "Subscription",
            &sub,
            Some(&csv)
        )));
        let csv = json!({"status": {"phase": "Failed", "message": "install strategy failed"}});
        assert!(
            matches!(assess("operators.coreos.com", "Subscription", &sub, Some(&csv)), Assessment::Failed(m) if m.contains("install strategy failed"))
        );
        let manual = json!({"spec": {"installPlanApproval": "Manual"},
            "status": {"state": "UpgradePending", "installPlanRef": {"name": "install-abc"}}});
        assert_eq!(
            assess("operators.coreos.com", "Subscription", &manual, None),
            Assessment::Failed("InstallPlan install-abc needs approval".into())
        );
    }

    #[test]
    fn generic_rules() {
        assert!(ready(&assess("", "ConfigMap", &json!({"data": {}}), None)));
        let c = json!({"status": {"conditions": [{"type": "Available", "status": "False", "reason": "InstallFailed", "message": "boom"}]}});
        assert!(
            matches!(assess("x.io", "Thing", &c, None), Assessment::Failing(m) if m.contains("boom"))
        );
        let p = json!({"status": {"phase": "Error", "message": "bad"}});
        assert!(matches!(
            assess("x.io", "Thing", &p, None),
            Assessment::Failed(_)
        ));
        let p = json!({"status": {"phase": "Bound"}});
        assert!(ready(&assess("x.io", "Thing", &p, None)));
    }
}
