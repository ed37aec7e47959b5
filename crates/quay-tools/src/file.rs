//! The shapes of the configuration files, for serde: every key the files may hold, at every
//! level, so that [`strict_config`] refuses any other key with its full path and the closest
//! known key. Values are kept as JSON values here; the semantic pass of each module (formats,
//! secrets, references) checks them and reports every problem at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ToolsError;

/// Largest configuration file read: these files are small; a larger one is a wrong path.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads a configuration file of at most [`MAX_CONFIG_BYTES`].
pub(crate) fn read_file(path: &std::path::Path) -> Result<(String, String), ToolsError> {
    use std::io::Read as _;
    let origin = path.display().to_string();
    let read_error = |source| strict_config::ConfigError::Read {
        origin: origin.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(strict_config::ConfigError::TooLarge {
            origin,
            limit: MAX_CONFIG_BYTES,
        }
        .into());
    }
    Ok((origin, text))
}

/// Reads a YAML configuration into the file shape `T` (unknown keys refused, input limited),
/// then hands it on as JSON with `null`s dropped (a key written without a value is absent).
pub(crate) fn read_yaml<T>(origin: &str, text: &str) -> Result<Value, ToolsError>
where
    T: serde::de::DeserializeOwned + Serialize,
{
    let file: T = strict_config::from_yaml_str(origin, text)?;
    let mut value =
        serde_json::to_value(file).map_err(|e| ToolsError::Config(format!("{origin}: {e}")))?;
    drop_nulls(&mut value);
    Ok(value)
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// A sync configuration: this project's format (`servers`, `tls`, `sync`) and both key
/// generations of the original `quay_sync` (`source_*`/`destination_*`,
/// `primary_*`/`secondary_*`), with the original management keys that may share the file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names)]
pub(crate) struct MirrorFile {
    servers: Option<Servers>,
    tls: Option<Tls>,
    sync: Option<Sync>,
    failover: Option<Value>,
    repositories: Option<Value>,
    // This project's management sections (read by `omps quay apply`).
    initialize: Option<Value>,
    organizations: Option<Value>,
    robots: Option<Value>,
    proxycache: Option<Value>,
    // quay_sync, first key generation.
    source_server: Option<Value>,
    source_token: Option<Value>,
    source_token_env: Option<Value>,
    source_token_file: Option<Value>,
    source_quayuser: Option<Value>,
    source_quaypassword: Option<Value>,
    source_quaypassword_env: Option<Value>,
    source_quaypassword_file: Option<Value>,
    destination_server: Option<Value>,
    destination_token: Option<Value>,
    destination_token_env: Option<Value>,
    destination_token_file: Option<Value>,
    destination_quay_user: Option<Value>,
    destination_quay_password: Option<Value>,
    destination_quay_password_env: Option<Value>,
    destination_quay_password_file: Option<Value>,
    destination_quay_email: Option<Value>,
    // quay_sync, later key generation.
    primary_server: Option<Value>,
    primary_token: Option<Value>,
    primary_token_env: Option<Value>,
    primary_token_file: Option<Value>,
    primary_init_token: Option<Value>,
    primary_init_token_env: Option<Value>,
    primary_init_token_file: Option<Value>,
    primary_quay_user: Option<Value>,
    primary_quay_password: Option<Value>,
    primary_quay_password_env: Option<Value>,
    primary_quay_password_file: Option<Value>,
    primary_quay_email: Option<Value>,
    primary_quay_namespace: Option<Value>,
    primary_quay_init_config: Option<Value>,
    secondary_server: Option<Value>,
    secondary_token: Option<Value>,
    secondary_token_env: Option<Value>,
    secondary_token_file: Option<Value>,
    secondary_init_token: Option<Value>,
    secondary_init_token_env: Option<Value>,
    secondary_init_token_file: Option<Value>,
    secondary_quay_user: Option<Value>,
    secondary_quay_password: Option<Value>,
    secondary_quay_password_env: Option<Value>,
    secondary_quay_password_file: Option<Value>,
    secondary_quay_email: Option<Value>,
    secondary_quay_namespace: Option<Value>,
    secondary_quay_init_config: Option<Value>,
    // The original management tool's keys, ignored by the sync.
    proxycache_config: Option<Value>,
    robot_config: Option<Value>,
    quay_init_config: Option<Value>,
    openshift_api_url: Option<Value>,
    openshift_username: Option<Value>,
    openshift_password: Option<Value>,
    openshift_yaml_dir: Option<Value>,
    initialize_username: Option<Value>,
    initialize_password: Option<Value>,
    initialize_email: Option<Value>,
    quay_admin_org: Option<Value>,
    quay_secret_options: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Servers {
    primary: Option<Server>,
    secondary: Option<Server>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Server {
    url: Option<Value>,
    api_url: Option<Value>,
    api_token: Option<Value>,
    api_token_env: Option<Value>,
    api_token_file: Option<Value>,
    registry_username: Option<Value>,
    registry_password: Option<Value>,
    registry_password_env: Option<Value>,
    registry_password_file: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    ca_bundle: Option<Value>,
    insecure_skip_verify: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Sync {
    repositories: Option<Value>,
    auto_discovery: Option<Value>,
    skip_broken_images: Option<Value>,
    concurrency: Option<Value>,
    organizations: Option<Value>,
    tags: Option<Value>,
}

/// A declarative Quay configuration (`omps quay apply`): organizations, robots (also under the
/// original `robot_config` key) and proxy caches; the keys of a sync configuration may share
/// the file and are ignored.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyFile {
    organizations: Option<std::collections::BTreeMap<String, Organization>>,
    robots: Option<std::collections::BTreeMap<String, Robot>>,
    robot_config: Option<std::collections::BTreeMap<String, Robot>>,
    proxycache: Option<std::collections::BTreeMap<String, ProxyCache>>,
    // Sibling keys of the sync configurations, ignored here.
    servers: Option<Value>,
    tls: Option<Value>,
    sync: Option<Value>,
    failover: Option<Value>,
    initialize: Option<Value>,
    repositories: Option<Value>,
    quay_init_config: Option<Value>,
    quay_admin_org: Option<Value>,
    quay_secret_options: Option<Value>,
    initialize_username: Option<Value>,
    initialize_password: Option<Value>,
    initialize_email: Option<Value>,
    openshift_api_url: Option<Value>,
    openshift_username: Option<Value>,
    openshift_password: Option<Value>,
    openshift_yaml_dir: Option<Value>,
    source_server: Option<Value>,
    source_token: Option<Value>,
    source_token_env: Option<Value>,
    source_token_file: Option<Value>,
    source_quayuser: Option<Value>,
    source_quaypassword: Option<Value>,
    source_quaypassword_env: Option<Value>,
    source_quaypassword_file: Option<Value>,
    destination_server: Option<Value>,
    destination_token: Option<Value>,
    destination_token_env: Option<Value>,
    destination_token_file: Option<Value>,
    destination_quay_user: Option<Value>,
    destination_quay_password: Option<Value>,
    destination_quay_password_env: Option<Value>,
    destination_quay_password_file: Option<Value>,
    destination_quay_email: Option<Value>,
    primary_server: Option<Value>,
    primary_token: Option<Value>,
    primary_token_env: Option<Value>,
    primary_token_file: Option<Value>,
    primary_init_token: Option<Value>,
    primary_init_token_env: Option<Value>,
    primary_init_token_file: Option<Value>,
    primary_quay_user: Option<Value>,
    primary_quay_password: Option<Value>,
    primary_quay_password_env: Option<Value>,
    primary_quay_password_file: Option<Value>,
    primary_quay_email: Option<Value>,
    primary_quay_namespace: Option<Value>,
    primary_quay_init_config: Option<Value>,
    secondary_server: Option<Value>,
    secondary_token: Option<Value>,
    secondary_token_env: Option<Value>,
    secondary_token_file: Option<Value>,
    secondary_init_token: Option<Value>,
    secondary_init_token_env: Option<Value>,
    secondary_init_token_file: Option<Value>,
    secondary_quay_user: Option<Value>,
    secondary_quay_password: Option<Value>,
    secondary_quay_password_env: Option<Value>,
    secondary_quay_password_file: Option<Value>,
    secondary_quay_email: Option<Value>,
    secondary_quay_namespace: Option<Value>,
    secondary_quay_init_config: Option<Value>,
    proxycache_config: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Organization {
    present: Option<Value>,
    email: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Robot {
    #[serde(rename = "type")]
    kind: Option<Value>,
    name: Option<Value>,
    org_name: Option<Value>,
    description: Option<Value>,
    present: Option<Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ProxyCache {
    org_name: Option<Value>,
    upstream_registry: Option<Value>,
    upstream_registry_username: Option<Value>,
    upstream_registry_password: Option<Value>,
    upstream_registry_password_env: Option<Value>,
    upstream_registry_password_file: Option<Value>,
    expiration_s: Option<Value>,
    insecure: Option<Value>,
    present: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_with_path_and_suggestion_at_every_level() {
        let e = read_yaml::<MirrorFile>("s.yaml", "sync:\n  concurency: 2\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("unknown key `sync.concurency`"), "{text}");
        assert!(text.contains("did you mean `concurrency`?"), "{text}");
        let e = read_yaml::<MirrorFile>("s.yaml", "source_tokn: x\n").unwrap_err();
        assert!(
            e.to_string().contains("did you mean `source_token`?"),
            "{e}"
        );
        let e = read_yaml::<ApplyFile>("q.yaml", "organisations: {}\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown key `organisations`; did you mean `organizations`?"),
            "{e}"
        );
        let e = read_yaml::<ApplyFile>("q.yaml", "robots:\n  b: {org: a}\n").unwrap_err();
        assert!(e.to_string().contains("`robots.b.org`"), "{e}");
    }

    #[test]
    fn known_keys_pass_through_with_nulls_dropped() {
        let v = read_yaml::<MirrorFile>(
            "s.yaml",
            "source_server: a\nsource_token:\nrepositories: [x/y]\nrobot_config: {r: {}}\n",
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"source_server": "a", "repositories": ["x/y"], "robot_config": {"r": {}}})
        );
        let v =
            read_yaml::<ApplyFile>("q.yaml", "organizations:\n  b: {present: false}\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"organizations": {"b": {"present": false}}})
        );
    }
}
