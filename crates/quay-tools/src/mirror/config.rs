//! Sync configuration: this project's format and the original `quay_sync` files (both key
//! generations), detected from the keys present and validated before any network call.

use std::collections::BTreeSet;
use std::path::PathBuf;

use secrecy::SecretString;
use url::Url;

use quay_client::ImageReference;

use super::parse_repository;
use crate::ToolsError;
use crate::credentials::{self, EnvLookup, SecretOrigin};

/// Which layout a configuration file used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigFormat {
    /// This project's format (`servers:`, `tls:`, `sync:`).
    Omps,
    /// The original tool's first key names (`source_*` / `destination_*`).
    QuaySyncSource,
    /// The original tool's later key names (`primary_*` / `secondary_*`).
    QuaySyncPrimary,
}

/// One side of a sync.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Registry base URL (also the Quay API base unless `api_url` is set).
    pub url: Url,
    /// Quay API base URL when it differs from `url`.
    pub api_url: Option<Url>,
    /// OAuth token for the Quay REST API; without it no API call is made on this side.
    pub api_token: Option<SecretString>,
    /// Registry user name (robot `org+name`, a user, or `$oauthtoken`).
    pub registry_username: Option<String>,
    /// Registry password or token.
    pub registry_password: Option<SecretString>,
}

impl ServerConfig {
    /// A server with only a URL (anonymous registry access, no API).
    pub fn new(url: Url) -> Self {
        Self {
            url,
            api_url: None,
            api_token: None,
            registry_username: None,
            registry_password: None,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url.as_str())
            .field("api_url", &self.api_url.as_ref().map(Url::as_str))
            .field("api_token", &self.api_token.as_ref().map(|_| "[REDACTED]"))
            .field("registry_username", &self.registry_username)
            .field(
                "registry_password",
                &self.registry_password.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// A parsed, validated sync configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // mirrors the file's switches one to one
pub struct MirrorConfig {
    /// The layout the file used.
    pub format: ConfigFormat,
    /// Where images are read (after applying `failover`).
    pub source: ServerConfig,
    /// Where images are written (after applying `failover`).
    pub destination: ServerConfig,
    /// Whether the file asked to swap the roles (already applied to `source`/`destination`).
    pub failover: bool,
    /// Configured `<org>/<repo>[:<tag>]` entries.
    pub repositories: Vec<ImageReference>,
    /// Discover repositories on the source instead of (or besides) the list.
    pub auto_discovery: bool,
    /// Keep going after a failed image.
    pub skip_broken_images: bool,
    /// Images copied in parallel.
    pub concurrency: Option<usize>,
    /// Organizations to discover (empty: every visible one).
    pub organizations: Vec<String>,
    /// Tag patterns (`*` and `?` globs); empty: every tag.
    pub tags: Vec<String>,
    /// Extra trusted CA certificates (PEM file).
    pub ca_bundle: Option<PathBuf>,
    /// Turn TLS verification off for every client.
    pub insecure_skip_verify: bool,
    /// Non-fatal findings (literal secrets in the file, ignored management keys).
    pub warnings: Vec<String>,
}

/// Normalises a server given as a bare `host[:port]` or a URL: bare names get `https://`.
/// Parsed with a URL parser, so host names are never mangled (the original stripped the
/// characters of `https://` from both ends).
pub fn normalize_server(value: &str) -> Result<Url, ToolsError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ToolsError::Config("server name is empty".into()));
    }
    let with_scheme = if v.contains("://") {
        v.to_owned()
    } else {
        format!("https://{v}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| ToolsError::Config(format!("invalid server {v:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ToolsError::Config(format!(
            "server {v:?} must use http or https"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ToolsError::Config(format!("server {v:?} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ToolsError::Config(format!(
            "server {} must not carry credentials in the URL",
            url.host_str().unwrap_or("")
        )));
    }
    Ok(url)
}

/// Keys of the original management tool that may sit in the same file; the sync ignores them.
const ORIGINAL_MANAGEMENT_KEYS: &[&str] = &[
    "proxycache",
    "robot_config",
    "quay_init_config",
    "openshift_api_url",
    "openshift_username",
    "openshift_password",
    "openshift_yaml_dir",
    "initialize_username",
    "initialize_password",
    "initialize_email",
    "organizations",
    "quay_admin_org",
    "quay_secret_options",
    "primary_quay_namespace",
    "secondary_quay_namespace",
    "primary_quay_init_config",
    "secondary_quay_init_config",
    "destination_quay_email",
    "primary_quay_email",
    "secondary_quay_email",
];

/// Management keys of this project's format that the sync ignores.
const OMPS_MANAGEMENT_KEYS: &[&str] = &["initialize", "organizations", "robots", "proxycache"];

/// Collects every problem of a file so they are reported at once.
#[derive(Default)]
struct Problems {
    missing: Vec<String>,
    other: Vec<String>,
}

impl Problems {
    fn missing(&mut self, key: &str, kind: &str, description: &str) {
        self.missing
            .push(format!("  {key} ({kind}): {description}"));
    }

    fn into_result(self) -> Result<(), ToolsError> {
        if self.missing.is_empty() && self.other.is_empty() {
            return Ok(());
        }
        let mut msg = String::from("invalid sync configuration");
        if !self.missing.is_empty() {
            msg.push_str("\nmissing keys:\n");
            msg.push_str(&self.missing.join("\n"));
        }
        for o in &self.other {
            msg.push_str("\n  ");
            msg.push_str(o);
        }
        Err(ToolsError::Config(msg))
    }
}

type Obj = serde_json::Map<String, serde_json::Value>;

fn get_str(obj: &Obj, key: &str, p: &mut Problems) -> Option<String> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.other.push(format!("{key} must be a string"));
            None
        }
    }
}

fn get_bool(obj: &Obj, key: &str, p: &mut Problems) -> bool {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => {
            p.other.push(format!("{key} must be true or false"));
            false
        }
    }
}

fn get_str_list(obj: &Obj, key: &str, p: &mut Problems) -> Vec<String> {
    match obj.get(key) {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| {
                if let Some(s) = v.as_str() {
                    Some(s.to_owned())
                } else {
                    p.other.push(format!("{key} entries must be strings"));
                    None
                }
            })
            .collect(),
        Some(_) => {
            p.other.push(format!("{key} must be a list of strings"));
            Vec::new()
        }
    }
}

fn get_secret(
    obj: &Obj,
    key: &str,
    prefix: &str,
    env: EnvLookup<'_>,
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Option<SecretString> {
    match credentials::resolve(obj, key, env) {
        Ok(Some((s, origin))) => {
            if origin == SecretOrigin::Literal {
                warnings.push(format!(
                    "{prefix}{key} is written in the configuration file; prefer {prefix}{key}_env or {prefix}{key}_file"
                ));
            }
            Some(s)
        }
        Ok(None) => None,
        Err(e) => {
            p.other.push(format!("{prefix}{e}"));
            None
        }
    }
}

fn server_url(value: Option<String>, key: &str, p: &mut Problems) -> Option<Url> {
    let v = value?;
    match normalize_server(&v) {
        Ok(u) => Some(u),
        Err(e) => {
            p.other.push(format!("{key}: {e}"));
            None
        }
    }
}

fn unknown_keys(obj: &Obj, known: &dyn Fn(&str) -> bool, where_: &str, p: &mut Problems) {
    let unknown: BTreeSet<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !known(k))
        .collect();
    if !unknown.is_empty() {
        p.other.push(format!(
            "unknown keys{where_}: {}",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
}

fn parse_repositories(list: Vec<String>, p: &mut Problems) -> Vec<ImageReference> {
    list.into_iter()
        .filter_map(|r| match parse_repository(&r) {
            Ok(i) => Some(i),
            Err(e) => {
                p.other.push(format!("repositories: {e}"));
                None
            }
        })
        .collect()
}

impl MirrorConfig {
    /// Reads a sync configuration file (YAML, at most [`crate::MAX_CONFIG_BYTES`]): any key the
    /// formats do not have is refused with its full path and the closest known key, the parser
    /// has input limits, and every problem of the values is then reported at once. `env`
    /// resolves `*_env` keys.
    pub fn from_file(path: &std::path::Path, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let (origin, text) = crate::file::read_file(path)?;
        Self::from_yaml(&origin, &text, env)
    }

    /// [`MirrorConfig::from_file`] on text; `origin` names it in messages.
    pub fn from_yaml(origin: &str, text: &str, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let value = crate::file::read_yaml::<crate::file::MirrorFile>(origin, text)?;
        Self::from_value(&value, env)
    }

    /// A configuration of just two servers (the command line's `--source` / `--destination`).
    pub fn from_servers(source: &str, destination: &str) -> Result<Self, ToolsError> {
        Self::from_value(
            &serde_json::json!({"servers": {"primary": {"url": source}, "secondary": {"url": destination}}}),
            &|_| None,
        )
    }

    /// Reads a configuration already parsed into JSON (the CLI parses YAML with limits).
    /// `env` resolves `*_env` keys. Every problem is reported at once as
    /// [`ToolsError::Config`]; no value of a secret ever appears in it.
    pub fn from_value(value: &serde_json::Value, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let obj = value
            .as_object()
            .ok_or_else(|| ToolsError::Config("the sync configuration must be a mapping".into()))?;
        let has = |prefix: &str| obj.keys().any(|k| k.starts_with(prefix));
        let omps = obj.contains_key("servers");
        let source = has("source_") || has("destination_");
        let primary = has("primary_") || has("secondary_");
        match (omps, source, primary) {
            (true, false, false) => Self::from_omps(obj, env),
            (false, true, false) => Self::from_original(obj, env, ConfigFormat::QuaySyncSource),
            (false, false, true) => Self::from_original(obj, env, ConfigFormat::QuaySyncPrimary),
            (false, false, false) => Err(ToolsError::Config(
                "invalid sync configuration: no servers (expected `servers:`, or the original \
                 `source_server`/`destination_server` or `primary_server`/`secondary_server`)"
                    .into(),
            )),
            _ => Err(ToolsError::Config(
                "invalid sync configuration: it mixes key formats (`servers:`, `source_*`/`destination_*`, \
                 `primary_*`/`secondary_*`); use one"
                    .into(),
            )),
        }
    }

    #[allow(clippy::too_many_lines)] // one linear walk over the keys
    fn from_original(
        obj: &Obj,
        env: EnvLookup<'_>,
        format: ConfigFormat,
    ) -> Result<Self, ToolsError> {
        let mut p = Problems::default();
        let mut warnings = Vec::new();
        let (a, b, user_a, user_b) = match format {
            ConfigFormat::QuaySyncSource => (
                "source",
                "destination",
                "source_quayuser",
                "destination_quay_user",
            ),
            _ => (
                "primary",
                "secondary",
                "primary_quay_user",
                "secondary_quay_user",
            ),
        };
        let pass_a = if format == ConfigFormat::QuaySyncSource {
            "source_quaypassword".to_owned()
        } else {
            format!("{a}_quay_password")
        };
        let pass_b = format!("{b}_quay_password");
        let secret_bases: Vec<String> = [
            format!("{a}_token"),
            format!("{b}_token"),
            format!("{a}_init_token"),
            format!("{b}_init_token"),
            pass_a.clone(),
            pass_b.clone(),
        ]
        .into_iter()
        .filter(|k| format == ConfigFormat::QuaySyncPrimary || !k.contains("_init_token"))
        .collect();
        let plain: Vec<String> = vec![
            format!("{a}_server"),
            format!("{b}_server"),
            user_a.to_owned(),
            user_b.to_owned(),
            "failover".into(),
            "repositories".into(),
        ];
        let known = |k: &str| {
            plain.iter().any(|x| x == k)
                || secret_bases
                    .iter()
                    .any(|base| credentials::is_secret_key(k, base))
                || ORIGINAL_MANAGEMENT_KEYS.contains(&k)
        };
        unknown_keys(obj, &known, "", &mut p);
        for k in obj.keys() {
            if ORIGINAL_MANAGEMENT_KEYS.contains(&k.as_str()) {
                warnings.push(format!("{k} is a management key; the sync ignores it"));
            }
        }
        let mut side = |side: &str, user_key: &str, pass_key: &str, p: &mut Problems| {
            let key = format!("{side}_server");
            let url_s = get_str(obj, &key, p);
            if url_s.is_none() {
                p.missing.push(format!(
                    "  {key} (string): host name or URL of the {side} Quay"
                ));
            }
            let url = server_url(url_s, &key, p);
            // The later tool synced with the token created during setup.
            let init = if format == ConfigFormat::QuaySyncPrimary {
                get_secret(
                    obj,
                    &format!("{side}_init_token"),
                    "",
                    env,
                    p,
                    &mut warnings,
                )
            } else {
                None
            };
            let token = get_secret(obj, &format!("{side}_token"), "", env, p, &mut warnings);
            let username = get_str(obj, user_key, p);
            let password = get_secret(obj, pass_key, "", env, p, &mut warnings);
            url.map(|url| ServerConfig {
                url,
                api_url: None,
                api_token: init.or(token),
                registry_username: username,
                registry_password: password,
            })
        };
        let sa = side(a, user_a, &pass_a, &mut p);
        let sb = side(b, user_b, &pass_b, &mut p);
        let failover = get_bool(obj, "failover", &mut p);
        let repos = get_str_list(obj, "repositories", &mut p);
        let repositories = parse_repositories(repos, &mut p);
        p.into_result()?;
        let (sa, sb) = (sa.expect("checked"), sb.expect("checked"));
        let (source, destination) = if failover { (sb, sa) } else { (sa, sb) };
        Ok(Self {
            format,
            source,
            destination,
            failover,
            repositories,
            auto_discovery: false,
            skip_broken_images: false,
            concurrency: None,
            organizations: Vec::new(),
            tags: Vec::new(),
            ca_bundle: None,
            insecure_skip_verify: false,
            warnings,
        })
    }

    #[allow(clippy::too_many_lines)] // one linear walk over the sections
    fn from_omps(obj: &Obj, env: EnvLookup<'_>) -> Result<Self, ToolsError> {
        let mut p = Problems::default();
        let mut warnings = Vec::new();
        let top = ["servers", "tls", "failover", "sync"];
        unknown_keys(
            obj,
            &|k| top.contains(&k) || OMPS_MANAGEMENT_KEYS.contains(&k),
            "",
            &mut p,
        );
        let section = |key: &str, p: &mut Problems| -> Obj {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Obj::new(),
                Some(serde_json::Value::Object(m)) => m.clone(),
                Some(_) => {
                    p.other.push(format!("{key} must be a mapping"));
                    Obj::new()
                }
            }
        };
        let servers = section("servers", &mut p);
        unknown_keys(
            &servers,
            &|k| k == "primary" || k == "secondary",
            " in servers",
            &mut p,
        );
        let mut server = |name: &str, p: &mut Problems| -> Option<ServerConfig> {
            let Some(m) = servers.get(name).and_then(|v| v.as_object()) else {
                p.missing(
                    &format!("servers.{name}"),
                    "mapping",
                    "url, api_url, api_token(_env|_file), registry_username, registry_password(_env|_file)",
                );
                return None;
            };
            let prefix = format!("servers.{name}.");
            unknown_keys(
                m,
                &|k| {
                    ["url", "api_url", "registry_username"].contains(&k)
                        || credentials::is_secret_key(k, "api_token")
                        || credentials::is_secret_key(k, "registry_password")
                },
                &format!(" in servers.{name}"),
                p,
            );
            let url_s = get_str(m, "url", p);
            if url_s.is_none() {
                p.missing(
                    &format!("{prefix}url"),
                    "string",
                    "registry host name or URL",
                );
            }
            let url = server_url(url_s, &format!("{prefix}url"), p);
            let api_url = server_url(get_str(m, "api_url", p), &format!("{prefix}api_url"), p);
            let api_token = get_secret(m, "api_token", &prefix, env, p, &mut warnings);
            let registry_username = get_str(m, "registry_username", p);
            let registry_password =
                get_secret(m, "registry_password", &prefix, env, p, &mut warnings);
            url.map(|url| ServerConfig {
                url,
                api_url,
                api_token,
                registry_username,
                registry_password,
            })
        };
        let primary = server("primary", &mut p);
        let secondary = server("secondary", &mut p);
        let tls = section("tls", &mut p);
        unknown_keys(
            &tls,
            &|k| k == "ca_bundle" || k == "insecure_skip_verify",
            " in tls",
            &mut p,
        );
        let ca_bundle = get_str(&tls, "ca_bundle", &mut p).map(PathBuf::from);
        let insecure_skip_verify = get_bool(&tls, "insecure_skip_verify", &mut p);
        let failover = get_bool(obj, "failover", &mut p);
        let sync = section("sync", &mut p);
        let sync_keys = [
            "repositories",
            "auto_discovery",
            "skip_broken_images",
            "concurrency",
            "organizations",
            "tags",
        ];
        unknown_keys(&sync, &|k| sync_keys.contains(&k), " in sync", &mut p);
        let repos = get_str_list(&sync, "repositories", &mut p);
        let repositories = parse_repositories(repos, &mut p);
        let concurrency = match sync.get("concurrency") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => {
                if let Some(n @ 1..=64) = v.as_u64() {
                    usize::try_from(n).ok()
                } else {
                    p.other
                        .push("sync.concurrency must be an integer from 1 to 64".into());
                    None
                }
            }
        };
        let auto_discovery = get_bool(&sync, "auto_discovery", &mut p);
        let skip_broken_images = get_bool(&sync, "skip_broken_images", &mut p);
        let organizations = get_str_list(&sync, "organizations", &mut p);
        let tags = get_str_list(&sync, "tags", &mut p);
        p.into_result()?;
        let (a, b) = (primary.expect("checked"), secondary.expect("checked"));
        let (source, destination) = if failover { (b, a) } else { (a, b) };
        Ok(Self {
            format: ConfigFormat::Omps,
            source,
            destination,
            failover,
            repositories,
            auto_discovery,
            skip_broken_images,
            concurrency,
            organizations,
            tags,
            ca_bundle,
            insecure_skip_verify,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn normalizes_hosts_without_mangling() {
        // The original's strip("https://") turned these into "op.example.com" and "quay.ex".
        assert_eq!(
            normalize_server("shop.example.com").unwrap().as_str(),
            "https://shop.example.com/"
        );
        assert_eq!(
            normalize_server("https://quay.exhttps").unwrap().host_str(),
            Some("quay.exhttps")
        );
        let u = normalize_server("registry.local:5000").unwrap();
        assert_eq!(
            (u.host_str(), u.port()),
            (Some("registry.local"), Some(5000))
        );
        assert_eq!(
            normalize_server("http://127.0.0.1:5000").unwrap().scheme(),
            "http"
        );
        assert!(normalize_server("ftp://x").is_err());
        assert!(normalize_server("https://u:p@x").is_err());
        assert!(normalize_server("").is_err());
    }

    #[test]
    fn original_first_format() {
        let v = json!({
            "source_server": "quay-a.example.com",
            "source_token": "tok-a",
            "destination_server": "https://quay-b.example.com:8443",
            "destination_token": "tok-b",
            "failover": false,
            "repositories": ["team/app:1.0", "team/other:latest"],
            "robot_config": {"x": {"type": "org", "name": "r", "org_name": "team"}},
        });
        let c = MirrorConfig::from_value(&v, &no_env).unwrap();
        assert_eq!(c.format, ConfigFormat::QuaySyncSource);
        assert_eq!(c.source.url.as_str(), "https://quay-a.example.com/");
        assert_eq!(c.destination.url.port(), Some(8443));
        assert_eq!(
            c.source.api_token.as_ref().unwrap().expose_secret(),
            "tok-a"
        );
        assert_eq!(c.repositories.len(), 2);
        assert_eq!(c.repositories[0].repository, "team/app");
        assert_eq!(c.repositories[0].reference(), Some("1.0"));
        // Two literal tokens and one ignored management key.
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings.iter().all(|w| !w.contains("tok-")));
    }

    #[test]
    fn original_later_format_with_failover_and_init_token() {
        let env = |k: &str| (k == "B_TOKEN").then(|| "tok-b".to_owned());
        let v = json!({
            "primary_server": "https://a.example.com",
            "primary_token": "tok-a",
            "primary_init_token": "init-a",
            "secondary_server": "b.example.com",
            "secondary_token_env": "B_TOKEN",
            "secondary_quay_user": "admin",
            "secondary_quay_password_env": "B_TOKEN",
            "failover": true,
            "repositories": ["x/y:z"],
            "organizations": {"x": {"present": true}},
        });
        let c = MirrorConfig::from_value(&v, &env).unwrap();
        assert_eq!(c.format, ConfigFormat::QuaySyncPrimary);
        // failover: the secondary is the source.
        assert_eq!(c.source.url.host_str(), Some("b.example.com"));
        assert_eq!(c.source.registry_username.as_deref(), Some("admin"));
        assert_eq!(c.destination.url.host_str(), Some("a.example.com"));
        assert_eq!(
            c.destination.api_token.as_ref().unwrap().expose_secret(),
            "init-a"
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let v = json!({"source_token": "t", "bogus": 1, "repositories": ["Not Valid"]});
        let e = MirrorConfig::from_value(&v, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("source_server (string)"), "{e}");
        assert!(e.contains("destination_server (string)"), "{e}");
        assert!(e.contains("unknown keys: bogus"), "{e}");
        assert!(e.contains("Not Valid"), "{e}");
        assert!(!e.contains("\"t\""), "{e}");
    }

    #[test]
    fn yaml_files_of_every_format_are_read_with_serde() {
        let env = |k: &str| (k == "PW").then(|| "pw".to_owned());
        for (text, format) in [
            (
                "source_server: a.example.com\ndestination_server: b.example.com\n\
                 destination_quay_user: u\ndestination_quay_password_env: PW\n\
                 repositories: [t/a:1]\nrobot_config: {r: {type: org}}\n",
                ConfigFormat::QuaySyncSource,
            ),
            (
                "primary_server: a.example.com\nsecondary_server: b.example.com\n\
                 primary_init_token_env: PW\nrepositories: [t/a:1]\n",
                ConfigFormat::QuaySyncPrimary,
            ),
            (
                "servers:\n  primary: {url: a.example.com}\n  secondary: {url: b.example.com}\n\
                 sync: {repositories: [t/a:1], concurrency: 2}\n",
                ConfigFormat::Omps,
            ),
        ] {
            let c = MirrorConfig::from_yaml("s.yaml", text, &env).unwrap();
            assert_eq!(c.format, format, "{text}");
            assert_eq!(c.repositories.len(), 1);
        }
        let e = MirrorConfig::from_yaml("s.yaml", "servers:\n  primary: {urll: a}\n", &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key `servers.primary.urll`; did you mean `url`?"),
            "{e}"
        );
        assert!(e.starts_with("s.yaml: line 2"), "{e}");
    }

    #[test]
    fn mixing_formats_is_an_error() {
        let v = json!({"source_server": "a", "secondary_server": "b"});
        let e = MirrorConfig::from_value(&v, &no_env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mixes key formats"), "{e}");
    }

    #[test]
    fn omps_format() {
        let env = |k: &str| (k == "PW").then(|| "pw".to_owned());
        let v = json!({
            "servers": {
                "primary": {"url": "http://127.0.0.1:5000", "api_token_env": "PW"},
                "secondary": {"url": "https://b.example.com", "registry_username": "u",
                              "registry_password_env": "PW"},
            },
            "tls": {"ca_bundle": "/etc/ca.pem", "insecure_skip_verify": true},
            "sync": {"repositories": ["a/b:c"], "auto_discovery": true, "concurrency": 3,
                     "skip_broken_images": true, "tags": ["v*"]},
            "robots": {"builder": {"type": "org", "org_name": "a"}},
        });
        let c = MirrorConfig::from_value(&v, &env).unwrap();
        assert_eq!(c.format, ConfigFormat::Omps);
        assert_eq!(c.source.url.scheme(), "http");
        assert!(c.insecure_skip_verify && c.auto_discovery && c.skip_broken_images);
        assert_eq!(c.concurrency, Some(3));
        assert_eq!(c.tags, vec!["v*".to_owned()]);
        assert!(c.warnings.is_empty());
        let e = MirrorConfig::from_value(
            &json!({"servers": {"primary": {"url": "a", "typo": 1}}, "sync": {"concurency": 2}}),
            &env,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("servers.secondary (mapping)"), "{e}");
        assert!(e.contains("unknown keys in servers.primary: typo"), "{e}");
        assert!(e.contains("unknown keys in sync: concurency"), "{e}");
    }
}
