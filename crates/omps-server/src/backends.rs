//! The backend traits the handlers talk to. Production implementations wrap the client crates;
//! tests swap in fakes.

use std::path::Path;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;

/// The caller's `Authorization` value, forwarded verbatim to the App Registry; never logged.
pub type Auth = SecretString;

/// A release ready to be stored.
#[derive(Debug, Clone)]
pub struct Release {
    /// The version to create.
    pub version: String,
    /// The App Registry blob (`tar.gz`).
    pub blob: bytes::Bytes,
    /// sha256 of the uncompressed tar.
    pub digest: String,
    /// Ask the store to create the repository public (App Registry `visibility`).
    pub public: bool,
}

/// One operator bundle image of a release (built only for stores that take images).
#[derive(Debug, Clone)]
pub struct ReleaseBundle {
    /// The CSV's `spec.version`.
    pub csv_version: String,
    /// The CSV's `metadata.name`.
    pub csv_name: String,
    /// The image: blobs, manifest and digests.
    pub image: manifest_bundle::image::BundleImage,
}

/// An image a store pushed, reported to the caller (additive `images` field).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PushedImage {
    /// `<registry host>/<namespace>/<repository>:<tag>`.
    pub reference: String,
    /// The manifest digest (`sha256:...`).
    pub digest: String,
    /// The tag.
    pub tag: String,
    /// The bundle's CSV version.
    pub csv_version: String,
}

/// What a push produced beyond the release itself.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// Images pushed (OCI store); empty for the other stores.
    pub images: Vec<PushedImage>,
    /// Problems that did not fail the push (e.g. the visibility change).
    pub warnings: Vec<String>,
}

/// Why a store call failed. Each variant says what the service answers.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// 401/403 from the store.
    #[error("{message}")]
    Unauthorized {
        /// The store's message.
        message: String,
        /// The store's JSON body (`{}` when none).
        body: Value,
    },
    /// The package or release does not exist.
    #[error("{message}")]
    NotFound {
        /// The store's message.
        message: String,
        /// The store's JSON body.
        body: Value,
    },
    /// The release already exists (App Registry 409 `package-exists`).
    #[error("{message}")]
    ReleaseExists {
        /// The store's message.
        message: String,
        /// The store's JSON body.
        body: Value,
    },
    /// Any other failure: an error status, a transport error or a timeout.
    #[error("{message}")]
    Other {
        /// A description.
        message: String,
        /// The store's JSON body (`{}` for transport errors).
        body: Value,
    },
}

impl StoreError {
    /// The store's body, for `quay_response`.
    #[must_use]
    pub fn body(&self) -> Value {
        match self {
            StoreError::Unauthorized { body, .. }
            | StoreError::NotFound { body, .. }
            | StoreError::ReleaseExists { body, .. }
            | StoreError::Other { body, .. } => body.clone(),
        }
    }
}

/// Where releases live: the source of truth for versions.
#[async_trait]
pub trait ManifestStore: Send + Sync {
    /// `local`, `app-registry`, ...
    fn kind(&self) -> &'static str;

    /// Releases of a package, in the store's order; `None` when the package is unknown.
    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// Creates a release; an existing release is [`StoreError::ReleaseExists`] (never overwritten).
    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        auth: &Auth,
    ) -> Result<(), StoreError>;

    /// Creates a release from its App Registry blob and, for stores that take images, its
    /// bundle images. The default ignores the images and calls [`ManifestStore::push`].
    async fn push_release(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        bundles: &[ReleaseBundle],
        auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        let _ = bundles;
        self.push(org, repo, release, auth)
            .await
            .map(|()| PushReport::default())
    }

    /// Whether the store wants bundle images in [`ManifestStore::push_release`] for `org`.
    fn wants_bundles(&self, org: &str) -> bool {
        let _ = org;
        false
    }

    /// Whether "release exists" may be answered by retrying with the next version. A store
    /// whose names do not depend on the release version answers `false` (retrying cannot help).
    fn retry_on_exists(&self, org: &str) -> bool {
        let _ = org;
        true
    }

    /// Deletes one release.
    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: &Auth,
    ) -> Result<(), StoreError>;

    /// The blob of one release.
    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError>;

    /// The repositories (packages) of an organization.
    async fn list_repositories(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError>;

    /// Health: `Ok(())` or a description of the failure.
    async fn health(&self) -> Result<(), String>;
}

/// Why fetching a build's manifests failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    /// No such build (or a malformed NVR).
    #[error("NVR not found: {nvr}")]
    NotFound {
        /// The NVR.
        nvr: String,
    },
    /// The build is not COMPLETE.
    #[error("Build {nvr} is not complete (state {state})")]
    NotComplete {
        /// The NVR.
        nvr: String,
        /// The state name.
        state: String,
    },
    /// The build has no operator-manifests archive metadata.
    #[error("Not an operator image: {nvr}")]
    NotOperatorImage {
        /// The NVR.
        nvr: String,
    },
    /// Legacy lookup found no archive in the build logs.
    #[error("Expected archive '{file}' with manifests not found in build: {nvr}")]
    ArchiveMissing {
        /// Archive file name.
        file: String,
        /// The NVR.
        nvr: String,
    },
    /// Any other Koji failure (fault, transport, download, checksum, not configured).
    #[error("{0}")]
    Other(String),
}

/// The build system (Koji).
#[async_trait]
pub trait BuildSystem: Send + Sync {
    /// Finds the build's operator-manifests archive and streams it into `dest` (at most
    /// `max_bytes`), verifying its checksum when the build system has one.
    async fn fetch_manifests(
        &self,
        nvr: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<(), BuildError>;

    /// Health: `Ok(details)` or a description of the failure.
    async fn health(&self) -> Result<(), String>;
}

/// A gating decision.
#[derive(Debug, Clone)]
pub struct GateDecision {
    /// `policies_satisfied`.
    pub satisfied: bool,
    /// The full decision JSON (`greenwave_response`).
    pub raw: Value,
}

/// Why the gate could not decide.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GateError {
    /// `Request failed: ...`, `Greenwave unexpected response code: ...` or the missing-key text.
    pub message: String,
    /// The body, `{}` when none.
    pub body: Value,
}

/// The release gate (Greenwave).
#[async_trait]
pub trait Gate: Send + Sync {
    /// The decision for a Koji build.
    async fn decide(&self, nvr: &str) -> Result<GateDecision, GateError>;

    /// Health.
    async fn health(&self) -> Result<(), String>;
}

/// Makes repositories public (Quay REST `changevisibility`).
#[async_trait]
pub trait RepoPublisher: Send + Sync {
    /// Makes `org/repo` public with the organization's OAuth token; the error text comes from
    /// Quay's REST error fields.
    async fn make_public(&self, org: &str, repo: &str, token: &SecretString) -> Result<(), String>;
}
