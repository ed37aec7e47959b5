//! Shared application state: configuration, backends, per-package locks and limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use manifest_bundle::Rewrites;
use tokio::sync::Semaphore;

use crate::adapters::{GreenwaveGate, KojiBuildSystem, QuayPublisher};
use crate::app_registry_store::AppRegistryStore;
use crate::backends::{BuildSystem, Gate, ManifestStore, RepoPublisher};
use crate::config::{Config, OrgConfig, StoreKind};
use crate::local_store::LocalStore;
use crate::metrics::Metrics;

/// The backends a server talks to.
#[derive(Clone)]
pub struct Backends {
    /// Store per kind; organizations choose one (`store` setting).
    pub stores: HashMap<StoreKind, Arc<dyn ManifestStore>>,
    /// Koji, when configured.
    pub build_system: Option<Arc<dyn BuildSystem>>,
    /// Greenwave, when configured.
    pub gate: Option<Arc<dyn Gate>>,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: Config,
    pub backends: Backends,
    pub rewrites: HashMap<String, Rewrites>,
    pub default_rewrites: Rewrites,
    pub locks: KeyedLocks,
    /// One writer per catalog image (keyed by registry host and reference) in this process.
    pub catalog_locks: KeyedLocks,
    pub cpu: Semaphore,
    pub budget: crate::admission::MemoryBudget,
    pub spool: crate::spool::InstanceDir,
    pub metrics: Metrics,
    pub tasks: tokio_util::task::TaskTracker,
}

impl AppState {
    /// State over explicit backends (tests pass fakes here).
    pub fn new(config: Config, backends: Backends) -> Result<Self, crate::config::ConfigError> {
        let mut rewrites = HashMap::new();
        for (name, org) in &config.organizations {
            let compiled = Rewrites::compile(name, &org.rewrites()).map_err(|e| {
                crate::config::ConfigError::invalid(
                    "configuration",
                    format!("organizations.{name}"),
                    e.to_string(),
                )
            })?;
            rewrites.insert(name.clone(), compiled);
        }
        let cpu = Semaphore::new(config.max_concurrent_pushes);
        let budget = crate::admission::MemoryBudget::new(
            config.memory_budget,
            config.max_queued_pushes,
            Duration::from_secs(config.admission_timeout),
        );
        let spool_root = config.spool_root();
        let (spool, cleanup) = crate::spool::InstanceDir::claim(&spool_root).map_err(|e| {
            crate::config::ConfigError::invalid(
                "configuration",
                "spool_dir",
                format!("cannot use {}: {e}", spool_root.display()),
            )
        })?;
        if cleanup.directories > 0 {
            tracing::info!(
                directories = cleanup.directories,
                "removed the spool files of processes that stopped without cleaning up"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                backends,
                rewrites,
                default_rewrites: Rewrites::default(),
                locks: KeyedLocks::default(),
                catalog_locks: KeyedLocks::default(),
                cpu,
                budget,
                spool,
                metrics: Metrics::default(),
                tasks: tokio_util::task::TaskTracker::new(),
            }),
        })
    }

    /// State with the production backends described by `config`.
    pub fn from_config(config: Config) -> anyhow::Result<Self> {
        let ca =
            match &config.ca_bundle {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    anyhow::anyhow!("ca_bundle: cannot read {}: {e}", path.display())
                })?),
                None => None,
            };
        let request = Duration::from_secs(config.request_timeout);
        let transfer = Duration::from_secs(config.transfer_timeout);
        // One settings value for every client; each takes it whole, with its own total timeout.
        let mut settings = quay_client::HttpSettings::new()
            .connect_timeout(Duration::from_secs(config.connect_timeout))
            .user_agent(format!("omps-server/{}", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca {
            settings = settings.ca_bundle_pem(pem);
        }

        let mut stores: HashMap<StoreKind, Arc<dyn ManifestStore>> = HashMap::new();
        let local = LocalStore::new(&config.data_dir).min_free_bytes(config.min_free_bytes);
        if config.uses_local_store() {
            // Leftovers of interrupted pushes and deletes go now, not at the first write; failing
            // that is no reason not to start (the first write tries again).
            match local.recover() {
                Ok(r) if r.staging_directories > 0 => tracing::info!(
                    directories = r.staging_directories,
                    "removed releases left half-written by processes that stopped"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the local store could not remove the leftovers of interrupted pushes");
                }
            }
        }
        stores.insert(StoreKind::Local, Arc::new(local));
        let appr = quay_client::AppRegistryClient::builder(config.quay_url.clone())
            .http_settings(settings.clone().timeout(transfer));
        let rest = quay_client::QuayRestClient::builder(config.quay_url.clone())
            .http_settings(settings.clone().timeout(request));
        let publisher: Arc<dyn RepoPublisher> = Arc::new(QuayPublisher::new(rest.build()?));
        stores.insert(
            StoreKind::AppRegistry,
            Arc::new(AppRegistryStore::new(appr.build()?, publisher)),
        );
        stores.insert(
            StoreKind::Oci,
            // Bundle images are small; a push is a handful of API-sized calls.
            Arc::new(crate::oci_store::OciStore::new(
                &config,
                crate::oci_store::ClientOptions {
                    connect_timeout: Duration::from_secs(config.connect_timeout),
                    request_timeout: transfer,
                    ca_bundle_pem: settings.ca_bundle_pem.as_deref().map(<[u8]>::to_vec),
                    user_agent: format!("omps-server/{}", env!("CARGO_PKG_VERSION")),
                },
            )?),
        );

        let build_system: Option<Arc<dyn BuildSystem>> =
            match (&config.kojihub_url, &config.kojiroot_url) {
                (Some(hub), Some(root)) => {
                    let koji = koji_client::Client::builder(hub.clone())
                        .http_settings(settings.clone().timeout(request))
                        .topurl(root.clone())
                        .transfer_timeout(transfer)
                        .build()?;
                    Some(Arc::new(KojiBuildSystem::new(koji)))
                }
                _ => None,
            };
        let gate: Option<Arc<dyn Gate>> = match &config.greenwave {
            Some(g) => {
                let greenwave = greenwave_client::Client::builder(g.url.clone())
                    .http_settings(settings.timeout(request))
                    .build()?;
                Some(Arc::new(GreenwaveGate::new(
                    greenwave,
                    g.context.clone(),
                    g.product_version.clone(),
                )))
            }
            None => None,
        };
        Ok(Self::new(
            config,
            Backends {
                stores,
                build_system,
                gate,
            },
        )?)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Tracks detached push tasks; `close()` + `wait()` drains them at shutdown.
    #[must_use]
    pub fn tasks(&self) -> &tokio_util::task::TaskTracker {
        &self.inner.tasks
    }

    /// This process's spool directory (uploads, extracted files).
    #[must_use]
    pub fn spool(&self) -> &crate::spool::InstanceDir {
        &self.inner.spool
    }

    /// The memory budget of pushes.
    #[must_use]
    pub fn budget(&self) -> &crate::admission::MemoryBudget {
        &self.inner.budget
    }

    /// Prometheus text exposition of the metrics.
    #[must_use]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render()
    }

    pub(crate) fn org(&self, org: &str) -> Option<&OrgConfig> {
        self.inner.config.organizations.get(org)
    }

    pub(crate) fn rewrites(&self, org: &str) -> &Rewrites {
        self.inner
            .rewrites
            .get(org)
            .unwrap_or(&self.inner.default_rewrites)
    }

    /// The store of the global `store` setting (what health checks).
    pub(crate) fn default_store(&self) -> Option<Arc<dyn ManifestStore>> {
        self.inner
            .backends
            .stores
            .get(&self.inner.config.store)
            .cloned()
    }

    pub(crate) fn store(&self, org: &str) -> Option<Arc<dyn ManifestStore>> {
        self.inner
            .backends
            .stores
            .get(&self.inner.config.store_for(org))
            .cloned()
    }
}

/// One async mutex per key, dropped when nobody holds it.
type LockMap = HashMap<(String, String), Weak<tokio::sync::Mutex<()>>>;

#[derive(Default)]
pub(crate) struct KeyedLocks {
    map: Mutex<LockMap>,
}

impl KeyedLocks {
    pub(crate) fn get(&self, org: &str, repo: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (org.to_owned(), repo.to_owned());
        if let Some(lock) = map.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        // Forget locks nobody holds any more so the map does not grow without bound.
        map.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(key, Arc::downgrade(&lock));
        lock
    }
}
