//! A secret from files (`oc create secret generic NAME --from-file=KEY=PATH`).

use std::io::Read as _;
use std::path::PathBuf;

use base64::Engine as _;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::client::Cluster;
use crate::error::Error;

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFromFiles {
    /// Secret name.
    pub name: String,
    /// Namespace (`None`: the connection's default).
    pub namespace: Option<String>,
    /// `(key, path)`; a `None` key is the file's base name.
    pub files: Vec<(Option<String>, PathBuf)>,
    /// Secret type (default `Opaque`).
    pub secret_type: Option<String>,
    /// Replace an existing secret (keys not given are removed).
    pub replace: bool,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretOutcome {
    /// `created`, `replaced`, or with a dry run `would create`.
    pub action: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Keys and their sizes in bytes (never the values).
    pub keys: Vec<(String, usize)>,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// Reads the files (blocking; the async entry point runs this off the runtime).
fn read_entries(spec: &SecretFromFiles, max_bytes: usize) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut problems = Vec::new();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0usize;
    for (key, path) in &spec.files {
        let key = key.clone().unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if !valid_key(&key) {
            problems.push(format!("{key:?}: a key must match [-._a-zA-Z0-9]+"));
            continue;
        }
        if entries.iter().any(|(k, _)| *k == key) {
            problems.push(format!("{key}: given twice"));
            continue;
        }
        let mut data = Vec::new();
        let read = std::fs::File::open(path).and_then(|f| {
            f.take((max_bytes - total.min(max_bytes)) as u64 + 1)
                .read_to_end(&mut data)
        });
        if let Err(source) = read {
            return Err(Error::Io {
                path: path.clone(),
                source,
            });
        }
        total += data.len();
        if total > max_bytes {
            problems.push(format!("secret data exceeds {max_bytes} bytes"));
            break;
        }
        entries.push((key, data));
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push("no --from-file given".into());
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(Error::Input { problems })
    }
}

/// Creates (or with `replace`, replaces) the secret. `dry_run` reads the files and reports keys
/// and sizes without calling the API.
pub async fn create_secret_from_files(
    cluster: &Cluster,
    spec: &SecretFromFiles,
    dry_run: bool,
) -> Result<SecretOutcome, Error> {
    let max = cluster.limits().max_secret_bytes;
    let owned = spec.clone();
    let entries = tokio::task::spawn_blocking(move || read_entries(&owned, max))
        .await
        .map_err(|e| Error::Config(format!("reading the files failed: {e}")))??;
    let namespace = spec
        .namespace
        .clone()
        .unwrap_or_else(|| cluster.default_namespace().to_owned());
    let keys = entries.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    if dry_run {
        return Ok(SecretOutcome {
            action: "would create",
            namespace,
            keys,
        });
    }
    let data: Map<String, Value> = entries
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": spec.name, "namespace": namespace},
        "type": spec.secret_type.as_deref().unwrap_or("Opaque"),
        "data": data,
    });
    let collection = format!("/api/v1/namespaces/{namespace}/secrets");
    let context = format!("create secret {namespace}/{}", spec.name);
    let body = serde_json::to_vec(&secret).map_err(|e| Error::Config(e.to_string()))?;
    let res = cluster
        .call(
            &context,
            Method::POST,
            &collection,
            Some("application/json"),
            Some(body),
        )
        .await?;
    match res.status {
        StatusCode::CREATED | StatusCode::OK => {
            return Ok(SecretOutcome {
                action: "created",
                namespace,
                keys,
            });
        }
        StatusCode::CONFLICT if !spec.replace => {
            return Err(Error::SecretExists {
                namespace,
                name: spec.name.clone(),
            });
        }
        StatusCode::CONFLICT => {}
        _ => return Err(res.into_error(&context)),
    }
    // Replace: PUT with the resourceVersion just read, so a concurrent change is a 409, not lost;
    // PUT replaces `data` whole, so keys not given now are removed.
    let path = format!("{collection}/{}", spec.name);
    let context = format!("replace secret {namespace}/{}", spec.name);
    let current = cluster
        .get_json(&context, &path)
        .await?
        .ok_or_else(|| Error::Api {
            context: context.clone(),
            status: 404,
            reason: "NotFound".into(),
            message: "the secret disappeared while being replaced".into(),
            causes: Vec::new(),
            body: String::new(),
        })?;
    secret["metadata"]["resourceVersion"] = current
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    let body = serde_json::to_vec(&secret).map_err(|e| Error::Config(e.to_string()))?;
    let res = cluster
        .call(
            &context,
            Method::PUT,
            &path,
            Some("application/json"),
            Some(body),
        )
        .await?;
    if !res.status.is_success() {
        return Err(res.into_error(&context));
    }
    Ok(SecretOutcome {
        action: "replaced",
        namespace,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_and_the_size_limit_applies() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "x".repeat(100)).unwrap();
        let spec = SecretFromFiles {
            name: "s".into(),
            namespace: None,
            files: vec![(None, file.clone()), (Some("bad/key".into()), file.clone())],
            secret_type: None,
            replace: false,
        };
        let err = read_entries(&spec, 1000).unwrap_err();
        assert!(err.to_string().contains("bad/key"), "{err}");
        let spec = SecretFromFiles {
            files: vec![(None, file.clone())],
            ..spec
        };
        assert_eq!(read_entries(&spec, 1000).unwrap()[0].0, "config.yaml");
        let err = read_entries(&spec, 99).unwrap_err();
        assert!(err.to_string().contains("exceeds 99 bytes"), "{err}");
    }
}
