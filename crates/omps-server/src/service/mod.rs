//! The push service, transport-free: a [`PushRequest`] in, a [`PushOutcome`] or a [`PushError`]
//! out. The HTTP handlers translate requests and answers; `omps push --direct` calls it
//! in-process.
//!
//! A push runs five named stages, each a module with functions that can be tested alone, visited
//! once and in order:
//!
//! 1. [`intake`]: fetch the archive (an upload on disk, or a Koji build behind the Greenwave
//!    gate), extract it within the limits, find the package name and apply the suffix;
//! 2. [`version`]: choose the release version (explicit, or automatic from the store's
//!    releases) for stores that name releases by version;
//! 3. [`prepare`]: rewrite, validate and build exactly the release the store takes (an App
//!    Registry blob, or bundle images) and name it;
//! 4. [`store`]: push it, retrying an automatic version the store reports as taken;
//! 5. [`publish`]: let the store make the repository public for public organizations;
//! 6. [`catalog`]: add the pushed bundles to the organization's catalog image, when it names
//!    one (a failure is reported in the answer, never fails the push).
//!
//! The organization's store is resolved once per push and its capabilities read once.

pub mod catalog;
pub mod intake;
pub mod prepare;
pub mod publish;
pub mod read;
pub mod store;
pub mod version;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::Instrument as _;

use crate::backends::{Auth, ManifestStore, PushedImage};
use crate::error::ApiError;
use crate::state::AppState;

/// The error of every service call: an [`ErrorId`](crate::ErrorId), a message and the documented extra fields.
pub type PushError = ApiError;

/// Where the manifests come from.
#[derive(Debug)]
pub enum PushSource {
    /// A zip with the manifests at its root, on disk; the file is removed when the push ends.
    Archive(tempfile::NamedTempFile),
    /// The operator manifests archive of a Koji build (NVR).
    Koji {
        /// The build's NVR.
        nvr: String,
    },
}

/// One push.
#[derive(Debug)]
pub struct PushRequest {
    /// The organization (namespace).
    pub organization: String,
    /// The repository; `None` takes it from the (suffixed) package name. The v1 API names it in
    /// the URL.
    pub repository: Option<String>,
    /// An explicit release version (`x.y.z`); `None` chooses one.
    pub version: Option<String>,
    /// The caller's `Authorization` value, forwarded to the store; never logged.
    pub auth: Auth,
    /// The manifests.
    pub source: PushSource,
}

/// What a push created. Serialized as the push answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOutcome {
    /// The files of the archive, sorted.
    pub extracted_files: Vec<String>,
    /// Bundle images pushed (stores that take images), with references and digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PushedImage>,
    /// The organization's catalog update (organizations whose OCI table names a `catalog`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<catalog::CatalogOutcome>,
    /// The Koji build, for Koji pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvr: Option<String>,
    /// The organization.
    pub organization: String,
    /// `false` when the repository could not be made public (see `warnings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// The repository.
    pub repo: String,
    /// The release created: one that listing, download and delete accept.
    pub version: String,
    /// Problems that did not fail the push.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The push service over the application's configuration and backends; cheap to clone.
#[derive(Clone)]
pub struct PushService {
    state: AppState,
}

impl std::fmt::Debug for PushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushService").finish_non_exhaustive()
    }
}

/// Checks an organization name, and a repository name when given, against the name grammar.
pub fn check_names(organization: &str, repository: Option<&str>) -> Result<(), PushError> {
    crate::names::check_organization(organization).map_err(ApiError::invalid_name)?;
    if let Some(repo) = repository {
        crate::names::check_repository(repo).map_err(ApiError::invalid_name)?;
    }
    Ok(())
}

/// Checks what a push names before any of its body is read: the names, and an explicit
/// version's format.
pub fn check_target(
    organization: &str,
    repository: Option<&str>,
    version: Option<&str>,
) -> Result<(), PushError> {
    check_names(organization, repository)?;
    match version {
        Some(v) if !crate::config::is_strict_version(v) => Err(ApiError::invalid_version(v)),
        _ => Ok(()),
    }
}

impl PushService {
    /// The service over `state`.
    #[must_use]
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The application state (configuration, metrics).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The organization's store, resolved once per call.
    pub(crate) fn store_of(&self, org: &str) -> Result<Arc<dyn ManifestStore>, PushError> {
        self.state.store(org).ok_or_else(ApiError::internal)
    }

    /// Runs one push. The pipeline runs as a tracked task: it completes (and logs its outcome)
    /// even if the caller goes away, and graceful shutdown waits for it.
    pub async fn push(&self, request: PushRequest) -> Result<PushOutcome, PushError> {
        let org = request.organization.clone();
        let checked = check_target(
            &request.organization,
            request.repository.as_deref(),
            request.version.as_deref(),
        )
        .and_then(|()| {
            self.authorize(
                &request.organization,
                crate::access::Access::Write,
                Some(&request.auth),
            )
        });
        let result = if let Err(e) = checked {
            Err(e)
        } else {
            let service = self.clone();
            let handle = self.state.inner.tasks.spawn(
                async move { service.run(request).await }.instrument(tracing::Span::current()),
            );
            handle.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "push task failed");
                Err(ApiError::internal())
            })
        };
        // Label by configured organization only: request organizations are caller-chosen, and
        // one series per invented name would grow /metrics without bound.
        let org_label = if self.state.org(&org).is_some() {
            org.as_str()
        } else {
            "(unconfigured)"
        };
        self.state.inner.metrics.push(
            org_label,
            result.as_ref().map_or_else(|e| e.id.as_str(), |_| "ok"),
        );
        result
    }

    #[allow(clippy::too_many_lines)] // the six stages in order, each one call
    async fn run(&self, request: PushRequest) -> Result<PushOutcome, PushError> {
        let PushRequest {
            organization: org,
            repository,
            version: requested,
            auth,
            source,
        } = request;
        let store = self.store_of(&org)?;
        let capabilities = store.capabilities(&org);
        let rewrites = self.state.rewrites(&org).clone();
        let limits = intake::limits(self.state.config());

        // Stage 1: intake.
        let (archive, nvr) = intake::fetch(&self.state, source).await?;
        // Admission by memory: what the push will hold, from the archive's declared sizes,
        // is reserved before anything is inflated, and held until the push ends.
        let plan = {
            let _scan = self.cpu_permit().await?;
            intake::plan(archive.path(), capabilities.takes, &limits).await?
        };
        let mut reservation = self.state.inner.budget.reserve(plan.estimate()).await?;
        // One permit from intake until the release is built bounds the CPU work
        // (`max_concurrent_pushes`). Storing, which only waits on the network, runs without it.
        let permit = self.cpu_permit().await?;
        let spool = self
            .state
            .spool()
            .tempdir()
            .map_err(|e| ApiError::local_io("creating the extraction spool", &e))?;
        let intake =
            intake::extract(archive, &limits, &rewrites, capabilities.takes, spool).await?;
        reservation.shrink_to(
            intake::MemoryPlan {
                in_memory: intake.tree.total_bytes(),
                archive: plan.archive,
            }
            .estimate(),
        );
        let repo = if let Some(repo) = repository {
            repo
        } else {
            intake::check_package_name(&intake.package_name)?;
            intake.package_name.clone()
        };

        // One push at a time per package in this process; the store arbitrates across replicas.
        let lock = self.state.inner.locks.get(&org, &repo);
        let guard = lock.lock().await;

        // Stage 2: the version.
        let chosen = version::choose(
            &self.state,
            store.as_ref(),
            capabilities,
            &org,
            &repo,
            requested.as_deref(),
            &auth,
        )
        .await?;

        // Stage 3: the release.
        let public = self.state.org(&org).is_some_and(|o| o.public);
        let extracted_files = intake.extracted_files.clone();
        let release = prepare::prepare(
            intake,
            rewrites,
            &repo,
            capabilities,
            prepare::Naming {
                chosen,
                requested: requested.clone(),
            },
            public,
            &limits,
        )
        .await?;
        drop(permit);

        // Stage 4: store.
        let automatic = requested.is_none();
        let (release, report) = store::store(
            &self.state,
            store.as_ref(),
            capabilities,
            &org,
            &repo,
            release,
            &auth,
            automatic,
        )
        .await?;
        tracing::info!(organization = %org, repo = %repo, version = %release.version, "release pushed");

        // Stage 5: publish.
        let warnings = publish::publish(&self.state, store.as_ref(), &org, &repo)
            .await
            .err()
            .into_iter()
            .collect::<Vec<_>>();
        // The release is stored: the package's next push need not wait for the catalog,
        // whose writers are serialised by its own lock.
        drop(guard);

        // Stage 6: catalog.
        let catalog = catalog::after_push(
            &self.state,
            store.as_ref(),
            &org,
            &repo,
            &auth,
            &release,
            &report.images,
        )
        .await;
        Ok(PushOutcome {
            extracted_files,
            images: report.images,
            catalog,
            nvr,
            organization: org,
            published: (!warnings.is_empty()).then_some(false),
            repo,
            version: release.version,
            warnings,
        })
    }

    async fn cpu_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, PushError> {
        self.state
            .inner
            .cpu
            .acquire()
            .await
            .map_err(|_| ApiError::internal())
    }

    /// Checks the caller's access to `org` when its store is the embedded one and tokens are
    /// configured (other stores forward the credential to their upstream, which decides).
    pub fn authorize(
        &self,
        org: &str,
        access: crate::access::Access,
        auth: Option<&Auth>,
    ) -> Result<(), PushError> {
        let config = self.state.config();
        match &config.tokens {
            Some(_) if access == crate::access::Access::Read && config.anonymous_reads => Ok(()),
            Some(tokens) if config.store_for(org) == crate::config::StoreKind::Local => {
                tokens.authorize(org, access, auth).map(|_| ())
            }
            _ => Ok(()),
        }
    }
}
