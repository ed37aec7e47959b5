//! Declarative Quay administration: organizations, robot accounts and proxy caches from a file,
//! made so with the fewest calls. [`plan`] only reads (GET) and compares; [`apply`] performs the
//! planned changes. A second run after a successful one plans nothing.
//!
//! File layout (parsed by the caller into JSON; see `docs/quay-admin.md`):
//!
//! ```yaml
//! organizations:
//!   team-a: {present: true, email: team-a@example.com}
//!   old-team: {present: false}
//! robots:                      # `robot_config` (the original tool's key) is accepted too
//!   builder: {type: org, org_name: team-a, description: CI builds}
//!   me-ci: {type: personal}
//!   gone: {type: org, org_name: team-a, present: false}
//! proxycache:
//!   mirror-cache:
//!     org_name: mirror-cache
//!     upstream_registry: registry.example.com
//!     upstream_registry_username: reader
//!     upstream_registry_password_env: UPSTREAM_PASSWORD
//!     expiration_s: 86400
//!     insecure: false
//! ```

use std::collections::BTreeSet;

use secrecy::SecretString;
use serde::Serialize;

use quay_client::{NewProxyCache, QuayError, QuayRestClient, Robot};

use crate::ToolsError;
use crate::credentials::{self, EnvLookup, SecretOrigin};

/// Desired state of one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSpec {
    /// Name.
    pub name: String,
    /// Whether it should exist.
    pub present: bool,
    /// E-mail used when creating it.
    pub email: Option<String>,
}

/// Owner of a robot account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RobotOwner {
    /// An organization robot (`<org>+<name>`).
    Organization(String),
    /// A robot of the calling user.
    Personal,
}

/// Desired state of one robot account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotSpec {
    /// Owner.
    pub owner: RobotOwner,
    /// Short name (without `org+`).
    pub name: String,
    /// Whether it should exist.
    pub present: bool,
    /// Description used when creating it.
    pub description: Option<String>,
}

impl RobotSpec {
    /// `org+name`, or the short name for personal robots.
    pub fn display_name(&self) -> String {
        match &self.owner {
            RobotOwner::Organization(o) => format!("{o}+{}", self.name),
            RobotOwner::Personal => self.name.clone(),
        }
    }
}

/// Desired proxy-cache configuration of one organization.
#[derive(Clone)]
pub struct ProxyCacheSpec {
    /// Organization.
    pub org: String,
    /// Whether a configuration should exist.
    pub present: bool,
    /// Upstream registry (`host[/namespace]`).
    pub upstream_registry: String,
    /// Upstream user.
    pub username: Option<String>,
    /// Upstream password.
    pub password: Option<SecretString>,
    /// Cache expiration (server default 86400 s when unset).
    pub expiration_s: Option<u64>,
    /// Skip TLS verification towards the upstream.
    pub insecure: bool,
}

impl std::fmt::Debug for ProxyCacheSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCacheSpec")
            .field("org", &self.org)
            .field("present", &self.present)
            .field("upstream_registry", &self.upstream_registry)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("expiration_s", &self.expiration_s)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// A parsed, validated desired state.
#[derive(Debug, Clone, Default)]
pub struct ApplyConfig {
    /// Organizations.
    pub organizations: Vec<OrganizationSpec>,
    /// Robot accounts.
    pub robots: Vec<RobotSpec>,
    /// Proxy caches.
    pub proxy_caches: Vec<ProxyCacheSpec>,
    /// Non-fatal findings (literal secrets, ignored keys).
    pub warnings: Vec<String>,
}

/// Top-level keys of the sync configurations that may share the file; ignored here.
const SIBLING_KEYS: &[&str] = &[
    "servers",
    "tls",
    "failover",
    "sync",
    "initialize",
    "repositories",
    "quay_init_config",
    "quay_admin_org",
    "quay_secret_options",
    "initialize_username",
    "initialize_password",
    "initialize_email",
    "openshift_api_url",
    "openshift_username",
    "openshift_password",
    "openshift_yaml_dir",
];

type Obj = serde_json::Map<String, serde_json::Value>;

fn is_sibling(k: &str) -> bool {
    SIBLING_KEYS.contains(&k)
        || ["source_", "destination_", "primary_", "secondary_"]
            .iter()
            .any(|p| k.starts_with(p))
}

fn opt_str(m: &Obj, key: &str, at: &str, errs: &mut Vec<String>) -> Option<String> {
    match m.get(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push(format!("{at}.{key} must be a string"));
            None
        }
    }
}

fn opt_bool(m: &Obj, key: &str, default: bool, at: &str, errs: &mut Vec<String>) -> bool {
    match m.get(key) {
        None | Some(serde_json::Value::Null) => default,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => {
            errs.push(format!("{at}.{key} must be true or false"));
            default
        }
    }
}

fn check_keys(m: &Obj, allowed: &[&str], secret: &[&str], at: &str, errs: &mut Vec<String>) {
    let unknown: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| {
            !allowed.contains(k) && !secret.iter().any(|s| credentials::is_secret_key(k, s))
        })
        .collect();
    if !unknown.is_empty() {
        errs.push(format!("unknown keys in {at}: {}", unknown.join(", ")));
    }
}

fn entries<'a>(
    v: &'a serde_json::Value,
    at: &str,
    errs: &mut Vec<String>,
) -> Vec<(&'a str, &'a Obj)> {
    let Some(m) = v.as_object() else {
        errs.push(format!("{at} must be a mapping of names to settings"));
        return Vec::new();
    };
    m.iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Object(o) => Some((k.as_str(), o)),
            serde_json::Value::Null => {
                errs.push(format!("{at}.{k} needs settings (at least `{{}}`)"));
                None
            }
            _ => {
                errs.push(format!("{at}.{k} must be a mapping"));
                None
            }
        })
        .collect()
}

impl ApplyConfig {
    /// Reads a desired-state file (YAML, at most [`crate::MAX_CONFIG_BYTES`]): unknown keys are
    /// refused with their full path and the closest known key, the parser has input limits,
    /// and every problem of the values is then reported at once.
    pub fn from_file(path: &std::path::Path, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let (origin, text) = crate::file::read_file(path)?;
        Self::from_yaml(&origin, &text, env)
    }

    /// [`ApplyConfig::from_file`] on text; `origin` names it in messages.
    pub fn from_yaml(origin: &str, text: &str, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let value = crate::file::read_yaml::<crate::file::ApplyFile>(origin, text)?;
        Self::from_value(&value, env)
    }

    /// Reads a desired state already parsed into JSON. Every problem is reported at once as
    /// [`ToolsError::Config`]; secrets never appear in it.
    #[allow(clippy::too_many_lines)] // one linear walk over the three sections
    pub fn from_value(value: &serde_json::Value, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ToolsError::Config("the Quay configuration must be a mapping".into()))?;
        let mut errs = Vec::new();
        let mut cfg = ApplyConfig::default();
        let own = ["organizations", "robots", "robot_config", "proxycache"];
        let unknown: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| !own.contains(k) && !is_sibling(k))
            .collect();
        if !unknown.is_empty() {
            errs.push(format!("unknown keys: {}", unknown.join(", ")));
        }
        if obj.contains_key("robots") && obj.contains_key("robot_config") {
            errs.push("give robots or robot_config, not both".into());
        }
        if let Some(v) = obj.get("organizations") {
            for (name, m) in entries(v, "organizations", &mut errs) {
                let at = format!("organizations.{name}");
                check_keys(m, &["present", "email"], &[], &at, &mut errs);
                cfg.organizations.push(OrganizationSpec {
                    name: name.to_owned(),
                    present: opt_bool(m, "present", true, &at, &mut errs),
                    email: opt_str(m, "email", &at, &mut errs),
                });
            }
        }
        let robots_key = if obj.contains_key("robot_config") {
            "robot_config"
        } else {
            "robots"
        };
        if let Some(v) = obj.get(robots_key) {
            for (key, m) in entries(v, robots_key, &mut errs) {
                let at = format!("{robots_key}.{key}");
                check_keys(
                    m,
                    &["type", "name", "org_name", "description", "present"],
                    &[],
                    &at,
                    &mut errs,
                );
                let name = opt_str(m, "name", &at, &mut errs).unwrap_or_else(|| key.to_owned());
                let owner = match (
                    opt_str(m, "type", &at, &mut errs).as_deref(),
                    opt_str(m, "org_name", &at, &mut errs),
                ) {
                    (Some("personal"), None) => Some(RobotOwner::Personal),
                    (Some("org") | None, Some(o)) => Some(RobotOwner::Organization(o)),
                    (Some("personal"), Some(_)) => {
                        errs.push(format!("{at}: a personal robot has no org_name"));
                        None
                    }
                    (Some("org") | None, None) => {
                        errs.push(format!("{at}: an org robot needs org_name"));
                        None
                    }
                    (Some(t), _) => {
                        errs.push(format!("{at}.type must be org or personal, not {t:?}"));
                        None
                    }
                };
                if !valid_robot_name(&name) {
                    errs.push(format!(
                        "{at}: robot name {name:?} must match ^[a-z][a-z0-9_]{{1,254}}$"
                    ));
                }
                if let Some(owner) = owner {
                    cfg.robots.push(RobotSpec {
                        owner,
                        name,
                        present: opt_bool(m, "present", true, &at, &mut errs),
                        description: opt_str(m, "description", &at, &mut errs),
                    });
                }
            }
        }
        if let Some(v) = obj.get("proxycache") {
            for (key, m) in entries(v, "proxycache", &mut errs) {
                let at = format!("proxycache.{key}");
                check_keys(
                    m,
                    &[
                        "org_name",
                        "upstream_registry",
                        "upstream_registry_username",
                        "expiration_s",
                        "insecure",
                        "present",
                    ],
                    &["upstream_registry_password"],
                    &at,
                    &mut errs,
                );
                let present = opt_bool(m, "present", true, &at, &mut errs);
                let org = opt_str(m, "org_name", &at, &mut errs).unwrap_or_else(|| key.to_owned());
                let upstream = opt_str(m, "upstream_registry", &at, &mut errs);
                if present && upstream.as_deref().is_none_or(str::is_empty) {
                    errs.push(format!("{at}.upstream_registry (string) is missing"));
                }
                let password = match credentials::resolve(m, "upstream_registry_password", env) {
                    Ok(Some((s, origin))) => {
                        if origin == SecretOrigin::Literal {
                            cfg.warnings.push(format!(
                                "{at}.upstream_registry_password is written in the file; prefer upstream_registry_password_env or _file"
                            ));
                        }
                        Some(s)
                    }
                    Ok(None) => None,
                    Err(e) => {
                        errs.push(format!("{at}: {e}"));
                        None
                    }
                };
                let expiration_s = match m.get("expiration_s") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(v) => v.as_u64().or_else(|| {
                        errs.push(format!("{at}.expiration_s must be a positive integer"));
                        None
                    }),
                };
                cfg.proxy_caches.push(ProxyCacheSpec {
                    org,
                    present,
                    upstream_registry: upstream.unwrap_or_default(),
                    username: opt_str(m, "upstream_registry_username", &at, &mut errs),
                    password,
                    expiration_s,
                    insecure: opt_bool(m, "insecure", false, &at, &mut errs),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for p in &cfg.proxy_caches {
            if !seen.insert(&p.org) {
                errs.push(format!("proxycache: organization {} appears twice", p.org));
            }
        }
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(ToolsError::Config(format!(
                "invalid Quay configuration:\n  {}",
                errs.join("\n  ")
            )))
        }
    }
}

/// Quay's robot short-name rule.
fn valid_robot_name(n: &str) -> bool {
    let b = n.as_bytes();
    (2..=255).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// One change to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// `POST /api/v1/organization/`.
    CreateOrganization {
        /// Name.
        name: String,
    },
    /// `DELETE /api/v1/organization/{org}`.
    DeleteOrganization {
        /// Name.
        name: String,
    },
    /// `PUT .../robots/{name}`.
    CreateRobot {
        /// `org+name` or the personal short name.
        robot: String,
    },
    /// `DELETE .../robots/{name}`.
    DeleteRobot {
        /// `org+name` or the personal short name.
        robot: String,
    },
    /// `POST .../proxycache`.
    CreateProxyCache {
        /// Organization.
        org: String,
        /// Upstream registry.
        upstream_registry: String,
    },
    /// Delete then create (only with `overwrite_proxycache`).
    ReplaceProxyCache {
        /// Organization.
        org: String,
        /// New upstream registry.
        upstream_registry: String,
    },
    /// `DELETE .../proxycache`.
    DeleteProxyCache {
        /// Organization.
        org: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::CreateOrganization { name } => write!(f, "create organization {name}"),
            Change::DeleteOrganization { name } => write!(f, "delete organization {name}"),
            Change::CreateRobot { robot } => write!(f, "create robot {robot}"),
            Change::DeleteRobot { robot } => write!(f, "delete robot {robot}"),
            Change::CreateProxyCache {
                org,
                upstream_registry,
            } => write!(f, "create proxy cache {org} -> {upstream_registry}"),
            Change::ReplaceProxyCache {
                org,
                upstream_registry,
            } => write!(f, "replace proxy cache {org} -> {upstream_registry}"),
            Change::DeleteProxyCache { org } => write!(f, "delete proxy cache {org}"),
        }
    }
}

/// Options of [`plan`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Replace a proxy cache whose configuration differs (delete + create).
    pub overwrite_proxycache: bool,
}

impl ApplyOptions {
    /// Sets [`ApplyOptions::overwrite_proxycache`].
    #[must_use]
    pub fn overwrite_proxycache(mut self, yes: bool) -> Self {
        self.overwrite_proxycache = yes;
        self
    }
}

/// What [`apply`] will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyPlan {
    /// Changes, in execution order.
    pub changes: Vec<Change>,
    /// Things already as desired.
    pub unchanged: Vec<String>,
    /// Differences left alone (a proxy cache that differs, without `overwrite_proxycache`).
    pub drift: Vec<String>,
}

impl ApplyPlan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn robot_exists_err(r: Result<Robot, QuayError>) -> Result<bool, QuayError> {
    match r {
        Ok(_) => Ok(true),
        Err(QuayError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Compares the desired state with the server (GET calls only) and lists the changes.
pub async fn plan(
    client: &QuayRestClient,
    cfg: &ApplyConfig,
    opts: ApplyOptions,
) -> Result<ApplyPlan, ToolsError> {
    let mut p = ApplyPlan::default();
    let mut creating: BTreeSet<&str> = BTreeSet::new();
    let mut deleting = Vec::new();
    for o in &cfg.organizations {
        let exists = match client.get_organization(&o.name).await {
            Ok(_) => true,
            Err(QuayError::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        };
        match (o.present, exists) {
            (true, false) => {
                creating.insert(&o.name);
                p.changes.push(Change::CreateOrganization {
                    name: o.name.clone(),
                });
            }
            (false, true) => deleting.push(Change::DeleteOrganization {
                name: o.name.clone(),
            }),
            (true, true) => p.unchanged.push(format!("organization {} exists", o.name)),
            (false, false) => p
                .unchanged
                .push(format!("organization {} is absent", o.name)),
        }
    }
    let mut late = Vec::new();
    for r in &cfg.robots {
        let name = r.display_name();
        let exists = match &r.owner {
            RobotOwner::Organization(org) if creating.contains(org.as_str()) => false,
            RobotOwner::Organization(org) => {
                robot_exists_err(client.get_robot(org, &r.name).await)?
            }
            RobotOwner::Personal => robot_exists_err(client.get_user_robot(&r.name).await)?,
        };
        match (r.present, exists) {
            (true, false) => p.changes.push(Change::CreateRobot { robot: name }),
            (false, true) => late.push(Change::DeleteRobot { robot: name }),
            (true, true) => p.unchanged.push(format!("robot {name} exists")),
            (false, false) => p.unchanged.push(format!("robot {name} is absent")),
        }
    }
    for pc in &cfg.proxy_caches {
        let current = if creating.contains(pc.org.as_str()) {
            None
        } else {
            client.get_proxy_cache(&pc.org).await?
        };
        match (pc.present, current) {
            (true, None) => p.changes.push(Change::CreateProxyCache {
                org: pc.org.clone(),
                upstream_registry: pc.upstream_registry.clone(),
            }),
            (true, Some(cur)) => {
                let same = cur.upstream_registry == pc.upstream_registry
                    && cur.insecure == pc.insecure
                    && pc.expiration_s.is_none_or(|e| cur.expiration_s == Some(e));
                if same {
                    p.unchanged.push(format!(
                        "proxy cache {} -> {}",
                        pc.org, pc.upstream_registry
                    ));
                } else if opts.overwrite_proxycache {
                    p.changes.push(Change::ReplaceProxyCache {
                        org: pc.org.clone(),
                        upstream_registry: pc.upstream_registry.clone(),
                    });
                } else {
                    p.drift.push(format!(
                        "proxy cache {} is {} (expiration {:?}, insecure {}), not {} (expiration {:?}, insecure {}); use --overwrite-proxycache to replace it",
                        pc.org,
                        cur.upstream_registry,
                        cur.expiration_s,
                        cur.insecure,
                        pc.upstream_registry,
                        pc.expiration_s,
                        pc.insecure
                    ));
                }
            }
            (false, Some(_)) => late.push(Change::DeleteProxyCache {
                org: pc.org.clone(),
            }),
            (false, None) => p
                .unchanged
                .push(format!("proxy cache {} is not configured", pc.org)),
        }
    }
    // Deletions last, organizations after what they contain.
    p.changes.extend(late);
    p.changes.extend(deleting);
    Ok(p)
}

/// Result of one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeResult {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// `done` or `failed`.
    pub status: &'static str,
    /// Error message when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`apply`] did; serialises to the documented JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// `success` or `failure`.
    pub result: &'static str,
    /// Whether nothing was changed because nothing differed.
    pub no_changes: bool,
    /// Changes made (or attempted), in order.
    pub changes: Vec<ChangeResult>,
    /// Things already as desired.
    pub unchanged: Vec<String>,
    /// Differences left alone.
    pub drift: Vec<String>,
}

fn new_proxy_cache(spec: &ProxyCacheSpec) -> NewProxyCache {
    NewProxyCache {
        upstream_registry: spec.upstream_registry.clone(),
        username: spec.username.clone(),
        password: spec.password.clone(),
        expiration_s: spec.expiration_s,
        insecure: spec.insecure,
    }
}

async fn perform(
    client: &QuayRestClient,
    cfg: &ApplyConfig,
    change: &Change,
) -> Result<(), QuayError> {
    let robot = |display: &str| {
        cfg.robots
            .iter()
            .find(|r| r.display_name() == display)
            .cloned()
            .ok_or_else(|| {
                QuayError::InvalidArgument(format!("robot {display} is not in the configuration"))
            })
    };
    let proxy = |org: &str| {
        cfg.proxy_caches
            .iter()
            .find(|p| p.org == org)
            .ok_or_else(|| {
                QuayError::InvalidArgument(format!("proxy cache {org} is not in the configuration"))
            })
    };
    match change {
        Change::CreateOrganization { name } => {
            let email = cfg
                .organizations
                .iter()
                .find(|o| &o.name == name)
                .and_then(|o| o.email.clone());
            client.create_organization(name, email.as_deref()).await
        }
        Change::DeleteOrganization { name } => client.delete_organization(name).await,
        Change::CreateRobot { robot: display } => {
            let r = robot(display)?;
            match &r.owner {
                RobotOwner::Organization(o) => client
                    .create_robot(o, &r.name, r.description.as_deref())
                    .await
                    .map(drop),
                RobotOwner::Personal => client
                    .create_user_robot(&r.name, r.description.as_deref())
                    .await
                    .map(drop),
            }
        }
        Change::DeleteRobot { robot: display } => {
            let r = robot(display)?;
            match &r.owner {
                RobotOwner::Organization(o) => client.delete_robot(o, &r.name).await,
                RobotOwner::Personal => client.delete_user_robot(&r.name).await,
            }
        }
        Change::CreateProxyCache { org, .. } => {
            client
                .create_proxy_cache(org, &new_proxy_cache(proxy(org)?))
                .await
        }
        Change::ReplaceProxyCache { org, .. } => {
            let spec = proxy(org)?;
            client.delete_proxy_cache(org).await?;
            client.create_proxy_cache(org, &new_proxy_cache(spec)).await
        }
        Change::DeleteProxyCache { org } => client.delete_proxy_cache(org).await,
    }
}

/// Performs the planned changes in order, recording each result; later changes still run when
/// one fails (they are independent, except that a robot in an organization that failed to be
/// created fails too, which is reported).
pub async fn apply(client: &QuayRestClient, cfg: &ApplyConfig, plan: &ApplyPlan) -> ApplyReport {
    let mut changes = Vec::new();
    for c in &plan.changes {
        let r = perform(client, cfg, c).await;
        changes.push(ChangeResult {
            change: c.clone(),
            status: if r.is_ok() { "done" } else { "failed" },
            error: r.err().map(|e| e.to_string()),
        });
    }
    let failed = changes.iter().any(|c| c.error.is_some());
    ApplyReport {
        result: if failed { "failure" } else { "success" },
        no_changes: plan.changes.is_empty(),
        changes,
        unchanged: plan.unchanged.clone(),
        drift: plan.drift.clone(),
    }
}

/// The report of a dry run: the plan, nothing performed.
pub fn dry_run_report(plan: &ApplyPlan) -> ApplyReport {
    ApplyReport {
        result: "success",
        no_changes: plan.changes.is_empty(),
        changes: plan
            .changes
            .iter()
            .map(|c| ChangeResult {
                change: c.clone(),
                status: "planned",
                error: None,
            })
            .collect(),
        unchanged: plan.unchanged.clone(),
        drift: plan.drift.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_all_sections_and_original_robot_config() {
        let env = |k: &str| (k == "UP").then(|| "pw".to_owned());
        let c = ApplyConfig::from_value(
            &json!({
                "organizations": {"a": {"present": true}, "b": {"present": false, "email": "b@x"}},
                "robot_config": {"x": {"type": "org", "name": "builder", "org_name": "a"},
                                 "y": {"type": "personal", "name": "me_ci"}},
                "proxycache": {"pc": {"org_name": "cache", "upstream_registry": "r.example.com",
                                      "upstream_registry_password_env": "UP", "expiration_s": 60}},
                "servers": {"primary": {"url": "x"}},
            }),
            &env,
        )
        .unwrap();
        assert_eq!(c.organizations.len(), 2);
        assert!(!c.organizations[1].present);
        assert_eq!(c.robots[0].display_name(), "a+builder");
        assert_eq!(c.robots[1].owner, RobotOwner::Personal);
        assert_eq!(c.proxy_caches[0].org, "cache");
        assert_eq!(c.proxy_caches[0].expiration_s, Some(60));
        assert!(c.proxy_caches[0].password.is_some());
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn reports_all_errors() {
        let e = ApplyConfig::from_value(
            &json!({
                "organisations": {},
                "robots": {"Bad-Name": {"type": "org"}, "ok_name": {"type": "robotic", "org_name": "a"}},
                "proxycache": {"pc": {"org_name": "c", "upstream_registry_password": "hunter2",
                                      "upstream_registry_password_env": "X"}},
            }),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        for want in [
            "unknown keys: organisations",
            "an org robot needs org_name",
            "Bad-Name",
            "type must be org or personal",
            "upstream_registry (string) is missing",
            "give only one of",
        ] {
            assert!(e.contains(want), "missing {want:?} in {e}");
        }
        assert!(!e.contains("hunter2"), "{e}");
    }
}
