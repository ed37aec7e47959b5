//! Listing, downloading and deleting releases: the same store contract, names checked the same
//! way as pushes.

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::backends::{Auth, StoreError};
use crate::error::{ApiError, ErrorId};
use crate::service::version::listing_error;
use crate::service::{PushError, PushService, check_names};

/// The releases of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Releases {
    /// The organization.
    pub organization: String,
    /// The repository.
    pub repo: String,
    /// Its releases, in the store's order.
    pub releases: Vec<String>,
}

/// The repositories of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repositories {
    /// The organization.
    pub organization: String,
    /// Its repositories.
    pub repositories: Vec<String>,
}

/// What a delete removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The organization.
    pub organization: String,
    /// The repository.
    pub repo: String,
    /// The releases deleted, in order.
    pub deleted: Vec<String>,
}

/// A release's blob.
#[derive(Debug, Clone)]
pub struct Download {
    /// A safe file name (`<repo>-<version>.tar.gz`).
    pub filename: String,
    /// The `tar.gz`.
    pub blob: bytes::Bytes,
}

fn not_found(org: &str, repo: &str) -> ApiError {
    ApiError::new(
        ErrorId::QuayPackageNotFound,
        format!("Package {org}/{repo} not found"),
    )
}

fn read_error(e: StoreError, org: &str, repo: &str) -> ApiError {
    match e {
        StoreError::NotFound { message, .. } => {
            ApiError::new(ErrorId::QuayPackageNotFound, message)
        }
        other => listing_error(other, org, repo),
    }
}

impl PushService {
    /// The releases of `org/repo`.
    pub async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Releases, PushError> {
        check_names(org, Some(repo))?;
        self.authorize(org, Access::Read, auth)?;
        let releases = self
            .store_of(org)?
            .list_releases(org, repo, auth)
            .await
            .map_err(|e| read_error(e, org, repo))?
            .ok_or_else(|| not_found(org, repo))?;
        Ok(Releases {
            organization: org.to_owned(),
            repo: repo.to_owned(),
            releases,
        })
    }

    /// The repositories of `org`.
    pub async fn list_repositories(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Repositories, PushError> {
        check_names(org, None)?;
        self.authorize(org, Access::Read, auth)?;
        let repositories = self
            .store_of(org)?
            .list_repositories(org, auth)
            .await
            .map_err(|e| read_error(e, org, "*"))?;
        Ok(Repositories {
            organization: org.to_owned(),
            repositories,
        })
    }

    /// The blob of one release.
    pub async fn download(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: Option<&Auth>,
    ) -> Result<Download, PushError> {
        check_names(org, Some(repo))?;
        self.authorize(org, Access::Read, auth)?;
        let blob = self
            .store_of(org)?
            .pull(org, repo, version, auth)
            .await
            .map_err(|e| read_error(e, org, repo))?;
        let filename = format!("{repo}-{version}.tar.gz")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .collect();
        Ok(Download { filename, blob })
    }

    /// Deletes one release, or every release when `version` is `None`. Releases deleted before a
    /// failure are listed in the error (`deleted`).
    pub async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: Option<&str>,
        auth: &Auth,
    ) -> Result<Deleted, PushError> {
        check_names(org, Some(repo))?;
        self.authorize(org, Access::Write, Some(auth))?;
        if let Some(v) = version {
            // Releases are semantic versions; non-x.y.z ones stay deletable.
            if semver::Version::parse(v).is_err() {
                return Err(ApiError::invalid_version(v));
            }
        }
        let store = self.store_of(org)?;
        let versions = match version {
            Some(v) => vec![v.to_owned()],
            None => store
                .list_releases(org, repo, Some(auth))
                .await
                .map_err(|e| listing_error(e, org, repo))?
                .ok_or_else(|| not_found(org, repo))?,
        };
        let mut deleted: Vec<String> = Vec::new();
        for v in versions {
            if let Err(e) = store.delete(org, repo, &v, auth).await {
                let error = match e {
                    StoreError::Unauthorized { message, body } => ApiError::quay(
                        ErrorId::QuayAuthorizationError,
                        format!("Cannot delete release {v} of package {org}/{repo}: {message}"),
                        body,
                    ),
                    StoreError::NotFound { message, .. } => {
                        ApiError::new(ErrorId::QuayPackageNotFound, message)
                    }
                    StoreError::InsufficientStorage { .. } => ApiError::insufficient_storage(),
                    other => {
                        let message = other.to_string();
                        ApiError::new(
                            ErrorId::QuayPackageError,
                            if message.is_empty() {
                                "Unknown error".to_owned()
                            } else {
                                message
                            },
                        )
                    }
                };
                return Err(if deleted.is_empty() {
                    error
                } else {
                    error.with("deleted", serde_json::json!(deleted))
                });
            }
            deleted.push(v);
        }
        Ok(Deleted {
            organization: org.to_owned(),
            repo: repo.to_owned(),
            deleted,
        })
    }
}
