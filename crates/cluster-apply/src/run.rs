//! Applying a directory: file by file, server-side apply, then waiting until the file's objects
//! are ready.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::client::Cluster;
use crate::discovery::{Discovery, Resource};
use crate::error::{Error, NotReady};
use crate::input::{self, ManifestFile, Object, Order, Plan, Sources};
use crate::readiness::{self, Assessment, Related};

/// The field manager used unless another is given; stable, so re-applying owns the same fields.
pub const DEFAULT_FIELD_MANAGER: &str = "omps-cluster-apply";

/// Dry-run mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DryRun {
    /// Apply for real.
    #[default]
    None,
    /// Validate, order and template locally; send nothing.
    Client,
    /// Send every apply with `dryRun=All`; nothing persists, nothing is waited for.
    Server,
}

/// What to wait for, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMode {
    /// Do not wait.
    Never,
    /// Wait until the object can be read back.
    Exists,
    /// Wait for the kind's readiness rule.
    Ready,
}

/// Options of a run (the CLI flags, one field each).
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct ApplyOptions {
    /// `fieldManager` sent with every apply.
    pub field_manager: String,
    /// `force=true`: take over fields other managers own.
    pub force_conflicts: bool,
    /// Dry-run mode.
    pub dry_run: DryRun,
    /// Namespace for namespaced objects that name none (else the connection's default).
    pub namespace: Option<String>,
    /// Override the namespace objects name.
    pub force_namespace: bool,
    /// File order.
    pub order: Order,
    /// Per-file readiness timeout (default 30 min).
    pub timeout: Duration,
    /// Per-kind timeouts (`Subscription` or `Subscription.operators.coreos.com`).
    pub timeout_for: HashMap<String, Duration>,
    /// Bound on the whole run.
    pub total_timeout: Option<Duration>,
    /// First poll interval (default 2 s; it doubles up to `poll_max`).
    pub poll_interval: Duration,
    /// Longest poll interval (default 15 s).
    pub poll_max: Duration,
    /// How long a recoverable bad state may last before it fails the run (default 120 s).
    pub fail_grace: Duration,
    /// Per-kind wait overrides (`KIND` or `KIND.group`).
    pub wait_for: HashMap<String, WaitMode>,
    /// Apply everything without waiting.
    pub no_wait: bool,
    /// After a failed file, go on with the next one.
    pub keep_going: bool,
    /// Pause after each ready file.
    pub settle: Option<Duration>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            field_manager: DEFAULT_FIELD_MANAGER.into(),
            force_conflicts: false,
            dry_run: DryRun::None,
            namespace: None,
            force_namespace: false,
            order: Order::Bytes,
            timeout: Duration::from_secs(30 * 60),
            timeout_for: HashMap::new(),
            total_timeout: None,
            poll_interval: Duration::from_secs(2),
            poll_max: Duration::from_secs(15),
            fail_grace: Duration::from_secs(120),
            wait_for: HashMap::new(),
            no_wait: false,
            keep_going: false,
            settle: None,
        }
    }
}

impl ApplyOptions {
    fn lookup<T: Copy>(map: &HashMap<String, T>, obj: &Object) -> Option<T> {
        let qualified = if obj.group().is_empty() {
            obj.kind.clone()
        } else {
            format!("{}.{}", obj.kind, obj.group())
        };
        map.get(&qualified).or_else(|| map.get(&obj.kind)).copied()
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// 201.
    Created,
    /// 200 with a new `resourceVersion`.
    Configured,
    /// 200 with the same `resourceVersion`.
    Unchanged,
    /// Not sent (client dry run, or not reached).
    Skipped,
}

impl Action {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Skipped => "skipped",
        }
    }
}

/// One object in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectReport {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace (after defaulting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// What apply did.
    pub action: Action,
    /// Ready when the file's wait ended.
    pub ready: bool,
    /// Seconds from the start of the file's wait until ready (or until the wait ended).
    pub waited_s: f64,
    /// The deciding status, or the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One file in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// File name.
    pub file: String,
    /// Its objects (those reached).
    pub objects: Vec<ObjectReport>,
}

/// The machine-readable report (`--output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `success` or `failure`.
    pub result: &'static str,
    /// The first failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Dry-run mode.
    pub dry_run: DryRun,
    /// Files in apply order.
    pub files: Vec<FileReport>,
}

/// A run's report and its first error.
#[derive(Debug)]
pub struct Outcome {
    /// What was done.
    pub report: Report,
    /// The first failure (with `keep_going`, later ones are in the report's messages).
    pub error: Option<Error>,
}

impl Outcome {
    /// 0 on success, else the first error's exit code.
    pub fn exit_code(&self) -> u8 {
        self.error.as_ref().map_or(0, Error::exit_code)
    }
}

/// Progress, for live output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Files in apply order.
    Order(Vec<String>),
    /// A warning (stripped fields, ambiguous scalars, namespace dropped, …).
    Warning(String),
    /// An object was applied.
    Applied {
        /// File.
        file: String,
        /// `Kind/name (ns)`.
        object: String,
        /// What happened.
        action: Action,
        /// Server dry run.
        dry_run: bool,
    },
    /// Client dry run: what would be sent (secret values redacted).
    WouldSend {
        /// File.
        file: String,
        /// The body.
        body: Value,
    },
    /// Waiting on a file's objects started.
    Waiting {
        /// File.
        file: String,
        /// Number of objects.
        objects: usize,
    },
    /// An object's deciding status changed.
    Status {
        /// File.
        file: String,
        /// `Kind/name (ns)`.
        object: String,
        /// What its status says.
        status: String,
        /// Time since the wait started.
        elapsed: Duration,
    },
    /// A file's objects are all ready.
    FileReady {
        /// File.
        file: String,
        /// Time the wait took.
        elapsed: Duration,
    },
}

/// Progress sink.
pub type Progress<'a> = &'a (dyn Fn(Event) + Send + Sync);

/// Reads, validates and applies `dir` (blocking file reads happen off the runtime).
pub async fn apply_dir(
    cluster: &Cluster,
    dir: &Path,
    options: &ApplyOptions,
    progress: Progress<'_>,
) -> Outcome {
    apply_dir_until(cluster, dir, options, progress, std::future::pending()).await
}

/// [`apply_dir`] that stops when `interrupt` completes (SIGINT/SIGTERM in a binary): nothing more
/// is applied, what was applied stays applied, and the outcome's error is
/// [`Error::Interrupted`] with the report of everything done so far.
pub async fn apply_dir_until(
    cluster: &Cluster,
    dir: &Path,
    options: &ApplyOptions,
    progress: Progress<'_>,
    interrupt: impl Future<Output = ()>,
) -> Outcome {
    let mut interrupt = std::pin::pin!(interrupt);
    let dir = dir.to_owned();
    let limits = cluster.limits().clone();
    let order = options.order;
    let read = tokio::task::spawn_blocking(move || input::read_dir(&dir, order, &limits));
    let read = tokio::select! {
        r = read => r,
        () = &mut interrupt => return failed_early(options, Error::Interrupted),
    };
    let sources = match read {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return failed_early(options, e),
        Err(e) => {
            return failed_early(
                options,
                Error::Config(format!("reading the directory failed: {e}")),
            );
        }
    };
    apply_sources_until(cluster, &sources, options, progress, interrupt).await
}

fn failed_early(options: &ApplyOptions, error: Error) -> Outcome {
    Outcome {
        report: Report {
            result: "failure",
            error: Some(error.to_string()),
            dry_run: options.dry_run,
            files: Vec::new(),
        },
        error: Some(error),
    }
}

/// Applies already-read sources (templating with the infrastructure name when needed).
pub async fn apply_sources(
    cluster: &Cluster,
    sources: &Sources,
    options: &ApplyOptions,
    progress: Progress<'_>,
) -> Outcome {
    apply_sources_until(cluster, sources, options, progress, std::future::pending()).await
}

/// [`apply_sources`] that stops when `interrupt` completes (see [`apply_dir_until`]).
pub async fn apply_sources_until(
    cluster: &Cluster,
    sources: &Sources,
    options: &ApplyOptions,
    progress: Progress<'_>,
    interrupt: impl Future<Output = ()>,
) -> Outcome {
    let mut interrupt = std::pin::pin!(interrupt);
    progress(Event::Order(
        sources.files.iter().map(|f| f.name.clone()).collect(),
    ));
    let infra = if sources.needs_infra_id() {
        let read = tokio::select! {
            r = crate::infrastructure_name(cluster) => r,
            () = &mut interrupt => return failed_early(options, Error::Interrupted),
        };
        match read {
            Ok(name) => Some(name),
            Err(Error::NotOpenShift(_)) => None,
            Err(e) => return failed_early(options, e),
        }
    } else {
        None
    };
    let plan = match sources.plan(infra.as_deref(), cluster.limits()) {
        Ok(p) => p,
        Err(e) => return failed_early(options, e),
    };
    for w in &plan.warnings {
        progress(Event::Warning(w.clone()));
    }
    Runner {
        cluster,
        options,
        progress,
        discovery: Discovery::new(),
        started: Instant::now(),
    }
    .run(plan, interrupt)
    .await
}

struct Runner<'a> {
    cluster: &'a Cluster,
    options: &'a ApplyOptions,
    progress: Progress<'a>,
    discovery: Discovery,
    started: Instant,
}

struct Applied {
    object: Object,
    resource: Resource,
    action: Action,
}

impl Runner<'_> {
    async fn run(self, plan: Plan, mut interrupt: Pin<&mut impl Future<Output = ()>>) -> Outcome {
        let mut files = Vec::new();
        let mut first_error: Option<Error> = None;
        for file in plan.files {
            let mut report = FileReport {
                file: file.name.clone(),
                objects: Vec::new(),
            };
            let error = tokio::select! {
                e = self.file(&file, &mut report) => e,
                () = &mut interrupt => Some(Error::Interrupted),
            };
            files.push(report);
            if let Some(e) = error {
                let interrupted = matches!(e, Error::Interrupted);
                if interrupted {
                    // The exit status says "interrupted" even after an earlier failure
                    // (`keep_going`); that failure stays in its file's report.
                    first_error = Some(e);
                    break;
                }
                first_error.get_or_insert(e);
                if !self.options.keep_going {
                    break;
                }
            }
        }
        Outcome {
            report: Report {
                result: if first_error.is_none() {
                    "success"
                } else {
                    "failure"
                },
                error: first_error.as_ref().map(ToString::to_string),
                dry_run: self.options.dry_run,
                files,
            },
            error: first_error,
        }
    }

    fn file_deadline(&self, file: &ManifestFile, start: Instant) -> Instant {
        let per_file = file
            .objects
            .iter()
            .filter_map(|o| ApplyOptions::lookup(&self.options.timeout_for, o))
            .max()
            .unwrap_or(self.options.timeout);
        let mut deadline = start + per_file;
        if let Some(total) = self.options.total_timeout {
            deadline = deadline.min(self.started + total);
        }
        deadline
    }

    /// Applies one file and waits for it, filling `report` as it goes (so that an interrupted
    /// run still reports what was applied).
    async fn file(&self, file: &ManifestFile, report: &mut FileReport) -> Option<Error> {
        let start = Instant::now();
        let deadline = self.file_deadline(file, start);
        let mut applied = Vec::new();
        for object in &file.objects {
            if self.options.dry_run == DryRun::Client {
                (self.progress)(Event::WouldSend {
                    file: file.name.clone(),
                    body: redact(&object.body, &object.kind),
                });
                report
                    .objects
                    .push(object_report(object, Action::Skipped, false, 0.0, None));
                continue;
            }
            match self.apply(&file.name, object, deadline).await {
                Ok(a) => {
                    (self.progress)(Event::Applied {
                        file: file.name.clone(),
                        object: a.object.display(),
                        action: a.action,
                        dry_run: self.options.dry_run == DryRun::Server,
                    });
                    report
                        .objects
                        .push(object_report(&a.object, a.action, false, 0.0, None));
                    applied.push(a);
                }
                Err(e) => {
                    report.objects.push(object_report(
                        object,
                        Action::Skipped,
                        false,
                        0.0,
                        Some(e.to_string()),
                    ));
                    return Some(e);
                }
            }
        }
        if self.options.dry_run != DryRun::None {
            return None;
        }
        let error = self
            .wait(&file.name, &applied, deadline, &mut report.objects)
            .await;
        if error.is_none() {
            if let Some(settle) = self.options.settle {
                tokio::time::sleep(settle).await;
            }
        }
        error
    }

    async fn resolve(
        &self,
        file: &str,
        object: &Object,
        deadline: Instant,
    ) -> Result<Resource, Error> {
        let mut delay = self.options.poll_interval;
        loop {
            if let Some(r) = self
                .discovery
                .resolve(self.cluster, object.group(), object.version(), &object.kind)
                .await?
            {
                return Ok(r);
            }
            if Instant::now() + delay > deadline {
                return Err(Error::KindNotServed {
                    file: file.to_owned(),
                    api_version: object.api_version.clone(),
                    kind: object.kind.clone(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.options.poll_max);
        }
    }

    async fn apply(
        &self,
        file: &str,
        object: &Object,
        deadline: Instant,
    ) -> Result<Applied, Error> {
        let resource = self.resolve(file, object, deadline).await?;
        let mut object = object.clone();
        if resource.namespaced {
            let default = self
                .options
                .namespace
                .clone()
                .unwrap_or_else(|| self.cluster.default_namespace().to_owned());
            let ns = match (&object.namespace, self.options.force_namespace) {
                (Some(ns), false) => ns.clone(),
                _ => default,
            };
            object.set_namespace(Some(ns));
        } else if let Some(ns) = object.namespace.clone() {
            (self.progress)(Event::Warning(format!(
                "{file} document {}: {}/{} is cluster-scoped; namespace {ns} dropped",
                object.document, object.kind, object.name
            )));
            object.set_namespace(None);
        }
        let path = resource.object_path(object.namespace.as_deref(), &object.name);
        let context = format!(
            "{file} document {}: apply {}",
            object.document,
            object.display()
        );
        let before = self.cluster.get_json(&context, &path).await?.and_then(|v| {
            v.pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("fieldManager", &self.options.field_manager);
        query.append_pair(
            "force",
            if self.options.force_conflicts {
                "true"
            } else {
                "false"
            },
        );
        if self.options.dry_run == DryRun::Server {
            query.append_pair("dryRun", "All");
        }
        let body = serde_json::to_vec(&object.body).map_err(|e| Error::Config(e.to_string()))?;
        let res = self
            .cluster
            .call(
                &context,
                Method::PATCH,
                &format!("{path}?{}", query.finish()),
                Some("application/apply-patch+yaml"),
                Some(body),
            )
            .await?;
        let action = match res.status {
            StatusCode::CREATED => Action::Created,
            StatusCode::OK => {
                let after = res.json(&context)?;
                let after = after
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str);
                if before.is_some() && after == before.as_deref() {
                    Action::Unchanged
                } else if before.is_none() {
                    Action::Created
                } else {
                    Action::Configured
                }
            }
            StatusCode::CONFLICT => {
                let err = res.into_error(&context);
                return Err(match err {
                    Error::Api { causes, .. }
                        if causes.iter().any(|c| c.kind == "FieldManagerConflict") =>
                    {
                        Error::Conflict {
                            object: object.display(),
                            conflicts: causes,
                        }
                    }
                    other => other,
                });
            }
            _ => return Err(res.into_error(&context)),
        };
        Ok(Applied {
            object,
            resource,
            action,
        })
    }

    async fn related(
        &self,
        namespace: Option<&str>,
        related: &Related,
    ) -> Result<Option<Value>, Error> {
        let path = match related {
            Related::Csv(name) => format!(
                "/apis/operators.coreos.com/v1alpha1/namespaces/{}/clusterserviceversions/{name}",
                namespace.unwrap_or("default")
            ),
            Related::StorageClass(name) => {
                format!("/apis/storage.k8s.io/v1/storageclasses/{name}")
            }
        };
        self.cluster.get_json(&format!("read {path}"), &path).await
    }

    /// Polls every not-ready object until all are ready, one fails, or the deadline passes.
    #[allow(clippy::too_many_lines)]
    async fn wait(
        &self,
        file: &str,
        applied: &[Applied],
        deadline: Instant,
        reports: &mut [ObjectReport],
    ) -> Option<Error> {
        struct Tracked {
            mode: WaitMode,
            done: Option<f64>,
            status: String,
            failing_since: Option<Instant>,
        }
        let start = Instant::now();
        let mut tracked: Vec<Tracked> = applied
            .iter()
            .map(|a| {
                let mode = if self.options.no_wait {
                    WaitMode::Never
                } else {
                    ApplyOptions::lookup(&self.options.wait_for, &a.object)
                        .unwrap_or(WaitMode::Ready)
                };
                Tracked {
                    mode,
                    done: (mode == WaitMode::Never).then_some(0.0),
                    status: String::new(),
                    failing_since: None,
                }
            })
            .collect();
        let waiting = tracked.iter().filter(|t| t.done.is_none()).count();
        if waiting > 0 {
            (self.progress)(Event::Waiting {
                file: file.to_owned(),
                objects: waiting,
            });
        }
        let mut delay = self.options.poll_interval;
        let mut error = None;
        'poll: while tracked.iter().any(|t| t.done.is_none()) {
            for ((a, t), r) in applied
                .iter()
                .zip(tracked.iter_mut())
                .zip(reports.iter_mut())
            {
                if t.done.is_some() {
                    continue;
                }
                let path = a
                    .resource
                    .object_path(a.object.namespace.as_deref(), &a.object.name);
                let context = format!("{file}: wait for {}", a.object.display());
                let current = match self.cluster.get_json(&context, &path).await {
                    Ok(c) => c,
                    Err(e) => {
                        error = Some(e);
                        break 'poll;
                    }
                };
                let assessment = match (&current, t.mode) {
                    // Created asynchronously, or deleted again: keep waiting.
                    (None, _) => Assessment::Pending("not found".into()),
                    (Some(_), WaitMode::Exists) => Assessment::Ready("exists".into()),
                    (Some(obj), _) => {
                        let group = a.object.group();
                        let rel = match readiness::related(group, &a.object.kind, obj) {
                            Some(r) => {
                                match self.related(a.object.namespace.as_deref(), &r).await {
                                    Ok(v) => v,
                                    Err(e) => {
                                        error = Some(e);
                                        break 'poll;
                                    }
                                }
                            }
                            None => None,
                        };
                        readiness::assess(group, &a.object.kind, obj, rel.as_ref())
                    }
                };
                let (status, failing) = match &assessment {
                    Assessment::Ready(s) | Assessment::Pending(s) | Assessment::Failed(s) => {
                        (s.clone(), false)
                    }
                    Assessment::Failing(s) => (s.clone(), true),
                };
                if status != t.status {
                    (self.progress)(Event::Status {
                        file: file.to_owned(),
                        object: a.object.display(),
                        status: status.clone(),
                        elapsed: start.elapsed(),
                    });
                    t.status.clone_from(&status);
                    r.message = Some(status.clone());
                }
                if !failing {
                    t.failing_since = None;
                }
                match assessment {
                    Assessment::Ready(_) => {
                        let waited = start.elapsed().as_secs_f64();
                        t.done = Some(waited);
                        r.ready = true;
                        r.waited_s = round_tenths(waited);
                        if a.object.kind == "CustomResourceDefinition" {
                            // Its kind is served from now on.
                            self.discovery.invalidate().await;
                        }
                    }
                    Assessment::Pending(_) => {}
                    Assessment::Failed(message) => {
                        error = Some(Error::Failed {
                            file: file.to_owned(),
                            object: a.object.display(),
                            message,
                        });
                        break 'poll;
                    }
                    Assessment::Failing(message) => {
                        let since = *t.failing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= self.options.fail_grace {
                            error = Some(Error::Failed {
                                file: file.to_owned(),
                                object: a.object.display(),
                                message,
                            });
                            break 'poll;
                        }
                    }
                }
            }
            if tracked.iter().all(|t| t.done.is_some()) {
                break;
            }
            if Instant::now() + delay > deadline {
                let not_ready = applied
                    .iter()
                    .zip(&tracked)
                    .filter(|(_, t)| t.done.is_none())
                    .map(|(a, t)| NotReady {
                        object: a.object.display(),
                        status: t.status.clone(),
                    })
                    .collect();
                error = Some(Error::Timeout {
                    file: file.to_owned(),
                    waited_s: start.elapsed().as_secs_f64(),
                    not_ready,
                });
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.options.poll_max.max(self.options.poll_interval));
        }
        let elapsed = round_tenths(start.elapsed().as_secs_f64());
        for ((_, t), r) in applied.iter().zip(&tracked).zip(reports.iter_mut()) {
            match t.done {
                // Ready, or never waited for (`never`, `--no-wait`).
                Some(_) => r.ready = true,
                None => r.waited_s = elapsed,
            }
        }
        if error.is_none() {
            (self.progress)(Event::FileReady {
                file: file.to_owned(),
                elapsed: start.elapsed(),
            });
        }
        error
    }
}

fn object_report(
    object: &Object,
    action: Action,
    ready: bool,
    waited_s: f64,
    message: Option<String>,
) -> ObjectReport {
    ObjectReport {
        api_version: object.api_version.clone(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        action,
        ready,
        waited_s: round_tenths(waited_s),
        message,
    }
}

fn round_tenths(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

/// A copy fit for printing: a `Secret`'s values become their sizes.
pub fn redact(body: &Value, kind: &str) -> Value {
    let mut copy = body.clone();
    if kind == "Secret" {
        for key in ["data", "stringData"] {
            if let Some(map) = copy.get_mut(key).and_then(Value::as_object_mut) {
                for v in map.values_mut() {
                    let len = v.as_str().map_or(0, str::len);
                    *v = Value::String(format!("<redacted, {len} bytes>"));
                }
            }
        }
    }
    copy
}
