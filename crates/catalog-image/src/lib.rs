#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;

use bytes::Bytes;
use olm_catalog::{Catalog, CatalogError, CatalogLimits, FileSet, Format};
use quay_client::oci::{Descriptor, Manifest, media_types, sha256_digest};
use quay_client::{
    CopyOptions, ImageReference, ImageToPush, QuayError, RegistryClient, copy_image,
};
use serde_json::{Value as Json, json};

/// Label naming the directory that holds the catalog.
pub const CONFIGS_LABEL: &str = "operators.operatorframework.io.index.configs.v1";
/// Where our images put the catalog.
pub const CONFIGS_DIR: &str = "/configs";
/// Label of sqlite-based index images (not file-based catalogs).
pub const SQLITE_LABEL: &str = "operators.operatorframework.io.index.database.v1";
/// Label of bundle images.
pub const BUNDLE_LABEL: &str = "operators.operatorframework.io.bundle.package.v1";
/// opm's entrypoint in its base images.
pub const ENTRYPOINT: &str = "/bin/opm";

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogImageError {
    /// The catalog (or what was read back) is not a valid FBC catalog; fix the catalog.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The registry failed; [`CatalogImageError::is_retryable`] says whether to try again.
    #[error(transparent)]
    Registry(#[from] QuayError),
    /// The image is not a file-based catalog (a sqlite index, a bundle, no configs label).
    #[error("{0}")]
    NotACatalog(String),
    /// The base image cannot carry a catalog layer (unknown manifest type, broken config).
    #[error("base image: {0}")]
    InvalidBase(String),
    /// An image reference cannot be used for this (a push needs a tag, not a digest).
    #[error("{0}")]
    InvalidReference(String),
    /// Local temporary storage failed.
    #[error("temporary storage: {0}")]
    Io(#[from] std::io::Error),
    /// Other writers kept moving the catalog's tag between our read and our write; nothing
    /// was written. Retrying later may succeed.
    #[error(
        "{reference}: the catalog changed under every one of {attempts} update attempts (concurrent writers); nothing was written"
    )]
    Contended {
        /// The catalog image.
        reference: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl CatalogImageError {
    /// Whether retrying the same call may succeed (transient registry failures only).
    pub fn is_retryable(&self) -> bool {
        match self {
            CatalogImageError::Registry(e) => e.is_retryable(),
            CatalogImageError::Io(_) | CatalogImageError::Contended { .. } => true,
            _ => false,
        }
    }
}

type Result<T> = std::result::Result<T, CatalogImageError>;

mod update;
pub use update::{CatalogUpdate, UpdateReport, update_catalog};

/// The catalog layer: `configs/<package>/catalog.json`, reproducible (sorted entries, mtime 0,
/// uid/gid 0, fixed gzip header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogLayer {
    /// gzip-compressed tar.
    pub tar_gz: Vec<u8>,
    /// Digest of `tar_gz`.
    pub digest: String,
    /// Digest of the uncompressed tar (`rootfs.diff_ids`).
    pub diff_id: String,
}

impl CatalogLayer {
    /// Validates the catalog (spec §7) and builds its layer.
    pub fn build(catalog: &Catalog) -> Result<Self> {
        olm_catalog::validate(catalog)?;
        Self::from_files(&olm_catalog::to_files(catalog, Format::Json)?)
    }

    /// Builds a layer holding `files` under `configs/`, without validating them.
    pub fn from_files(files: &FileSet) -> Result<Self> {
        let mut tree = manifest_bundle::ManifestTree::new();
        for (path, data) in files.iter() {
            tree.insert(format!("configs/{path}"), data.to_vec());
        }
        let tar = manifest_bundle::package::deterministic_tar("", &tree)
            .map_err(|e| CatalogImageError::InvalidBase(format!("cannot build the layer: {e}")))?;
        let diff_id = sha256_digest(&tar);
        let tar_gz = manifest_bundle::package::gzip(&tar).map_err(|e| {
            CatalogImageError::InvalidBase(format!("cannot compress the layer: {e}"))
        })?;
        Ok(Self {
            digest: sha256_digest(&tar_gz),
            tar_gz,
            diff_id,
        })
    }
}

/// One platform of a base image.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseImage {
    /// Media type of its manifest (Docker schema 2 or OCI).
    pub manifest_media_type: String,
    /// Its config.
    pub config: Json,
    /// Its layers.
    pub layers: Vec<Descriptor>,
    /// Its index entry's `platform`, when it came from an index.
    pub platform: Option<Json>,
}

/// Options of the built image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Extra labels (like opm's `LABEL "<k>"="<v>"`).
    pub labels: BTreeMap<String, String>,
}

/// One built single-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The manifest.
    pub manifest: Manifest,
    /// The config bytes.
    pub config: Vec<u8>,
    /// The config digest.
    pub config_digest: String,
    /// The index entry's platform (JSON), when built from an index.
    pub platform: Option<String>,
}

impl BuiltImage {
    /// The image digest.
    pub fn digest(&self) -> &str {
        &self.manifest.digest
    }
}

fn to_vec(v: &Json) -> Result<Vec<u8>> {
    serde_json::to_vec(v)
        .map_err(|e| CatalogImageError::InvalidBase(format!("cannot encode JSON: {e}")))
}

/// Puts `layer` on `base` (or on nothing: `None` is `scratch`). Same inputs, same bytes.
pub fn compose(
    base: Option<&BaseImage>,
    layer: &CatalogLayer,
    options: &ImageOptions,
) -> Result<BuiltImage> {
    let mut labels: BTreeMap<String, String> = options.labels.clone();
    labels.insert(CONFIGS_LABEL.into(), CONFIGS_DIR.into());
    let docker = base.is_some_and(|b| b.manifest_media_type == media_types::DOCKER_MANIFEST);
    let (config_type, layer_type, manifest_type) = if docker {
        (
            media_types::DOCKER_CONFIG,
            media_types::DOCKER_LAYER_GZIP,
            media_types::DOCKER_MANIFEST,
        )
    } else {
        (
            media_types::OCI_CONFIG,
            media_types::OCI_LAYER_GZIP,
            media_types::OCI_MANIFEST,
        )
    };
    let config = match base {
        None => json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }),
        Some(b) => {
            let mut c = b.config.clone();
            let obj = c.as_object_mut().ok_or_else(|| {
                CatalogImageError::InvalidBase("config is not a JSON object".into())
            })?;
            let runtime = obj.entry("config").or_insert_with(|| json!({}));
            let runtime = runtime.as_object_mut().ok_or_else(|| {
                CatalogImageError::InvalidBase("config.config is not an object".into())
            })?;
            let merged = runtime.entry("Labels").or_insert_with(|| json!({}));
            if merged.is_null() {
                *merged = json!({});
            }
            let merged = merged.as_object_mut().ok_or_else(|| {
                CatalogImageError::InvalidBase("config Labels is not an object".into())
            })?;
            for (k, v) in &labels {
                merged.insert(k.clone(), json!(v));
            }
            runtime.insert("Entrypoint".into(), json!([ENTRYPOINT]));
            // No serve cache is shipped (it is opm-internal), so opm builds it at start.
            runtime.insert("Cmd".into(), json!(["serve", CONFIGS_DIR]));
            let rootfs = obj
                .entry("rootfs")
                .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
            let ids = rootfs
                .get_mut("diff_ids")
                .and_then(Json::as_array_mut)
                .ok_or_else(|| {
                    CatalogImageError::InvalidBase("config has no rootfs.diff_ids".into())
                })?;
            if ids.len() != b.layers.len() {
                return Err(CatalogImageError::InvalidBase(format!(
                    "{} layers but {} diff_ids",
                    b.layers.len(),
                    ids.len()
                )));
            }
            ids.push(json!(layer.diff_id));
            if let Some(history) = obj.get_mut("history").and_then(Json::as_array_mut) {
                history.push(json!({"created_by": "omps catalog push (configs layer)"}));
            }
            c
        }
    };
    let config_bytes = to_vec(&config)?;
    let config_digest = sha256_digest(&config_bytes);
    let mut layers: Vec<Json> = base
        .map(|b| {
            b.layers
                .iter()
                .map(|d| json!({"mediaType": d.media_type, "digest": d.digest, "size": d.size}))
                .collect()
        })
        .unwrap_or_default();
    layers
        .push(json!({"mediaType": layer_type, "digest": layer.digest, "size": layer.tar_gz.len()}));
    let manifest = to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_bytes.len()},
        "layers": layers,
    }))?;
    Ok(BuiltImage {
        manifest: Manifest::new(manifest_type, manifest),
        config: config_bytes,
        config_digest,
        platform: base.and_then(|b| b.platform.as_ref()).map(Json::to_string),
    })
}

/// A catalog image ready to push: per-platform images and, for a multi-platform base, an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogImage {
    /// The catalog layer (shared by every platform).
    pub layer: CatalogLayer,
    /// One image per platform.
    pub images: Vec<BuiltImage>,
    /// The index over `images` (multi-platform bases only).
    pub index: Option<Manifest>,
}

impl CatalogImage {
    /// The manifest a tag points at.
    pub fn top(&self) -> &Manifest {
        self.index.as_ref().unwrap_or(&self.images[0].manifest)
    }

    /// Builds the image from the parts of a fetched base (empty: `scratch`).
    pub fn assemble(
        layer: CatalogLayer,
        base: &[BaseImage],
        base_index_type: Option<&str>,
        options: &ImageOptions,
    ) -> Result<Self> {
        if base.is_empty() {
            let image = compose(None, &layer, options)?;
            return Ok(Self {
                layer,
                images: vec![image],
                index: None,
            });
        }
        let images = base
            .iter()
            .map(|b| compose(Some(b), &layer, options))
            .collect::<Result<Vec<_>>>()?;
        let index = match base_index_type {
            None => None,
            Some(index_type) => {
                let entries: Vec<Json> = images
                    .iter()
                    .map(|i| {
                        let mut e = json!({
                            "mediaType": i.manifest.media_type,
                            "digest": i.manifest.digest,
                            "size": i.manifest.bytes.len(),
                        });
                        if let Some(p) = &i.platform {
                            e["platform"] = serde_json::from_str(p).unwrap_or(Json::Null);
                        }
                        e
                    })
                    .collect();
                let bytes = to_vec(
                    &json!({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}),
                )?;
                Some(Manifest::new(index_type, bytes))
            }
        };
        Ok(Self {
            layer,
            images,
            index,
        })
    }
}

/// Where the base image comes from.
#[derive(Debug, Clone, Copy)]
pub enum BaseRef<'a> {
    /// No base: the image holds the catalog only, without Entrypoint or Cmd.
    Scratch,
    /// An image on a registry.
    Image {
        /// Client of the registry holding it.
        client: &'a RegistryClient,
        /// The image (its repository and tag or digest; the registry is the client's).
        reference: &'a ImageReference,
    },
}

/// The tag or digest to read `reference` at (`latest` when it names neither, as Docker does).
pub fn read_reference(reference: &ImageReference) -> &str {
    reference.reference().unwrap_or("latest")
}

/// The tag to push `reference` under (`latest` when it names none); a digest is refused.
pub fn push_tag(reference: &ImageReference) -> Result<&str> {
    if reference.digest.is_some() {
        return Err(CatalogImageError::InvalidReference(format!(
            "{reference}: a push needs a tag, not a digest"
        )));
    }
    Ok(reference.tag.as_deref().unwrap_or("latest"))
}

/// A fetched base image: its top manifest and one entry per usable platform.
#[derive(Debug, Clone)]
pub struct FetchedBase {
    /// The manifest the reference names (an index or an image).
    pub top: Manifest,
    /// Its platforms (attestation and unknown platforms skipped).
    pub images: Vec<BaseImage>,
}

async fn fetch_image(
    client: &RegistryClient,
    repo: &str,
    manifest: &Manifest,
    platform: Option<Json>,
) -> Result<BaseImage> {
    let parsed = manifest.image()?;
    let config = client.get_blob(repo, &parsed.config.digest).await?;
    let config: Json = serde_json::from_slice(&config)
        .map_err(|e| CatalogImageError::InvalidBase(format!("config is not JSON: {e}")))?;
    Ok(BaseImage {
        manifest_media_type: manifest.media_type.clone(),
        config,
        layers: parsed.layers,
        platform,
    })
}

/// Fetches a base image and its configs (every platform of an index).
pub async fn fetch_base(
    client: &RegistryClient,
    repository: &str,
    reference: &str,
) -> Result<FetchedBase> {
    let top = client.get_manifest(repository, reference).await?;
    let mut images = Vec::new();
    if top.is_index() {
        let raw: Json = serde_json::from_slice(&top.bytes)
            .map_err(|e| CatalogImageError::InvalidBase(format!("index is not JSON: {e}")))?;
        for entry in raw
            .get("manifests")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let platform = entry.get("platform").cloned();
            if platform
                .as_ref()
                .and_then(|p| p.get("os"))
                .and_then(Json::as_str)
                == Some("unknown")
            {
                continue;
            }
            let Some(digest) = entry.get("digest").and_then(Json::as_str) else {
                continue;
            };
            let child = client.get_manifest(repository, digest).await?;
            if !media_types::is_image_manifest(&child.media_type) {
                continue;
            }
            images.push(fetch_image(client, repository, &child, platform).await?);
        }
        if images.is_empty() {
            return Err(CatalogImageError::InvalidBase(
                "the index lists no usable image".into(),
            ));
        }
    } else if media_types::is_image_manifest(&top.media_type) {
        images.push(fetch_image(client, repository, &top, None).await?);
    } else {
        return Err(CatalogImageError::InvalidBase(format!(
            "unsupported manifest type {}",
            top.media_type
        )));
    }
    Ok(FetchedBase { top, images })
}

/// What [`push_catalog`] pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Digest the tag points at.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Number of platform images.
    pub platforms: usize,
    /// Digest of the catalog layer.
    pub layer_digest: String,
}

/// Validates `catalog`, builds its image on `base` and pushes it to `target` (its repository
/// and tag; the registry is the client's).
pub async fn push_catalog(
    client: &RegistryClient,
    target: &ImageReference,
    catalog: &Catalog,
    base: BaseRef<'_>,
    options: &ImageOptions,
) -> Result<PushReport> {
    push_catalog_with_progress(client, target, catalog, base, options, &|_| {}).await
}

/// [`push_catalog`], calling `progress` with a short description of each step as it starts
/// (for a terminal's progress line).
pub async fn push_catalog_with_progress(
    client: &RegistryClient,
    target: &ImageReference,
    catalog: &Catalog,
    base: BaseRef<'_>,
    options: &ImageOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<PushReport> {
    let tag = push_tag(target)?;
    let image = build_image(client, target, catalog, base, options, progress).await?;
    progress(&format!(
        "pushing the catalog layer ({} bytes) and {} manifest(s)",
        image.layer.tar_gz.len(),
        image.images.len() + usize::from(image.index.is_some())
    ));
    let digest = push_image(client, &target.repository, tag, &image).await?;
    Ok(PushReport::of(digest, &image))
}

impl PushReport {
    fn of(digest: String, image: &CatalogImage) -> Self {
        PushReport {
            digest,
            media_type: image.top().media_type.clone(),
            platforms: image.images.len(),
            layer_digest: image.layer.digest.clone(),
        }
    }
}

/// Validates `catalog` and builds its image on `base`, copying the base's blobs into
/// `target`'s repository first (mounted on the same registry, streamed otherwise, skipped when
/// present) so that the image can be pushed there.
pub async fn build_image(
    client: &RegistryClient,
    target: &ImageReference,
    catalog: &Catalog,
    base: BaseRef<'_>,
    options: &ImageOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<CatalogImage> {
    progress("validating the catalog and building its layer");
    let layer = CatalogLayer::build(catalog)?;
    match base {
        BaseRef::Scratch => CatalogImage::assemble(layer, &[], None, options),
        BaseRef::Image {
            client: base_client,
            reference,
        } => {
            progress(&format!("fetching the base image {reference}"));
            let fetched = fetch_base(
                base_client,
                &reference.repository,
                read_reference(reference),
            )
            .await?;
            progress("copying the base image's layers");
            copy_image(
                base_client,
                &reference.repository,
                &fetched.top.digest,
                client,
                &target.repository,
                &fetched.top.digest,
                &CopyOptions::default(),
            )
            .await?;
            let index_type = fetched
                .top
                .is_index()
                .then(|| fetched.top.media_type.clone());
            CatalogImage::assemble(layer, &fetched.images, index_type.as_deref(), options)
        }
    }
}

/// Uploads a built image with quay-client's one push function: each platform image (the
/// catalog layer and its config; the base layers are already there) by digest when an index
/// follows, by `tag` otherwise; then the index by `tag`. Returns the digest `tag` points at.
pub async fn push_image(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
    image: &CatalogImage,
) -> Result<String> {
    let layer = Bytes::from(image.layer.tar_gz.clone());
    let mut pushed = String::new();
    for built in &image.images {
        let to_push = ImageToPush {
            layers: vec![layer.clone()],
            config: Bytes::from(built.config.clone()),
            manifest: built.manifest.clone(),
        };
        let reference = if image.index.is_some() {
            built.manifest.digest.as_str()
        } else {
            tag
        };
        pushed = client.push_image(repository, reference, &to_push).await?;
    }
    match &image.index {
        Some(index) => Ok(client.put_manifest(repository, tag, index).await?),
        None => Ok(pushed),
    }
}

/// Downloads the layers of `manifest` into temporary files and applies them in order on a
/// blocking thread, keeping files under `prefix`.
async fn read_layers(
    client: &RegistryClient,
    repository: &str,
    manifest: &Manifest,
    prefix: &str,
    limits: &CatalogLimits,
) -> Result<FileSet> {
    let parsed = manifest.image()?;
    let scratch = tempfile::tempdir()?;
    let mut all = FileSet::new();
    for (i, layer) in parsed.layers.iter().enumerate() {
        if layer.size > limits.max_layer_bytes {
            return Err(CatalogError::Limit {
                what: format!("layer {} ({} bytes)", layer.digest, layer.size),
                limit: limits.max_layer_bytes,
            }
            .into());
        }
        let path = scratch.path().join(format!("layer-{i}"));
        let mut file = tokio::fs::File::create(&path).await?;
        client
            .download_blob(repository, &layer.digest, &mut file)
            .await?;
        drop(file);
        let limits = limits.clone();
        let prefix = prefix.to_owned();
        // Decompression and tar reading are blocking, CPU-bound work.
        all = tokio::task::spawn_blocking(move || -> Result<FileSet> {
            let f = std::fs::File::open(&path)?;
            olm_catalog::layer::apply_layer(
                &mut all,
                std::io::BufReader::new(f),
                &prefix,
                &limits,
            )?;
            Ok(all)
        })
        .await
        .map_err(|e| CatalogImageError::Io(std::io::Error::other(e)))??;
    }
    Ok(all)
}

/// The image manifest of `reference` (linux/amd64 of an index, else its first real image).
async fn image_manifest(
    client: &RegistryClient,
    repository: &str,
    reference: &str,
) -> Result<Manifest> {
    let manifest = client.get_manifest(repository, reference).await?;
    if !manifest.is_index() {
        return Ok(manifest);
    }
    let index = manifest.index()?;
    let pick = index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .or_else(|| {
            index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
        })
        .ok_or_else(|| {
            CatalogImageError::NotACatalog(format!(
                "{repository}:{reference}: the index lists no image"
            ))
        })?;
    Ok(client.get_manifest(repository, &pick.digest).await?)
}

/// A catalog read back from an image.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledCatalog {
    /// Digest of the manifest read (the platform's, for an index).
    pub digest: String,
    /// The configs directory named by the label.
    pub configs_dir: String,
    /// The files under it, relative to it.
    pub files: FileSet,
    /// The loaded catalog.
    pub catalog: Catalog,
}

/// A bundle read from a bundle image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledBundle {
    /// Digest of the manifest read (the platform's, for an index).
    pub digest: String,
    /// `manifests/...` and `metadata/...`, ready for [`olm_catalog::render_bundle`].
    pub files: FileSet,
}

/// What an image turned out to hold.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PulledImage {
    /// A bundle image.
    Bundle(PulledBundle),
    /// A file-based catalog image.
    Catalog(PulledCatalog),
}

fn labels_of(config: &Json) -> BTreeMap<String, String> {
    config
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What the labels of an image's config say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A file-based catalog under this directory.
    Catalog(String),
    Bundle,
    /// No label that says: a bundle if its layers hold one.
    Unlabelled,
}

/// Reads `reference`'s config and decides what the image is; sqlite index images are refused.
async fn inspect_image(
    client: &RegistryClient,
    reference: &ImageReference,
) -> Result<(Manifest, Kind)> {
    let manifest = image_manifest(client, &reference.repository, read_reference(reference)).await?;
    let parsed = manifest.image()?;
    let config: Json = serde_json::from_slice(
        &client
            .get_blob(&reference.repository, &parsed.config.digest)
            .await?,
    )
    .map_err(|e| CatalogImageError::NotACatalog(format!("{reference}: config is not JSON: {e}")))?;
    let labels = labels_of(&config);
    if labels.contains_key(SQLITE_LABEL) {
        return Err(CatalogImageError::NotACatalog(format!(
            "{reference} is a sqlite-based index image, not a file-based catalog; migrate it with opm first"
        )));
    }
    let kind = if let Some(dir) = labels.get(CONFIGS_LABEL) {
        Kind::Catalog(dir.clone())
    } else if labels.contains_key(BUNDLE_LABEL) {
        Kind::Bundle
    } else {
        Kind::Unlabelled
    };
    Ok((manifest, kind))
}

async fn read_bundle(
    client: &RegistryClient,
    reference: &ImageReference,
    manifest: Manifest,
    limits: &CatalogLimits,
) -> Result<PulledBundle> {
    let files = read_layers(client, &reference.repository, &manifest, "", limits).await?;
    let mut out = FileSet::new();
    for (p, d) in files.iter() {
        if p.starts_with("manifests/") || p.starts_with("metadata/") {
            out.insert(p, d.to_vec());
        }
    }
    if !olm_catalog::load::is_bundle_files(&out) {
        return Err(CatalogImageError::NotACatalog(format!(
            "{reference} holds no manifests/ and metadata/: not a bundle image"
        )));
    }
    Ok(PulledBundle {
        digest: manifest.digest,
        files: out,
    })
}

async fn read_catalog(
    client: &RegistryClient,
    reference: &ImageReference,
    manifest: Manifest,
    configs_dir: String,
    limits: &CatalogLimits,
) -> Result<PulledCatalog> {
    let prefix = format!("{}/", configs_dir.trim_matches('/'));
    let all = read_layers(client, &reference.repository, &manifest, &prefix, limits).await?;
    let files = all.subtree(&prefix);
    let catalog = olm_catalog::load_files(&files, limits)?;
    Ok(PulledCatalog {
        digest: manifest.digest,
        configs_dir,
        files,
        catalog,
    })
}

/// Reads an image that may be a bundle or a catalog (what `render` accepts): by its labels, or
/// for an image without either label, by whether its layers hold a bundle. Sqlite index images
/// are refused.
pub async fn pull(
    client: &RegistryClient,
    reference: &ImageReference,
    limits: &CatalogLimits,
) -> Result<PulledImage> {
    match inspect_image(client, reference).await? {
        (manifest, Kind::Catalog(dir)) => Ok(PulledImage::Catalog(
            read_catalog(client, reference, manifest, dir, limits).await?,
        )),
        (manifest, Kind::Bundle | Kind::Unlabelled) => Ok(PulledImage::Bundle(
            read_bundle(client, reference, manifest, limits).await?,
        )),
    }
}

/// The files of a bundle image (`manifests/` and `metadata/`), ready for
/// [`olm_catalog::render_bundle`]. Refuses catalog images.
pub async fn pull_bundle(
    client: &RegistryClient,
    reference: &ImageReference,
    limits: &CatalogLimits,
) -> Result<PulledBundle> {
    match inspect_image(client, reference).await? {
        (_, Kind::Catalog(_)) => Err(CatalogImageError::NotACatalog(format!(
            "{reference} is a catalog image, not a bundle image"
        ))),
        (manifest, _) => read_bundle(client, reference, manifest, limits).await,
    }
}

/// Reads the catalog of `reference` (linux/amd64 of an index, else its first image). Refuses
/// bundle images, sqlite index images and images without the configs label.
pub async fn pull_catalog(
    client: &RegistryClient,
    reference: &ImageReference,
    limits: &CatalogLimits,
) -> Result<PulledCatalog> {
    match inspect_image(client, reference).await? {
        (manifest, Kind::Catalog(dir)) => {
            read_catalog(client, reference, manifest, dir, limits).await
        }
        (_, Kind::Bundle) => Err(CatalogImageError::NotACatalog(format!(
            "{reference} is a bundle image, not a catalog; render it instead"
        ))),
        (_, Kind::Unlabelled) => Err(CatalogImageError::NotACatalog(format!(
            "{reference} has no {CONFIGS_LABEL} label: not a file-based catalog image"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let text = br#"{"schema":"olm.package","name":"demo","defaultChannel":"stable"}
{"schema":"olm.channel","name":"stable","package":"demo","entries":[{"name":"demo.v1.0.0"}]}
{"schema":"olm.bundle","name":"demo.v1.0.0","package":"demo","image":"quay.io/demo/bundle:1.0.0","properties":[{"type":"olm.package","value":{"packageName":"demo","version":"1.0.0"}}]}"#;
        olm_catalog::load_text("c.json", text, &CatalogLimits::default()).unwrap()
    }

    #[test]
    fn layer_is_reproducible_and_holds_the_configs() {
        let a = CatalogLayer::build(&catalog()).unwrap();
        assert_eq!(a, CatalogLayer::build(&catalog()).unwrap());
        let mut files = FileSet::new();
        olm_catalog::layer::apply_layer(&mut files, &a.tar_gz[..], "", &CatalogLimits::default())
            .unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["configs/demo/catalog.json"]);
        let text = std::str::from_utf8(files.get("configs/demo/catalog.json").unwrap()).unwrap();
        assert!(text.starts_with("{\n    \"schema\": \"olm.package\",\n"));
    }

    #[test]
    fn references_default_to_latest_and_pushes_need_a_tag() {
        let r = |s: &str| ImageReference::parse(s).unwrap();
        assert_eq!(read_reference(&r("r.example/cat/demo")), "latest");
        assert_eq!(read_reference(&r("r.example/cat/demo:v1")), "v1");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            read_reference(&r(&format!("r.example/cat/demo:v1@{digest}"))),
            digest
        );
        assert_eq!(push_tag(&r("r.example/cat/demo")).unwrap(), "latest");
        assert_eq!(push_tag(&r("r.example/cat/demo:v2")).unwrap(), "v2");
        let e = push_tag(&r(&format!("r.example/cat/demo@{digest}"))).unwrap_err();
        assert!(matches!(e, CatalogImageError::InvalidReference(_)));
        assert_eq!(
            e.to_string(),
            format!("r.example/cat/demo@{digest}: a push needs a tag, not a digest")
        );
    }

    #[test]
    fn invalid_catalogs_are_not_built() {
        let mut c = catalog();
        c.bundles[0].image.clear();
        let e = CatalogLayer::build(&c).unwrap_err();
        assert!(e.to_string().contains("bundle image must be set"), "{e}");
    }

    #[test]
    fn scratch_and_based_images() {
        let layer = CatalogLayer::build(&catalog()).unwrap();
        let scratch = compose(None, &layer, &ImageOptions::default()).unwrap();
        let cfg: Json = serde_json::from_slice(&scratch.config).unwrap();
        assert_eq!(cfg["config"]["Labels"][CONFIGS_LABEL], "/configs");
        assert!(cfg["config"].get("Cmd").is_none() && cfg["config"].get("Entrypoint").is_none());
        let base = BaseImage {
            manifest_media_type: media_types::DOCKER_MANIFEST.into(),
            config: json!({"architecture":"arm64","os":"linux","config":{"Labels":{"base":"yes"},"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"base"}]}),
            layers: vec![Descriptor::for_bytes(
                media_types::DOCKER_LAYER_GZIP,
                b"base layer",
            )],
            platform: None,
        };
        let mut labels = BTreeMap::new();
        labels.insert("team".to_owned(), "x".to_owned());
        let built = compose(Some(&base), &layer, &ImageOptions { labels }).unwrap();
        let cfg: Json = serde_json::from_slice(&built.config).unwrap();
        assert_eq!(cfg["config"]["Entrypoint"], json!(["/bin/opm"]));
        assert_eq!(cfg["config"]["Cmd"], json!(["serve", "/configs"]));
        assert_eq!(cfg["config"]["Env"], json!(["A=1"]));
        assert_eq!(
            cfg["config"]["Labels"],
            json!({"base": "yes", "team": "x", CONFIGS_LABEL: "/configs"})
        );
        assert_eq!(
            cfg["rootfs"]["diff_ids"],
            json!(["sha256:aa", layer.diff_id])
        );
        assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
        assert_eq!(built.manifest.media_type, media_types::DOCKER_MANIFEST);
        let m: Json = serde_json::from_slice(&built.manifest.bytes).unwrap();
        assert_eq!(m["layers"][1]["mediaType"], media_types::DOCKER_LAYER_GZIP);
        assert_eq!(m["layers"][0]["digest"], base.layers[0].digest.as_str());
        let again = compose(
            Some(&base),
            &layer,
            &ImageOptions {
                labels: [("team".to_owned(), "x".to_owned())].into(),
            },
        )
        .unwrap();
        assert_eq!(again.digest(), built.digest());
        let broken = BaseImage {
            layers: vec![],
            ..base
        };
        assert!(matches!(
            compose(Some(&broken), &layer, &ImageOptions::default()),
            Err(CatalogImageError::InvalidBase(_))
        ));
    }
}
