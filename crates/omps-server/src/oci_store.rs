//! The OCI bundle store: each release becomes operator bundle images pushed to any OCI registry
//! (`<registry>/<namespace>/<repository>:<tag>`).
//!
//! Settings come from the global `[oci]` table, overridden key by key by an organization's
//! `[organizations.<org>.oci]` table:
//!
//! | key | meaning |
//! |---|---|
//! | `registry_url` | `https://host[:port]` of the registry (required when the store is used) |
//! | `namespace` | registry namespace; default the organization name |
//! | `repository` | repository template with one `{repo}`; default `{repo}` |
//! | `tag_policy` | `csv-version` (default: tag = CSV version) or `release` (OMPS release version) |
//! | `username` + `password` | Basic / robot credentials (never logged) |
//! | `token` | a registry bearer token (never logged) |
//! | `quay` | the registry is Quay: `public = true` changes visibility through Quay's REST API |
//!
//! Releases are named by the tag policy: with `csv-version` a release is a CSV version (the
//! store names releases by content), with `release` it is the OMPS version (`x.y.z`).
//!
//! Without configured credentials the caller's `Authorization` header is used: `Basic ...` as
//! user and password, `Bearer ...` or a bare token as a bearer token.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use quay_client::oci::{Manifest, media_types};
use quay_client::{
    ImageReference, ImageToPush, QuayError, QuayRestClient, RegistryAuth, RegistryClient,
    Visibility,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use sha2::Digest as _;

use crate::app_registry_store::store_error;
use crate::backends::{
    Auth, CatalogSite, ManifestStore, Publication, PushReport, PushedImage, Release, ReleaseBundle,
    ReleaseContent, ReleaseNaming, ReleaseShape, StoreCapabilities, StoreError,
};
use crate::config::{
    Config, DEFAULT_CATALOG_REPAIR_LIMIT, OciConfig, TagPolicy, is_strict_version,
    parse_catalog_base, parse_catalog_reference,
};

/// Where credentials for the registry come from.
#[derive(Clone)]
enum Credentials {
    Forwarded,
    Basic(String, SecretString),
    Bearer(SecretString),
}

/// Effective settings of one organization.
#[derive(Clone)]
struct Settings {
    registry_url: String,
    namespace: String,
    repository: String,
    tag_policy: TagPolicy,
    credentials: Credentials,
    quay: bool,
    catalog: Option<CatalogSettings>,
}

/// An organization's catalog image (`catalog`, `catalog_base`, `catalog_repair_limit`).
#[derive(Clone)]
struct CatalogSettings {
    reference: ImageReference,
    base: Option<ImageReference>,
    repair_limit: u32,
}

impl Settings {
    fn repository_for(&self, repo: &str) -> String {
        format!(
            "{}/{}",
            self.namespace,
            self.repository.replace("{repo}", repo)
        )
    }

    /// `host[:port]` for image references.
    fn host(&self) -> String {
        crate::config::registry_host(&self.registry_url)
    }

    /// The repository name part of a registry repository, reversing the template.
    fn repo_of(&self, registry_repository: &str) -> Option<String> {
        let rest = registry_repository.strip_prefix(&format!("{}/", self.namespace))?;
        let (prefix, suffix) = self.repository.split_once("{repo}")?;
        let name = rest.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
    }
}

/// A tag from a CSV version (`+` is not allowed in tags).
pub fn tag_of_version(version: &str) -> String {
    version.replace('+', "_")
}

/// The release version a tag belongs to under the `release` policy.
fn release_of_tag(tag: &str) -> Option<&str> {
    if is_strict_version(tag) {
        return Some(tag);
    }
    let (head, _) = tag.split_once('-')?;
    is_strict_version(head).then_some(head)
}

/// Turns a forwarded `Authorization` value into registry credentials (the workspace's one way,
/// [`RegistryAuth::from_authorization`]).
fn forwarded(auth: &Auth) -> Result<RegistryAuth, StoreError> {
    RegistryAuth::from_authorization(auth).map_err(|_| StoreError::Unauthorized {
        message: "the Authorization header is not valid Basic credentials".into(),
        body: json!({}),
    })
}

/// HTTP settings shared by every registry client the store builds.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Total timeout of API calls.
    pub request_timeout: Duration,
    /// Extra PEM roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// User agent.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ca_bundle_pem: None,
            user_agent: format!("omps-server/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl ClientOptions {
    /// The one settings value every client of the store gets.
    fn http_settings(&self) -> quay_client::HttpSettings {
        let settings = quay_client::HttpSettings::new()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(self.user_agent.clone());
        match &self.ca_bundle_pem {
            Some(pem) => settings.ca_bundle_pem(pem.clone()),
            None => settings,
        }
    }

    fn registry(&self, url: &str, auth: RegistryAuth) -> Result<RegistryClient, QuayError> {
        RegistryClient::builder(url.to_owned())
            .http_settings(self.http_settings())
            .auth(auth)
            .build()
    }

    fn rest(&self, url: &str) -> Result<QuayRestClient, QuayError> {
        QuayRestClient::builder(url.to_owned())
            .http_settings(self.http_settings())
            .build()
    }
}

/// The clients of one organization's registry, built once at start. Clones of a client share
/// its connection pool and token cache.
struct Clients {
    settings: Settings,
    /// With the configured credentials, or anonymous when the caller's are forwarded.
    registry: RegistryClient,
    /// Quay REST at the registry (`quay = true`), for visibility changes.
    rest: Option<QuayRestClient>,
    /// An anonymous client of the catalog base image's registry when it is another registry
    /// (a base on the organization's registry is read with `registry`).
    base_registry: Option<RegistryClient>,
}

/// At most this many clients for forwarded caller credentials are kept; each keeps its own
/// connections and registry tokens, so a caller's repeated pushes reuse them.
const FORWARDED_CLIENTS: usize = 64;

/// Releases as operator bundle images in OCI registries.
pub struct OciStore {
    /// Configured organizations whose effective settings name a registry.
    orgs: BTreeMap<String, Clients>,
    /// The global `[oci]` table's clients, for organizations without their own table; the
    /// namespace is filled in per organization.
    global: Option<Clients>,
    /// Registry clients for forwarded credentials, keyed by registry URL and a digest of the
    /// caller's `Authorization` value (never the value itself).
    forwarded: std::sync::Mutex<HashMap<(String, [u8; 32]), RegistryClient>>,
    options: ClientOptions,
}

impl std::fmt::Debug for OciStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciStore")
            .field("organizations", &self.orgs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Effective settings from a merged table; `None` without a registry.
fn settings_of(c: OciConfig, namespace_default: &str) -> Option<Settings> {
    let registry_url = c.registry_url?;
    let credentials = match (c.username, c.password, c.token) {
        (Some(u), Some(p), _) => Credentials::Basic(u, p),
        (_, _, Some(t)) => Credentials::Bearer(t),
        _ => Credentials::Forwarded,
    };
    Some(Settings {
        registry_url,
        namespace: c
            .namespace
            .unwrap_or_else(|| namespace_default.to_ascii_lowercase()),
        repository: c.repository.unwrap_or_else(|| "{repo}".into()),
        tag_policy: c.tag_policy.unwrap_or(TagPolicy::CsvVersion),
        credentials,
        quay: c.quay.unwrap_or(false),
        // Both were validated at start-up (`Config::validate`); a value that still fails to
        // parse leaves the organization without a catalog rather than without a store.
        catalog: c
            .catalog
            .as_deref()
            .and_then(|v| parse_catalog_reference(v).ok())
            .map(|reference| CatalogSettings {
                reference,
                base: c
                    .catalog_base
                    .as_deref()
                    .and_then(|b| parse_catalog_base(b).ok())
                    .flatten(),
                repair_limit: c
                    .catalog_repair_limit
                    .unwrap_or(DEFAULT_CATALOG_REPAIR_LIMIT),
            }),
    })
}

impl Clients {
    fn new(settings: Settings, options: &ClientOptions) -> Result<Self, QuayError> {
        let auth = match &settings.credentials {
            Credentials::Basic(u, p) => RegistryAuth::basic(u.clone(), p.clone()),
            Credentials::Bearer(t) => RegistryAuth::Bearer(t.clone()),
            Credentials::Forwarded => RegistryAuth::Anonymous,
        };
        let registry = options.registry(&settings.registry_url, auth)?;
        let rest = if settings.quay {
            Some(options.rest(&settings.registry_url)?)
        } else {
            None
        };
        let host = settings.host();
        let base_registry = match settings
            .catalog
            .as_ref()
            .and_then(|c| c.base.as_ref())
            .and_then(|b| b.registry.as_deref())
        {
            // Other registries are reached over HTTPS, anonymously: base images are public.
            Some(base_host) if base_host != host => {
                Some(options.registry(&format!("https://{base_host}"), RegistryAuth::Anonymous)?)
            }
            _ => None,
        };
        Ok(Self {
            settings,
            registry,
            rest,
            base_registry,
        })
    }
}

impl OciStore {
    /// A store for the OCI settings of `config`, with one set of clients per organization that
    /// has a registry, built now.
    pub fn new(config: &Config, options: ClientOptions) -> Result<Self, QuayError> {
        let global_table = config.oci.clone().unwrap_or_default();
        let mut orgs = BTreeMap::new();
        for (name, org) in &config.organizations {
            let merged = org.oci.clone().unwrap_or_default().over(&global_table);
            if let Some(settings) = settings_of(merged, name) {
                orgs.insert(name.clone(), Clients::new(settings, &options)?);
            }
        }
        // The namespace is per organization; the placeholder is replaced in `resolve`.
        let global = settings_of(global_table, "")
            .map(|s| Clients::new(s, &options))
            .transpose()?;
        Ok(Self {
            orgs,
            global,
            forwarded: std::sync::Mutex::new(HashMap::new()),
            options,
        })
    }

    /// The organization's settings and its configured client.
    fn resolve(&self, org: &str) -> Result<(Settings, &Clients), StoreError> {
        if let Some(c) = self.orgs.get(org) {
            return Ok((c.settings.clone(), c));
        }
        let Some(c) = &self.global else {
            return Err(StoreError::Other {
                message: format!("no OCI registry is configured for organization {org}"),
                body: json!({}),
            });
        };
        let mut settings = c.settings.clone();
        if settings.namespace.is_empty() {
            settings.namespace = org.to_ascii_lowercase();
        }
        Ok((settings, c))
    }

    /// The client for a call: the configured one, or one carrying the caller's credentials.
    fn client(&self, clients: &Clients, auth: Option<&Auth>) -> Result<RegistryClient, StoreError> {
        let (Credentials::Forwarded, Some(auth)) = (&clients.settings.credentials, auth) else {
            return Ok(clients.registry.clone());
        };
        let key = (
            clients.settings.registry_url.clone(),
            <[u8; 32]>::from(sha2::Sha256::digest(auth.expose_secret().as_bytes())),
        );
        let mut cache = self
            .forwarded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = cache.get(&key) {
            return Ok(client.clone());
        }
        let client = self
            .options
            .registry(&clients.settings.registry_url, forwarded(auth)?)
            .map_err(store_error)?;
        if cache.len() >= FORWARDED_CLIENTS {
            cache.clear();
        }
        cache.insert(key, client.clone());
        Ok(client)
    }

    fn tag_for(policy: TagPolicy, release: &str, bundle: &ReleaseBundle, count: usize) -> String {
        match policy {
            TagPolicy::CsvVersion => tag_of_version(&bundle.csv_version),
            TagPolicy::Release if count == 1 => release.to_owned(),
            TagPolicy::Release => format!("{release}-{}", tag_of_version(&bundle.csv_version)),
        }
    }

    /// The tags that make up `version`.
    async fn tags_of_release(
        client: &RegistryClient,
        s: &Settings,
        repository: &str,
        version: &str,
    ) -> Result<Vec<String>, StoreError> {
        let tags = client
            .list_tags(repository, None)
            .await
            .map_err(store_error)?;
        Ok(match s.tag_policy {
            TagPolicy::CsvVersion => {
                let wanted = tag_of_version(version);
                tags.into_iter().filter(|t| *t == wanted).collect()
            }
            TagPolicy::Release => tags
                .into_iter()
                .filter(|t| {
                    t == version || t.strip_prefix(version).is_some_and(|r| r.starts_with('-'))
                })
                .collect(),
        })
    }

    /// The single layer of the bundle image under `tag`.
    async fn layer_of(
        client: &RegistryClient,
        repository: &str,
        tag: &str,
    ) -> Result<bytes::Bytes, StoreError> {
        let manifest = match client.get_manifest(repository, tag).await {
            Ok(m) => m,
            Err(QuayError::NotFound(_)) => {
                return Err(not_found(format!("{repository}:{tag} does not exist")));
            }
            Err(e) => return Err(store_error(e)),
        };
        let image = manifest.image().map_err(store_error)?;
        let [layer] = image.layers.as_slice() else {
            return Err(StoreError::Other {
                message: format!(
                    "{repository}:{tag} is not a single-layer bundle image ({} layers)",
                    image.layers.len()
                ),
                body: json!({}),
            });
        };
        client
            .get_blob(repository, &layer.digest)
            .await
            .map_err(store_error)
    }

    /// Pushes one bundle image under `tag` with the workspace's one image push
    /// ([`RegistryClient::push_image`], also used by `omps bundle push`); the manifest digest.
    async fn push_image(
        client: &RegistryClient,
        repository: &str,
        tag: &str,
        image: &manifest_bundle::image::BundleImage,
    ) -> Result<String, QuayError> {
        let to_push = ImageToPush {
            layers: vec![image.layer.clone().into()],
            config: image.config.clone().into(),
            manifest: Manifest::new(media_types::OCI_MANIFEST, image.manifest.clone()),
        };
        client.push_image(repository, tag, &to_push).await
    }
}

/// Largest archive a release download builds from several bundle layers (compressed input and
/// uncompressed content each). Bundles are manifests: kilobytes to a few megabytes.
const MAX_RELEASE_ARCHIVE_BYTES: usize = 64 * 1024 * 1024;

fn too_large(repository: &str, version: &str) -> StoreError {
    StoreError::Other {
        message: format!(
            "release {version} of {repository} is larger than {MAX_RELEASE_ARCHIVE_BYTES} bytes"
        ),
        body: json!({}),
    }
}

/// One `tar.gz` holding each bundle layer's files under `<tag>/`, in tag order. The layers come
/// from the registry, so their content is bounded in bytes and entries.
fn combine_layers(
    layers: &[(String, bytes::Bytes)],
    repository: &str,
    version: &str,
) -> Result<bytes::Bytes, StoreError> {
    use std::io::Read as _;
    let broken = |tag: &str, e: &dyn std::fmt::Display| StoreError::Other {
        message: format!("the bundle layer of {repository}:{tag} is not a tar.gz: {e}"),
        body: json!({}),
    };
    let mut out = tar::Builder::new(Vec::new());
    let mut budget = MAX_RELEASE_ARCHIVE_BYTES as u64;
    for (tag, layer) in layers {
        let decoder = flate2::read::GzDecoder::new(&layer[..]).take(budget + 1);
        let mut archive = tar::Archive::new(decoder);
        for entry in archive.entries().map_err(|e| broken(tag, &e))? {
            let mut entry = entry.map_err(|e| broken(tag, &e))?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_dir()) {
                continue;
            }
            let path = entry.path().map_err(|e| broken(tag, &e))?.into_owned();
            if path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(broken(tag, &"an entry leaves the archive"));
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| broken(tag, &e))?;
            budget = budget
                .checked_sub(data.len() as u64)
                .ok_or_else(|| too_large(repository, version))?;
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            header.set_mtime(0);
            out.append_data(
                &mut header,
                std::path::Path::new(tag).join(&path),
                &data[..],
            )
            .map_err(|e| broken(tag, &e))?;
        }
    }
    let tar = out.into_inner().map_err(|e| StoreError::Other {
        message: format!("building the release archive failed: {e}"),
        body: json!({}),
    })?;
    manifest_bundle::package::gzip(&tar)
        .map(bytes::Bytes::from)
        .map_err(|e| StoreError::Other {
            message: format!("building the release archive failed: {e}"),
            body: json!({}),
        })
}

fn not_found(message: String) -> StoreError {
    StoreError::NotFound {
        message,
        body: json!({}),
    }
}

#[async_trait]
impl ManifestStore for OciStore {
    fn kind(&self) -> &'static str {
        "oci"
    }

    fn capabilities(&self, org: &str) -> StoreCapabilities {
        let naming = match self.resolve(org).map(|(s, _)| s.tag_policy) {
            Ok(TagPolicy::Release) => ReleaseNaming::FromVersion,
            // An organization without a registry fails at push; its naming does not matter.
            Ok(TagPolicy::CsvVersion) | Err(_) => ReleaseNaming::FromContent,
        };
        StoreCapabilities {
            takes: ReleaseShape::BundleImages,
            naming,
        }
    }

    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let (s, clients) = self.resolve(org)?;
        let client = self.client(clients, auth)?;
        let tags = match client.list_tags(&s.repository_for(repo), None).await {
            Ok(tags) => tags,
            Err(QuayError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(store_error(e)),
        };
        let releases: BTreeSet<String> = match s.tag_policy {
            TagPolicy::CsvVersion => tags.into_iter().collect(),
            TagPolicy::Release => tags
                .iter()
                .filter_map(|t| release_of_tag(t).map(str::to_owned))
                .collect(),
        };
        Ok(Some(releases.into_iter().collect()))
    }

    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        let ReleaseContent::BundleImages(bundles) = &release.content else {
            return Err(StoreError::Other {
                message: "the OCI store takes bundle images, not App Registry blobs".into(),
                body: json!({}),
            });
        };
        if bundles.is_empty() {
            return Err(StoreError::Other {
                message: "the release has no bundle image".into(),
                body: json!({}),
            });
        }
        let (s, clients) = self.resolve(org)?;
        let client = self.client(clients, Some(auth))?;
        let repository = s.repository_for(repo);
        let tags: Vec<String> = bundles
            .iter()
            .map(|b| Self::tag_for(s.tag_policy, &release.version, b, bundles.len()))
            .collect();
        // Check every tag first, so a refused release leaves nothing half-pushed. An identical
        // image under the tag is fine (pushing the same input twice is idempotent).
        for (tag, bundle) in tags.iter().zip(bundles) {
            let existing = client
                .head_manifest(&repository, tag)
                .await
                .or_else(|e| match e {
                    // A repository that does not exist yet has no tags.
                    QuayError::NotFound(_) => Ok(None),
                    other => Err(other),
                })
                .map_err(store_error)?;
            if let Some(info) = existing {
                if info.digest != bundle.image.manifest_digest {
                    return Err(StoreError::ReleaseExists {
                        message: format!(
                            "tag {tag} of {repository} already exists with another image ({})",
                            info.digest
                        ),
                        body: json!({}),
                    });
                }
            }
        }
        let mut report = PushReport::default();
        for (tag, bundle) in tags.iter().zip(bundles) {
            let digest = Self::push_image(&client, &repository, tag, &bundle.image)
                .await
                .map_err(store_error)?;
            tracing::info!(repository = %repository, tag = %tag, digest = %digest, "bundle image pushed");
            report.images.push(PushedImage {
                reference: format!("{}/{repository}:{tag}", s.host()),
                digest,
                tag: tag.clone(),
                csv_version: bundle.csv_version.clone(),
            });
        }
        Ok(report)
    }

    async fn publish(
        &self,
        org: &str,
        repo: &str,
        token: &SecretString,
    ) -> Result<Publication, String> {
        let (s, clients) = self.resolve(org).map_err(|e| e.to_string())?;
        let Some(rest) = &clients.rest else {
            return Ok(Publication::NotSupported);
        };
        let repository = s.repository_for(repo);
        let (namespace, name) = repository.split_once('/').unwrap_or(("", &repository));
        rest.with_token(token)
            .map_err(|e| e.to_string())?
            .change_visibility(namespace, name, Visibility::Public)
            .await
            .map(|()| Publication::Published)
            .map_err(|e| {
                e.remote()
                    .map_or_else(|| e.to_string(), |r| r.message_or_default().to_owned())
            })
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: &Auth,
    ) -> Result<(), StoreError> {
        let (s, clients) = self.resolve(org)?;
        let client = self.client(clients, Some(auth))?;
        let repository = s.repository_for(repo);
        let all_tags = client
            .list_tags(&repository, None)
            .await
            .map_err(store_error)?;
        let doomed = Self::tags_of_release(&client, &s, &repository, version).await?;
        if doomed.is_empty() {
            return Err(not_found(format!(
                "release {version} of {repository} does not exist"
            )));
        }
        let mut digests = BTreeSet::new();
        for tag in &doomed {
            if let Some(info) = client
                .head_manifest(&repository, tag)
                .await
                .map_err(store_error)?
            {
                digests.insert(info.digest);
            }
        }
        // Deleting by digest removes every tag on that manifest; tags of other releases that
        // share it (the same input pushed twice) are put back afterwards.
        let mut keep: Vec<(String, Manifest)> = Vec::new();
        for tag in all_tags.iter().filter(|t| !doomed.contains(t)) {
            if let Some(info) = client
                .head_manifest(&repository, tag)
                .await
                .map_err(store_error)?
            {
                if digests.contains(&info.digest) {
                    let manifest = client
                        .get_manifest(&repository, &info.digest)
                        .await
                        .map_err(store_error)?;
                    keep.push((tag.clone(), manifest));
                }
            }
        }
        for digest in &digests {
            client
                .delete_manifest(&repository, digest)
                .await
                .map_err(store_error)?;
        }
        for (tag, manifest) in &keep {
            client
                .put_manifest(&repository, tag, manifest)
                .await
                .map_err(store_error)?;
        }
        tracing::info!(repository = %repository, version = %version, images = digests.len(), "release deleted");
        Ok(())
    }

    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError> {
        let (s, clients) = self.resolve(org)?;
        let client = self.client(clients, auth)?;
        let repository = s.repository_for(repo);
        let tag = tag_of_version(version);
        match Self::layer_of(&client, &repository, &tag).await {
            Err(StoreError::NotFound { .. }) => {}
            other => return other,
        }
        // A release of several bundles (`release` policy): one archive with a directory per tag.
        let tags = Self::tags_of_release(&client, &s, &repository, version).await?;
        if tags.is_empty() {
            return Err(not_found(format!(
                "release {version} of {repository} does not exist"
            )));
        }
        let mut layers = Vec::with_capacity(tags.len());
        let mut total = 0usize;
        for tag in tags {
            let layer = Self::layer_of(&client, &repository, &tag).await?;
            total += layer.len();
            if total > MAX_RELEASE_ARCHIVE_BYTES {
                return Err(too_large(&repository, version));
            }
            layers.push((tag, layer));
        }
        let (repository, version) = (repository.clone(), version.to_owned());
        tokio::task::spawn_blocking(move || combine_layers(&layers, &repository, &version))
            .await
            .map_err(|e| StoreError::Other {
                message: format!("combining the bundle layers failed: {e}"),
                body: json!({}),
            })?
    }

    async fn list_repositories(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError> {
        let (s, clients) = self.resolve(org)?;
        let client = self.client(clients, auth)?;
        let all = client.catalog(None).await.map_err(store_error)?;
        let mut out: Vec<String> = all.iter().filter_map(|r| s.repo_of(r)).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn catalog_site(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<CatalogSite>, StoreError> {
        let Ok((s, clients)) = self.resolve(org) else {
            return Ok(None);
        };
        let Some(catalog) = &s.catalog else {
            return Ok(None);
        };
        let client = self.client(clients, auth)?;
        let base = catalog.base.clone().map(|reference| {
            let base_client = clients
                .base_registry
                .clone()
                .unwrap_or_else(|| client.clone());
            (base_client, reference)
        });
        Ok(Some(CatalogSite {
            client,
            reference: catalog.reference.clone(),
            base,
            host: s.host(),
            bundle_repository: s.repository_for("{repo}"),
            repair_limit: catalog.repair_limit,
        }))
    }

    async fn health(&self) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        let clients = self.global.iter().chain(self.orgs.values());
        let mut any = false;
        for c in clients {
            any = true;
            if !seen.insert(c.settings.registry_url.clone()) {
                continue;
            }
            // 200 and 401 both mean a v2 registry answers.
            c.registry.ping().await.map_err(|e| {
                format!("registry at {} is unhealthy: {e}", c.settings.registry_url)
            })?;
        }
        if any {
            Ok(())
        } else {
            Err("no OCI registry is configured".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_releases() {
        let bundle = |v: &str| ReleaseBundle {
            csv_version: v.into(),
            csv_name: format!("x.v{v}"),
            image: manifest_bundle::image::BundleImage {
                layer: vec![],
                layer_digest: String::new(),
                diff_id: String::new(),
                config: vec![],
                config_digest: String::new(),
                manifest: vec![],
                manifest_digest: String::new(),
                labels: BTreeMap::new(),
            },
        };
        assert_eq!(
            OciStore::tag_for(TagPolicy::CsvVersion, "3.0.0", &bundle("1.0.0+build.1"), 2),
            "1.0.0_build.1"
        );
        assert_eq!(
            OciStore::tag_for(TagPolicy::Release, "3.0.0", &bundle("0.9.2"), 1),
            "3.0.0"
        );
        assert_eq!(
            OciStore::tag_for(TagPolicy::Release, "3.0.0", &bundle("0.9.2-clusterwide"), 6),
            "3.0.0-0.9.2-clusterwide"
        );
        assert_eq!(release_of_tag("3.0.0-0.9.2-clusterwide"), Some("3.0.0"));
        assert_eq!(release_of_tag("2.0.0"), Some("2.0.0"));
        assert_eq!(release_of_tag("latest"), None);
        assert_eq!(release_of_tag("v1.0.0-x"), None);
    }

    #[test]
    fn forwarded_authorization() {
        let basic = forwarded(&Auth::from("basic dXNlcjpwYXNz".to_owned())).unwrap();
        assert_eq!(
            format!("{basic:?}"),
            "Basic { username: \"user\", password: \"[REDACTED]\" }"
        );
        assert!(matches!(
            forwarded(&Auth::from("Bearer abc".to_owned())).unwrap(),
            RegistryAuth::Bearer(t) if t.expose_secret() == "abc"
        ));
        assert!(matches!(
            forwarded(&Auth::from("rawtoken".to_owned())).unwrap(),
            RegistryAuth::Bearer(t) if t.expose_secret() == "rawtoken"
        ));
        let e = forwarded(&Auth::from("Basic !!!".to_owned())).unwrap_err();
        assert!(matches!(e, StoreError::Unauthorized { .. }));
    }

    #[test]
    fn repository_mapping_round_trips() {
        let s = Settings {
            registry_url: "http://127.0.0.1:5000".into(),
            namespace: "team/sub".into(),
            repository: "{repo}-bundle".into(),
            tag_policy: TagPolicy::CsvVersion,
            credentials: Credentials::Forwarded,
            quay: false,
            catalog: None,
        };
        assert_eq!(s.repository_for("etcd"), "team/sub/etcd-bundle");
        assert_eq!(s.repo_of("team/sub/etcd-bundle").as_deref(), Some("etcd"));
        assert_eq!(s.repo_of("team/sub/etcd"), None);
        assert_eq!(s.repo_of("other/etcd-bundle"), None);
        assert_eq!(s.host(), "127.0.0.1:5000");
    }
}
