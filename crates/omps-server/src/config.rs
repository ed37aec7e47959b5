//! Configuration: an optional TOML file, `OMPS_*` environment overrides and command-line flags,
//! validated once at start-up with errors that name the key.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use manifest_bundle::{CsvAnnotation, RegistryRule, RewriteConfig};
use secrecy::SecretString;

/// A configuration error; the message names the offending key.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Where releases are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// The embedded filesystem store under `data_dir`.
    Local,
    /// An App Registry (CNR) at `quay_url`.
    AppRegistry,
    /// Operator bundle images in an OCI registry (`[oci]` settings).
    Oci,
}

impl StoreKind {
    fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        match value {
            "local" => Ok(StoreKind::Local),
            "app-registry" => Ok(StoreKind::AppRegistry),
            "oci" => Ok(StoreKind::Oci),
            other => err(format!(
                "{key}: unknown store {other:?} (expected \"local\", \"app-registry\" or \"oci\")"
            )),
        }
    }

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Per-organization settings.
#[derive(Debug, Clone, Default)]
pub struct OrgConfig {
    /// Make repositories public after every push.
    pub public: bool,
    /// Quay OAuth token for the visibility change (never logged).
    pub oauth_token: Option<SecretString>,
    /// Rewrites applied to the manifests.
    pub rewrites: RewriteConfig,
    /// Store override for this organization.
    pub store: Option<StoreKind>,
    /// OCI store settings overriding the global `[oci]` table.
    pub oci: Option<crate::oci_store::OciConfig>,
}

/// Greenwave gate settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreenwaveConfig {
    /// Base URL.
    pub url: String,
    /// `decision_context`.
    pub context: String,
    /// `product_version`.
    pub product_version: String,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Request body limit in bytes.
    pub max_content_length: u64,
    /// Uncompressed zip limit in bytes (actual bytes).
    pub zipfile_max_uncompressed_size: u64,
    /// Zip entry limit.
    pub zipfile_max_entries: usize,
    /// Cap on the Koji archive download.
    pub koji_archive_max_size: u64,
    /// Version used when a package has no valid release.
    pub default_release_version: String,
    /// Koji hub (Koji disabled when absent).
    pub kojihub_url: Option<String>,
    /// Koji file root.
    pub kojiroot_url: Option<String>,
    /// Default store.
    pub store: StoreKind,
    /// Local store directory.
    pub data_dir: PathBuf,
    /// Quay base URL for `/cnr` and `/api/v1`.
    pub quay_url: String,
    /// Organizations.
    pub organizations: BTreeMap<String, OrgConfig>,
    /// Greenwave gate (disabled when absent).
    pub greenwave: Option<GreenwaveConfig>,
    /// OCI store defaults (`[oci]`).
    pub oci: Option<crate::oci_store::OciConfig>,
    /// Seconds for every API call.
    pub request_timeout: u64,
    /// Seconds for pushes and downloads.
    pub transfer_timeout: u64,
    /// Seconds to connect.
    pub connect_timeout: u64,
    /// Extra PEM roots for outbound TLS.
    pub ca_bundle: Option<PathBuf>,
    /// Listen address.
    pub listen: String,
    /// Concurrent CPU-bound push work.
    pub max_concurrent_pushes: usize,
    /// Attempts for an automatic version when the store reports "release exists".
    pub max_version_attempts: u32,
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
            organizations: BTreeMap::new(),
            greenwave: None,
            oci: None,
            request_timeout: 30,
            transfer_timeout: 120,
            connect_timeout: 10,
            ca_bundle: None,
            listen: "127.0.0.1:8080".into(),
            max_concurrent_pushes: 8,
            max_version_attempts: 10,
        }
    }
}

/// Scalar keys that `OMPS_<KEY>` environment variables may override.
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
];

const IGNORED_UPSTREAM_KEYS: &[&str] = &["debug", "testing", "secret_key"];

/// Values given on the command line; they win over everything.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// Whether `v` is a strict `x.y.z` release version (no leading zeros, parts fit in `u64`).
#[must_use]
pub fn is_strict_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u64>().is_ok()
        })
}

impl Config {
    /// Loads `file` (TOML) if given, then applies `env` (`OMPS_*` variables) and `overrides`.
    /// Returns the config and warnings (unknown keys).
    pub fn load(
        file: Option<&std::path::Path>,
        env: &BTreeMap<String, String>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for key in SCALAR_KEYS {
            if let Some(value) = env.get(&format!("OMPS_{}", key.to_ascii_uppercase())) {
                table.insert((*key).to_owned(), toml::Value::String(value.clone()));
            }
        }
        if let Some(listen) = &overrides.listen {
            table.insert("listen".into(), toml::Value::String(listen.clone()));
        }
        if let Some(dir) = &overrides.data_dir {
            table.insert(
                "data_dir".into(),
                toml::Value::String(dir.display().to_string()),
            );
        }
        Self::from_table(&table)
    }

    /// Builds and validates a configuration from a parsed table (environment values arrive as
    /// strings and are converted).
    pub fn from_table(table: &toml::Table) -> Result<(Self, Vec<String>), ConfigError> {
        let mut c = Config::default();
        let mut warnings = Vec::new();
        for (key, value) in table {
            match key.as_str() {
                "log_level" => {
                    let v = string(key, value)?.to_ascii_uppercase();
                    if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&v.as_str()) {
                        return err(format!(
                            "log_level: {v:?} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
                        ));
                    }
                    c.log_level = v;
                }
                "log_format" => {
                    c.log_format = match string(key, value)?.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        other => {
                            return err(format!(
                                "log_format: {other:?} is not \"text\" or \"json\""
                            ));
                        }
                    }
                }
                "max_content_length" => c.max_content_length = positive(key, value)?,
                "zipfile_max_uncompressed_size" => {
                    c.zipfile_max_uncompressed_size = positive(key, value)?;
                }
                "zipfile_max_entries" => {
                    c.zipfile_max_entries = usize_of(key, positive(key, value)?)?;
                }
                "koji_archive_max_size" => c.koji_archive_max_size = positive(key, value)?,
                "default_release_version" => {
                    let v = string(key, value)?;
                    if !is_strict_version(&v) {
                        return err(format!(
                            "default_release_version: {v:?} must be in format '<int>.<int>.<int>'"
                        ));
                    }
                    c.default_release_version = v;
                }
                "kojihub_url" => c.kojihub_url = Some(url_string(key, value)?),
                "kojiroot_url" => c.kojiroot_url = Some(url_string(key, value)?),
                "store" => c.store = StoreKind::parse(key, &string(key, value)?)?,
                "data_dir" => c.data_dir = PathBuf::from(string(key, value)?),
                "quay_url" => c.quay_url = url_string(key, value)?,
                "request_timeout" => c.request_timeout = positive(key, value)?,
                "transfer_timeout" => c.transfer_timeout = positive(key, value)?,
                "connect_timeout" => c.connect_timeout = positive(key, value)?,
                "ca_bundle" => c.ca_bundle = Some(PathBuf::from(string(key, value)?)),
                "listen" => {
                    let v = string(key, value)?;
                    if v.parse::<std::net::SocketAddr>().is_err() {
                        return err(format!("listen: {v:?} is not an ADDRESS:PORT"));
                    }
                    c.listen = v;
                }
                "max_concurrent_pushes" => {
                    c.max_concurrent_pushes = usize_of(key, positive(key, value)?)?;
                }
                "max_version_attempts" => {
                    c.max_version_attempts = u32::try_from(positive(key, value)?)
                        .map_err(|_| ConfigError(format!("{key}: too large")))?;
                }
                "organizations" => c.organizations = organizations(value)?,
                "greenwave" => c.greenwave = Some(greenwave(value)?),
                "oci" => c.oci = Some(crate::oci_store::OciConfig::parse("oci", value)?),
                k if IGNORED_UPSTREAM_KEYS.contains(&k) => {
                    warnings.push(format!("{k}: upstream option has no meaning here; ignored"));
                }
                other => warnings.push(format!("{other}: unknown configuration key; ignored")),
            }
        }
        if c.kojihub_url.is_some() && c.kojiroot_url.is_none() {
            return err("kojiroot_url: required when kojihub_url is set");
        }
        c.check_oci()?;
        Ok((c, warnings))
    }

    /// Every organization (and the default) that uses the OCI store has a registry URL.
    fn check_oci(&self) -> Result<(), ConfigError> {
        let global_url = self.oci.as_ref().and_then(|o| o.registry_url.as_ref());
        if self.store == StoreKind::Oci && global_url.is_none() {
            return err("oci.registry_url: required when store = \"oci\"");
        }
        for (name, org) in &self.organizations {
            let own_url = org.oci.as_ref().and_then(|o| o.registry_url.as_ref());
            if self.store_for(name) == StoreKind::Oci && own_url.or(global_url).is_none() {
                return err(format!(
                    "organizations.{name}.oci.registry_url: required when the organization uses store = \"oci\" (or set oci.registry_url)"
                ));
            }
        }
        Ok(())
    }

    /// The store an organization uses.
    #[must_use]
    pub fn store_for(&self, org: &str) -> StoreKind {
        self.organizations
            .get(org)
            .and_then(|o| o.store)
            .unwrap_or(self.store)
    }

    /// The effective configuration as TOML-like text with secrets redacted, for the start-up log.
    pub fn redacted(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "log_level = {:?}\nlog_format = {:?}",
            self.log_level,
            format!("{:?}", self.log_format).to_lowercase()
        );
        let _ = writeln!(
            out,
            "max_content_length = {}\nzipfile_max_uncompressed_size = {}",
            self.max_content_length, self.zipfile_max_uncompressed_size
        );
        let _ = writeln!(
            out,
            "zipfile_max_entries = {}\nkoji_archive_max_size = {}",
            self.zipfile_max_entries, self.koji_archive_max_size
        );
        let _ = writeln!(
            out,
            "default_release_version = {:?}",
            self.default_release_version
        );
        let _ = writeln!(
            out,
            "kojihub_url = {:?}\nkojiroot_url = {:?}",
            self.kojihub_url, self.kojiroot_url
        );
        let _ = writeln!(
            out,
            "store = {:?}\ndata_dir = {:?}\nquay_url = {:?}",
            self.store.as_str(),
            self.data_dir.display().to_string(),
            self.quay_url
        );
        let _ = writeln!(
            out,
            "request_timeout = {}\ntransfer_timeout = {}\nconnect_timeout = {}",
            self.request_timeout, self.transfer_timeout, self.connect_timeout
        );
        let _ = writeln!(
            out,
            "ca_bundle = {:?}\nlisten = {:?}",
            self.ca_bundle, self.listen
        );
        let _ = writeln!(
            out,
            "max_concurrent_pushes = {}\nmax_version_attempts = {}",
            self.max_concurrent_pushes, self.max_version_attempts
        );
        if let Some(g) = &self.greenwave {
            let _ = writeln!(
                out,
                "greenwave = {{ url = {:?}, context = {:?}, product_version = {:?} }}",
                g.url, g.context, g.product_version
            );
        }
        if let Some(oci) = &self.oci {
            let _ = writeln!(out, "oci = {{ {} }}", oci.redacted());
        }
        for (name, org) in &self.organizations {
            if let Some(oci) = &org.oci {
                let _ = writeln!(out, "[organizations.{name:?}.oci] {}", oci.redacted());
            }
            let _ = writeln!(
                out,
                "[organizations.{name:?}] public = {}, oauth_token = {}, replace_registry = {} rule(s), package_name_suffix = {:?}, csv_annotations = {}, store = {:?}",
                org.public,
                if org.oauth_token.is_some() {
                    "\"<redacted>\""
                } else {
                    "none"
                },
                org.rewrites.replace_registry.len(),
                org.rewrites.package_name_suffix,
                org.rewrites.csv_annotations.len(),
                org.store.map(StoreKind::as_str),
            );
        }
        out
    }
}

fn string(key: &str, value: &toml::Value) -> Result<String, ConfigError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        other => err(format!(
            "{key}: expected a string, got {}",
            other.type_str()
        )),
    }
}

fn url_string(key: &str, value: &toml::Value) -> Result<String, ConfigError> {
    let s = string(key, value)?;
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(s),
        _ => err(format!("{key}: {s:?} is not an http(s) URL")),
    }
}

/// A positive integer, given as a TOML integer or (from the environment) a string.
fn positive(key: &str, value: &toml::Value) -> Result<u64, ConfigError> {
    let n = match value {
        toml::Value::Integer(i) => *i,
        toml::Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ConfigError(format!("{key}: {s:?} is not an integer")))?,
        other => {
            return err(format!(
                "{key}: expected an integer, got {}",
                other.type_str()
            ));
        }
    };
    if n <= 0 {
        return err(format!("{key}: must be greater than 0, got {n}"));
    }
    Ok(n.unsigned_abs())
}

fn usize_of(key: &str, n: u64) -> Result<usize, ConfigError> {
    usize::try_from(n).map_err(|_| ConfigError(format!("{key}: too large")))
}

fn boolean(key: &str, value: &toml::Value) -> Result<bool, ConfigError> {
    match value {
        toml::Value::Boolean(b) => Ok(*b),
        other => err(format!(
            "{key}: expected a boolean, got {}",
            other.type_str()
        )),
    }
}

fn valid_org_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && name.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn organizations(value: &toml::Value) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    let toml::Value::Table(table) = value else {
        return err("organizations: expected a table");
    };
    let mut out = BTreeMap::new();
    for (name, settings) in table {
        let at = |k: &str| format!("organizations.{name}.{k}");
        if !valid_org_name(name) {
            return err(format!(
                "organizations: {name:?} is not a valid organization name"
            ));
        }
        let toml::Value::Table(settings) = settings else {
            return err(format!("organizations.{name}: expected a table"));
        };
        let mut org = OrgConfig::default();
        for (key, v) in settings {
            match key.as_str() {
                "public" => org.public = boolean(&at(key), v)?,
                "oauth_token" => org.oauth_token = Some(SecretString::from(string(&at(key), v)?)),
                // A file holding the token (first line), e.g. a mounted Kubernetes Secret.
                "oauth_token_file" => {
                    let path = string(&at(key), v)?;
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        ConfigError(format!("{}: cannot read {path}: {e}", at(key)))
                    })?;
                    let token = text.lines().next().unwrap_or_default().trim().to_owned();
                    if token.is_empty() {
                        return err(format!("{}: {path} is empty", at(key)));
                    }
                    org.oauth_token = Some(SecretString::from(token));
                }
                "package_name_suffix" => {
                    org.rewrites.package_name_suffix = Some(string(&at(key), v)?);
                }
                "store" => org.store = Some(StoreKind::parse(&at(key), &string(&at(key), v)?)?),
                "oci" => org.oci = Some(crate::oci_store::OciConfig::parse(&at(key), v)?),
                "replace_registry" => {
                    let toml::Value::Array(items) = v else {
                        return err(format!("{}: expected an array", at(key)));
                    };
                    for (i, item) in items.iter().enumerate() {
                        let item_key = format!("{}[{i}]", at(key));
                        let toml::Value::Table(t) = item else {
                            return err(format!("{item_key}: expected a table"));
                        };
                        let old = t.get("old").ok_or_else(|| {
                            ConfigError(format!("{item_key}: \"old\" is required"))
                        })?;
                        let new = t.get("new").ok_or_else(|| {
                            ConfigError(format!("{item_key}: \"new\" is required"))
                        })?;
                        let regexp = t
                            .get("regexp")
                            .map(|r| boolean(&format!("{item_key}.regexp"), r))
                            .transpose()?
                            .unwrap_or(false);
                        org.rewrites.replace_registry.push(RegistryRule {
                            old: string(&format!("{item_key}.old"), old)?,
                            new: string(&format!("{item_key}.new"), new)?,
                            regexp,
                        });
                    }
                }
                "csv_annotations" => {
                    let toml::Value::Array(items) = v else {
                        return err(format!("{}: expected an array", at(key)));
                    };
                    for (i, item) in items.iter().enumerate() {
                        let item_key = format!("{}[{i}]", at(key));
                        let toml::Value::Table(t) = item else {
                            return err(format!("{item_key}: expected a table"));
                        };
                        let get = |k: &str| {
                            t.get(k)
                                .ok_or_else(|| {
                                    ConfigError(format!("{item_key}: \"{k}\" is required"))
                                })
                                .and_then(|v| string(&format!("{item_key}.{k}"), v))
                        };
                        org.rewrites.csv_annotations.push(CsvAnnotation {
                            name: get("name")?,
                            value: get("value")?,
                        });
                    }
                }
                other => return err(format!("{}: unknown organization setting", at(other))),
            }
        }
        if org.public && org.oauth_token.is_none() {
            return err(format!(
                "organizations.{name}.oauth_token: required when public = true"
            ));
        }
        // Compile now so bad patterns and templates stop the start-up.
        manifest_bundle::Rewrites::compile(name, &org.rewrites)
            .map_err(|e| ConfigError(e.to_string()))?;
        out.insert(name.clone(), org);
    }
    Ok(out)
}

fn greenwave(value: &toml::Value) -> Result<GreenwaveConfig, ConfigError> {
    let toml::Value::Table(t) = value else {
        return err("greenwave: expected a table with url, context and product_version");
    };
    let get = |k: &str| -> Result<String, ConfigError> {
        let v = t
            .get(k)
            .ok_or_else(|| ConfigError(format!("greenwave.{k}: required")))?;
        let s = string(&format!("greenwave.{k}"), v)?;
        if s.is_empty() {
            return err(format!("greenwave.{k}: must not be empty"));
        }
        Ok(s)
    };
    let url = get("url")?;
    url_string("greenwave.url", &toml::Value::String(url.clone()))?;
    Ok(GreenwaveConfig {
        url,
        context: get("context")?,
        product_version: get("product_version")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_table(&text.parse::<toml::Table>().unwrap()).map(|(c, _)| c)
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
            assert!(parse(bad).unwrap_err().0.starts_with("log_level"), "{bad}");
        }
        assert_eq!(
            parse("zipfile_max_uncompressed_size = 10")
                .unwrap()
                .zipfile_max_uncompressed_size,
            10
        );
        assert!(
            parse("zipfile_max_uncompressed_size = -10")
                .unwrap_err()
                .0
                .contains("zipfile_max_uncompressed_size")
        );
    }

    #[test]
    fn strict_versions() {
        for ok in ["1.2.3", "1.0.0", "0.0.0"] {
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
        ] {
            assert!(!is_strict_version(bad), "{bad:?}");
        }
        assert!(
            parse("default_release_version = \"a.b.c\"")
                .unwrap_err()
                .0
                .contains("default_release_version")
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
                .rewrites
                .package_name_suffix
                .as_deref(),
            Some("-test-suffix")
        );
        assert!(!ok.redacted().contains("secret-token"));
        for (bad, key) in [
            ("organizations = { x = [] }", "organizations.x"),
            ("[organizations.\"a/b\"]", "organizations"),
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
                "organizations.x.replace_registry[0]",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { regexp = false } ]",
                "organizations.x.replace_registry[0]",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"a\", new = \"b\", regexp = \"yes\" } ]",
                "organizations.x.replace_registry[0].regexp",
            ),
            (
                "[organizations.x]\npublic = true",
                "organizations.x.oauth_token",
            ),
            (
                "[organizations.x]\ncsv_annotations = [ { name = \"a\", value = \"{other}\" } ]",
                "organization x",
            ),
            (
                "[organizations.x]\nreplace_registry = [ { old = \"(?<=a)b\", new = \"c\", regexp = true } ]",
                "organization x",
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.0.contains(key), "{bad}: {e}");
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
            secrecy::ExposeSecret::expose_secret(
                c.organizations["x"].oauth_token.as_ref().unwrap()
            ),
            "file-token"
        );
        let missing =
            parse("[organizations.x]\noauth_token_file = \"/nonexistent/token\"").unwrap_err();
        assert!(
            missing.0.starts_with("organizations.x.oauth_token_file"),
            "{missing}"
        );
    }

    #[test]
    fn greenwave_validation() {
        let c = parse("[greenwave]\nurl = \"https://gw.example\"\ncontext = \"c\"\nproduct_version = \"p\"\nextra = 1").unwrap();
        assert_eq!(c.greenwave.unwrap().context, "c");
        for bad in [
            "[greenwave]",
            "[greenwave]\nurl = \"https://g\"\ncontext = \"c\"",
            "greenwave = { url = \"https://g\", context = \"c\", product_version = 1 }",
        ] {
            assert!(parse(bad).unwrap_err().0.starts_with("greenwave"), "{bad}");
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
        ]);
        let (c, _) = Config::load(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(
            (c.max_content_length, c.listen.as_str()),
            (200, "127.0.0.1:2")
        );
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
        assert!(
            Config::load(None, &bad_env, &Overrides::default())
                .unwrap_err()
                .0
                .starts_with("request_timeout")
        );
    }

    #[test]
    fn oci_store_settings() {
        let c = parse(
            "store = \"oci\"\n[oci]\nregistry_url = \"https://r.example\"\npassword = \"pw-secret\"\nusername = \"u\"\n[organizations.team]\nstore = \"oci\"\noci = { namespace = \"ns\", tag_policy = \"release\" }",
        )
        .unwrap();
        assert_eq!(
            (c.store, c.store_for("team")),
            (StoreKind::Oci, StoreKind::Oci)
        );
        assert!(c.organizations["team"].oci.is_some());
        let text = c.redacted();
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
            ("store = \"docker\"", "store"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.0.starts_with(key), "{bad}: {e}");
        }
        // An organization on another store needs no registry.
        parse("[organizations.x]\nstore = \"local\"").unwrap();
    }

    #[test]
    fn unknown_keys_warn() {
        let (_, warnings) = Config::from_table(
            &"SECRET_KEY = \"x\"\nsomething = 1"
                .to_lowercase()
                .parse::<toml::Table>()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(
            parse("kojihub_url = \"https://koji\"")
                .unwrap_err()
                .0
                .starts_with("kojiroot_url")
        );
    }
}
