//! The App Registry (CNR) store: quay-client's App Registry client behind [`ManifestStore`].

use async_trait::async_trait;
use quay_client::{AppRegistryClient, PushRelease, QuayError, Visibility};
use serde_json::json;

use std::sync::Arc;

use crate::backends::{
    Auth, ManifestStore, Publication, PushReport, Release, ReleaseContent, RepoPublisher,
    StoreCapabilities, StoreError,
};

/// Releases in an App Registry at a configurable base URL (self-hosted Quay, appr); visibility
/// through Quay's REST API at the same Quay.
#[derive(Clone)]
pub struct AppRegistryStore {
    client: AppRegistryClient,
    publisher: Arc<dyn RepoPublisher>,
}

impl std::fmt::Debug for AppRegistryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistryStore")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl AppRegistryStore {
    /// Wraps a configured App Registry client and the publisher for visibility changes.
    #[must_use]
    pub fn new(client: AppRegistryClient, publisher: Arc<dyn RepoPublisher>) -> Self {
        Self { client, publisher }
    }
}

/// Maps quay-client's error onto what the service answers; transport details never carry the
/// caller's token (quay-client keeps credentials out of its errors).
#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_error)`
pub fn store_error(e: QuayError) -> StoreError {
    match &e {
        QuayError::Unauthorized(r) => StoreError::Unauthorized {
            message: r.message_or_default().to_owned(),
            body: r.body().clone(),
        },
        QuayError::NotFound(r) => StoreError::NotFound {
            message: r.message_or_default().to_owned(),
            body: r.body().clone(),
        },
        QuayError::AlreadyExists(r) => StoreError::ReleaseExists {
            message: r.message_or_default().to_owned(),
            body: r.body().clone(),
        },
        QuayError::InvalidRequest(r) | QuayError::Remote(r) => StoreError::Other {
            message: r.message_or_default().to_owned(),
            body: r.body().clone(),
        },
        _ => StoreError::Other {
            message: e.to_string(),
            body: json!({}),
        },
    }
}

#[async_trait]
impl ManifestStore for AppRegistryStore {
    fn kind(&self) -> &'static str {
        "app-registry"
    }

    fn capabilities(&self, _org: &str) -> StoreCapabilities {
        StoreCapabilities::APP_REGISTRY
    }

    async fn publish(
        &self,
        org: &str,
        repo: &str,
        token: &secrecy::SecretString,
    ) -> Result<Publication, String> {
        self.publisher
            .make_public(org, repo, token)
            .await
            .map(|()| Publication::Published)
    }

    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        match self
            .client
            .list_releases(auth, org, repo, Some("helm"))
            .await
        {
            Ok(releases) => Ok(Some(
                releases
                    .into_iter()
                    .filter(|r| r.media_type_word().is_none_or(|m| m == "helm"))
                    .map(|r| r.release)
                    .collect(),
            )),
            Err(QuayError::NotFound(_)) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        let ReleaseContent::AppRegistryBlob { blob, .. } = &release.content else {
            return Err(StoreError::Other {
                message: "the App Registry takes App Registry blobs, not bundle images".into(),
                body: json!({}),
            });
        };
        let push = PushRelease {
            release: release.version.clone(),
            media_type: "helm".into(),
            blob: blob.clone(),
            visibility: release.public.then_some(Visibility::Public),
            force: false,
        };
        self.client
            .push_release(Some(auth), org, repo, &push)
            .await
            .map(|_| PushReport::default())
            .map_err(store_error)
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: &Auth,
    ) -> Result<(), StoreError> {
        self.client
            .delete_release(Some(auth), org, repo, version, "helm")
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError> {
        self.client
            .pull_release(auth, org, repo, version, "helm")
            .await
            .map_err(store_error)
    }

    async fn list_repositories(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError> {
        let packages = self
            .client
            .list_packages(auth, org, Some("helm"))
            .await
            .map_err(store_error)?;
        Ok(packages
            .into_iter()
            .map(|p| {
                p.name
                    .strip_prefix(&format!("{org}/"))
                    .map_or_else(|| p.name.clone(), str::to_owned)
            })
            .collect())
    }

    async fn health(&self) -> Result<(), String> {
        match self.client.version().await {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "App Registry at {} is unhealthy: {e}",
                self.client.base_url()
            )),
        }
    }
}
