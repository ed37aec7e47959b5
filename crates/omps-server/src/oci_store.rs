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
//! Without configured credentials the caller's `Authorization` header is used: `Basic ...` as
//! user and password, `Bearer ...` or a bare token as a bearer token.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use manifest_bundle::layout::{self, Layout};
use manifest_bundle::yaml::Yaml;
use manifest_bundle::{AppRegistryBlob, ManifestTree, Rewrites, YamlLimits};
use quay_client::oci::{Manifest, media_types};
use quay_client::{QuayError, QuayRestClient, RegistryAuth, RegistryClient, Visibility};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use sha2::Digest as _;

use crate::app_registry_store::store_error;
use crate::backends::{
    Auth, ManifestStore, PushReport, PushedImage, Release, ReleaseBundle, StoreError,
};
use crate::config::{Config, OciConfig, StoreKind, TagPolicy, is_strict_version};

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
    oauth_token: Option<SecretString>,
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
        url::Url::parse(&self.registry_url).ok().map_or_else(
            || self.registry_url.clone(),
            |u| match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => self.registry_url.clone(),
            },
        )
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

/// Turns a forwarded `Authorization` value into registry credentials.
fn forwarded(auth: &Auth) -> Result<RegistryAuth, StoreError> {
    let value = auth.expose_secret().trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(StoreError::Unauthorized {
                message: "the Authorization header is not valid Basic credentials".into(),
                body: json!({}),
            });
        };
        return Ok(RegistryAuth::basic(
            user,
            SecretString::from(password.to_owned()),
        ));
    }
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim()
    } else {
        value
    };
    Ok(RegistryAuth::Bearer(SecretString::from(token.to_owned())))
}

/// The package name of a bundle-format upload (from `metadata/annotations.yaml`), with the
/// organization's suffix written into every bundle's annotations. Trees that are not in bundle
/// format give [`manifest_bundle::Error::PackageNameNotFound`], as for a missing package file.
pub fn bundle_package_name(
    tree: &mut ManifestTree,
    rewrites: &Rewrites,
    limits: &YamlLimits,
) -> Result<String, manifest_bundle::Error> {
    use manifest_bundle::Error;
    use manifest_bundle::validate::annotation::PACKAGE;
    let manifests = layout::load(tree, limits).map_err(|_| Error::PackageNameNotFound)?;
    if manifests.layout != Layout::Bundle {
        return Err(Error::PackageNameNotFound);
    }
    let mut names = BTreeSet::new();
    for version in &manifests.versions {
        let name = version
            .annotations
            .as_ref()
            .and_then(|d| d.value.get("annotations"))
            .and_then(|a| a.get(PACKAGE))
            .map(Yaml::py_str)
            .filter(|n| !n.is_empty())
            .ok_or(Error::PackageNameNotFound)?;
        names.insert(name);
    }
    let Some(name) = names.first().cloned() else {
        return Err(Error::PackageNameNotFound);
    };
    if names.len() > 1 {
        return Err(Error::Conversion(format!(
            "the uploaded bundles name different packages: {}",
            names.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    let suffixed = rewrites.suffixed_name(&name);
    if suffixed != name {
        for version in &manifests.versions {
            let Some(doc) = &version.annotations else {
                continue;
            };
            let mut value = doc.value.clone();
            if let Yaml::Map(root) = &mut value {
                if let Some(Yaml::Map(m)) = root.get_mut("annotations") {
                    m.insert(Yaml::Str(PACKAGE.into()), Yaml::Str(suffixed.clone()));
                }
            }
            tree.insert(
                doc.path.clone(),
                manifest_bundle::yaml::emit(&value, false).into_bytes(),
            );
        }
    }
    Ok(suffixed)
}

/// The release blob of a bundle-format upload: a reproducible tar.gz of the uploaded tree (the
/// App Registry format needs package manifests, so this blob is for the record only).
pub fn bundle_upload_blob(
    tree: &ManifestTree,
    repository: &str,
) -> Result<AppRegistryBlob, manifest_bundle::Error> {
    let top_dir = manifest_bundle::package::default_top_dir(repository, tree);
    let tar = manifest_bundle::package::deterministic_tar(&top_dir, tree)?;
    let tar_sha256 = format!("{:x}", sha2::Sha256::digest(&tar));
    Ok(AppRegistryBlob {
        tar_gz: manifest_bundle::package::gzip(&tar)?,
        tar_sha256,
        top_dir,
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

/// Releases as operator bundle images in OCI registries.
pub struct OciStore {
    global: OciConfig,
    orgs: BTreeMap<String, (OciConfig, Option<SecretString>)>,
    default_store_is_oci: bool,
    options: ClientOptions,
}

impl std::fmt::Debug for OciStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciStore")
            .field("registry_url", &self.global.registry_url)
            .finish_non_exhaustive()
    }
}

impl OciStore {
    /// A store for the OCI settings of `config`.
    pub fn new(config: &Config, options: ClientOptions) -> Self {
        let orgs = config
            .organizations
            .iter()
            .map(|(name, org)| {
                (
                    name.clone(),
                    (
                        org.oci.clone().unwrap_or_default(),
                        org.oauth_token().cloned(),
                    ),
                )
            })
            .collect();
        Self {
            global: config.oci.clone().unwrap_or_default(),
            orgs,
            default_store_is_oci: config.store == StoreKind::Oci,
            options,
        }
    }

    fn settings(&self, org: &str) -> Result<Settings, StoreError> {
        let (own, oauth_token) = self.orgs.get(org).map_or_else(
            || (OciConfig::default(), None),
            |(c, t)| (c.clone(), t.clone()),
        );
        let c = own.over(&self.global);
        let Some(registry_url) = c.registry_url else {
            return Err(StoreError::Other {
                message: format!("no OCI registry is configured for organization {org}"),
                body: json!({}),
            });
        };
        let namespace = c.namespace.unwrap_or_else(|| org.to_ascii_lowercase());
        let credentials = match (c.username, c.password, c.token) {
            (Some(u), Some(p), _) => Credentials::Basic(u, p),
            (_, _, Some(t)) => Credentials::Bearer(t),
            _ => Credentials::Forwarded,
        };
        Ok(Settings {
            registry_url,
            namespace,
            repository: c.repository.unwrap_or_else(|| "{repo}".into()),
            tag_policy: c.tag_policy.unwrap_or(TagPolicy::CsvVersion),
            credentials,
            quay: c.quay.unwrap_or(false),
            oauth_token,
        })
    }

    fn client(&self, s: &Settings, auth: Option<&Auth>) -> Result<RegistryClient, StoreError> {
        let registry_auth = match (&s.credentials, auth) {
            (Credentials::Basic(u, p), _) => RegistryAuth::basic(u.clone(), p.clone()),
            (Credentials::Bearer(t), _) => RegistryAuth::Bearer(t.clone()),
            (Credentials::Forwarded, Some(a)) => forwarded(a)?,
            (Credentials::Forwarded, None) => RegistryAuth::Anonymous,
        };
        let mut b = RegistryClient::builder(s.registry_url.clone())
            .auth(registry_auth)
            .connect_timeout(self.options.connect_timeout)
            .timeout(self.options.request_timeout)
            .user_agent(self.options.user_agent.clone());
        if let Some(pem) = &self.options.ca_bundle_pem {
            b = b.ca_bundle_pem(pem.clone());
        }
        b.build().map_err(store_error)
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

    async fn make_public(&self, s: &Settings, repository: &str) -> Result<(), String> {
        let Some(token) = &s.oauth_token else {
            return Err("no oauth_token is configured for the organization".into());
        };
        let mut b = QuayRestClient::builder(s.registry_url.clone())
            .token(token.clone())
            .connect_timeout(self.options.connect_timeout)
            .timeout(self.options.request_timeout)
            .user_agent(self.options.user_agent.clone());
        if let Some(pem) = &self.options.ca_bundle_pem {
            b = b.ca_bundle_pem(pem.clone());
        }
        let client = b.build().map_err(|e| e.to_string())?;
        let (namespace, name) = repository.split_once('/').unwrap_or(("", repository));
        client
            .change_visibility(namespace, name, Visibility::Public)
            .await
            .map_err(|e| {
                e.remote()
                    .map_or_else(|| e.to_string(), |r| r.message_or_default().to_owned())
            })
    }
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

    fn wants_bundles(&self, _org: &str) -> bool {
        true
    }

    fn retry_on_exists(&self, org: &str) -> bool {
        self.settings(org)
            .is_ok_and(|s| s.tag_policy == TagPolicy::Release)
    }

    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let s = self.settings(org)?;
        let client = self.client(&s, auth)?;
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
        _org: &str,
        _repo: &str,
        _release: &Release,
        _auth: &Auth,
    ) -> Result<(), StoreError> {
        Err(StoreError::Other {
            message: "the OCI store pushes bundle images; none were built for this release".into(),
            body: json!({}),
        })
    }

    async fn push_release(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        bundles: &[ReleaseBundle],
        auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        if bundles.is_empty() {
            return self
                .push(org, repo, release, auth)
                .await
                .map(|()| PushReport::default());
        }
        let s = self.settings(org)?;
        let client = self.client(&s, Some(auth))?;
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
            let image = &bundle.image;
            client
                .push_blob(&repository, image.layer.clone().into())
                .await
                .map_err(store_error)?;
            client
                .push_blob(&repository, image.config.clone().into())
                .await
                .map_err(store_error)?;
            let digest = client
                .put_manifest(
                    &repository,
                    tag,
                    &Manifest::new(media_types::OCI_MANIFEST, image.manifest.clone()),
                )
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
        if release.public && s.quay {
            if let Err(detail) = self.make_public(&s, &repository).await {
                tracing::error!(repository = %repository, detail = %detail, "images pushed but the repository could not be made public");
                report.warnings.push(format!(
                    "Release pushed but repository could not be made public: {detail}"
                ));
            }
        }
        Ok(report)
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: &Auth,
    ) -> Result<(), StoreError> {
        let s = self.settings(org)?;
        let client = self.client(&s, Some(auth))?;
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
        let s = self.settings(org)?;
        let client = self.client(&s, auth)?;
        let repository = s.repository_for(repo);
        let tag = tag_of_version(version);
        let manifest = match client.get_manifest(&repository, &tag).await {
            Ok(m) => m,
            Err(QuayError::NotFound(_)) => {
                let tags = Self::tags_of_release(&client, &s, &repository, version).await?;
                return Err(if tags.is_empty() {
                    not_found(format!("release {version} of {repository} does not exist"))
                } else {
                    StoreError::Other {
                        message: format!(
                            "release {version} has several bundle images ({}); pull them from the registry",
                            tags.join(", ")
                        ),
                        body: json!({}),
                    }
                });
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
            .get_blob(&repository, &layer.digest)
            .await
            .map_err(store_error)
    }

    async fn list_repositories(
        &self,
        org: &str,
        auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError> {
        let s = self.settings(org)?;
        let client = self.client(&s, auth)?;
        let all = client.catalog(None).await.map_err(store_error)?;
        let mut out: Vec<String> = all.iter().filter_map(|r| s.repo_of(r)).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn health(&self) -> Result<(), String> {
        let mut urls = BTreeSet::new();
        if self.default_store_is_oci {
            if let Some(u) = &self.global.registry_url {
                urls.insert(u.clone());
            }
        }
        for (own, _) in self.orgs.values() {
            if let Some(u) = own.over(&self.global).registry_url {
                urls.insert(u);
            }
        }
        if urls.is_empty() {
            return Err("no OCI registry is configured".into());
        }
        for url in urls {
            let mut b = RegistryClient::builder(url.clone())
                .connect_timeout(self.options.connect_timeout)
                .timeout(self.options.request_timeout)
                .user_agent(self.options.user_agent.clone());
            if let Some(pem) = &self.options.ca_bundle_pem {
                b = b.ca_bundle_pem(pem.clone());
            }
            let client = b.build().map_err(|e| e.to_string())?;
            // 200 and 401 both mean a v2 registry answers.
            client
                .ping()
                .await
                .map_err(|e| format!("registry at {url} is unhealthy: {e}"))?;
        }
        Ok(())
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
            oauth_token: None,
        };
        assert_eq!(s.repository_for("etcd"), "team/sub/etcd-bundle");
        assert_eq!(s.repo_of("team/sub/etcd-bundle").as_deref(), Some("etcd"));
        assert_eq!(s.repo_of("team/sub/etcd"), None);
        assert_eq!(s.repo_of("other/etcd-bundle"), None);
        assert_eq!(s.host(), "127.0.0.1:5000");
    }
}
