//! The embedded store: releases as files under a data directory.
//!
//! Layout:
//!
//! ```text
//! <data_dir>/packages/<org>/<repo>/<version>/release.tar.gz   the blob
//! <data_dir>/packages/<org>/<repo>/<version>/release.json     its metadata
//! <data_dir>/staging/instance-<id>/                           one per process (see spool)
//! ```
//!
//! Names are percent-encoded so any URL segment is a safe file name.
//!
//! **Durability.** A release is written into this process's staging directory: blob and
//! metadata, each fsynced, then their directory. One `rename` moves it into the repository
//! directory, which is then fsynced: the rename is the point of no return. It is atomic and
//! fails when the version exists (a non-empty directory of that name), which makes "create if
//! absent" hold across threads, processes and replicas sharing the directory; a reader sees no
//! release or a complete one, never a blob without metadata. Nothing after the rename can fail
//! the push: when the final fsync fails, the release is moved back out of sight and the push
//! fails as a whole, or, when even that fails, it is answered as stored (it is visible, so a
//! retry would create a duplicate).
//!
//! Deleting renames the release into the staging directory first, so it disappears at once and
//! whole. Staging directories of processes that died (crash, `kill -9`, full disk) are removed at
//! start-up, by the same lock rule as the spool ([`crate::spool`]).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::backends::{
    Auth, ManifestStore, Publication, PushReport, Release, ReleaseContent, StoreCapabilities,
    StoreError,
};
use crate::spool::InstanceDir;

const BLOB: &str = "release.tar.gz";
const META: &str = "release.json";

/// The steps of a push that write to disk, in order; a fault injector
/// ([`LocalStore::with_fault_injector`]) can fail any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WritePoint {
    /// Creating the package's directories (`packages/<org>/<repo>`).
    PackageDirectory,
    /// Creating the release's staging directory.
    StagingDirectory,
    /// Writing the blob.
    BlobWrite,
    /// Flushing the blob to disk.
    BlobSync,
    /// Writing the metadata.
    MetadataWrite,
    /// Flushing the metadata to disk.
    MetadataSync,
    /// Flushing the staging directory.
    StagingSync,
    /// The rename that makes the release visible (the point of no return).
    Commit,
    /// Flushing the repository directory after the rename.
    CommitSync,
    /// Taking the release back out of sight after [`WritePoint::CommitSync`] failed; when this
    /// fails too the release stays and the push is answered as stored.
    Uncommit,
}

impl WritePoint {
    /// Every write point, in the order a push meets them.
    pub const ALL: &'static [WritePoint] = &[
        WritePoint::PackageDirectory,
        WritePoint::StagingDirectory,
        WritePoint::BlobWrite,
        WritePoint::BlobSync,
        WritePoint::MetadataWrite,
        WritePoint::MetadataSync,
        WritePoint::StagingSync,
        WritePoint::Commit,
        WritePoint::CommitSync,
        WritePoint::Uncommit,
    ];
}

/// Called before each write point; an error fails that step as if the disk had.
pub type FaultInjector = Arc<dyn Fn(WritePoint) -> std::io::Result<()> + Send + Sync>;

/// Releases on the local filesystem.
#[derive(Clone)]
pub struct LocalStore {
    root: PathBuf,
    // Claimed at the first write; a failed claim is retried, as space freed later lets it succeed.
    staging: Arc<std::sync::Mutex<Option<Arc<InstanceDir>>>>,
    min_free_bytes: u64,
    faults: Option<FaultInjector>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.root)
            .field("min_free_bytes", &self.min_free_bytes)
            .finish_non_exhaustive()
    }
}

/// What [`LocalStore::recover`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Staging directories of processes that stopped mid-push or mid-delete.
    pub staging_directories: usize,
}

impl LocalStore {
    /// A store under `data_dir` (created on first write). Health reports the store degraded
    /// when less than `min_free_bytes` are free on its filesystem.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: data_dir.into(),
            staging: Arc::default(),
            min_free_bytes: crate::config::DEFAULT_MIN_FREE_BYTES,
            faults: None,
        }
    }

    /// Sets the free space below which health reports the store degraded.
    #[must_use]
    pub fn min_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free_bytes = bytes;
        self
    }

    /// Calls `faults` before every [`WritePoint`] of a push; its error fails the step. For
    /// fault-injection tests (a full disk at each point in turn).
    #[must_use]
    pub fn with_fault_injector(mut self, faults: FaultInjector) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The data directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes what interrupted pushes and deletes left: the staging directories of processes
    /// that died. Called at start-up; this process claims its own staging directory at its
    /// first write (which removes dead ones too), so an idle server adds nothing to the data
    /// directory.
    pub fn recover(&self) -> std::io::Result<Recovery> {
        let cleanup = crate::spool::remove_dead(&self.root.join("staging"))?;
        Ok(Recovery {
            staging_directories: cleanup.directories,
        })
    }

    fn staging(&self) -> std::io::Result<Arc<InstanceDir>> {
        let mut slot = self
            .staging
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(dir) = &*slot {
            return Ok(dir.clone());
        }
        // A failed claim (a full disk) is not kept: the next write tries again.
        let (dir, cleanup) = InstanceDir::claim(&self.root.join("staging"))?;
        if cleanup.directories > 0 {
            tracing::info!(
                directories = cleanup.directories,
                "removed releases left half-written by processes that stopped"
            );
        }
        let dir = Arc::new(dir);
        *slot = Some(dir.clone());
        Ok(dir)
    }

    fn repo_dir(&self, org: &str, repo: &str) -> PathBuf {
        self.root
            .join("packages")
            .join(encode(org))
            .join(encode(repo))
    }

    fn fault(&self, point: WritePoint) -> std::io::Result<()> {
        match &self.faults {
            Some(f) => f(point),
            None => Ok(()),
        }
    }

    /// The push, on the current thread.
    fn push_now(
        &self,
        dir: &Path,
        package: &str,
        version: &str,
        blob: &[u8],
        meta: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.fault(WritePoint::PackageDirectory)
            .and_then(|()| ensure_dir(dir))
            .map_err(|e| io_error("creating the package directory", &e))?;
        let staging = self
            .fault(WritePoint::StagingDirectory)
            .and_then(|()| self.staging())
            .and_then(|s| s.tempdir())
            .map_err(|e| io_error("creating the staging directory", &e))?;
        // The temporary directory is removed when `staging` drops, unless renamed away.
        let write = |name: &str, data: &[u8], write: WritePoint, sync: WritePoint| {
            let mut file = self
                .fault(write)
                .and_then(|()| std::fs::File::create_new(staging.path().join(name)))
                .map_err(|e| io_error("writing the release", &e))?;
            self.fault(write)
                .and_then(|()| file.write_all(data))
                .map_err(|e| io_error("writing the release", &e))?;
            self.fault(sync)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("writing the release", &e))
        };
        write(BLOB, blob, WritePoint::BlobWrite, WritePoint::BlobSync)?;
        let meta = serde_json::to_vec_pretty(meta).unwrap_or_default();
        write(
            META,
            &meta,
            WritePoint::MetadataWrite,
            WritePoint::MetadataSync,
        )?;
        self.fault(WritePoint::StagingSync)
            .and_then(|()| sync_dir(staging.path()))
            .map_err(|e| io_error("writing the release", &e))?;
        let target = dir.join(encode(version));
        match self
            .fault(WritePoint::Commit)
            .and_then(|()| std::fs::rename(staging.path(), &target))
        {
            Ok(()) => {}
            Err(e) if is_taken(&e) => {
                return Err(StoreError::ReleaseExists {
                    message: format!(
                        "package exists already: {package} release {}",
                        shown(version)
                    ),
                    body: json!({"error": {"code": "package-exists", "message": "package exists already"}}),
                });
            }
            Err(e) => return Err(io_error("publishing the release", &e)),
        }
        // Past the point of no return: the release is visible.
        if let Err(e) = self
            .fault(WritePoint::CommitSync)
            .and_then(|()| sync_dir(dir))
        {
            // Not durable: take it back out of sight so the push can fail as a whole (`staging`
            // removes it when dropped).
            let undone = self
                .fault(WritePoint::Uncommit)
                .and_then(|()| std::fs::rename(&target, staging.path()));
            if undone.is_ok() {
                let _ = sync_dir(dir);
                return Err(io_error("publishing the release", &e));
            }
            tracing::error!(error = %e, "a stored release could not be flushed to disk; it is visible, so the push is answered as stored");
        }
        Ok(())
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

/// A name as it may appear in a message: quoted and escaped, or withheld when it is long.
fn shown(name: &str) -> String {
    crate::names::shown(name)
}

/// Whether a rename failed because its target exists.
fn is_taken(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::AlreadyExists
        || e.kind() == std::io::ErrorKind::DirectoryNotEmpty
        || matches!(e.raw_os_error(), Some(17 | 39))
}

/// A name longer than the filesystem allows cannot name a release that exists.
fn is_name_too_long(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(36)
}

/// Flushes a directory's entries to disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing parents, flushing each parent that gained an entry, so a
/// release renamed into it survives a power loss.
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() {
        // The parent of a relative `data` is ``: the current directory, which exists.
        return Ok(());
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.parent().ok_or(e)?;
            ensure_dir(parent)?;
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    match dir.parent() {
        Some(parent) if parent.as_os_str().is_empty() => sync_dir(Path::new(".")),
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// A failed local operation. The message names the step and the system's reason, never a path;
/// a full disk is [`StoreError::InsufficientStorage`].
fn io_error(context: &str, e: &std::io::Error) -> StoreError {
    // `std::io::Error`'s text carries no path; anything wrapped (tempfile) is reduced to its kind.
    let reason = match e.raw_os_error() {
        Some(_) => e.to_string(),
        None => e.kind().to_string(),
    };
    if crate::error::is_disk_full(e) {
        tracing::error!(context, error = %reason, "local store: disk full");
        return StoreError::InsufficientStorage {
            message: format!("local store: {context}: no space left on the server"),
        };
    }
    tracing::error!(context, error = %reason, "local store failed");
    StoreError::Other {
        message: format!("local store: {context}: {reason}"),
        body: json!({}),
    }
}

fn joined(e: &tokio::task::JoinError) -> StoreError {
    StoreError::Other {
        message: format!("local store: {e}"),
        body: json!({}),
    }
}

fn not_found(org: &str, repo: &str, version: &str) -> StoreError {
    let message = format!(
        "release {} of {org}/{repo} does not exist in the local store",
        shown(version)
    );
    StoreError::NotFound {
        body: json!({"error": {"code": "package-not-found", "message": message}}),
        message,
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
                let Some(version) = entry.file_name().to_str().and_then(decode) else {
                    continue;
                };
                // A release being deleted by another process vanishes between the listing and
                // the stat: it is not listed.
                let Ok(blob) = std::fs::metadata(entry.path().join(BLOB)) else {
                    continue;
                };
                let created = blob.modified().unwrap_or(std::time::UNIX_EPOCH);
                versions.push((created, version));
            }
            // Creation order, like the App Registry's listing.
            versions.sort();
            Ok(Some(versions.into_iter().map(|(_, v)| v).collect()))
        })
        .await
        .map_err(|e| joined(&e))?
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
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let meta = json!({
            "package": format!("{org}/{repo}"),
            "release": version,
            "digest": digest,
            "size": blob.len(),
            "media_type": "helm",
            "created": created,
        });
        let store = self.clone();
        let package = format!("{org}/{repo}");
        tokio::task::spawn_blocking(move || {
            store.push_now(&dir, &package, &version, &blob, &meta)?;
            Ok(PushReport::default())
        })
        .await
        .map_err(|e| joined(&e))?
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        _auth: &Auth,
    ) -> Result<(), StoreError> {
        let dir = self.repo_dir(org, repo);
        let store = self.clone();
        let (org, repo, version) = (org.to_owned(), repo.to_owned(), version.to_owned());
        tokio::task::spawn_blocking(move || {
            let release = dir.join(encode(&version));
            if !release.join(BLOB).is_file() {
                return Err(not_found(&org, &repo, &version));
            }
            let trash = store
                .staging()
                .and_then(|s| s.tempdir())
                .map_err(|e| io_error("deleting the release", &e))?;
            let target = trash.path().join("release");
            match std::fs::rename(&release, &target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound || is_name_too_long(&e) => {
                    return Err(not_found(&org, &repo, &version));
                }
                Err(e) => return Err(io_error("deleting the release", &e)),
            }
            // Gone for readers; flushing the directory makes it stay gone after a power loss.
            if let Err(e) = sync_dir(&dir) {
                tracing::warn!(error = %e, "a deleted release could not be flushed to disk");
            }
            drop(trash);
            Ok(())
        })
        .await
        .map_err(|e| joined(&e))?
    }

    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        _auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError> {
        let path = self.repo_dir(org, repo).join(encode(version)).join(BLOB);
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(data.into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || is_name_too_long(&e) => {
                Err(not_found(org, repo, version))
            }
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

    /// Healthy when the data directory is writable and has at least `min_free_bytes` free;
    /// a full disk is reported as degraded until space is freed. The details name no path.
    async fn health(&self) -> Result<(), String> {
        let root = self.root.clone();
        let min_free = self.min_free_bytes;
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&root)
                .map_err(|e| format!("the data directory is not writable: {e}"))?;
            let free = rustix::fs::statvfs(&root)
                .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
                .map_err(|e| format!("the data directory cannot be inspected: {e}"))?;
            if free < min_free {
                return Err(format!(
                    "degraded: the data disk is full ({} MiB free, below min_free_bytes = {} MiB); pushes answer 507 until space is freed",
                    free / (1024 * 1024),
                    min_free / (1024 * 1024)
                ));
            }
            let probe = tempfile::NamedTempFile::new_in(&root)
                .map_err(|e| format!("the data directory is not writable: {}", e.kind()))?;
            std::fs::read_dir(&root)
                .map_err(|e| format!("the data directory is not readable: {e}"))?;
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
        // Only the release that is left: no temporary files, nothing staged.
        assert_eq!(
            test_support::server::files_under(dir.path())
                .into_iter()
                .filter(|f| !f.ends_with("/lock"))
                .collect::<Vec<_>>(),
            [
                "packages/o/r/2.0.0/release.json",
                "packages/o/r/2.0.0/release.tar.gz"
            ]
        );
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
        // A version too long for a file name is simply not there, and is not echoed.
        let long = "9".repeat(300);
        for e in [
            store.pull("o", "r", &long, None).await.unwrap_err(),
            store.delete("o", "r", &long, &auth).await.unwrap_err(),
        ] {
            assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
            assert!(!e.to_string().contains(&long), "{e}");
        }
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
                    .map(|_| i)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(i) => winners.push(i),
                Err(StoreError::ReleaseExists { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(winners.len(), 1);
        // The stored blob is the winner's, whole.
        assert_eq!(
            &store.pull("o", "r", "1.0.0", None).await.unwrap()[..],
            &[winners[0]]
        );
    }

    /// A full disk at each write point in turn: the push fails with `InsufficientStorage` and
    /// leaves nothing visible and nothing staged, or (past the point of no return) the release
    /// is complete; then, with space back, the same push succeeds.
    #[tokio::test]
    async fn a_full_disk_at_each_write_point() {
        for &point in WritePoint::ALL {
            if point == WritePoint::Uncommit {
                continue; // only reached when CommitSync failed: below
            }
            let dir = tempfile::tempdir().unwrap();
            let full = Arc::new(std::sync::atomic::AtomicBool::new(true));
            let flag = full.clone();
            let store = LocalStore::new(dir.path()).with_fault_injector(Arc::new(move |p| {
                if p == point && flag.load(std::sync::atomic::Ordering::SeqCst) {
                    Err(std::io::Error::from_raw_os_error(28))
                } else {
                    Ok(())
                }
            }));
            let auth = Auth::from("a".to_owned());
            let e = store
                .push("o", "r", &release("1.0.0", b"blob"), &auth)
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::InsufficientStorage { .. }),
                "{point:?}: {e:?}"
            );
            assert!(!e.to_string().contains(&*dir.path().to_string_lossy()));
            let listed = store.list_releases("o", "r", None).await.unwrap();
            assert!(
                listed.as_ref().is_none_or(Vec::is_empty),
                "{point:?}: visible after a failed push: {listed:?}"
            );
            let leftovers: Vec<String> = test_support::server::files_under(dir.path())
                .into_iter()
                .filter(|f| !f.ends_with("/lock"))
                .collect();
            assert!(leftovers.is_empty(), "{point:?}: {leftovers:?}");
            full.store(false, std::sync::atomic::Ordering::SeqCst);
            store
                .push("o", "r", &release("1.0.0", b"blob"), &auth)
                .await
                .unwrap();
            assert_eq!(
                &store.pull("o", "r", "1.0.0", None).await.unwrap()[..],
                b"blob"
            );
        }
    }

    /// The final fsync fails and so does taking the release back: it is visible, so the push
    /// is answered as stored (a retry would duplicate it), never as failed.
    #[tokio::test]
    async fn a_release_that_cannot_be_taken_back_is_answered_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).with_fault_injector(Arc::new(|p| match p {
            WritePoint::CommitSync | WritePoint::Uncommit => {
                Err(std::io::Error::from_raw_os_error(5))
            }
            _ => Ok(()),
        }));
        let auth = Auth::from("a".to_owned());
        store
            .push("o", "r", &release("1.0.0", b"blob"), &auth)
            .await
            .unwrap();
        assert_eq!(
            &store.pull("o", "r", "1.0.0", None).await.unwrap()[..],
            b"blob"
        );
    }

    #[test]
    fn leftovers_of_a_dead_process_are_removed_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join("staging/instance-dead");
        std::fs::create_dir_all(dead.join("tmp-x")).unwrap();
        std::fs::write(dead.join("lock"), b"").unwrap();
        std::fs::write(dead.join("tmp-x").join(BLOB), b"half").unwrap();
        let store = LocalStore::new(dir.path());
        assert_eq!(store.recover().unwrap().staging_directories, 1);
        assert!(!dead.exists());
    }

    #[test]
    fn encoding_round_trips() {
        for s in ["a", "..", ".hidden", "a/b", "100%", "ünï", "x.y"] {
            assert_eq!(decode(&encode(s)).as_deref(), Some(s));
            assert!(!encode(s).contains('/') && encode(s) != ".." && encode(s) != ".");
        }
    }
}
