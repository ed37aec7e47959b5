//! The embedded store: releases as files under a data directory.
//!
//! Layout: `<data_dir>/packages/<org>/<repo>/<version>.tar.gz` plus `<version>.json` metadata.
//! Names are percent-encoded so any URL segment is a safe file name. A release is written to a
//! temporary file and then hard-linked to its final name: the link fails if the release exists,
//! which makes "create if absent" atomic across threads, processes and replicas sharing the
//! directory, and readers never see a half-written blob.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::json;

use crate::backends::{
    Auth, ManifestStore, Publication, PushReport, Release, ReleaseContent, StoreCapabilities,
    StoreError,
};

/// Releases on the local filesystem.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

const BLOB_SUFFIX: &str = ".tar.gz";

impl LocalStore {
    /// A store under `data_dir` (created on first write).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: data_dir.into(),
        }
    }

    /// The data directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn repo_dir(&self, org: &str, repo: &str) -> PathBuf {
        self.root
            .join("packages")
            .join(encode(org))
            .join(encode(repo))
    }
}

/// Percent-encodes everything but `[A-Za-z0-9_-]` (and `.` when not leading), so no segment can
/// be `.`, `..`, contain `/` or collide after case folding of escapes.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for (i, b) in segment.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn io_error(context: &str, e: &std::io::Error) -> StoreError {
    StoreError::Other {
        message: format!("local store: {context}: {e}"),
        body: json!({}),
    }
}

#[async_trait]
impl ManifestStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn capabilities(&self, _org: &str) -> StoreCapabilities {
        StoreCapabilities::APP_REGISTRY
    }

    async fn publish(
        &self,
        _org: &str,
        _repo: &str,
        _token: &secrecy::SecretString,
    ) -> Result<Publication, String> {
        Ok(Publication::NotSupported)
    }

    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        _auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let dir = self.repo_dir(org, repo);
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error("listing releases", &e)),
            };
            let mut versions: Vec<(std::time::SystemTime, String)> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|e| io_error("listing releases", &e))?;
                let name = entry.file_name();
                let Some(version) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(BLOB_SUFFIX))
                    .and_then(decode)
                else {
                    continue;
                };
                let created = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                versions.push((created, version));
            }
            // Creation order, like the App Registry's listing.
            versions.sort();
            Ok(Some(versions.into_iter().map(|(_, v)| v).collect()))
        })
        .await
        .map_err(|e| StoreError::Other {
            message: format!("local store: {e}"),
            body: json!({}),
        })?
    }

    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        _auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        let dir = self.repo_dir(org, repo);
        let ReleaseContent::AppRegistryBlob { blob, digest } = release.content.clone() else {
            return Err(StoreError::Other {
                message: "the local store takes App Registry blobs, not bundle images".into(),
                body: json!({}),
            });
        };
        let version = release.version.clone();
        let (org, repo) = (org.to_owned(), repo.to_owned());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| io_error("creating the package directory", &e))?;
            let name = encode(&version);
            let final_blob = dir.join(format!("{name}{BLOB_SUFFIX}"));
            let meta = json!({
                "package": format!("{org}/{repo}"),
                "release": version,
                "digest": digest,
                "size": blob.len(),
                "media_type": "helm",
            });
            let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io_error("writing the release", &e))?;
            std::io::Write::write_all(&mut tmp, &blob).map_err(|e| io_error("writing the release", &e))?;
            tmp.as_file().sync_all().map_err(|e| io_error("writing the release", &e))?;
            match std::fs::hard_link(tmp.path(), &final_blob) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(StoreError::ReleaseExists {
                        message: format!("package exists already: {org}/{repo} release {version}"),
                        body: json!({"error": {"code": "package-exists", "message": "package exists already"}}),
                    });
                }
                Err(e) => return Err(io_error("publishing the release", &e)),
            }
            // The temporary name is removed when `tmp` drops; the metadata is advisory.
            let meta_tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io_error("writing metadata", &e))?;
            std::fs::write(meta_tmp.path(), serde_json::to_vec_pretty(&meta).unwrap_or_default()).map_err(|e| io_error("writing metadata", &e))?;
            meta_tmp.persist(dir.join(format!("{name}.json"))).map_err(|e| io_error("writing metadata", &e.error))?;
            Ok(PushReport::default())
        })
        .await
        .map_err(|e| StoreError::Other { message: format!("local store: {e}"), body: json!({}) })?
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        _auth: &Auth,
    ) -> Result<(), StoreError> {
        let dir = self.repo_dir(org, repo);
        let name = encode(version);
        let (org, repo, version) = (org.to_owned(), repo.to_owned(), version.to_owned());
        tokio::task::spawn_blocking(move || match std::fs::remove_file(dir.join(format!("{name}{BLOB_SUFFIX}"))) {
            Ok(()) => {
                let _ = std::fs::remove_file(dir.join(format!("{name}.json")));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound {
                message: format!("release {version} of {org}/{repo} does not exist in the local store"),
                body: json!({"error": {"code": "package-not-found", "message": format!("release {version} of {org}/{repo} does not exist in the local store")}}),
            }),
            Err(e) => Err(io_error("deleting the release", &e)),
        })
        .await
        .map_err(|e| StoreError::Other { message: format!("local store: {e}"), body: json!({}) })?
    }

    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        _auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError> {
        let path = self
            .repo_dir(org, repo)
            .join(format!("{}{BLOB_SUFFIX}", encode(version)));
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(data.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound {
                message: format!(
                    "release {version} of {org}/{repo} does not exist in the local store"
                ),
                body: json!({}),
            }),
            Err(e) => Err(io_error("reading the release", &e)),
        }
    }

    async fn list_repositories(
        &self,
        org: &str,
        _auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join("packages").join(encode(org));
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_error("listing repositories", &e)),
        };
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| io_error("listing repositories", &e))?
        {
            if let Some(name) = entry.file_name().to_str().and_then(decode) {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn health(&self) -> Result<(), String> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&root)
                .map_err(|e| format!("data directory {} is not writable: {e}", root.display()))?;
            let probe = tempfile::NamedTempFile::new_in(&root)
                .map_err(|e| format!("data directory {} is not writable: {e}", root.display()))?;
            std::fs::read_dir(&root)
                .map_err(|e| format!("data directory {} is not readable: {e}", root.display()))?;
            drop(probe);
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, data: &[u8]) -> Release {
        Release {
            version: version.into(),
            content: ReleaseContent::AppRegistryBlob {
                blob: bytes::Bytes::copy_from_slice(data),
                digest: "d".into(),
            },
            public: false,
        }
    }

    #[tokio::test]
    async fn push_list_pull_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let auth = Auth::from("basic x".to_owned());
        assert_eq!(store.list_releases("o", "r", None).await.unwrap(), None);
        store
            .push("o", "r", &release("1.0.0", b"one"), &auth)
            .await
            .unwrap();
        store
            .push("o", "r", &release("2.0.0", b"two"), &auth)
            .await
            .unwrap();
        let exists = store
            .push("o", "r", &release("1.0.0", b"again"), &auth)
            .await
            .unwrap_err();
        assert!(matches!(exists, StoreError::ReleaseExists { .. }));
        let mut listed = store.list_releases("o", "r", None).await.unwrap().unwrap();
        listed.sort();
        assert_eq!(listed, ["1.0.0", "2.0.0"]);
        assert_eq!(
            &store.pull("o", "r", "1.0.0", None).await.unwrap()[..],
            b"one"
        );
        store.delete("o", "r", "1.0.0", &auth).await.unwrap();
        assert!(matches!(
            store.delete("o", "r", "1.0.0", &auth).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(
            store.list_releases("o", "r", None).await.unwrap(),
            Some(vec!["2.0.0".to_owned()])
        );
        assert_eq!(store.list_repositories("o", None).await.unwrap(), ["r"]);
        // Only the blob and its metadata remain: no temporary files.
        let names: Vec<String> = std::fs::read_dir(store.repo_dir("o", "r"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[tokio::test]
    async fn hostile_names_stay_inside_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("data"));
        let auth = Auth::from("basic x".to_owned());
        store
            .push("..", "../../etc", &release("../x", b"z"), &auth)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing outside the data dir"
        );
        assert_eq!(
            store.list_releases("..", "../../etc", None).await.unwrap(),
            Some(vec!["../x".to_owned()])
        );
        assert_eq!(
            store.list_repositories("..", None).await.unwrap(),
            ["../../etc"]
        );
    }

    #[tokio::test]
    async fn concurrent_pushes_of_one_version_create_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(LocalStore::new(dir.path()));
        let mut tasks = Vec::new();
        for i in 0..16u8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .push(
                        "o",
                        "r",
                        &release("1.0.0", &[i]),
                        &Auth::from("a".to_owned()),
                    )
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::ReleaseExists { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(ok, 1);
    }

    #[test]
    fn encoding_round_trips() {
        for s in ["a", "..", ".hidden", "a/b", "100%", "ünï", "x.y"] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s));
            assert!(!encode(s).contains('/') && encode(s) != ".." && encode(s) != ".");
        }
    }
}
