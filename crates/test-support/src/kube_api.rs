//! A stateful fake of the Kubernetes/OpenShift API server, for `cluster-apply`'s tests.
//!
//! No real API server runs on the build machines (no kind, no etcd), so this fake simulates what
//! the apply-and-wait logic depends on, honestly enough that wrong client behaviour fails:
//!
//! * discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`) that changes at run time:
//!   a CRD's kind is served once the CRD is `Established`, an operator's kinds once its CSV
//!   `Succeeded`;
//! * an object store with `resourceVersion` (bumped on every change), `generation` (bumped on
//!   spec change), `uid`, `creationTimestamp`; GET, LIST with `labelSelector`, POST, PUT (with
//!   `resourceVersion` check), DELETE;
//! * server-side apply: `fieldManager` required (400), `application/apply-patch+yaml` required
//!   (415), a per-field owner map that answers 409 `FieldManagerConflict` when another manager
//!   owns a field whose value changes, `force=true`, `dryRun=All`, fields dropped from a manager's
//!   apply removed, 404 for a missing namespace, a 422 hook;
//! * status scripts per kind (or per object) that walk objects through their states on each
//!   read, with `observedGeneration` lagging one read behind each spec change;
//! * OpenShift: `infrastructures/cluster`, the OAuth metadata and `oauth/authorize` flow,
//!   `users/~`, Bearer token checking;
//! * fault injection (any status, 429 with `Retry-After`, dropped connections, 410 Gone) and a
//!   request log.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The token every fake starts with (for the `admin` user).
pub const ADMIN_TOKEN: &str = "sha256~fake-admin-token-0123456789";
/// The user name and password the OAuth server accepts by default.
pub const ADMIN_USER: &str = "kubeadmin";
/// The default password (tests that check secrets never leak search output for it).
pub const ADMIN_PASSWORD: &str = "s3cret-Pa55word-for-tests";
/// The infrastructure name of the fake cluster.
pub const INFRA_NAME: &str = "fakecluster-7xk2p";

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string (`""` when none).
    pub query: String,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body (lossy UTF-8).
    pub body: String,
}

impl LoggedRequest {
    /// The value of one query parameter.
    pub fn param(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then(|| percent_decode(v))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                if let Ok(b) = u8::from_str_radix(hex, 16) {
                    out.push(b);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and a Status body.
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    TooManyRequests {
        /// The header value.
        retry_after_s: u64,
    },
    /// Send headers, then close the connection mid-body.
    Drop,
    /// 410 Gone (`Expired`), as for a too-old `resourceVersion`.
    Gone,
}

/// A fault for the next `times` requests matching `method` (any when `None`) and whose path
/// contains `path_contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Method to match.
    pub method: Option<Method>,
    /// Substring of the path to match.
    pub path_contains: String,
    /// How many requests it hits.
    pub times: u32,
    /// What it does.
    pub kind: FaultKind,
}

/// A kind the fake serves (or will serve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// Group (`""` core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural.
    pub plural: String,
    /// Namespaced.
    pub namespaced: bool,
}

impl ResourceDef {
    /// A definition.
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
        }
    }
}

/// What a status-script step does besides setting the status.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Create this object (with the default script of its kind).
    Create(Value),
    /// Serve this kind from now on.
    Serve(ResourceDef),
}

/// One step: the new `status` and its effects.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Replaces `status`.
    pub status: Value,
    /// Side effects.
    pub effects: Vec<Effect>,
}

type StepFn = dyn Fn(&Value, usize) -> Option<Step> + Send + Sync;

/// How an object's status evolves: called with the object and the step number on each read
/// until it returns `None`.
#[derive(Clone)]
pub struct Script {
    step: Arc<StepFn>,
    /// Whether the status carries `observedGeneration` (lagging one read behind spec changes).
    pub observed_generation: bool,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("observed_generation", &self.observed_generation)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// A script from a step function.
    pub fn new(step: impl Fn(&Value, usize) -> Option<Step> + Send + Sync + 'static) -> Self {
        Self {
            step: Arc::new(step),
            observed_generation: false,
        }
    }

    /// Fixed statuses, one per read.
    pub fn statuses(statuses: Vec<Value>) -> Self {
        Self::new(move |_, n| {
            statuses.get(n).map(|s| Step {
                status: s.clone(),
                effects: Vec::new(),
            })
        })
    }

    /// `status.phase` values, one per read.
    pub fn phases(phases: &[&str]) -> Self {
        Self::statuses(phases.iter().map(|p| json!({"phase": p})).collect())
    }

    /// A status that never changes (stuck objects).
    pub fn stuck(status: Value) -> Self {
        Self::statuses(vec![status])
    }

    /// With `observedGeneration` in the status.
    #[must_use]
    pub fn with_observed_generation(mut self) -> Self {
        self.observed_generation = true;
        self
    }
}

struct Stored {
    value: Value,
    /// Leaf field path → manager that set it by apply.
    owners: BTreeMap<String, String>,
    script: Option<Script>,
    step: usize,
    /// The generation the status was last written for.
    observed: i64,
}

struct Rejection {
    kind: String,
    name: String,
    causes: Vec<Value>,
}

struct State {
    base_url: String,
    resources: Vec<ResourceDef>,
    served: HashSet<(String, String, String)>,
    objects: BTreeMap<(String, String, String, String), Stored>,
    resource_version: u64,
    uid: u64,
    tokens: HashMap<String, String>,
    passwords: HashMap<String, String>,
    locked_users: HashSet<String>,
    faults: Vec<Fault>,
    log: Vec<LoggedRequest>,
    kind_scripts: HashMap<(String, String), Script>,
    object_scripts: HashMap<(String, String, String), Script>,
    operator_kinds: HashMap<String, Vec<ResourceDef>>,
    rejections: Vec<Rejection>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeKube {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

#[allow(clippy::too_many_lines)] // a table
fn resource_defs() -> Vec<(ResourceDef, bool)> {
    let r = ResourceDef::new;
    vec![
        (r("", "v1", "Namespace", "namespaces", false), true),
        (r("", "v1", "ConfigMap", "configmaps", true), true),
        (r("", "v1", "Secret", "secrets", true), true),
        (r("", "v1", "Service", "services", true), true),
        (r("", "v1", "ServiceAccount", "serviceaccounts", true), true),
        (r("", "v1", "Pod", "pods", true), true),
        (
            r(
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            ),
            true,
        ),
        (
            r("", "v1", "PersistentVolume", "persistentvolumes", false),
            true,
        ),
        (r("", "v1", "Node", "nodes", false), true),
        (r("apps", "v1", "Deployment", "deployments", true), true),
        (r("apps", "v1", "StatefulSet", "statefulsets", true), true),
        (r("apps", "v1", "DaemonSet", "daemonsets", true), true),
        (r("apps", "v1", "ReplicaSet", "replicasets", true), true),
        (r("batch", "v1", "Job", "jobs", true), true),
        (
            r(
                "storage.k8s.io",
                "v1",
                "StorageClass",
                "storageclasses",
                false,
            ),
            true,
        ),
        (
            r("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
            true,
        ),
        (
            r(
                "rbac.authorization.k8s.io",
                "v1",
                "RoleBinding",
                "rolebindings",
                true,
            ),
            true,
        ),
        (
            r(
                "rbac.authorization.k8s.io",
                "v1",
                "ClusterRole",
                "clusterroles",
                false,
            ),
            true,
        ),
        (
            r(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
            ),
            true,
        ),
        (
            r(
                "operators.coreos.com",
                "v1",
                "OperatorGroup",
                "operatorgroups",
                true,
            ),
            true,
        ),
        (
            r(
                "operators.coreos.com",
                "v1alpha1",
                "Subscription",
                "subscriptions",
                true,
            ),
            true,
        ),
        (
            r(
                "operators.coreos.com",
                "v1alpha1",
                "ClusterServiceVersion",
                "clusterserviceversions",
                true,
            ),
            true,
        ),
        (
            r(
                "operators.coreos.com",
                "v1alpha1",
                "CatalogSource",
                "catalogsources",
                true,
            ),
            true,
        ),
        (
            r(
                "operators.coreos.com",
                "v1alpha1",
                "InstallPlan",
                "installplans",
                true,
            ),
            true,
        ),
        (
            r(
                "config.openshift.io",
                "v1",
                "Infrastructure",
                "infrastructures",
                false,
            ),
            true,
        ),
        (
            r("operator.openshift.io", "v1", "Console", "consoles", false),
            true,
        ),
        (
            r(
                "machine.openshift.io",
                "v1beta1",
                "MachineSet",
                "machinesets",
                true,
            ),
            true,
        ),
        (r("user.openshift.io", "v1", "User", "users", false), true),
        // Installed by operators at run time.
        (
            r(
                "quay.redhat.com",
                "v1",
                "QuayRegistry",
                "quayregistries",
                true,
            ),
            false,
        ),
        (
            r(
                "ocs.openshift.io",
                "v1",
                "StorageCluster",
                "storageclusters",
                true,
            ),
            false,
        ),
    ]
}

fn now() -> String {
    "2024-01-01T00:00:00Z".into()
}

/// Leaf paths of a JSON object: objects recurse, arrays and scalars are leaves (lists are atomic
/// here, a simplification of SSA's list merge keys that is enough for ownership conflicts).
fn leaves(value: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                leaves(v, &format!("{prefix}.{k}"), out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn pointer_of(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1").replace('.', "/")
}

fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut cur = target;
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("object");
        if i == parts.len() - 1 {
            map.insert((*part).to_owned(), value);
            return;
        }
        cur = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn remove_path(target: &mut Value, path: &str) {
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let mut cur = target;
    for part in &parts[..parts.len() - 1] {
        match cur.get_mut(*part) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(map) = cur.as_object_mut() {
        map.remove(parts[parts.len() - 1]);
    }
}

/// Fields the apply does not own (identity and server-managed metadata).
fn ignored_path(path: &str) -> bool {
    matches!(
        path,
        ".apiVersion" | ".kind" | ".metadata.name" | ".metadata.namespace"
    ) || path.starts_with(".status")
}

fn status_body(code: u16, reason: &str, message: &str, causes: Option<Vec<Value>>) -> Value {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(causes) = causes {
        body["details"] = json!({"causes": causes});
    }
    body
}

fn status_response(code: u16, reason: &str, message: &str) -> Response {
    json_response(code, &status_body(code, reason, message, None))
}

fn json_response(code: u16, value: &Value) -> Response {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Spec changes are what bump `generation`: everything but metadata and status.
fn spec_of(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

impl FakeKube {
    /// Starts the fake on 127.0.0.1 with an OpenShift-like initial content.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let mut state = State {
            base_url: format!("http://{addr}"),
            resources: Vec::new(),
            served: HashSet::new(),
            objects: BTreeMap::new(),
            resource_version: 100,
            uid: 0,
            tokens: HashMap::from([(ADMIN_TOKEN.to_owned(), ADMIN_USER.to_owned())]),
            passwords: HashMap::from([(ADMIN_USER.to_owned(), ADMIN_PASSWORD.to_owned())]),
            locked_users: HashSet::new(),
            faults: Vec::new(),
            log: Vec::new(),
            kind_scripts: default_scripts(),
            object_scripts: HashMap::new(),
            operator_kinds: HashMap::from([
                (
                    "quay-operator".to_owned(),
                    vec![ResourceDef::new(
                        "quay.redhat.com",
                        "v1",
                        "QuayRegistry",
                        "quayregistries",
                        true,
                    )],
                ),
                (
                    "odf-operator".to_owned(),
                    vec![ResourceDef::new(
                        "ocs.openshift.io",
                        "v1",
                        "StorageCluster",
                        "storageclusters",
                        true,
                    )],
                ),
            ]),
            rejections: Vec::new(),
        };
        for (def, served) in resource_defs() {
            if served {
                state
                    .served
                    .insert((def.group.clone(), def.version.clone(), def.kind.clone()));
            }
            state.resources.push(def);
        }
        for ns in [
            "default",
            "kube-system",
            "openshift-operators",
            "openshift-machine-api",
            "openshift-marketplace",
            "openshift-config",
        ] {
            state.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        state.seed(
            json!({"apiVersion": "config.openshift.io/v1", "kind": "Infrastructure",
            "metadata": {"name": "cluster"}, "spec": {},
            "status": {"infrastructureName": INFRA_NAME, "platform": "VSphere"}}),
        );
        state.seed(
            json!({"apiVersion": "operator.openshift.io/v1", "kind": "Console",
            "metadata": {"name": "cluster"}, "spec": {"managementState": "Managed"}}),
        );
        state.seed(
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "thin-csi"}, "provisioner": "csi.vsphere.vmware.com",
            "volumeBindingMode": "WaitForFirstConsumer"}),
        );
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, &method, &uri, &headers, &body) }
            },
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .expect("fake API server");
        });
        Self {
            addr,
            state,
            _shutdown: tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// Every server-side apply (`PATCH`) so far, in order.
    pub fn patches(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .collect()
    }

    /// The names of the objects applied so far, in order (the last path segment of each
    /// `PATCH`).
    pub fn patched_names(&self) -> Vec<String> {
        self.patches()
            .iter()
            .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// The stored object, if any (`group` `""` for core, `plural` as in the path).
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(group.into(), plural.into(), namespace.into(), name.into()))
            .map(|s| s.value.clone())
    }

    /// Stores an object as another field manager's apply would (for conflicts and pre-existing
    /// state), without a status script.
    pub fn insert_applied(&self, manager: &str, object: Value) {
        let mut state = self.lock();
        let key = state.key_of(&object).expect("served kind");
        let mut stored = state.new_stored(object, &key);
        let mut owned = BTreeMap::new();
        leaves(&stored.value, "", &mut owned);
        stored.owners = owned
            .into_keys()
            .filter(|p| !ignored_path(p) && !p.starts_with(".metadata."))
            .map(|p| (p, manager.to_owned()))
            .collect();
        stored.script = None;
        state.objects.insert(key, stored);
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Replaces the status script of a kind.
    pub fn script(&self, group: &str, kind: &str, script: Script) {
        self.lock()
            .kind_scripts
            .insert((group.into(), kind.into()), script);
    }

    /// Sets the status script of one object (by kind and name), before it is created.
    pub fn script_for(&self, group: &str, kind: &str, name: &str, script: Script) {
        self.lock()
            .object_scripts
            .insert((group.into(), kind.into(), name.into()), script);
    }

    /// Applies to `kind`/`name` answer 422 `Invalid` with these causes.
    pub fn reject(&self, kind: &str, name: &str, causes: Vec<Value>) {
        self.lock().rejections.push(Rejection {
            kind: kind.into(),
            name: name.into(),
            causes,
        });
    }

    /// Makes the cluster plain Kubernetes (no `config.openshift.io`).
    pub fn remove_openshift_config(&self) {
        let mut state = self.lock();
        state.served.retain(|(g, _, _)| g != "config.openshift.io");
        state
            .objects
            .retain(|(g, ..), _| g != "config.openshift.io");
    }

    /// Forgets every token (as if they expired), so the next call gets a 401.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Adds a valid token for `user`.
    pub fn add_token(&self, token: &str, user: &str) {
        self.lock().tokens.insert(token.into(), user.into());
    }

    /// Makes the OAuth server refuse `user` with an `access_denied` redirect.
    pub fn lock_user(&self, user: &str) {
        self.lock().locked_users.insert(user.into());
    }

    /// Number of tokens the OAuth server issued and that are still valid.
    pub fn token_count(&self) -> usize {
        self.lock().tokens.len()
    }
}

impl State {
    fn def_for_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|d| d.group == group && d.version == version && d.kind == kind)
    }

    fn def_for_plural(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.resources
            .iter()
            .find(|d| {
                d.group == group
                    && d.version == version
                    && d.plural == plural
                    && self
                        .served
                        .contains(&(d.group.clone(), d.version.clone(), d.kind.clone()))
            })
            .cloned()
    }

    fn key_of(&self, obj: &Value) -> Option<(String, String, String, String)> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = obj.get("kind")?.as_str()?;
        let def = self.def_for_kind(group, version, kind)?;
        let ns = if def.namespaced {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned()
        } else {
            String::new()
        };
        let name = obj.pointer("/metadata/name")?.as_str()?.to_owned();
        Some((def.group.clone(), def.plural.clone(), ns, name))
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    fn script_for(&self, obj: &Value) -> Option<Script> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = obj.get("kind")?.as_str()?;
        let name = obj.pointer("/metadata/name")?.as_str()?;
        self.object_scripts
            .get(&(group.into(), kind.into(), name.into()))
            .or_else(|| self.kind_scripts.get(&(group.into(), kind.into())))
            .cloned()
    }

    /// A new stored object with server-populated metadata.
    fn new_stored(&mut self, mut value: Value, key: &(String, String, String, String)) -> Stored {
        self.uid += 1;
        let rv = self.next_rv();
        let meta = value
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .expect("metadata");
        meta.insert(
            "uid".into(),
            json!(format!("00000000-0000-0000-0000-{:012}", self.uid)),
        );
        meta.insert("resourceVersion".into(), json!(rv));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("generation".into(), json!(1));
        if key.2.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), json!(key.2));
        }
        // The namespace controller makes namespaces Active at once.
        if value.get("kind").and_then(Value::as_str) == Some("Namespace") && key.0.is_empty() {
            value["status"] = json!({"phase": "Active"});
        }
        let script = self.script_for(&value);
        Stored {
            value,
            owners: BTreeMap::new(),
            script,
            step: 0,
            observed: 0,
        }
    }

    fn seed(&mut self, value: Value) {
        let key = self.key_of(&value).expect("seed kind served");
        let mut stored = self.new_stored(value, &key);
        stored.script = None;
        self.objects.insert(key, stored);
    }

    fn apply_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Serve(def) => {
                    self.served
                        .insert((def.group.clone(), def.version.clone(), def.kind.clone()));
                    if self
                        .def_for_kind(&def.group, &def.version, &def.kind)
                        .is_none()
                    {
                        self.resources.push(def);
                    }
                }
                Effect::Create(obj) => {
                    if let Some(key) = self.key_of(&obj) {
                        if !self.objects.contains_key(&key) {
                            let stored = self.new_stored(obj, &key);
                            self.objects.insert(key, stored);
                        }
                    }
                }
            }
        }
    }

    /// A read: moves the object one step along its script.
    fn advance(&mut self, key: &(String, String, String, String)) {
        let Some(stored) = self.objects.get_mut(key) else {
            return;
        };
        let Some(script) = stored.script.clone() else {
            return;
        };
        let generation = stored
            .value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if script.observed_generation && stored.observed < generation && stored.step > 0 {
            // The controller has not seen the new spec yet: this read still shows the old
            // observedGeneration; the next one starts the script over for the new spec.
            stored.observed = generation;
            stored.step = 0;
            return;
        }
        stored.observed = generation;
        let Some(step) = (script.step)(&stored.value, stored.step) else {
            return;
        };
        stored.step += 1;
        let mut status = step.status;
        if script.observed_generation {
            if let Some(m) = status.as_object_mut() {
                m.insert("observedGeneration".into(), json!(generation));
            }
        }
        stored.value["status"] = status;
        let rv = self.next_rv();
        if let Some(s) = self.objects.get_mut(key) {
            s.value["metadata"]["resourceVersion"] = json!(rv);
        }
        self.apply_effects(step.effects);
    }
}

#[allow(clippy::too_many_lines)] // one script per kind
fn default_scripts() -> HashMap<(String, String), Script> {
    let mut m = HashMap::new();
    let mut put = |g: &str, k: &str, s: Script| {
        m.insert((g.to_owned(), k.to_owned()), s);
    };
    let replicas = |obj: &Value| {
        obj.pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
    };
    put(
        "apps",
        "Deployment",
        Script::new(move |obj, n| {
            let r = replicas(obj);
            let status = match n {
                0 => json!({"replicas": r, "updatedReplicas": 0, "availableReplicas": 0}),
                1 => json!({"replicas": r, "updatedReplicas": r, "availableReplicas": r.min(1)}),
                2 => json!({"replicas": r, "updatedReplicas": r, "availableReplicas": r, "readyReplicas": r}),
                _ => return None,
            };
            Some(Step { status, effects: vec![] })
        })
        .with_observed_generation(),
    );
    put(
        "apps",
        "StatefulSet",
        Script::new(move |obj, n| {
            let r = replicas(obj);
            let status = match n {
                0 => json!({"replicas": r, "readyReplicas": 0, "currentRevision": "r1", "updateRevision": "r1"}),
                1 => json!({"replicas": r, "readyReplicas": r, "updatedReplicas": r, "currentRevision": "r1", "updateRevision": "r1"}),
                _ => return None,
            };
            Some(Step { status, effects: vec![] })
        })
        .with_observed_generation(),
    );
    put(
        "apps",
        "DaemonSet",
        Script::statuses(vec![
            json!({"desiredNumberScheduled": 3, "updatedNumberScheduled": 1, "numberAvailable": 0}),
            json!({"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}),
        ])
        .with_observed_generation(),
    );
    put(
        "batch",
        "Job",
        Script::statuses(vec![
            json!({"active": 1}),
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        ]),
    );
    put(
        "",
        "Pod",
        Script::statuses(vec![
            json!({"phase": "Pending"}),
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}),
        ]),
    );
    put(
        "",
        "PersistentVolumeClaim",
        Script::phases(&["Pending", "Bound"]),
    );
    put("", "PersistentVolume", Script::phases(&["Available"]));
    put(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        Script::new(|crd, n| {
            if n > 0 {
                return None;
            }
            let group = crd
                .pointer("/spec/group")
                .and_then(Value::as_str)?
                .to_owned();
            let kind = crd
                .pointer("/spec/names/kind")
                .and_then(Value::as_str)?
                .to_owned();
            let plural = crd
                .pointer("/spec/names/plural")
                .and_then(Value::as_str)?
                .to_owned();
            let namespaced =
                crd.pointer("/spec/scope").and_then(Value::as_str) == Some("Namespaced");
            let effects = crd
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .map(|version| {
                    Effect::Serve(ResourceDef::new(
                        &group, version, &kind, &plural, namespaced,
                    ))
                })
                .collect();
            Some(Step {
                status: json!({"conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]}),
                effects,
            })
        }),
    );
    put(
        "operators.coreos.com",
        "Subscription",
        Script::new(|sub, n| {
            if n > 0 {
                return None;
            }
            let package = sub
                .pointer("/spec/name")
                .and_then(Value::as_str)?
                .to_owned();
            let ns = sub
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)?
                .to_owned();
            let csv = sub
                .pointer("/spec/startingCSV")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{package}.v1.0.0"), str::to_owned);
            Some(Step {
                status: json!({"state": "AtLatestKnown", "currentCSV": csv, "installedCSV": csv,
                    "installPlanRef": {"name": "install-1"}}),
                effects: vec![Effect::Create(json!({
                    "apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
                    "metadata": {"name": csv, "namespace": ns,
                        "labels": {"operators.coreos.com/package": package}},
                    "spec": {"displayName": package}}))],
            })
        }),
    );
    put(
        "operators.coreos.com",
        "ClusterServiceVersion",
        Script::new(|csv, n| {
            let phases = ["Pending", "InstallReady", "Installing", "Succeeded"];
            let phase = phases.get(n)?;
            let effects = Vec::new();
            let _ = csv;
            Some(Step {
                status: json!({"phase": phase, "reason": phase, "message": format!("install {phase}")}),
                effects,
            })
        }),
    );
    put(
        "operators.coreos.com",
        "OperatorGroup",
        Script::statuses(vec![json!({"lastUpdated": now(), "namespaces": []})]),
    );
    put(
        "operators.coreos.com",
        "CatalogSource",
        Script::statuses(vec![
            json!({"connectionState": {"lastObservedState": "CONNECTING"}}),
            json!({"connectionState": {"lastObservedState": "READY"}}),
        ]),
    );
    put(
        "operators.coreos.com",
        "InstallPlan",
        Script::phases(&["Installing", "Complete"]),
    );
    put(
        "quay.redhat.com",
        "QuayRegistry",
        Script::new(|reg, n| {
            let name = reg.pointer("/metadata/name").and_then(Value::as_str)?;
            let ns = reg.pointer("/metadata/namespace").and_then(Value::as_str)?;
            let status = match n {
                0 => json!({"conditions": [{"type": "Available", "status": "False",
                    "reason": "MigrationsInProgress", "message": "running database migrations"}]}),
                1 => json!({"conditions": [{"type": "Available", "status": "True",
                    "reason": "HealthChecksPassing", "message": "all objects created/updated successfully"}],
                    "registryEndpoint": format!("https://{name}-quay-{ns}.apps.fake.example")}),
                _ => return None,
            };
            Some(Step {
                status,
                effects: vec![],
            })
        }),
    );
    put(
        "machine.openshift.io",
        "MachineSet",
        Script::new(move |obj, n| {
            let r = replicas(obj);
            let n = i64::try_from(n).ok()?;
            if n > r {
                return None;
            }
            Some(Step {
                status: json!({"replicas": r, "readyReplicas": n, "availableReplicas": n}),
                effects: vec![],
            })
        })
        .with_observed_generation(),
    );
    put(
        "ocs.openshift.io",
        "StorageCluster",
        Script::phases(&["Progressing", "Progressing", "Ready"]),
    );
    m
}

/// Operator kinds served once a CSV of that package succeeds.
fn csv_effects(state: &State, csv: &Value) -> Vec<Effect> {
    let package = csv
        .pointer("/metadata/labels/operators.coreos.com~1package")
        .and_then(Value::as_str)
        .unwrap_or("");
    state
        .operator_kinds
        .get(package)
        .into_iter()
        .flatten()
        .cloned()
        .map(Effect::Serve)
        .collect()
}

fn handle(
    state: &Arc<Mutex<State>>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut st = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let logged = LoggedRequest {
        method: method.to_string(),
        path: path.clone(),
        query,
        content_type: content_type.clone(),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    st.log.push(logged.clone());
    if let Some(i) = st.faults.iter().position(|f| {
        f.times > 0
            && f.method.as_ref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
    }) {
        st.faults[i].times -= 1;
        let kind = st.faults[i].kind.clone();
        return match kind {
            FaultKind::Status(code) => status_response(code, "InternalError", "injected fault"),
            FaultKind::TooManyRequests { retry_after_s } => {
                let mut res = status_response(429, "TooManyRequests", "slow down");
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    retry_after_s.to_string().parse().expect("header"),
                );
                res
            }
            FaultKind::Gone => status_response(410, "Expired", "too old resource version"),
            FaultKind::Drop => {
                let stream = futures_util::stream::iter(vec![
                    Ok::<_, std::io::Error>(Bytes::from_static(b"{\"kind\":")),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "dropped",
                    )),
                ]);
                Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(stream))
                    .expect("response")
            }
        };
    }
    match path.as_str() {
        "/.well-known/oauth-authorization-server" => {
            let base = st.base_url.clone();
            return json_response(
                200,
                &json!({"issuer": base, "authorization_endpoint": format!("{base}/oauth/authorize"),
                    "token_endpoint": format!("{base}/oauth/token"),
                    "response_types_supported": ["code", "token"]}),
            );
        }
        "/oauth/authorize" => return oauth_authorize(&mut st, uri, headers),
        _ => {}
    }
    // Everything else needs a valid Bearer token.
    let user = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| st.tokens.get(t).cloned());
    let Some(user) = user else {
        return status_response(401, "Unauthorized", "Unauthorized");
    };
    if path == "/apis/user.openshift.io/v1/users/~" {
        return json_response(
            200,
            &json!({"apiVersion": "user.openshift.io/v1", "kind": "User",
                "metadata": {"name": user}, "groups": ["system:authenticated"]}),
        );
    }
    api(&mut st, method, uri, content_type.as_deref(), body)
}

fn oauth_authorize(st: &mut State, uri: &Uri, headers: &HeaderMap) -> Response {
    let query = uri.query().unwrap_or("");
    if !query.contains("response_type=token")
        || !query.contains("client_id=openshift-challenging-client")
    {
        return status_response(400, "BadRequest", "unsupported client or response type");
    }
    if headers.get("X-CSRF-Token").is_none() {
        // The real server: no challenge without the CSRF header, so browsers are not prompted.
        return (
            StatusCode::UNAUTHORIZED,
            "A non-empty X-CSRF-Token header is required to receive basic-auth challenges",
        )
            .into_response();
    }
    let challenge = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"openshift\"")],
            "",
        )
            .into_response()
    };
    let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return challenge();
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic) else {
        return challenge();
    };
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let Some((user, password)) = decoded.split_once(':') else {
        return challenge();
    };
    if st.passwords.get(user).map(String::as_str) != Some(password) {
        return challenge();
    }
    let base = st.base_url.clone();
    if st.locked_users.contains(user) {
        return (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{base}/oauth/token/implicit?error=access_denied&error_description=user+{user}+is+locked"))],
        )
            .into_response();
    }
    st.uid += 1;
    let token = format!("sha256~issued-{}-{}", st.uid, user.len());
    st.tokens.insert(token.clone(), user.to_owned());
    (
        StatusCode::FOUND,
        [(
            header::LOCATION,
            format!("{base}/oauth/token/implicit#access_token={token}&expires_in=86400&scope=user%3Afull&token_type=Bearer"),
        )],
    )
        .into_response()
}

fn discovery(st: &State, path: &str) -> Option<Value> {
    let served = |d: &&ResourceDef| {
        st.served
            .contains(&(d.group.clone(), d.version.clone(), d.kind.clone()))
    };
    if path == "/api" {
        return Some(json!({"kind": "APIVersions", "versions": ["v1"]}));
    }
    if path == "/apis" {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in st
            .resources
            .iter()
            .filter(served)
            .filter(|d| !d.group.is_empty())
        {
            let versions = groups.entry(d.group.clone()).or_default();
            if !versions.contains(&d.version) {
                versions.push(d.version.clone());
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
            })
            .collect();
        return Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}));
    }
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["", "api", v] => (String::new(), (*v).to_owned()),
        ["", "apis", g, v] => ((*g).to_owned(), (*v).to_owned()),
        _ => return None,
    };
    let resources: Vec<Value> = st
        .resources
        .iter()
        .filter(served)
        .filter(|d| d.group == group && d.version == version)
        .map(|d| {
            json!({"name": d.plural, "singularName": d.kind.to_lowercase(), "namespaced": d.namespaced,
                "kind": d.kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    if resources.is_empty() {
        return Some(Value::Null);
    }
    let gv = if group.is_empty() {
        version
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn label_selector_matches(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let labels = obj.pointer("/metadata/labels");
        match term.split_once('=') {
            Some((k, v)) => {
                labels
                    .and_then(|l| l.get(k.trim_end_matches('=')))
                    .and_then(Value::as_str)
                    == Some(v)
            }
            None => labels.and_then(|l| l.get(term)).is_some(),
        }
    })
}

#[allow(clippy::too_many_lines)]
fn api(
    st: &mut State,
    method: &Method,
    uri: &Uri,
    content_type: Option<&str>,
    body: &Bytes,
) -> Response {
    let path = uri.path();
    if *method == Method::GET {
        if let Some(doc) = discovery(st, path) {
            if doc.is_null() {
                return status_response(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                );
            }
            return json_response(200, &doc);
        }
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return status_response(404, "NotFound", "no such path"),
    };
    let (ns, plural, name) = match rest {
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        [plural] => (None, *plural, None),
        _ => return status_response(404, "NotFound", "no such path"),
    };
    let Some(def) = st.def_for_plural(group, version, plural) else {
        return status_response(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    if def.namespaced != ns.is_some() && name.is_some() {
        return status_response(404, "NotFound", "wrong scope for this resource");
    }
    let ns_s = ns.unwrap_or("").to_owned();
    let params: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), percent_decode(v))
        })
        .collect();
    let dry_run = params.get("dryRun").is_some_and(|v| v == "All");
    let key = |name: &str| {
        (
            def.group.clone(),
            def.plural.clone(),
            ns_s.clone(),
            name.to_owned(),
        )
    };
    let namespace_exists = |st: &State| {
        ns.is_none_or(|n| {
            st.objects.contains_key(&(
                String::new(),
                "namespaces".into(),
                String::new(),
                n.to_owned(),
            ))
        })
    };
    let not_found = |name: &str| {
        status_response(
            404,
            "NotFound",
            &format!("{}.{} \"{name}\" not found", def.plural, def.group),
        )
    };
    match (method.clone(), name) {
        (Method::GET, Some(name)) => {
            let k = key(name);
            if !st.objects.contains_key(&k) {
                return not_found(name);
            }
            st.advance(&k);
            // A CSV that just succeeded brings its operator's kinds.
            let value = st.objects[&k].value.clone();
            if def.kind == "ClusterServiceVersion"
                && value.pointer("/status/phase").and_then(Value::as_str) == Some("Succeeded")
            {
                let effects = csv_effects(st, &value);
                st.apply_effects(effects);
            }
            json_response(200, &value)
        }
        (Method::GET, None) => {
            let selector = params.get("labelSelector").cloned().unwrap_or_default();
            let items: Vec<Value> = st
                .objects
                .iter()
                .filter(|((g, p, n, _), _)| {
                    *g == def.group && *p == def.plural && (ns.is_none() || *n == ns_s)
                })
                .map(|(_, s)| s.value.clone())
                .filter(|v| label_selector_matches(v, &selector))
                .collect();
            let rv = st.resource_version.to_string();
            json_response(
                200,
                &json!({"apiVersion": if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") },
                    "kind": format!("{}List", def.kind), "metadata": {"resourceVersion": rv}, "items": items}),
            )
        }
        (Method::POST, None) => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                return status_response(400, "BadRequest", "body is not JSON");
            };
            let Some(name) = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                return status_response(422, "Invalid", "metadata.name: Required value");
            };
            if !namespace_exists(st) {
                return status_response(
                    404,
                    "NotFound",
                    &format!("namespaces \"{ns_s}\" not found"),
                );
            }
            let k = key(&name);
            if st.objects.contains_key(&k) {
                return status_response(
                    409,
                    "AlreadyExists",
                    &format!("{} \"{name}\" already exists", def.plural),
                );
            }
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
            let stored = st.new_stored(obj, &k);
            let value = stored.value.clone();
            if !dry_run {
                st.objects.insert(k, stored);
            }
            json_response(201, &value)
        }
        (Method::PUT, Some(name)) => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                return status_response(400, "BadRequest", "body is not JSON");
            };
            let k = key(name);
            let rv = st.next_rv();
            let Some(stored) = st.objects.get_mut(&k) else {
                return not_found(name);
            };
            let sent_rv = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            let current_rv = stored
                .value
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            if sent_rv.is_none() || sent_rv != current_rv {
                return status_response(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        def.plural
                    ),
                );
            }
            let spec_changed = spec_of(&obj) != spec_of(&stored.value);
            let mut generation = stored
                .value
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if spec_changed {
                generation += 1;
            }
            for f in ["uid", "creationTimestamp", "namespace"] {
                if let Some(v) = stored.value.pointer(&format!("/metadata/{f}")).cloned() {
                    obj["metadata"][f] = v;
                }
            }
            obj["metadata"]["resourceVersion"] = json!(rv);
            obj["metadata"]["generation"] = json!(generation);
            if let Some(status) = stored.value.get("status").cloned() {
                obj["status"] = status;
            }
            stored.owners.clear();
            stored.value = obj.clone();
            json_response(200, &obj)
        }
        (Method::DELETE, Some(name)) => match st.objects.remove(&key(name)) {
            Some(s) => json_response(200, &s.value),
            None => not_found(name),
        },
        (Method::PATCH, Some(name)) => {
            if content_type != Some("application/apply-patch+yaml") {
                return status_response(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml",
                );
            }
            let Some(manager) = params
                .get("fieldManager")
                .filter(|m| !m.is_empty())
                .cloned()
            else {
                return status_response(
                    400,
                    "BadRequest",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                );
            };
            let force = params.get("force").is_some_and(|v| v == "true");
            let Ok(applied) = serde_json::from_slice::<Value>(body) else {
                return status_response(
                    400,
                    "BadRequest",
                    "this fake accepts apply bodies in JSON only",
                );
            };
            if applied.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
                return status_response(
                    400,
                    "BadRequest",
                    "the name of the object does not match the name on the URL",
                );
            }
            if let Some(r) = st
                .rejections
                .iter()
                .find(|r| r.kind == def.kind && r.name == name)
            {
                let message = format!("{} \"{name}\" is invalid", def.kind);
                return json_response(
                    422,
                    &status_body(422, "Invalid", &message, Some(r.causes.clone())),
                );
            }
            if !namespace_exists(st) {
                return status_response(
                    404,
                    "NotFound",
                    &format!("namespaces \"{ns_s}\" not found"),
                );
            }
            server_side_apply(st, &key(name), applied, &manager, force, dry_run)
        }
        _ => status_response(405, "MethodNotAllowed", "method not allowed"),
    }
}

#[allow(clippy::too_many_lines)]
fn server_side_apply(
    st: &mut State,
    k: &(String, String, String, String),
    applied: Value,
    manager: &str,
    force: bool,
    dry_run: bool,
) -> Response {
    let mut new_leaves = BTreeMap::new();
    leaves(&applied, "", &mut new_leaves);
    new_leaves.retain(|p, _| !ignored_path(p));
    let Some(existing) = st.objects.get(k) else {
        // Create.
        let mut stored = st.new_stored(applied, k);
        if let Some(m) = stored.value.as_object_mut() {
            m.remove("status");
            if k.0.is_empty() && k.1 == "namespaces" {
                stored.value["status"] = json!({"phase": "Active"});
            }
        }
        stored.owners = new_leaves
            .into_keys()
            .map(|p| (p, manager.to_owned()))
            .collect();
        stored.value["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply", "apiVersion": stored.value["apiVersion"]}]);
        let value = stored.value.clone();
        if !dry_run {
            st.objects.insert(k.clone(), stored);
        }
        return json_response(201, &value);
    };
    // Conflicts: a field whose value changes and that another manager owns.
    let mut current_leaves = BTreeMap::new();
    leaves(&existing.value, "", &mut current_leaves);
    let mut causes = Vec::new();
    for (path, value) in &new_leaves {
        let changes = existing.value.pointer(&pointer_of(path)) != Some(value);
        if !changes {
            continue;
        }
        for (owned, owner) in &existing.owners {
            let overlaps = owned == path
                || owned.starts_with(&format!("{path}."))
                || path.starts_with(&format!("{owned}."));
            if overlaps && owner != manager {
                causes.push(json!({"reason": "FieldManagerConflict",
                    "message": format!("conflict with \"{owner}\" using {}", existing.value["apiVersion"].as_str().unwrap_or("")),
                    "field": owned}));
            }
        }
    }
    if !causes.is_empty() && !force {
        let message = format!(
            "Apply failed with {} conflict{}: {}",
            causes.len(),
            if causes.len() == 1 { "" } else { "s" },
            causes
                .iter()
                .map(|c| format!(
                    "{}: {}",
                    c["message"].as_str().unwrap_or(""),
                    c["field"].as_str().unwrap_or("")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return json_response(409, &status_body(409, "Conflict", &message, Some(causes)));
    }
    let mut value = existing.value.clone();
    let mut owners = existing.owners.clone();
    // Fields this manager owned and no longer applies are removed (unless someone else owns them).
    let dropped: Vec<String> = owners
        .iter()
        .filter(|(p, m)| *m == manager && !new_leaves.contains_key(*p))
        .map(|(p, _)| p.clone())
        .collect();
    for p in dropped {
        owners.remove(&p);
        remove_path(&mut value, &p);
    }
    for (path, v) in &new_leaves {
        // With force, ownership moves to this manager.
        owners.retain(|owned, _| {
            !(owned == path
                || owned.starts_with(&format!("{path}."))
                || path.starts_with(&format!("{owned}.")))
        });
        owners.insert(path.clone(), manager.to_owned());
        set_path(&mut value, path, v.clone());
    }
    let mut managers: Vec<String> = owners.values().cloned().collect();
    managers.sort();
    managers.dedup();
    value["metadata"]["managedFields"] = Value::Array(
        managers
            .iter()
            .map(|m| json!({"manager": m, "operation": "Apply", "apiVersion": value["apiVersion"]}))
            .collect(),
    );
    let mut before = existing.value.clone();
    before["metadata"]["managedFields"] = value["metadata"]["managedFields"].clone();
    if before == value {
        return json_response(200, &existing.value);
    }
    let spec_changed = spec_of(&value) != spec_of(&existing.value);
    if dry_run {
        return json_response(200, &value);
    }
    let rv = st.next_rv();
    value["metadata"]["resourceVersion"] = json!(rv);
    if spec_changed {
        let generation = value
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            + 1;
        value["metadata"]["generation"] = json!(generation);
    }
    let stored = st.objects.get_mut(k).expect("exists");
    stored.value = value.clone();
    stored.owners = owners;
    let _ = current_leaves;
    json_response(200, &value)
}
