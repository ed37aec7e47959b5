//! Registry-to-registry mirroring (the replacement of the Quay tools' `quay_sync`).
//!
//! Three steps, each usable on its own:
//!
//! 1. [`Endpoint::connect`] builds the registry client and (with a token) the Quay REST client
//!    of one side, both from the **same** [`HttpSettings`], so a custom CA bundle or an insecure
//!    switch applies to every call, preflight included;
//! 2. [`plan`] turns a repository list or auto-discovery (Quay API, or the registry catalog) into
//!    [`MirrorItem`]s, and finds destination organizations and repositories to create;
//! 3. [`execute`] creates those, then copies every item with [`copy_image`] (digests kept,
//!    blobs already present not re-sent), `concurrency` images at a time, and returns a
//!    [`MirrorReport`] whose JSON form is stable.

mod config;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use quay_client::{
    Api, CopyOptions, CopyReport, HttpSettings, ImageReference, NewRepository, QuayError,
    QuayRestClient, RegistryAuth, RegistryClient, RemoteError, RepositoryQuery, TagQuery,
    Visibility, copy_image,
};
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

pub use config::{ConfigFormat, MirrorConfig, ServerConfig, normalize_server};

use crate::ToolsError;

/// Parses a repository entry of a mirror: `org/repo`, `org/repo:tag` or `org/repo@sha256:…`
/// (the registry is configured separately, so a leading `https://host/` or `host[:port]/`, as
/// the original tool put into references, is refused with a clear message instead of being
/// taken as part of the name). Without a tag or digest it means every (selected) tag.
pub fn parse_repository(s: &str) -> Result<ImageReference, ToolsError> {
    let r = ImageReference::parse(s)?.require_no_registry(s)?;
    if !r.repository.contains('/') {
        return Err(ToolsError::Config(format!(
            "{s:?} is not <org>/<repo>[:<tag>] (lowercase letters, digits, '.', '_', '-')"
        )));
    }
    Ok(r)
}

/// Tag selection by `*`/`?` glob patterns; no pattern selects every tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    patterns: Vec<String>,
}

impl TagFilter {
    /// A filter matching any of `patterns`.
    pub fn new(patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `tag` is selected.
    pub fn matches(&self, tag: &str) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| glob(p.as_bytes(), tag.as_bytes()))
    }
}

/// Iterative glob with backtracking on the last `*` (linear in practice, no recursion).
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// One side of a sync: its registry client and, when a token is configured, its Quay API client.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The registry base URL.
    pub url: Url,
    /// Registry (`/v2`) client.
    pub registry: RegistryClient,
    /// Quay REST client, when an API token is configured.
    pub api: Option<QuayRestClient>,
}

/// `host[:port]` of a URL, as image references show it.
pub fn registry_host(url: &Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    }
}

impl Endpoint {
    /// Builds the clients of one side, every one of them with `settings`.
    pub fn connect(server: &ServerConfig, settings: &HttpSettings) -> Result<Self, ToolsError> {
        let auth = match (&server.registry_username, &server.registry_password) {
            // Quay accepts an OAuth token as the password of the user `$oauthtoken`, so a side
            // with only an API token can still push and pull private repositories.
            (None, None) => match &server.api_token {
                Some(t) => RegistryAuth::basic("$oauthtoken", t.clone()),
                None => RegistryAuth::Anonymous,
            },
            (user, password) => RegistryAuth::from_parts(user.clone(), password.clone(), None)
                .map_err(|e| ToolsError::Config(format!("{}: {e}", registry_host(&server.url))))?,
        };
        let registry = RegistryClient::builder(server.url.as_str())
            .http_settings(settings.clone())
            .auth(auth)
            .build()?;
        let api = match &server.api_token {
            Some(token) => {
                let base = server.api_url.as_ref().unwrap_or(&server.url);
                Some(
                    QuayRestClient::builder(base.as_str())
                        .http_settings(settings.clone())
                        .token(token.clone())
                        .build()?,
                )
            }
            None => None,
        };
        Ok(Self {
            url: server.url.clone(),
            registry,
            api,
        })
    }

    /// Same as [`Endpoint::connect`] with an explicit API token (e.g. from OAuth2).
    pub fn connect_with_token(
        server: &ServerConfig,
        token: Option<SecretString>,
        settings: &HttpSettings,
    ) -> Result<Self, ToolsError> {
        let mut s = server.clone();
        if token.is_some() {
            s.api_token = token;
        }
        Self::connect(&s, settings)
    }
}

/// Where repositories are discovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Discovery {
    /// The Quay API when the source has a token, else the registry catalog.
    #[default]
    Auto,
    /// `GET /api/v1/repository` (paged) and Quay tag lists (`onlyActiveTags=true`).
    QuayApi,
    /// `GET /v2/_catalog` and `tags/list` (plain registries).
    RegistryCatalog,
}

/// What to plan.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Configured `org/repo[:tag]` entries (without a tag: every selected tag).
    pub repositories: Vec<ImageReference>,
    /// Discover every repository on the source (restricted to `organizations` when given).
    pub auto_discovery: bool,
    /// Organizations to discover; empty: all visible ones.
    pub organizations: Vec<String>,
    /// Discovery source.
    pub discovery: Discovery,
    /// Tag selection for discovered tags.
    pub tags: TagFilter,
}

/// One image to copy. The destination path and tag equal the source's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MirrorItem {
    /// Repository path on both sides.
    pub repository: String,
    /// Tag (or digest) on both sides.
    pub reference: String,
}

impl std::fmt::Display for MirrorItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reference.starts_with("sha256:") {
            write!(f, "{}@{}", self.repository, self.reference)
        } else {
            write!(f, "{}:{}", self.repository, self.reference)
        }
    }
}

/// A destination repository to create before pushing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RepositoryToCreate {
    /// Namespace (organization).
    pub namespace: String,
    /// Repository name.
    pub name: String,
    /// Visibility taken from the source (private when unknown).
    pub public: bool,
}

/// What [`execute`] will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MirrorPlan {
    /// Images to copy, sorted.
    pub items: Vec<MirrorItem>,
    /// Destination organizations that do not exist yet.
    pub organizations_to_create: Vec<String>,
    /// Destination repositories that do not exist yet.
    pub repositories_to_create: Vec<RepositoryToCreate>,
    /// Remarks (e.g. no destination API token, so namespaces are not checked).
    pub notes: Vec<String>,
}

/// Builds the plan. Reads only (GET/HEAD); changes nothing.
#[allow(clippy::too_many_lines)] // discovery, tag listing and namespace checks in order
pub async fn plan(
    src: &Endpoint,
    dst: &Endpoint,
    opts: &PlanOptions,
) -> Result<MirrorPlan, ToolsError> {
    let discovery = match opts.discovery {
        Discovery::Auto if src.api.is_some() => Discovery::QuayApi,
        Discovery::Auto => Discovery::RegistryCatalog,
        d => d,
    };
    let src_api = || {
        src.api.as_ref().ok_or_else(|| {
            ToolsError::Config("discovery through the Quay API needs a source API token".into())
        })
    };
    let mut wanted: Vec<ImageReference> = opts.repositories.clone();
    // Source visibility per repository, when the Quay API told us.
    let mut public: BTreeMap<String, bool> = BTreeMap::new();
    if opts.auto_discovery {
        match discovery {
            Discovery::QuayApi => {
                let api = src_api()?;
                let mut repos = Vec::new();
                if opts.organizations.is_empty() {
                    // `public=true` lists every repository the token can see plus public ones.
                    repos.extend(
                        api.list_repositories(&RepositoryQuery {
                            public: true,
                            repo_kind: Some("image".into()),
                            ..RepositoryQuery::default()
                        })
                        .await?,
                    );
                } else {
                    for org in &opts.organizations {
                        repos.extend(
                            api.list_repositories(&RepositoryQuery {
                                namespace: Some(org.clone()),
                                repo_kind: Some("image".into()),
                                ..RepositoryQuery::default()
                            })
                            .await?,
                        );
                    }
                }
                for r in repos {
                    let path = format!("{}/{}", r.namespace, r.name);
                    public.insert(path.clone(), r.is_public);
                    wanted.push(ImageReference {
                        registry: None,
                        repository: path,
                        tag: None,
                        digest: None,
                    });
                }
            }
            _ => {
                for repo in src.registry.catalog(Some(100)).await? {
                    let ns = repo.split_once('/').map_or("", |(n, _)| n);
                    if opts.organizations.is_empty() || opts.organizations.iter().any(|o| o == ns) {
                        wanted.push(ImageReference {
                            registry: None,
                            repository: repo,
                            tag: None,
                            digest: None,
                        });
                    }
                }
            }
        }
    }
    let mut items: BTreeSet<MirrorItem> = BTreeSet::new();
    for w in &wanted {
        if let Some(r) = w.reference() {
            items.insert(MirrorItem {
                repository: w.repository.clone(),
                reference: r.to_owned(),
            });
            continue;
        }
        let tags: Vec<String> = match (discovery, src.api.as_ref()) {
            (Discovery::QuayApi, Some(api)) => {
                let (ns, name) = w.split_namespace();
                api.list_tags(ns, name, &TagQuery::default())
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect()
            }
            _ => src.registry.list_tags(&w.repository, None).await?,
        };
        for t in tags.into_iter().filter(|t| opts.tags.matches(t)) {
            items.insert(MirrorItem {
                repository: w.repository.clone(),
                reference: t,
            });
        }
    }
    let mut out = MirrorPlan {
        items: items.into_iter().collect(),
        ..MirrorPlan::default()
    };
    match &dst.api {
        None => out.notes.push(format!(
            "no API token for the destination {}: organizations are not checked or created \
             (Quay creates repositories on first push)",
            registry_host(&dst.url)
        )),
        Some(api) => {
            let repos: BTreeSet<&str> = out.items.iter().map(|i| i.repository.as_str()).collect();
            let namespaces: BTreeSet<&str> = repos
                .iter()
                .filter_map(|r| r.split_once('/').map(|(n, _)| n))
                .collect();
            for ns in namespaces {
                match api.get_organization(ns).await {
                    Ok(_) => {}
                    Err(QuayError::NotFound(_)) => out.organizations_to_create.push(ns.to_owned()),
                    Err(e) => return Err(e.into()),
                }
            }
            for repo in repos {
                let Some((ns, name)) = repo.split_once('/') else {
                    continue;
                };
                let missing = if out.organizations_to_create.iter().any(|o| o == ns) {
                    true
                } else {
                    match api.get_repository(ns, name).await {
                        Ok(_) => false,
                        Err(QuayError::NotFound(_)) => true,
                        Err(e) => return Err(e.into()),
                    }
                };
                if missing {
                    out.repositories_to_create.push(RepositoryToCreate {
                        namespace: ns.to_owned(),
                        name: name.to_owned(),
                        public: public.get(repo).copied().unwrap_or(false),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// How [`execute`] runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecuteOptions {
    /// Images copied at the same time (default 4).
    pub concurrency: usize,
    /// Keep going after a failed image (the report still fails).
    pub skip_broken_images: bool,
    /// Only compare digests; change nothing.
    pub dry_run: bool,
    /// Per-image copy options.
    pub copy: CopyOptions,
    /// Whole-image retries after a retryable failure (5xx, 429, timeout, transport; see
    /// [`QuayError::is_retryable`]), on top of the clients' own per-request retries. A retry
    /// skips whatever the failed attempt already transferred. Default 2.
    pub retries: u32,
    /// First back-off delay between image retries; doubles each time (default 1 s).
    pub retry_delay: Duration,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            skip_broken_images: false,
            dry_run: false,
            copy: CopyOptions::default(),
            retries: 2,
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// Outcome of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Copied now.
    Copied,
    /// The destination already had the same digest under that tag.
    Unchanged,
    /// Dry run: would be copied.
    Planned,
    /// The copy failed.
    Failed,
    /// Not tried because an earlier item failed (without `skip_broken_images`).
    NotAttempted,
}

/// Result of one item (part of the stable JSON output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemResult {
    /// `org/repo:tag`.
    pub image: String,
    /// What happened.
    pub status: ItemStatus,
    /// Digest of the top manifest when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Blobs transferred.
    pub blobs_copied: usize,
    /// Blobs mounted (same registry).
    pub blobs_mounted: usize,
    /// Blobs already present on the destination.
    pub blobs_skipped: usize,
    /// Bytes transferred.
    pub bytes_copied: u64,
    /// Error message for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Error category for failures ([`quay_client::ErrorKind::as_str`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
}

impl ItemResult {
    fn new(item: &MirrorItem, status: ItemStatus) -> Self {
        Self {
            image: item.to_string(),
            status,
            digest: None,
            blobs_copied: 0,
            blobs_mounted: 0,
            blobs_skipped: 0,
            bytes_copied: 0,
            error: None,
            error_kind: None,
        }
    }

    fn copied(item: &MirrorItem, r: &CopyReport) -> Self {
        Self {
            digest: Some(r.digest.clone()),
            blobs_copied: r.blobs_copied,
            blobs_mounted: r.blobs_mounted,
            blobs_skipped: r.blobs_skipped,
            bytes_copied: r.bytes_copied,
            ..Self::new(item, ItemStatus::Copied)
        }
    }

    fn failed(item: &MirrorItem, e: &QuayError) -> Self {
        Self {
            error: Some(e.to_string()),
            error_kind: Some(e.kind().as_str()),
            ..Self::new(item, ItemStatus::Failed)
        }
    }
}

/// Result of creating a destination organization or repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceResult {
    /// `org` or `org/repo`.
    pub name: String,
    /// `created`, `planned` or `failed`.
    pub status: &'static str,
    /// Error message when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Copied items.
    pub copied: usize,
    /// Items already identical.
    pub unchanged: usize,
    /// Items a dry run would copy.
    pub planned: usize,
    /// Failed items.
    pub failed: usize,
    /// Items not tried.
    pub not_attempted: usize,
}

/// What a sync did; serialises to the documented JSON (`docs/mirror.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorReport {
    /// `success` or `failure`.
    pub result: &'static str,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Source registry URL.
    pub source: String,
    /// Destination registry URL.
    pub destination: String,
    /// Organizations created (or planned).
    pub organizations: Vec<NamespaceResult>,
    /// Repositories created (or planned).
    pub repositories: Vec<NamespaceResult>,
    /// One entry per image, in plan order.
    pub items: Vec<ItemResult>,
    /// Counts.
    pub summary: Summary,
    /// Notes from planning.
    pub notes: Vec<String>,
    /// Every failure message (`<subject>: <message>`), for a quick look.
    pub errors: Vec<String>,
}

impl MirrorReport {
    /// Whether nothing failed.
    pub fn is_success(&self) -> bool {
        self.result == "success"
    }
}

/// Progress callbacks of [`execute`] (the CLI draws a progress bar with them).
pub trait MirrorObserver: Send + Sync {
    /// Called once with the number of items.
    fn started(&self, _total: usize) {}
    /// Called after each item.
    fn item_done(&self, _result: &ItemResult) {}
}

/// An observer that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl MirrorObserver for NoProgress {}

/// Compares source and destination digests of one item; `Some(digest)` when identical.
async fn unchanged(
    src: &Endpoint,
    dst: &Endpoint,
    item: &MirrorItem,
) -> Result<(Option<String>, bool), QuayError> {
    let s = src
        .registry
        .head_manifest(&item.repository, &item.reference)
        .await?
        .ok_or_else(|| {
            // A HEAD answer has no body; describe the miss as the registry would.
            QuayError::NotFound(RemoteError::from_body(
                Api::Registry,
                404,
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown on the source"}]}"#,
            ))
        })?;
    let d = dst
        .registry
        .head_manifest(&item.repository, &item.reference)
        .await?;
    let same = d.is_some_and(|d| d.digest == s.digest);
    Ok((Some(s.digest), same))
}

async fn run_item(
    src: &Endpoint,
    dst: &Endpoint,
    item: &MirrorItem,
    opts: &ExecuteOptions,
) -> ItemResult {
    let mut attempt = 0;
    loop {
        let (result, retryable) = try_item(src, dst, item, opts).await;
        if !retryable || attempt >= opts.retries {
            return result;
        }
        let delay = opts.retry_delay * 2u32.saturating_pow(attempt);
        tracing::warn!(image = %item, attempt, ?delay, error = ?result.error, "retrying image");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// One attempt; the flag says whether a failure may succeed when retried.
async fn try_item(
    src: &Endpoint,
    dst: &Endpoint,
    item: &MirrorItem,
    opts: &ExecuteOptions,
) -> (ItemResult, bool) {
    let failed = |e: &QuayError| (ItemResult::failed(item, e), e.is_retryable());
    let ok = |r: ItemResult| (r, false);
    match unchanged(src, dst, item).await {
        Err(e) => return failed(&e),
        Ok((digest, true)) => {
            return ok(ItemResult {
                digest,
                ..ItemResult::new(item, ItemStatus::Unchanged)
            });
        }
        Ok((digest, false)) if opts.dry_run => {
            return ok(ItemResult {
                digest,
                ..ItemResult::new(item, ItemStatus::Planned)
            });
        }
        Ok(_) => {}
    }
    match copy_image(
        &src.registry,
        &item.repository,
        &item.reference,
        &dst.registry,
        &item.repository,
        &item.reference,
        &opts.copy,
    )
    .await
    {
        Ok(r) => ok(ItemResult::copied(item, &r)),
        Err(e) => failed(&e),
    }
}

/// Creates planned namespaces, then copies every item. Never returns early on an item failure:
/// failures are in the report (`result: failure`). Without `skip_broken_images` the first
/// failure stops new copies; items not started are `not_attempted`.
#[allow(clippy::too_many_lines)] // namespaces, copies and the summary in order
pub async fn execute(
    src: &Endpoint,
    dst: &Endpoint,
    plan: &MirrorPlan,
    opts: &ExecuteOptions,
    observer: &dyn MirrorObserver,
) -> MirrorReport {
    let mut errors = Vec::new();
    let mut organizations = Vec::new();
    let mut repositories = Vec::new();
    let status_of = |r: &Result<(), QuayError>| match r {
        Ok(()) | Err(QuayError::AlreadyExists(_)) => None,
        Err(e) => Some(e.to_string()),
    };
    for org in &plan.organizations_to_create {
        let (status, error) = match (&dst.api, opts.dry_run) {
            (_, true) => ("planned", None),
            (Some(api), false) => match status_of(&api.create_organization(org, None).await) {
                None => ("created", None),
                Some(e) => ("failed", Some(e)),
            },
            (None, false) => ("failed", Some("no destination API token".to_owned())),
        };
        if let Some(e) = &error {
            errors.push(format!("organization {org}: {e}"));
        }
        organizations.push(NamespaceResult {
            name: org.clone(),
            status,
            error,
        });
    }
    for repo in &plan.repositories_to_create {
        let name = format!("{}/{}", repo.namespace, repo.name);
        let (status, error) = match (&dst.api, opts.dry_run) {
            (_, true) => ("planned", None),
            (Some(api), false) => {
                let new = NewRepository {
                    namespace: repo.namespace.clone(),
                    repository: repo.name.clone(),
                    visibility: if repo.public {
                        Visibility::Public
                    } else {
                        Visibility::Private
                    },
                    description: String::new(),
                    repo_kind: None,
                };
                match status_of(&api.create_repository(&new).await) {
                    None => ("created", None),
                    Some(e) => ("failed", Some(e)),
                }
            }
            (None, false) => ("failed", Some("no destination API token".to_owned())),
        };
        if let Some(e) = &error {
            errors.push(format!("repository {name}: {e}"));
        }
        repositories.push(NamespaceResult {
            name,
            status,
            error,
        });
    }

    observer.started(plan.items.len());
    let abort = AtomicBool::new(false);
    let concurrency = opts.concurrency.max(1);
    let mut results: Vec<(usize, ItemResult)> =
        futures_util::stream::iter(plan.items.iter().enumerate())
            .map(|(i, item)| {
                let abort = &abort;
                async move {
                    let r = if abort.load(Ordering::SeqCst) {
                        ItemResult::new(item, ItemStatus::NotAttempted)
                    } else {
                        let r = run_item(src, dst, item, opts).await;
                        if r.status == ItemStatus::Failed && !opts.skip_broken_images {
                            abort.store(true, Ordering::SeqCst);
                        }
                        r
                    };
                    observer.item_done(&r);
                    (i, r)
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    let items: Vec<ItemResult> = results.into_iter().map(|(_, r)| r).collect();
    let mut summary = Summary::default();
    for r in &items {
        match r.status {
            ItemStatus::Copied => summary.copied += 1,
            ItemStatus::Unchanged => summary.unchanged += 1,
            ItemStatus::Planned => summary.planned += 1,
            ItemStatus::Failed => {
                summary.failed += 1;
                errors.push(format!(
                    "{}: {}",
                    r.image,
                    r.error.as_deref().unwrap_or("failed")
                ));
            }
            ItemStatus::NotAttempted => summary.not_attempted += 1,
        }
    }
    let failed = !errors.is_empty() || summary.not_attempted > 0;
    MirrorReport {
        result: if failed { "failure" } else { "success" },
        dry_run: opts.dry_run,
        source: src.url.to_string(),
        destination: dst.url.to_string(),
        organizations,
        repositories,
        items,
        summary,
        notes: plan.notes.clone(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_entries() {
        let r = parse_repository("team/app:1.0").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.reference()),
            ("team/app", Some("1.0"))
        );
        assert_eq!(r.to_string(), "team/app:1.0");
        let r = parse_repository("team/app").unwrap();
        assert_eq!(r.reference(), None);
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse_repository(&format!("team/app@{d}")).unwrap();
        assert_eq!(r.reference(), Some(d.as_str()));
        assert_eq!(r.split_namespace(), ("team", "app"));
        for bad in [
            "https://quay.example.com/team/app:1",
            "quay.example.com/team/app:1",
            "app:1",
            "Team/App:1",
            "team/app:bad tag",
            "team/app@sha256:zz",
        ] {
            assert!(parse_repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_globs() {
        let f = TagFilter::new(["v1.*", "latest", "rc?"]);
        assert!(f.matches("v1.2.3"));
        assert!(f.matches("latest"));
        assert!(f.matches("rc1"));
        assert!(!f.matches("rc10"));
        assert!(!f.matches("v2.0"));
        assert!(TagFilter::default().matches("anything"));
        assert!(TagFilter::new(["*a*b*"]).matches("xxaxxbxx"));
        assert!(!TagFilter::new(["*a*b"]).matches("xxaxxbxx"));
    }
}
