//! Mapping (group, version, kind) to the resource that serves it, from the API's discovery
//! documents (`/api/v1`, `/apis/<group>/<version>`).
//!
//! Group-versions are read when first needed and read again when a kind is missing, so kinds
//! installed mid-run (a CRD becoming `Established`, an operator installing its CRDs) become usable.

use std::collections::HashMap;

use serde_json::Value;
use tokio::sync::Mutex;

use crate::client::Cluster;
use crate::error::Error;

/// How a kind is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name (`deployments`).
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl Resource {
    /// The collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }

    /// The object path.
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }
}

/// Kinds served by one group-version, by kind.
type Kinds = HashMap<String, Resource>;

/// Cached discovery, one entry per group-version (`None`: not served when last asked).
#[derive(Debug, Default)]
pub struct Discovery {
    cache: Mutex<HashMap<(String, String), Option<Kinds>>>,
}

impl Discovery {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything (after a CRD becomes `Established`).
    pub async fn invalidate(&self) {
        self.cache.lock().await.clear();
    }

    /// The resource serving `kind` in `group/version`, reading discovery when the cache does not
    /// have it. `Ok(None)`: not served (yet).
    pub async fn resolve(
        &self,
        cluster: &Cluster,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, Error> {
        let key = (group.to_owned(), version.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(Some(kinds)) = cache.get(&key) {
            if let Some(r) = kinds.get(kind) {
                return Ok(Some(r.clone()));
            }
        }
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let context = format!("discovery {path}");
        let fetched = cluster.get_json(&context, &path).await?;
        let kinds = fetched.map(|list| parse_resource_list(&list, group, version));
        let found = kinds.as_ref().and_then(|k| k.get(kind).cloned());
        cache.insert(key, kinds);
        Ok(found)
    }
}

fn parse_resource_list(list: &Value, group: &str, version: &str) -> HashMap<String, Resource> {
    let mut kinds = HashMap::new();
    for r in list
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(kind)) = (
            r.get("name").and_then(Value::as_str),
            r.get("kind").and_then(Value::as_str),
        ) else {
            continue;
        };
        // `deployments/status` and other subresources share the kind; skip them.
        if name.contains('/') {
            continue;
        }
        kinds.insert(
            kind.to_owned(),
            Resource {
                group: group.to_owned(),
                version: version.to_owned(),
                plural: name.to_owned(),
                namespaced: r
                    .get("namespaced")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
        );
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subresources_are_skipped_and_paths_built() {
        let list = serde_json::json!({"resources": [
            {"name": "deployments", "kind": "Deployment", "namespaced": true},
            {"name": "deployments/status", "kind": "Deployment", "namespaced": true},
            {"name": "namespaces", "kind": "Namespace", "namespaced": false},
        ]});
        let kinds = parse_resource_list(&list, "apps", "v1");
        assert_eq!(kinds.len(), 2);
        let d = &kinds["Deployment"];
        assert_eq!(
            d.object_path(Some("ns"), "web"),
            "/apis/apps/v1/namespaces/ns/deployments/web"
        );
        let n = Resource {
            group: String::new(),
            ..kinds["Namespace"].clone()
        };
        assert_eq!(n.object_path(Some("ignored"), "x"), "/api/v1/namespaces/x");
    }
}
