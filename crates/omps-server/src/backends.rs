//! The backend traits the push service talks to: the store contract, the build system, the
//! gate. Production implementations wrap the client crates; tests swap in fakes.

use std::path::Path;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;

/// The caller's `Authorization` value, forwarded verbatim to the App Registry; never logged.
pub type Auth = SecretString;

/// What a store takes as a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseShape {
    /// An App Registry blob (`tar.gz` of the package manifests).
    AppRegistryBlob,
    /// Operator bundle images, one per CSV.
    BundleImages,
}

/// Where a store's release names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseNaming {
    /// From the version the service chooses (or the caller gives): `x.y.z`, automatic by
    /// bumping the highest major. A taken version can be retried with the next one.
    FromVersion,
    /// From the content: each bundle's CSV version. Retrying with another version cannot help,
    /// and an explicit version must name the content's release.
    FromContent,
}

/// What a store states about itself for one organization, once: the pipeline prepares exactly
/// the release this describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreCapabilities {
    /// The release shape the store takes.
    pub takes: ReleaseShape,
    /// Where release names come from.
    pub naming: ReleaseNaming,
}

impl StoreCapabilities {
    /// App-Registry-shaped stores (local, App Registry): a blob named by the chosen version.
    pub const APP_REGISTRY: Self = Self {
        takes: ReleaseShape::AppRegistryBlob,
        naming: ReleaseNaming::FromVersion,
    };
}

/// The content of a release, in the shape the store takes.
#[derive(Debug, Clone)]
pub enum ReleaseContent {
    /// An App Registry blob.
    AppRegistryBlob {
        /// The `tar.gz`.
        blob: bytes::Bytes,
        /// sha256 of the uncompressed tar.
        digest: String,
    },
    /// One bundle image per CSV.
    BundleImages(Vec<ReleaseBundle>),
}

/// A release ready to be stored.
#[derive(Debug, Clone)]
pub struct Release {
    /// The release name: the chosen version, or for stores naming releases by content the
    /// content's release the caller asked for (or the highest).
    pub version: String,
    /// The content.
    pub content: ReleaseContent,
    /// The organization is public: stores whose protocol takes a visibility at creation (the
    /// App Registry push) create the repository public. Visibility changes are
    /// [`ManifestStore::publish`].
    pub public: bool,
}

/// One operator bundle image of a release.
#[derive(Debug, Clone)]
pub struct ReleaseBundle {
    /// The CSV's `spec.version`.
    pub csv_version: String,
    /// The CSV's `metadata.name`.
    pub csv_name: String,
    /// The image: blobs, manifest and digests.
    pub image: manifest_bundle::image::BundleImage,
}

/// An image a store pushed, reported to the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Images pushed (stores that take bundle images); empty for the others.
    pub images: Vec<PushedImage>,
}

/// What a visibility change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// The repository is public now.
    Published,
    /// The store has no visibility to change (the local store, a plain OCI registry).
    NotSupported,
}

/// Why a store call failed. Each variant says what the service answers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
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
    /// The store's disk is full (the embedded store): nothing was stored.
    #[error("{message}")]
    InsufficientStorage {
        /// A description, without paths.
        message: String,
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
            StoreError::InsufficientStorage { .. } => Value::Object(serde_json::Map::new()),
        }
    }
}

/// Where an organization's catalog image lives, for the catalog stage and `GET
/// /v2/<org>/catalog` (stores that keep one: the OCI store with `catalog` set).
#[derive(Clone)]
pub struct CatalogSite {
    /// Client of the registry holding the catalog and the bundle images (the bundle pushes'
    /// credentials).
    pub client: quay_client::RegistryClient,
    /// The catalog image, by tag.
    pub reference: quay_client::ImageReference,
    /// The base image with a client of its registry; `None` for `scratch`.
    pub base: Option<(quay_client::RegistryClient, quay_client::ImageReference)>,
    /// `host[:port]` of the registry, as image references name it.
    pub host: String,
    /// Registry repository of each package's bundle images: `{repo}` is replaced.
    pub bundle_repository: String,
    /// Missing bundle images one push adds back.
    pub repair_limit: u32,
}

impl CatalogSite {
    /// The registry repository of `repo`'s bundle images.
    #[must_use]
    pub fn bundle_repository_of(&self, repo: &str) -> String {
        self.bundle_repository.replace("{repo}", repo)
    }
}

impl std::fmt::Debug for CatalogSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogSite")
            .field("reference", &self.reference.to_string())
            .field("base", &self.base.as_ref().map(|(_, r)| r.to_string()))
            .finish_non_exhaustive()
    }
}

/// Where releases live: the source of truth for versions. One contract for every store shape:
/// a store states its [`StoreCapabilities`], takes exactly the release they describe in
/// [`ManifestStore::push`], and owns its visibility change ([`ManifestStore::publish`]).
#[async_trait]
pub trait ManifestStore: Send + Sync {
    /// `local`, `app-registry`, `oci`.
    fn kind(&self) -> &'static str;

    /// What the store takes for `org`'s releases and how it names them.
    fn capabilities(&self, org: &str) -> StoreCapabilities;

    /// Releases of a package, in the store's order; `None` when the package is unknown.
    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// Creates a release of the shape [`ManifestStore::capabilities`] states; an existing
    /// release is [`StoreError::ReleaseExists`] (never overwritten). Content of another shape is
    /// [`StoreError::Other`].
    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        auth: &Auth,
    ) -> Result<PushReport, StoreError>;

    /// Makes `org/repo` public with the organization's OAuth token (one attempt; the caller
    /// retries). The error text is the store's.
    async fn publish(
        &self,
        org: &str,
        repo: &str,
        token: &SecretString,
    ) -> Result<Publication, String>;

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

    /// The catalog image `org`'s pushes update, reached with `auth` where the store forwards
    /// the caller's credentials; `None` when the organization has none (the default).
    fn catalog_site(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<CatalogSite>, StoreError> {
        let _ = (org, auth);
        Ok(None)
    }
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

/// Makes repositories public through Quay's REST API (`changevisibility`); what the App
/// Registry store uses for [`ManifestStore::publish`].
#[async_trait]
pub trait RepoPublisher: Send + Sync {
    /// Makes `org/repo` public with the organization's OAuth token; the error text comes from
    /// Quay's REST error fields.
    async fn make_public(&self, org: &str, repo: &str, token: &SecretString) -> Result<(), String>;
}
