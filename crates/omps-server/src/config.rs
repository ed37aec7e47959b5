//! Configuration: an optional TOML file, `OMPS_*` environment overrides and command-line flags,
//! deserialized into typed structs (unknown keys refused at every level, see `strict-config`) and
//! checked once by [`Config::validate`] for the rules that span keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use manifest_bundle::{CsvAnnotation, RegistryRule, RewriteConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use strict_config::ConfigError;

use crate::names;

/// Where releases are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// The embedded filesystem store under `data_dir`.
    Local,
    /// An App Registry (CNR) at `quay_url`.
    AppRegistry,
    /// Operator bundle images in an OCI registry (`[oci]` settings).
    Oci,
}

impl StoreKind {
    /// The configuration spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Local => "local",
            StoreKind::AppRegistry => "app-registry",
            StoreKind::Oci => "oci",
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How the OCI store tags images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TagPolicy {
    /// Tag = the bundle's CSV version (`+` becomes `_`); the registry's tags are the releases.
    CsvVersion,
    /// Tag = the OMPS release version; `<release>-<csv version>` when a release holds several
    /// bundles.
    Release,
}

/// One `replace_registry` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRuleConfig {
    /// Text (or pattern, with `regexp`) to replace.
    pub old: String,
    /// Replacement.
    pub new: String,
    /// Whether `old` is a regular expression.
    #[serde(default)]
    pub regexp: bool,
}

/// One `csv_annotations` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvAnnotationConfig {
    /// Annotation key.
    pub name: String,
    /// Template; `{package_name}` is the suffixed package name.
    pub value: String,
}

/// OCI store settings as written in one table (`[oci]` or `[organizations.<org>.oci]`); unset
/// keys of an organization's table fall back to the global table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciConfig {
    /// `https://host[:port]` of the registry (required when the store is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_url: Option<String>,
    /// Registry namespace; default the organization name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Repository template with one `{repo}`; default `{repo}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// How images are tagged; default `csv-version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_policy: Option<TagPolicy>,
    /// Basic / robot user name (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic / robot password (never logged).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "strict_config::redact_option"
    )]
    pub password: Option<SecretString>,
    /// A registry bearer token (never logged).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "strict_config::redact_option"
    )]
    pub token: Option<SecretString>,
    /// The registry is Quay: `public = true` changes visibility through Quay's REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quay: Option<bool>,
    /// A file-based catalog image (`host[:port]/ns/name[:tag]`, on this table's registry) that
    /// every bundle push adds its bundles to. A tag, never a digest: each update moves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// The base image of the catalog image: an image reference (`host[:port]/ns/name:tag` or
    /// `@sha256:...`) or `scratch` (the default: the catalog layer alone, no registry read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_base: Option<String>,
    /// Bundle images missing from the catalog that one push adds back (earlier catalog updates
    /// that failed); default 25, 0 turns repair off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_repair_limit: Option<u32>,
}

/// `scratch` as `catalog_base`: no base image.
pub const SCRATCH: &str = "scratch";

/// Default of `catalog_repair_limit`.
pub const DEFAULT_CATALOG_REPAIR_LIMIT: u32 = 25;

/// `host[:port]` of an `http(s)://host[:port]` registry URL, as image references name it.
#[must_use]
pub fn registry_host(registry_url: &str) -> String {
    url::Url::parse(registry_url).ok().map_or_else(
        || registry_url.to_owned(),
        |u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => registry_url.to_owned(),
        },
    )
}

/// Parses a `catalog` value: an image reference with a registry host and no digest.
pub fn parse_catalog_reference(value: &str) -> Result<quay_client::ImageReference, String> {
    let reference = quay_client::ImageReference::parse(value)
        .and_then(|r| r.require_registry(value))
        .map_err(|e| e.to_string())?;
    if reference.digest.is_some() {
        return Err(format!(
            "{value:?} names a digest; the catalog is updated by pushing a tag, so give host/ns/name:tag"
        ));
    }
    Ok(reference)
}

/// Parses a `catalog_base` value: `None` for `scratch`, else an image reference with a
/// registry host (a tag or a digest).
pub fn parse_catalog_base(value: &str) -> Result<Option<quay_client::ImageReference>, String> {
    if value == SCRATCH {
        return Ok(None);
    }
    quay_client::ImageReference::parse(value)
        .and_then(|r| r.require_registry(value))
        .map(Some)
        .map_err(|e| format!("{e} (or write \"scratch\" for no base image)"))
}

impl OciConfig {
    /// `self` with unset keys taken from `base`. Credentials are taken as a whole, never mixed
    /// between tables.
    #[must_use]
    pub fn over(&self, base: &OciConfig) -> OciConfig {
        let own_credentials = self.username.is_some() || self.token.is_some();
        let credentials = if own_credentials { self } else { base };
        OciConfig {
            registry_url: self
                .registry_url
                .clone()
                .or_else(|| base.registry_url.clone()),
            namespace: self.namespace.clone().or_else(|| base.namespace.clone()),
            repository: self.repository.clone().or_else(|| base.repository.clone()),
            tag_policy: self.tag_policy.or(base.tag_policy),
            username: credentials.username.clone(),
            password: credentials.password.clone(),
            token: credentials.token.clone(),
            quay: self.quay.or(base.quay),
            catalog: self.catalog.clone().or_else(|| base.catalog.clone()),
            catalog_base: self
                .catalog_base
                .clone()
                .or_else(|| base.catalog_base.clone()),
            catalog_repair_limit: self.catalog_repair_limit.or(base.catalog_repair_limit),
        }
    }

    fn validate(&mut self, origin: &str, at: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            ConfigError::invalid(origin, format!("{at}.{key}"), message)
        };
        if let Some(url) = &self.registry_url {
            match url::Url::parse(url) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some()
                        && u.query().is_none() => {}
                _ => {
                    return Err(invalid(
                        "registry_url",
                        format!("{url:?} is not an http(s) URL"),
                    ));
                }
            }
            self.registry_url = Some(url.trim_end_matches('/').to_owned());
        }
        if let Some(ns) = &self.namespace {
            if !valid_repository_path(ns) {
                return Err(invalid(
                    "namespace",
                    format!(
                        "{ns:?} is not a valid registry namespace (lowercase letters, digits, '.', '_', '-', '/')"
                    ),
                ));
            }
        }
        if let Some(template) = &self.repository {
            if template.matches("{repo}").count() != 1 {
                return Err(invalid(
                    "repository",
                    format!("{template:?} must contain \"{{repo}}\" exactly once"),
                ));
            }
            if !valid_repository_path(&template.replace("{repo}", "x")) {
                return Err(invalid(
                    "repository",
                    format!("{template:?} does not give valid repository names"),
                ));
            }
        }
        if self.username.is_some() != self.password.is_some() {
            let missing = if self.username.is_some() {
                "password"
            } else {
                "username"
            };
            return Err(invalid(missing, "username and password go together".into()));
        }
        if self.token.is_some() && self.username.is_some() {
            return Err(invalid(
                "token",
                "give either token or username and password, not both".into(),
            ));
        }
        if let Some(catalog) = &self.catalog {
            parse_catalog_reference(catalog).map_err(|e| invalid("catalog", e))?;
        }
        if let Some(base) = &self.catalog_base {
            parse_catalog_base(base).map_err(|e| invalid("catalog_base", e))?;
        }
        Ok(())
    }

    /// A merged table's catalog must live on its registry: it is written with the same
    /// client and credentials as the bundle images.
    fn check_catalog_host(&self, origin: &str, at: &str) -> Result<(), ConfigError> {
        let (Some(catalog), Some(url)) = (&self.catalog, &self.registry_url) else {
            return Ok(());
        };
        let reference = parse_catalog_reference(catalog)
            .map_err(|e| ConfigError::invalid(origin, format!("{at}.catalog"), e))?;
        let host = registry_host(url);
        if reference.registry.as_deref() != Some(host.as_str()) {
            return Err(ConfigError::invalid(
                origin,
                format!("{at}.catalog"),
                format!(
                    "{catalog:?} is not on the organization's registry {host} ({url}); the catalog is written with the bundle pushes' client and credentials"
                ),
            ));
        }
        Ok(())
    }
}

/// A registry namespace or repository path: lowercase components of the distribution grammar.
fn valid_repository_path(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('/').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || b"._-".contains(ch))
        })
}

/// Per-organization settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Make repositories public after every push.
    #[serde(default)]
    pub public: bool,
    /// Quay OAuth token for the visibility change (never logged).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "strict_config::redact_option"
    )]
    pub oauth_token: Option<SecretString>,
    /// A file holding the token (first line), e.g. a mounted Kubernetes Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_token_file: Option<PathBuf>,
    /// The token read from `oauth_token_file` by [`Config::validate`].
    #[serde(skip)]
    token_from_file: Option<SecretString>,
    /// Appended to the package name unless it already ends with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name_suffix: Option<String>,
    /// Applied in order to every YAML file.
    #[serde(default)]
    pub replace_registry: Vec<RegistryRuleConfig>,
    /// Set on every CSV.
    #[serde(default)]
    pub csv_annotations: Vec<CsvAnnotationConfig>,
    /// Store override for this organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreKind>,
    /// OCI store settings overriding the global `[oci]` table.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_config::option_table"
    )]
    pub oci: Option<OciConfig>,
}

impl OrgConfig {
    /// The OAuth token, given inline or read from `oauth_token_file`.
    #[must_use]
    pub fn oauth_token(&self) -> Option<&SecretString> {
        self.oauth_token.as_ref().or(self.token_from_file.as_ref())
    }

    /// This organization's cross-key rules; reads `oauth_token_file`.
    fn validate(&mut self, origin: &str, name: &str) -> Result<(), ConfigError> {
        let at = format!("organizations.{name}");
        if let Err(reason) = names::check_organization(name) {
            return Err(ConfigError::invalid(origin, at, reason));
        }
        if let Some(oci) = &mut self.oci {
            oci.validate(origin, &format!("{at}.oci"))?;
        }
        if let Some(path) = &self.oauth_token_file {
            if self.oauth_token.is_some() {
                return Err(ConfigError::invalid(
                    origin,
                    format!("{at}.oauth_token_file"),
                    "give either oauth_token or oauth_token_file, not both",
                ));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::invalid(
                    origin,
                    format!("{at}.oauth_token_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let token = text.lines().next().unwrap_or_default().trim().to_owned();
            if token.is_empty() {
                return Err(ConfigError::invalid(
                    origin,
                    format!("{at}.oauth_token_file"),
                    format!("{} is empty", path.display()),
                ));
            }
            self.token_from_file = Some(SecretString::from(token));
        }
        if self.public && self.oauth_token().is_none() {
            return Err(ConfigError::invalid(
                origin,
                format!("{at}.oauth_token"),
                "required when public = true",
            ));
        }
        // Compile now so bad patterns and templates stop the start-up.
        manifest_bundle::Rewrites::compile(name, &self.rewrites())
            .map_err(|e| ConfigError::invalid(origin, at.clone(), e.to_string()))?;
        Ok(())
    }

    /// The rewrite settings in manifest-bundle's terms.
    #[must_use]
    pub fn rewrites(&self) -> RewriteConfig {
        RewriteConfig {
            package_name_suffix: self.package_name_suffix.clone(),
            replace_registry: self
                .replace_registry
                .iter()
                .map(|r| RegistryRule {
                    old: r.old.clone(),
                    new: r.new.clone(),
                    regexp: r.regexp,
                })
                .collect(),
            csv_annotations: self
                .csv_annotations
                .iter()
                .map(|a| CsvAnnotation {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
        }
    }
}

/// Greenwave gate settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GreenwaveConfig {
    /// Base URL.
    pub url: String,
    /// `decision_context`.
    pub context: String,
    /// `product_version`.
    pub product_version: String,
}

impl GreenwaveConfig {
    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for (key, value) in [
            ("url", &self.url),
            ("context", &self.context),
            ("product_version", &self.product_version),
        ] {
            if value.is_empty() {
                return Err(ConfigError::invalid(
                    origin,
                    format!("greenwave.{key}"),
                    "must not be empty",
                ));
            }
        }
        check_url(origin, "greenwave.url", &self.url)
    }
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL` (case-insensitive when read).
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Request body limit in bytes.
    #[serde(deserialize_with = "positive::u64")]
    pub max_content_length: u64,
    /// Uncompressed zip limit in bytes (actual bytes).
    #[serde(deserialize_with = "positive::u64")]
    pub zipfile_max_uncompressed_size: u64,
    /// Zip entry limit.
    #[serde(deserialize_with = "positive::usize")]
    pub zipfile_max_entries: usize,
    /// Cap on the Koji archive download.
    #[serde(deserialize_with = "positive::u64")]
    pub koji_archive_max_size: u64,
    /// Version used when a package has no valid release.
    pub default_release_version: String,
    /// Koji hub (Koji disabled when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kojihub_url: Option<String>,
    /// Koji file root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kojiroot_url: Option<String>,
    /// Default store.
    pub store: StoreKind,
    /// Local store directory.
    pub data_dir: PathBuf,
    /// Quay base URL for `/cnr` and `/api/v1`.
    pub quay_url: String,
    /// Seconds for every API call.
    #[serde(deserialize_with = "positive::u64")]
    pub request_timeout: u64,
    /// Seconds for pushes and downloads.
    #[serde(deserialize_with = "positive::u64")]
    pub transfer_timeout: u64,
    /// Seconds to connect.
    #[serde(deserialize_with = "positive::u64")]
    pub connect_timeout: u64,
    /// Extra PEM roots for outbound TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// Listen address.
    pub listen: String,
    /// Concurrent CPU-bound push work.
    #[serde(deserialize_with = "positive::usize")]
    pub max_concurrent_pushes: usize,
    /// Attempts for an automatic version when the store reports "release exists".
    #[serde(deserialize_with = "positive::u32")]
    pub max_version_attempts: u32,
    /// Bytes of memory that pushes in progress may hold at once (manifests, parsed YAML,
    /// blobs); pushes beyond it wait in the admission queue.
    #[serde(deserialize_with = "positive::u64")]
    pub memory_budget: u64,
    /// Pushes that may wait for memory at once; more are answered 503 at once.
    #[serde(deserialize_with = "positive::usize")]
    pub max_queued_pushes: usize,
    /// Seconds a push waits for memory before it is answered 503.
    #[serde(deserialize_with = "positive::u64")]
    pub admission_timeout: u64,
    /// Directory for uploads and extracted files that are not held in memory (default: the
    /// system's temporary directory, `$TMPDIR`); leftovers of processes that died are removed
    /// at start-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_dir: Option<PathBuf>,
    /// Seconds a client has to send a complete request head once the server waits for one.
    #[serde(deserialize_with = "positive::u64")]
    pub header_read_timeout: u64,
    /// Seconds a connection without a request in progress stays open.
    #[serde(deserialize_with = "positive::u64")]
    pub keep_alive_timeout: u64,
    /// Bytes per second a request body must average once `body_rate_grace` has passed.
    #[serde(deserialize_with = "positive::u64")]
    pub min_body_rate: u64,
    /// Seconds a request body may take before `min_body_rate` applies.
    #[serde(deserialize_with = "positive::u64")]
    pub body_rate_grace: u64,
    /// Open client connections; past it the longest-idle connection is closed, or the new one
    /// answered 503 when every connection has a request in progress.
    #[serde(deserialize_with = "positive::usize")]
    pub max_connections: usize,
    /// Bytes that must stay free on the local store's filesystem; below it health reports the
    /// store degraded (503) until space is freed.
    #[serde(deserialize_with = "positive::u64")]
    pub min_free_bytes: u64,
    /// Access tokens of the embedded (local) store, stored hashed, each scoped to organizations
    /// (see docs/security.md). Without it the local store takes any `Authorization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_file: Option<PathBuf>,
    /// With `tokens_file`: listing and downloading from the local store need no token.
    #[serde(deserialize_with = "flag")]
    pub anonymous_reads: bool,
    /// Lets the server listen on a non-loopback address with the local store and no
    /// `tokens_file`, i.e. lets anyone who reaches it push and delete.
    #[serde(deserialize_with = "flag")]
    pub allow_anonymous_writes: bool,
    /// The tokens read from `tokens_file` by [`Config::validate`].
    #[serde(skip)]
    pub(crate) tokens: Option<crate::access::Tokens>,
    /// Organizations.
    #[serde(deserialize_with = "strict_config::map_of_tables")]
    pub organizations: BTreeMap<String, OrgConfig>,
    /// Greenwave gate (disabled when absent).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_config::option_table"
    )]
    pub greenwave: Option<GreenwaveConfig>,
    /// OCI store defaults (`[oci]`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_config::option_table"
    )]
    pub oci: Option<OciConfig>,
    /// Upstream keys with no meaning here; accepted so upstream files load, and warned about.
    #[serde(skip_serializing)]
    debug: Option<serde::de::IgnoredAny>,
    #[serde(skip_serializing)]
    testing: Option<serde::de::IgnoredAny>,
    #[serde(skip_serializing)]
    secret_key: Option<serde::de::IgnoredAny>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            log_level: "INFO".into(),
            log_format: LogFormat::Text,
            max_content_length: 2 * 1024 * 1024,
            zipfile_max_uncompressed_size: 20 * 1024 * 1024,
            zipfile_max_entries: 1000,
            koji_archive_max_size: 20 * 1024 * 1024,
            default_release_version: "1.0.0".into(),
            kojihub_url: None,
            kojiroot_url: None,
            store: StoreKind::Local,
            data_dir: PathBuf::from("./omps-data"),
            quay_url: "https://quay.io".into(),
            request_timeout: 30,
            transfer_timeout: 120,
            connect_timeout: 10,
            ca_bundle: None,
            listen: "127.0.0.1:8080".into(),
            max_concurrent_pushes: 8,
            max_version_attempts: 100,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_queued_pushes: 64,
            admission_timeout: 30,
            spool_dir: None,
            header_read_timeout: 10,
            keep_alive_timeout: 15,
            min_body_rate: 4096,
            body_rate_grace: 10,
            max_connections: 512,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            tokens_file: None,
            anonymous_reads: false,
            allow_anonymous_writes: false,
            tokens: None,
            organizations: BTreeMap::new(),
            greenwave: None,
            oci: None,
            debug: None,
            testing: None,
            secret_key: None,
        }
    }
}

/// A boolean, or from the environment its text `true` / `false`.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match Flag::deserialize(d)? {
        Flag::Bool(b) => Ok(b),
        Flag::Text(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Flag::Text(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        Flag::Text(t) => Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(&t),
            &"true or false",
        )),
    }
}

/// Integers that must be greater than zero. Environment overrides arrive as strings, so a
/// decimal string is accepted too.
mod positive {
    use serde::Deserializer;
    use serde::de::{Error, Unexpected, Visitor};

    struct Positive;

    impl Visitor<'_> for Positive {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer greater than 0")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            if v == 0 {
                Err(E::invalid_value(Unexpected::Unsigned(v), &self))
            } else {
                Ok(v)
            }
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<u64, E> {
            match v.trim().parse::<i64>() {
                Ok(n) => self.visit_i64(n),
                Err(_) => Err(E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    }

    fn of<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        let n = d.deserialize_any(Positive)?;
        T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large")))
    }

    pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        of(d)
    }

    pub fn usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        of(d)
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        of(d)
    }
}

/// Top-level keys whose value is a table; their `OMPS_<KEY>` override is a TOML inline table.
pub const TABLE_KEYS: &[&str] = &["organizations", "greenwave", "oci"];

/// Scalar keys that `OMPS_<KEY>` environment variables may override (the value as a string).
pub const SCALAR_KEYS: &[&str] = &[
    "log_level",
    "log_format",
    "max_content_length",
    "zipfile_max_uncompressed_size",
    "zipfile_max_entries",
    "koji_archive_max_size",
    "default_release_version",
    "kojihub_url",
    "kojiroot_url",
    "store",
    "data_dir",
    "quay_url",
    "request_timeout",
    "transfer_timeout",
    "connect_timeout",
    "ca_bundle",
    "listen",
    "max_concurrent_pushes",
    "max_version_attempts",
    "memory_budget",
    "max_queued_pushes",
    "admission_timeout",
    "spool_dir",
    "header_read_timeout",
    "keep_alive_timeout",
    "min_body_rate",
    "body_rate_grace",
    "max_connections",
    "min_free_bytes",
    "tokens_file",
    "anonymous_reads",
    "allow_anonymous_writes",
];

/// The default `memory_budget`: 96 MiB, so that a server at the default configuration stays
/// well under 200 MiB resident (docs/benchmarks.md).
pub const DEFAULT_MEMORY_BUDGET: u64 = 96 * 1024 * 1024;

/// The default `min_free_bytes`: 64 MiB, room for a few pushes at the default
/// `max_content_length`.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// Values given on the command line; they win over everything.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// The largest component of a release version. Bounded so that an automatic bump of the
/// highest release can never overflow (an explicit `18446744073709551615.0.0` would otherwise
/// leave every later automatic push of the package with nothing to bump to).
pub const MAX_VERSION_COMPONENT: u64 = 999_999_999;

/// Whether `v` is a strict `x.y.z` release version (no leading zeros, each part at most
/// [`MAX_VERSION_COMPONENT`]).
#[must_use]
pub fn is_strict_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u64>().is_ok_and(|n| n <= MAX_VERSION_COMPONENT)
        })
}

fn check_url(origin: &str, key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(ConfigError::invalid(
            origin,
            key,
            format!("{value:?} is not an http(s) URL"),
        )),
    }
}

impl Config {
    /// Loads `file` (TOML) if given, then applies `env` (`OMPS_*` variables) and `overrides`,
    /// and validates the result. Returns the config and warnings (ignored upstream keys).
    pub fn load(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let origin = file.map_or_else(|| "configuration".to_owned(), |p| p.display().to_string());
        let text = match file {
            Some(path) => strict_config::read_limited(path, &origin)?,
            None => String::new(),
        };
        let mut sources = Vec::new();
        let mut table: Option<toml::Table> = None;
        let mut set = |key: &str, value: toml::Value, source: String| -> Result<(), ConfigError> {
            let table = match &mut table {
                Some(t) => t,
                None => table.insert(strict_config::from_toml_str::<toml::Table>(&origin, &text)?),
            };
            table.insert(key.to_owned(), value);
            sources.push(source);
            Ok(())
        };
        for key in SCALAR_KEYS {
            let var = format!("OMPS_{}", key.to_ascii_uppercase());
            if let Some(value) = env.get(&var) {
                set(key, toml::Value::String(value.clone()), var)?;
            }
        }
        for key in TABLE_KEYS {
            let var = format!("OMPS_{}", key.to_ascii_uppercase());
            if let Some(value) = env.get(&var) {
                let parsed: toml::Table =
                    strict_config::from_toml_str(&var, &format!("value = {value}"))?;
                let value = parsed
                    .get("value")
                    .cloned()
                    .unwrap_or(toml::Value::Integer(0));
                if !value.is_table() {
                    return Err(ConfigError::invalid(
                        var,
                        "",
                        "expected a TOML inline table, e.g. { key = \"value\" }",
                    ));
                }
                set(key, value, var)?;
            }
        }
        if let Some(listen) = &overrides.listen {
            set(
                "listen",
                toml::Value::String(listen.clone()),
                "--listen".into(),
            )?;
        }
        if let Some(dir) = &overrides.data_dir {
            set(
                "data_dir",
                toml::Value::String(dir.display().to_string()),
                "--data-dir".into(),
            )?;
        }
        let (config, origin): (Config, String) = match table {
            // Without overrides the file is read as text, so errors carry line and column.
            None => (strict_config::from_toml_str(&origin, &text)?, origin),
            Some(table) => {
                let origin = format!("{origin} with {}", sources.join(", "));
                (
                    strict_config::from_toml_value(&origin, toml::Value::Table(table))?,
                    origin,
                )
            }
        };
        config.validate(&origin)
    }

    /// Parses and validates TOML text (tests and tools; the server uses [`Config::load`]).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse_toml("configuration", text).map(|(c, _)| c)
    }

    /// Parses and validates TOML text from `origin`, with the warnings.
    pub fn parse_toml(origin: &str, text: &str) -> Result<(Self, Vec<String>), ConfigError> {
        let config: Config = strict_config::from_toml_str(origin, text)?;
        config.validate(origin)
    }

    /// The cross-key rules, in one pass: URLs, versions, names, credentials that go together,
    /// rewrite templates, and a registry for every organization on the OCI store. Reads
    /// `oauth_token_file`s. Returns warnings for accepted-but-ignored upstream keys.
    pub fn validate(mut self, origin: &str) -> Result<(Self, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        for (key, present) in [
            ("debug", self.debug.is_some()),
            ("testing", self.testing.is_some()),
            ("secret_key", self.secret_key.is_some()),
        ] {
            if present {
                warnings.push(format!(
                    "{key}: upstream option has no meaning here; ignored"
                ));
            }
        }
        let level = self.log_level.to_ascii_uppercase();
        if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level.as_str()) {
            return Err(ConfigError::invalid(
                origin,
                "log_level",
                format!("{level:?} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
            ));
        }
        self.log_level = level;
        if !is_strict_version(&self.default_release_version) {
            return Err(ConfigError::invalid(
                origin,
                "default_release_version",
                format!(
                    "{:?} must be in format '<int>.<int>.<int>'",
                    self.default_release_version
                ),
            ));
        }
        for (key, value) in [
            ("kojihub_url", self.kojihub_url.as_deref()),
            ("kojiroot_url", self.kojiroot_url.as_deref()),
            ("quay_url", Some(self.quay_url.as_str())),
        ] {
            if let Some(v) = value {
                check_url(origin, key, v)?;
            }
        }
        if self.kojihub_url.is_some() && self.kojiroot_url.is_none() {
            return Err(ConfigError::invalid(
                origin,
                "kojiroot_url",
                "required when kojihub_url is set",
            ));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                origin,
                "listen",
                format!("{:?} is not an ADDRESS:PORT", self.listen),
            ));
        }
        if let Some(path) = &self.ca_bundle {
            if let Err(e) = std::fs::File::open(path) {
                return Err(ConfigError::invalid(
                    origin,
                    "ca_bundle",
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        }
        if let Some(g) = &self.greenwave {
            g.validate(origin)?;
        }
        if let Some(path) = &self.tokens_file {
            let tokens = crate::access::Tokens::load(path).map_err(|e| {
                ConfigError::invalid(origin, "tokens_file", format!("{}: {e}", path.display()))
            })?;
            self.tokens = Some(tokens);
        }
        if let Some(oci) = &mut self.oci {
            oci.validate(origin, "oci")?;
        }
        for (name, org) in &mut self.organizations {
            org.validate(origin, name)?;
        }
        let global_url = self.oci.as_ref().and_then(|o| o.registry_url.as_ref());
        if self.store == StoreKind::Oci && global_url.is_none() {
            return Err(ConfigError::invalid(
                origin,
                "oci.registry_url",
                "required when store = \"oci\"",
            ));
        }
        self.check_catalogs(origin)?;
        for (name, org) in &self.organizations {
            let own_url = org.oci.as_ref().and_then(|o| o.registry_url.as_ref());
            if self.store_for(name) == StoreKind::Oci && own_url.or(global_url).is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    format!("organizations.{name}.oci.registry_url"),
                    "required when the organization uses store = \"oci\" (or set oci.registry_url)",
                ));
            }
        }
        self.check_exposure(origin)?;
        Ok((self, warnings))
    }

    /// Every effective `catalog` is on its table's registry.
    fn check_catalogs(&self, origin: &str) -> Result<(), ConfigError> {
        let global_table = self.oci.clone().unwrap_or_default();
        global_table.check_catalog_host(origin, "oci")?;
        for (name, org) in &self.organizations {
            if let Some(own) = &org.oci {
                own.over(&global_table)
                    .check_catalog_host(origin, &format!("organizations.{name}.oci"))?;
            }
        }
        Ok(())
    }

    /// A local store reachable from other hosts without tokens lets anyone push and delete:
    /// refused unless `allow_anonymous_writes` says so.
    fn check_exposure(&self, origin: &str) -> Result<(), ConfigError> {
        let local = self.uses_local_store();
        let loopback = self
            .listen
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback());
        if local && !loopback && self.tokens.is_none() && !self.allow_anonymous_writes {
            return Err(ConfigError::invalid(
                origin,
                "tokens_file",
                format!(
                    "required when the local store listens on a non-loopback address ({}): without tokens anyone who reaches it can push and delete; set allow_anonymous_writes = true to accept that",
                    self.listen
                ),
            ));
        }
        Ok(())
    }

    /// Whether the local store serves any organization (the default store, or one's own).
    #[must_use]
    pub fn uses_local_store(&self) -> bool {
        self.store == StoreKind::Local
            || self
                .organizations
                .values()
                .any(|o| o.store == Some(StoreKind::Local))
    }

    /// Where this server spools: `<spool_dir or $TMPDIR>/omps-spool`.
    #[must_use]
    pub fn spool_root(&self) -> PathBuf {
        self.spool_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
            .join("omps-spool")
    }

    /// The store an organization uses.
    #[must_use]
    pub fn store_for(&self, org: &str) -> StoreKind {
        self.organizations
            .get(org)
            .and_then(|o| o.store)
            .unwrap_or(self.store)
    }

    /// The effective configuration as TOML, secrets redacted: what `--check-config` prints and
    /// the start-up log shows. It parses back to the same configuration (bar the secrets).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        strict_config::to_toml_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text)
    }

    fn key_of(text: &str) -> String {
        let e = parse(text).unwrap_err();
        e.key_path()
            .unwrap_or_else(|| panic!("{text}: no key in {e}"))
            .to_owned()
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.log_level, "INFO");
        assert_eq!(c.zipfile_max_uncompressed_size, 20 * 1024 * 1024);
        assert_eq!(c.max_content_length, 2 * 1024 * 1024);
        assert_eq!(c.default_release_version, "1.0.0");
        assert_eq!(
            (c.store, c.listen.as_str()),
            (StoreKind::Local, "127.0.0.1:8080")
        );
        assert!(c.kojihub_url.is_none() && c.greenwave.is_none() && c.organizations.is_empty());
    }

    #[test]
    fn log_level_and_sizes() {
        assert_eq!(parse("log_level = \"debug\"").unwrap().log_level, "DEBUG");
        for bad in [
            "log_level = \"INVALID\"",
            "log_level = 10",
            "log_level = true",
        ] {
            assert_eq!(key_of(bad), "log_level", "{bad}");
        }
        assert_eq!(
            parse("zipfile_max_uncompressed_size = 10")
                .unwrap()
                .zipfile_max_uncompressed_size,
            10
        );
        assert_eq!(
            key_of("zipfile_max_uncompressed_size = -10"),
            "zipfile_max_uncompressed_size"
        );
        assert_eq!(key_of("max_version_attempts = 0"), "max_version_attempts");
    }

    #[test]
    fn strict_versions() {
        for ok in ["1.2.3", "1.0.0", "0.0.0", "999999999.999999999.999999999"] {
            assert!(is_strict_version(ok), "{ok}");
        }
        for bad in [
            "1",
            "1.2",
            "1.2.3.4",
            "nope",
            "1-5.1.0",
            "-1.2.3",
            "+1.0.0",
            "a.b.c",
            "1.a.2",
            "1.01.0",
            "1.0.02",
            "0x1.0.0",
            "1.1.1a0",
            "1.0.0-2",
            "1.0.0\n",
            "99999999999999999999.0.0",
            "18446744073709551615.0.0",
            "1000000000.0.0",
            "1.0.1000000000",
        ] {
            assert!(!is_strict_version(bad), "{bad:?}");
        }
        assert_eq!(
            key_of("default_release_version = \"a.b.c\""),
            "default_release_version"
        );
    }

    #[test]
    fn organizations_validation() {
        let ok = parse(
            r#"
[organizations.public-org]
public = true
oauth_token = "secret-token"
replace_registry = [ { old = "a", new = "b" }, { old = "x$", new = "y", regexp = true } ]
[organizations."with.dot"]
package_name_suffix = "-test-suffix"
csv_annotations = [ { name = "package", value = "package.{package_name}" } ]
"#,
        )
        .unwrap();
        assert!(ok.organizations["public-org"].public);
        assert_eq!(
            ok.organizations["with.dot"]
                .rewrites()
                .package_name_suffix
                .as_deref(),
            Some("-test-suffix")
        );
        assert!(!ok.to_toml().unwrap().contains("secret-token"));
        for (bad, key) in [
            ("organizations = { x = [] }", "organizations.x"),
            ("[organizations.\"a/b\"]", "organizations.a/b"),
            ("[organizations.\".hidden\"]", "organizations..hidden"),
            (
                "[organizations.x]\npublic = \"No\"",
                "organizations.x.public",
            ),
            (
                "[organizations.x]\noauth_token = 10",
                "organizations.x.oauth_token",
            ),
            (
                "[organizations.x]\nreplace_registry = { old = \"a\", new = \"b\" }",
                "organizations.x.replace_registry",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"a\" } ]",
                "organizations.x.replace_registry[0].new",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { regexp = false } ]",
                "organizations.x.replace_registry[0].old",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"a\", new = \"b\", regexp = \"yes\" } ]",
                "organizations.x.replace_registry[0].regexp",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"a\", new = \"b\", regex = true } ]",
                "organizations.x.replace_registry[0].regex",
            ),
            (
                "[organizations.x]\npublic = true",
                "organizations.x.oauth_token",
            ),
            (
                "[organizations.x]\ncsv_annotations = [ { name = \"a\", value = \"{other}\" } ]",
                "organizations.x",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"(?<=a)b\", new = \"c\", regexp = true } ]",
                "organizations.x",
            ),
        ] {
            assert_eq!(key_of(bad), key, "{bad}");
        }
    }

    #[test]
    fn oauth_token_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "file-token\n").unwrap();
        let c = parse(&format!(
            "[organizations.x]\npublic = true\noauth_token_file = {:?}",
            file.display().to_string()
        ))
        .unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(c.organizations["x"].oauth_token().unwrap()),
            "file-token"
        );
        // The printed configuration names the file, never the token, and loads again.
        let printed = c.to_toml().unwrap();
        assert!(!printed.contains("file-token") && printed.contains("oauth_token_file"));
        parse(&printed).unwrap();
        assert_eq!(
            key_of("[organizations.x]\noauth_token_file = \"/nonexistent/token\""),
            "organizations.x.oauth_token_file"
        );
    }

    #[test]
    fn greenwave_validation() {
        let c = parse(
            "[greenwave]\nurl = \"https://gw.example\"\ncontext = \"c\"\nproduct_version = \"p\"",
        )
        .unwrap();
        assert_eq!(c.greenwave.unwrap().context, "c");
        for (bad, key) in [
            ("[greenwave]", "greenwave.url"),
            (
                "[greenwave]\nurl = \"https://g\"\ncontext = \"c\"",
                "greenwave.product_version",
            ),
            (
                "greenwave = { url = \"https://g\", context = \"c\", product_version = 1 }",
                "greenwave.product_version",
            ),
            (
                "greenwave = { url = \"https://g\", context = \"c\", product_version = \"p\", extra = 1 }",
                "greenwave.extra",
            ),
            (
                "greenwave = { url = \"ftp://g\", context = \"c\", product_version = \"p\" }",
                "greenwave.url",
            ),
        ] {
            assert_eq!(key_of(bad), key, "{bad}");
        }
    }

    #[test]
    fn environment_and_flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("omps.toml");
        std::fs::write(
            &file,
            "max_content_length = 100\nlisten = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let env = BTreeMap::from([
            ("OMPS_MAX_CONTENT_LENGTH".to_owned(), "200".to_owned()),
            ("OMPS_LISTEN".to_owned(), "127.0.0.1:2".to_owned()),
            (
                "OMPS_GREENWAVE".to_owned(),
                "{ url = \"https://gw\", context = \"c\", product_version = \"p\" }".to_owned(),
            ),
        ]);
        let (c, _) = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(
            (c.max_content_length, c.listen.as_str()),
            (200, "127.0.0.1:2")
        );
        assert_eq!(c.greenwave.unwrap().url, "https://gw");
        let flags = Overrides {
            listen: Some("127.0.0.1:3".into()),
            data_dir: Some("/tmp/x".into()),
        };
        let (c, _) = Config::load(Some(&file), &env, &flags).unwrap();
        assert_eq!(
            (c.listen.as_str(), c.data_dir.to_str().unwrap()),
            ("127.0.0.1:3", "/tmp/x")
        );
        let bad_env = BTreeMap::from([("OMPS_REQUEST_TIMEOUT".to_owned(), "soon".to_owned())]);
        let e = Config::load(None, &bad_env, &Overrides::default()).unwrap_err();
        assert_eq!(e.key_path(), Some("request_timeout"));
        assert!(e.to_string().contains("OMPS_REQUEST_TIMEOUT"), "{e}");
        let bad_table = BTreeMap::from([("OMPS_OCI".to_owned(), "{ registry = 1 }".to_owned())]);
        let e = Config::load(None, &bad_table, &Overrides::default()).unwrap_err();
        assert_eq!(e.key_path(), Some("oci.registry"), "{e}");
        let not_table = BTreeMap::from([("OMPS_OCI".to_owned(), "3".to_owned())]);
        let e = Config::load(None, &not_table, &Overrides::default()).unwrap_err();
        assert!(e.to_string().starts_with("OMPS_OCI"), "{e}");
    }

    #[test]
    fn oci_store_settings() {
        let c = parse(
            "store = \"oci\"\n[oci]\nregistry_url = \"https://r.example/\"\npassword = \"pw-secret\"\nusername = \"u\"\n[organizations.team]\nstore = \"oci\"\noci = { namespace = \"ns\", tag_policy = \"release\" }",
        )
        .unwrap();
        assert_eq!(
            (c.store, c.store_for("team")),
            (StoreKind::Oci, StoreKind::Oci)
        );
        assert_eq!(
            c.oci.as_ref().unwrap().registry_url.as_deref(),
            Some("https://r.example")
        );
        let text = c.to_toml().unwrap();
        assert!(
            text.contains("https://r.example") && !text.contains("pw-secret"),
            "{text}"
        );
        for (bad, key) in [
            ("store = \"oci\"", "oci.registry_url"),
            (
                "[organizations.x]\nstore = \"oci\"",
                "organizations.x.oci.registry_url",
            ),
            (
                "[organizations.x]\noci = { registry_url = \"nope\" }",
                "organizations.x.oci.registry_url",
            ),
            ("[oci]\ntag_policy = 1", "oci.tag_policy"),
            ("[oci]\ntag_policy = \"latest\"", "oci.tag_policy"),
            ("[oci]\nnamespace = \"Upper\"", "oci.namespace"),
            ("[oci]\nrepository = \"bundle\"", "oci.repository"),
            ("[oci]\nrepository = \"{repo}/{repo}\"", "oci.repository"),
            ("[oci]\nusername = \"u\"", "oci.password"),
            ("[oci]\npassword = \"p\"", "oci.username"),
            (
                "[oci]\nusername = \"u\"\npassword = \"p\"\ntoken = \"t\"",
                "oci.token",
            ),
            ("[oci]\nquay = \"yes\"", "oci.quay"),
            ("[oci]\ncolour = \"blue\"", "oci.colour"),
            ("store = \"docker\"", "store"),
        ] {
            assert_eq!(key_of(bad), key, "{bad}");
        }
        // An organization on another store needs no registry.
        parse("[organizations.x]\nstore = \"local\"").unwrap();
    }

    #[test]
    fn org_oci_settings_override_the_global_ones_key_by_key() {
        let c = parse(
            "[oci]\nregistry_url = \"https://r.example\"\ntoken = \"t\"\n[organizations.x.oci]\nnamespace = \"team\"\nusername = \"u\"\npassword = \"p\"",
        )
        .unwrap();
        let merged = c.organizations["x"]
            .oci
            .as_ref()
            .unwrap()
            .over(c.oci.as_ref().unwrap());
        assert_eq!(merged.registry_url.as_deref(), Some("https://r.example"));
        assert_eq!(merged.namespace.as_deref(), Some("team"));
        assert!(merged.token.is_none(), "credentials never mix");
        assert_eq!(merged.username.as_deref(), Some("u"));
    }

    #[test]
    fn unknown_keys_refuse_at_every_level() {
        let e = parse("max_content_lenght = 5").unwrap_err();
        assert_eq!(e.key_path(), Some("max_content_lenght"));
        assert!(
            e.to_string().contains("did you mean `max_content_length`"),
            "{e}"
        );
        assert_eq!(
            key_of("[organizations.x]\npublik = true"),
            "organizations.x.publik"
        );
        assert_eq!(
            key_of(
                "[[organizations.x.csv_annotations]]\nname = \"a\"\nvalue = \"b\"\nvalu = \"c\""
            ),
            "organizations.x.csv_annotations[0].valu"
        );
        // Upstream keys load with a warning.
        let (_, warnings) = Config::parse_toml("t", "secret_key = \"x\"\ndebug = true").unwrap();
        assert_eq!(warnings.len(), 2);
        assert_eq!(key_of("kojihub_url = \"https://koji\""), "kojiroot_url");
    }

    #[test]
    fn printed_configuration_round_trips() {
        let c = parse(
            "store = \"oci\"\nkojihub_url = \"https://koji\"\nkojiroot_url = \"https://kojifiles\"\n\
             [oci]\nregistry_url = \"https://r.example\"\ntoken = \"t0k\"\n\
             [greenwave]\nurl = \"https://gw\"\ncontext = \"c\"\nproduct_version = \"p\"\n\
             [organizations.a]\npublic = true\noauth_token = \"s3\"\nreplace_registry = [ { old = \"a\", new = \"b\" } ]\n",
        )
        .unwrap();
        let printed = c.to_toml().unwrap();
        assert!(
            !printed.contains("t0k") && !printed.contains("s3\""),
            "{printed}"
        );
        let again = parse(&printed).unwrap().to_toml().unwrap();
        assert_eq!(again, printed);
    }
}
